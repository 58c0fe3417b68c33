"""One parameter estimated with a constant offset per fitted variable as nuisance (exact profile)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .evaluation import simulate_points

if TYPE_CHECKING:
    from .run import Run


def offset_profile(run: Run, n: int = 81, *, refine: int = 3) -> dict:
    """The single free parameter estimated with a constant offset per fitted variable as nuisance.

    For a space with one free parameter (e.g. the diffusivity), the misfit with each
    variable's fit-window mean residual removed (the offsets that minimise it for that
    parameter value) is evaluated on ``n`` points spread over the bounds (log-spaced for
    log transforms), then on finer grids around the minimum (``refine`` times). This is
    the exact profile over the offsets, insensitive to sensor calibration offsets and to
    errors of the time-mean profile.

    Returns ``{"parameter", "estimate", "grid", "misfit", "offsets" {variable: K or W m-2}}``.
    """
    from ..errors import ParameterError

    if run.space.size != 1:
        raise ParameterError(f"offset_profile: needs exactly one free parameter, got {list(run.space.names)}")
    p = run.space.parameters[0]
    lo, hi = p.bounds
    log = p.transform in ("log-sigmoid", "log") and lo > 0
    obs = np.asarray(run.observations.values)
    a, b = run.fit
    scale = np.asarray(run.observations.scale)

    def misfit(grid):
        sims = simulate_points(run.model, run.forcing, run.observations, run.space, run.initial, grid[:, None])
        r = (sims - obs[None])[:, a:b]
        off = np.nanmean(r, axis=1, keepdims=True)
        return np.nanmean(np.nanmean(((r - off) / scale) ** 2, axis=1), axis=1), off[:, 0]

    space = (lambda u, v, k: np.geomspace(u, v, k)) if log else (lambda u, v, k: np.linspace(u, v, k))
    grid = space(lo, hi, n)
    values, offsets = misfit(grid)
    all_grid, all_values = [grid], [values]
    for _ in range(refine):
        i = int(np.nanargmin(values))
        grid = space(grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)], 21)
        values, offsets = misfit(grid)
        all_grid.append(grid)
        all_values.append(values)
    i = int(np.nanargmin(values))
    g = np.concatenate(all_grid)
    order = np.argsort(g)
    return {
        "parameter": p.name,
        "estimate": float(grid[i]),
        "grid": g[order],
        "misfit": np.concatenate(all_values)[order],
        "offsets": {name: float(-offsets[i][j]) for j, name in enumerate(run.observations.names)},
    }
