"""Sobol sampling against gradient-based multi-start inversion, at equal cost in forward-run equivalents."""

from __future__ import annotations

import time as _time
from collections.abc import Mapping

import numpy as np
import xarray as xr

from ..forcing import Forcing
from ..inverse import invert
from ..model import LandSurfaceModel
from ..observe import Observations
from ..params import ParameterSpace
from .cost import forward_equivalents
from .sampling import sampling_baseline


def compare_with_gradient(
    model: LandSurfaceModel,
    forcing: Forcing,
    observations: Observations,
    space: ParameterSpace,
    *,
    n_samples: int = 256,
    method: str = "sobol",
    starts: int = 8,
    steps: int = 0,
    polish: int = 40,
    seed: int = 0,
    initial=None,
    repeats: int = 20,
    truth: Mapping[str, float] | None = None,
) -> xr.Dataset:
    """Sobol sampling against gradient-based multi-start inversion, at equal cost.

    Runs :func:`sampling_baseline` (``n_samples`` sets) and
    :func:`jlsm.inverse.invert` (``starts`` starts, ``steps`` Adam iterations,
    ``polish`` Gauss-Newton iterations), and counts the inversion's cost in
    forward-run equivalents with :func:`forward_equivalents`: an Adam
    iteration costs ``gradient_ratio`` forward runs per start, a Gauss-Newton
    iteration (and its initial linearisation) ``jacobian_ratio``. All starts
    are counted for every executed iteration (the batch runs them together).

    Returns:
        Dataset with the two curves ``sampling_best`` (sample) over
        ``sampling_evaluations`` and ``gradient_best`` (iteration) over
        ``gradient_evaluations``, the best parameters ``best`` (approach,
        parameter), and per-approach summary variables ``final_objective``,
        ``evaluations``, ``wall_seconds``, ``objective_at_sampling_budget``,
        ``evaluations_to_sampling_best``, ``evaluations_to_gradient_best``
        (within 1 %); with ``truth``, ``relative_error`` (approach, parameter);
        the cost ratios as attributes.
        See :func:`comparison_table` and :func:`comparison_figure`.
    """
    sampling = sampling_baseline(
        model, forcing, observations, space, n=n_samples, method=method, seed=seed, initial=initial
    )
    kinds = (("gradient",) if steps else ()) + (("jacobian",) if polish else ())
    costs = forward_equivalents(
        model, forcing, observations, space, batch=starts, repeats=repeats, seed=seed, initial=initial, kinds=kinds
    )
    phases = []

    def record(info):
        phases.append((info["iteration"], info["phase"]))

    t0 = _time.perf_counter()
    result = invert(
        model,
        forcing,
        observations,
        space,
        starts=starts,
        seed=seed,
        initial=initial,
        steps=steps,
        polish=polish,
        callback=record,
    )
    wall_gradient = _time.perf_counter() - t0
    loss = np.asarray(result["loss"].values)  # (S, I)
    n_iter = loss.shape[1]
    per_iter = np.empty(n_iter)
    done = 0
    for end, phase in phases:
        ratio = costs["jacobian_ratio"] if phase == "gauss-newton" else costs["gradient_ratio"]
        per_iter[done:end] = ratio
        done = end
    per_iter[done:] = costs["jacobian_ratio"] if polish else costs["gradient_ratio"]
    # the loss at iteration k of a phase is known after k + 1 gradients (Adam) or
    # k + 1 linearisations (Gauss-Newton: its initial one, then one trial per step)
    cumulative = starts * np.cumsum(per_iter)
    # work actually done also includes the last step's (unrecorded) trial linearisation
    total = float(cumulative[-1] + (starts * costs["jacobian_ratio"] if polish else 0.0))
    best_curve = np.minimum.accumulate(np.nanmin(np.where(np.isfinite(loss), loss, np.inf), axis=0))
    sampling_best = sampling["best_so_far"].values
    sampling_evals = sampling["evaluation"].values.astype(float)
    s_best = float(sampling_best[-1])
    budget = sampling_evals[-1]
    within = cumulative <= budget
    at_budget = float(best_curve[within][-1]) if within.any() else float("nan")
    reach = np.flatnonzero(best_curve <= s_best)
    to_reach_g = float(cumulative[reach[0]]) if reach.size else float("nan")
    g_best = float(np.nanmin(result["final_loss"].values))
    # "reached" = within 1 % of the gradient method's final objective
    near = g_best + 0.01 * abs(g_best)
    reach_s = np.flatnonzero(sampling_best <= near)
    to_reach_s = float(sampling_evals[reach_s[0]]) if reach_s.size else float("nan")
    to_reach_own = (
        float(cumulative[np.flatnonzero(best_curve <= near)[0]]) if np.any(best_curve <= near) else float("nan")
    )

    names = list(space.names)
    best_g = result["final"].isel(start=int(result["best_start"])).sel(parameter=names).values
    best = np.stack([sampling["best"].values, best_g])
    ds = xr.Dataset(
        {
            "sampling_evaluations": (("sample",), sampling_evals),
            "sampling_best": (("sample",), sampling_best, {"long_name": "lowest J after k sampled sets"}),
            "gradient_evaluations": (("iteration",), cumulative, {"long_name": "forward-run equivalents spent"}),
            "gradient_best": (("iteration",), best_curve, {"long_name": "lowest J over all starts so far"}),
            "best": (("approach", "parameter"), best),
            "final_objective": (("approach",), np.array([s_best, g_best])),
            "evaluations": (("approach",), np.array([budget, total]), {"long_name": "forward-run equivalents spent"}),
            "wall_seconds": (("approach",), np.array([sampling.attrs["wall_seconds"], wall_gradient])),
            "objective_at_sampling_budget": (
                ("approach",),
                np.array([s_best, at_budget]),
                {"long_name": f"lowest J within {budget:g} forward-run equivalents"},
            ),
            "evaluations_to_sampling_best": (
                ("approach",),
                np.array([float(sampling_evals[int(np.argmin(sampling_best))]), to_reach_g]),
                {"long_name": "forward-run equivalents until J <= the sampling's best"},
            ),
            "evaluations_to_gradient_best": (
                ("approach",),
                np.array([to_reach_s, to_reach_own]),
                {"long_name": "forward-run equivalents until J is within 1 % of the gradient's best (NaN: never)"},
            ),
        },
        coords={
            "approach": ["sampling", "gradient"],
            "parameter": names,
            "units": ("parameter", list(space.units)),
            "sample": np.arange(len(sampling_evals)),
            "iteration": np.arange(n_iter),
        },
    )
    if truth is not None:
        t = np.array([float(truth.get(n, np.nan)) for n in names])
        ds["relative_error"] = (("approach", "parameter"), np.abs(best / t - 1.0))
    ds.attrs.update(
        {
            **{k: float(v) for k, v in costs.items()},
            "n_samples": int(n_samples),
            "sampler": method,
            "starts": int(starts),
            "steps": int(steps),
            "polish": int(polish),
            "seed": int(seed),
        }
    )
    return ds


def comparison_table(comparison: xr.Dataset) -> str:
    """A plain-text summary of :func:`compare_with_gradient`."""
    a = comparison.attrs
    costs = [
        f"one {label} = {a[key]:.2f} forward runs"
        for key, label in (("gradient_ratio", "gradient"), ("jacobian_ratio", "Gauss-Newton Jacobian"))
        if np.isfinite(a[key])
    ]
    lines = [
        f"cost: {', '.join(costs)} (measured on a batch of {int(a['batch'])})",
        f"{'approach':<10}{'evaluations':>12}{'best J':>10}{'J at sampling budget':>22}{'evals to sampling best':>24}"
        f"{'evals to gradient best':>24}{'wall s':>8}",
    ]
    for m in comparison["approach"].values:
        r = comparison.sel(approach=m)
        lines.append(
            f"{m:<10}{float(r['evaluations']):>12.0f}{float(r['final_objective']):>10.3g}"
            f"{float(r['objective_at_sampling_budget']):>22.3g}{float(r['evaluations_to_sampling_best']):>24.0f}"
            f"{float(r['evaluations_to_gradient_best']):>24.0f}{float(r['wall_seconds']):>8.2f}"
        )
    lines.append(
        "(evaluations in forward-run equivalents; 'gradient best' = within 1 % of the gradient method's final J; "
        "wall s include any compilation on first use)"
    )
    return "\n".join(lines)
