"""The inversion result Dataset: estimates, per-start verdicts, summaries, time series.

Each start carries two labels. Its optimiser ``status`` says how the
optimisation stopped (``converged``, ``diverged``, ``max_steps``; ``running``
only in partial results). Its ``verdict`` says where it stopped, judged by
the misfit J it reached:

* ``best_basin`` (0): J <= J_best + tol, with
  tol = BASIN_RTOL * (|J_best| + 1 / N) and N the number of observed values
  in the fit window. J is a mean of squared scaled residuals, so 1/N is the
  change of J that moving one observation by one error scale makes: the
  floor keeps noise-free fits (J_best ~ 1e-25) from splitting a basin by
  round-off, the relative part keeps noisy fits (J_best ~ 1) from splitting
  it by the optimiser's stopping tolerance;
* ``at_bound`` (2): not in the best basin, and some parameter is at a bound
  (its bounded transform's sigmoid within AT_BOUND_TOL of 0 or 1);
* ``other_basin`` (1): not in the best basin, inside the bounds (a local minimum
  or a start that stopped early);
* ``diverged`` (3): the misfit or its gradient became NaN/Inf.

The median, the 5-95 % range and the relative spread use the best-basin
starts only; ``n_best_basin``, ``n_other_basin``, ``n_at_bound`` count them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..params import DERIVED_UNITS, derived_values

if TYPE_CHECKING:
    import xarray as xr

RUNNING, CONVERGED, DIVERGED, MAX_STEPS = 0, 1, 2, 3
STATUS_NAMES = ("running", "converged", "diverged", "max_steps")

BEST_BASIN, OTHER_BASIN, AT_BOUND, DIVERGED_VERDICT = 0, 1, 2, 3
VERDICT_NAMES = ("best_basin", "other_basin", "at_bound", "diverged")

BASIN_RTOL = 1e-3
"""Relative tolerance of the best-basin test (see the module docstring)."""

AT_BOUND_TOL = 1e-4
"""A parameter is at a bound when its position in the bounds (sigmoid(u)) is within this of 0 or 1."""


def basin_tolerance(best_loss: float, n_observed: int | None) -> float:
    """The misfit margin above the best start's within which a start is in the best basin."""
    floor = 1.0 / n_observed if n_observed else 0.0
    best = abs(best_loss) if np.isfinite(best_loss) else 0.0
    return BASIN_RTOL * (best + floor)


def at_bound_flags(space, final: np.ndarray) -> np.ndarray:
    """(S, P) True where a start's physical value of a bounded parameter is at a bound."""
    pos = space.bound_position(final)
    with np.errstate(invalid="ignore"):
        return np.isfinite(pos) & ((pos < AT_BOUND_TOL) | (pos > 1.0 - AT_BOUND_TOL))


def verdicts(final_loss: np.ndarray, status: np.ndarray, at_bound: np.ndarray, n_observed: int | None):
    """Per-start verdict codes (S,) and the basin tolerance used (see the module docstring)."""
    loss = np.asarray(final_loss, dtype=float)
    diverged = (np.asarray(status) == DIVERGED) | ~np.isfinite(loss)
    best = float(np.min(loss[~diverged])) if np.any(~diverged) else np.nan
    tol = basin_tolerance(best, n_observed)
    out = np.full(loss.shape, OTHER_BASIN, np.int8)
    with np.errstate(invalid="ignore"):
        in_best = ~diverged & (loss <= best + tol)
    out[~in_best & np.any(at_bound, axis=-1)] = AT_BOUND
    out[in_best] = BEST_BASIN
    out[diverged] = DIVERGED_VERDICT
    return out, tol


def results_dataset(
    space, *, initial, final, loss_history, final_loss, status, iterations, n_observed: int | None = None
) -> xr.Dataset:
    """Assemble the inversion results.

    Dims ``start``, ``parameter``, ``iteration``. Variables: ``initial`` and
    ``final`` (start, parameter) physical values; ``loss`` (start, iteration);
    ``final_loss``, ``status`` (CF flags), ``iterations``, ``verdict`` (CF
    flags, see the module docstring) per start; ``at_bound`` (start,
    parameter) 1 where an estimate is at a bound; ``best_start``; per-parameter
    ``median``, ``p05``, ``p95`` and ``relative_spread`` = (p95 - p05) / |median|
    over the best-basin starts; counts ``n_converged``, ``n_diverged``
    (statuses), ``n_best_basin``, ``n_other_basin``, ``n_at_bound`` (verdicts);
    ``basin_tolerance``. Derived quantities (h_eff when h and beta are free)
    are extra entries along ``parameter`` with ``role = "derived"``.
    ``n_observed`` (observed values in the fit window) sets the basin
    tolerance's floor.
    """
    import xarray as xr

    names = list(space.names)
    units = list(space.units)
    role = ["free"] * len(names)
    bound = at_bound_flags(space, final)
    init_d = derived_values(names, dict(zip(names, initial.T)))
    final_d = derived_values(names, dict(zip(names, final.T)))
    for key in final_d:
        names.append(key)
        units.append(DERIVED_UNITS.get(key, ""))
        role.append("derived")
        initial = np.concatenate([initial, init_d[key][:, None]], axis=1)
        final = np.concatenate([final, final_d[key][:, None]], axis=1)
    flags = np.concatenate([bound, np.zeros((bound.shape[0], len(final_d)), bool)], axis=1)
    verdict, tol = verdicts(final_loss, status, bound, n_observed)
    good = verdict == BEST_BASIN
    chosen = final[good] if np.any(good) else np.full((1, final.shape[1]), np.nan)
    median = np.median(chosen, axis=0)
    p05, p95 = np.percentile(chosen, [5, 95], axis=0)
    finite_loss = np.where(np.isfinite(final_loss), final_loss, np.inf)
    basis = "best-basin"
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = (p95 - p05) / np.abs(median)
    ds = xr.Dataset(
        {
            "initial": (("start", "parameter"), initial, {"long_name": "starting value"}),
            "final": (("start", "parameter"), final, {"long_name": "estimate (lowest loss reached)"}),
            "loss": (("start", "iteration"), loss_history, {"long_name": "misfit J at each iteration", "units": "1"}),
            "final_loss": (("start",), final_loss, {"long_name": "lowest misfit reached", "units": "1"}),
            "status": (
                ("start",),
                status.astype(np.int8),
                {"long_name": "optimiser status", "flag_values": np.arange(4, dtype=np.int8),
                 "flag_meanings": " ".join(STATUS_NAMES)},
            ),
            "verdict": (
                ("start",),
                verdict,
                {"long_name": "where the start ended, judged by its misfit (see basin_tolerance)",
                 "flag_values": np.arange(4, dtype=np.int8), "flag_meanings": " ".join(VERDICT_NAMES)},
            ),
            "at_bound": (
                ("start", "parameter"),
                flags.astype(np.int8),
                {"long_name": f"1: estimate within {AT_BOUND_TOL:g} of a bound (as a fraction of the bounded range "
                              "in the transform's sigmoid)", "flag_values": np.array([0, 1], np.int8),
                 "flag_meanings": "inside at_bound"},
            ),
            "iterations": (("start",), iterations, {"long_name": "iterations taken"}),
            "best_start": ((), int(np.argmin(finite_loss)), {"long_name": "start with the lowest loss"}),
            "median": (("parameter",), median, {"long_name": f"median over {basis} starts"}),
            "p05": (("parameter",), p05, {"long_name": f"5th percentile over {basis} starts"}),
            "p95": (("parameter",), p95, {"long_name": f"95th percentile over {basis} starts"}),
            "relative_spread": (
                ("parameter",),
                spread,
                {"long_name": f"(p95 - p05) / |median| over {basis} starts: small = pinned down by the data",
                 "units": "1"},
            ),
            "basin_tolerance": ((), tol, {"long_name": f"misfit margin of the best basin: {BASIN_RTOL:g} "
                                                       "(|J_best| + 1 / observed values)", "units": "1"}),
            "n_converged": ((), int(np.sum(status == CONVERGED))),
            "n_diverged": ((), int(np.sum(status == DIVERGED))),
            "n_best_basin": ((), int(np.sum(verdict == BEST_BASIN))),
            "n_other_basin": ((), int(np.sum(verdict == OTHER_BASIN))),
            "n_at_bound": ((), int(np.sum(verdict == AT_BOUND))),
        },
        coords={
            "start": np.arange(final.shape[0]),
            "parameter": names,
            "iteration": np.arange(loss_history.shape[1]),
            "units": ("parameter", units),
            "role": ("parameter", role),
        },
    )
    ds.attrs["summary_basis"] = basis
    return ds


def status_counts(result: xr.Dataset) -> dict[str, int]:
    """Number of starts in each optimiser status."""
    s = np.asarray(result["status"])
    return {name: int(np.sum(s == i)) for i, name in enumerate(STATUS_NAMES) if i != RUNNING}


def verdict_counts(result: xr.Dataset) -> dict[str, int]:
    """Number of starts with each verdict (best_basin, other_basin, at_bound, diverged)."""
    v = np.asarray(result["verdict"])
    return {name: int(np.sum(v == i)) for i, name in enumerate(VERDICT_NAMES)}


def metric_units(metric_names, variable_units) -> np.ndarray:
    """Units (variable, metric): the variable's for bias, mae and rmse, "1" for the others."""
    same = {"bias", "mae", "rmse"}
    return np.array([[u if m in same else "1" for m in metric_names] for u in variable_units], dtype=object)


def series_dataset(time, dt, observed, simulated, names, units, reference=None, fit=None, validate=None) -> xr.Dataset:
    """Observed and simulated series (time, variable): the best start's and the reference's.

    ``time``: the forcing's time coordinate (T,) or None (then seconds from
    the first forcing step, ``dt`` apart).
    """
    import xarray as xr

    n = observed.shape[0]
    if time is not None:
        t = np.asarray(time)[:n]
        tattrs = {"long_name": "time"}
    else:
        t = np.arange(n) * float(dt)
        tattrs = {"long_name": "time since the first forcing step", "units": "s"}
    in_fit = np.zeros(n, np.int8)
    if fit is not None:
        in_fit[fit[0] : fit[1]] = 1
    if validate:
        in_fit[validate[0] : validate[1]] = 2
    data = {
        "observed": (("time", "variable"), observed, {"long_name": "observations (NaN: missing)"}),
        "simulated": (("time", "variable"), simulated, {"long_name": "model at the best start's estimate"}),
        "time_window": (("time",), in_fit, {"long_name": "which window a time belongs to",
                                            "flag_values": np.array([0, 1, 2], np.int8),
                                            "flag_meanings": "spin_up_or_unused fit validation"}),
    }
    if reference is not None:
        data["simulated_reference"] = (("time", "variable"), reference, {"long_name": "model at the reference parameters"})
    ds = xr.Dataset(data, coords={"time": ("time", t, tattrs), "variable": list(names),
                                  "variable_units": ("variable", list(units))})
    return ds
