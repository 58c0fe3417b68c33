"""Calibration by sampling (the baseline of the gradient method): misfit of n sampled parameter sets."""

from __future__ import annotations

import dataclasses
import time as _time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from ..errors import InputError
from ..forcing import Forcing
from ..inverse import Objective
from ..model import LandSurfaceModel
from ..objective import misfit
from ..observe import Observations
from ..params import ParameterSpace
from .coordinates import _problem


@dataclasses.dataclass(frozen=True)
class _Misfit:
    objective: Objective

    def physical(self, x, problem):
        obs = problem[2]
        return misfit(self.objective.simulated(x, problem, physical=True), obs.values, obs.scale)


@eqx.filter_jit
def _misfit_chunk(spec: _Misfit, x, problem):
    return jax.vmap(lambda v: spec.physical(v, problem))(x)


def sampling_baseline(
    model: LandSurfaceModel,
    forcing: Forcing,
    observations: Observations,
    space: ParameterSpace,
    *,
    n: int = 256,
    method: str = "sobol",
    seed: int = 0,
    initial=None,
    chunk: int = 256,
) -> xr.Dataset:
    """Calibration by sampling: the misfit of ``n`` parameter sets, keep the best.

    The sets come from :meth:`ParameterSpace.sample` (start bounds,
    ``"sobol"`` or ``"uniform"``); the misfit J is the one
    :func:`jlsm.inverse.invert` minimises; evaluations are vmapped in chunks.

    Returns:
        Dataset (evaluation, parameter): ``sample``, ``objective``,
        ``best_so_far`` (running minimum of J over evaluations 1..k),
        ``best`` (parameter), ``best_objective``; attribute ``wall_seconds``.
    """
    if n < 1:
        raise InputError(f"sampling_baseline: n must be >= 1, got {n}")
    space.check_model(model)
    problem = _problem(model, forcing, observations, initial)
    x = space.sample(int(n), seed=seed, method=method)
    spec = _Misfit(Objective(space))
    t0 = _time.perf_counter()
    size = max(1, min(int(chunk), x.shape[0]))
    values = []
    for start in range(0, x.shape[0], size):
        block = x[start : start + size]
        pad = size - block.shape[0]
        if pad:
            block = np.concatenate([block, np.repeat(block[-1:], pad, axis=0)])
        values.append(np.asarray(_misfit_chunk(spec, jnp.asarray(block, jnp.float64), problem))[: size - pad])
    j = np.concatenate(values)
    seconds = _time.perf_counter() - t0
    safe = np.where(np.isfinite(j), j, np.inf)
    best = int(np.argmin(safe))
    ds = xr.Dataset(
        {
            "sample": (("evaluation", "parameter"), x),
            "objective": (("evaluation",), j, {"long_name": "misfit J", "units": "1"}),
            "best_so_far": (
                ("evaluation",),
                np.minimum.accumulate(safe),
                {"long_name": "lowest J after k evaluations"},
            ),
            "best": (("parameter",), x[best]),
            "best_objective": ((), float(safe[best])),
        },
        coords={
            "evaluation": np.arange(1, x.shape[0] + 1),
            "parameter": list(space.names),
            "units": ("parameter", list(space.units)),
        },
    )
    ds.attrs.update({"method": method, "seed": seed, "n": int(n), "wall_seconds": seconds})
    return ds
