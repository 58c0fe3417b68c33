"""Path (d) of the surrogate comparison read from an existing ``jlsm calibrate`` output.

The direct per-site calibration of the physical model
(:func:`jlsm.calibration.calibrate.calibrate`) is the most expensive path; when
it was already run on the same sites and windows (e.g. ``jlsm calibrate
examples/sites.toml --out results/protocol``), :func:`load_direct` takes its
``best`` parameters and its cost from the file instead of running it again.
The file must describe the comparison's problem: the same site names (in
order), parameter names (in order) and bounds (``lower``, ``upper``), and, when
the file has them, the same fit and test windows (``fit_mask``, ``test_mask``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jlsm.errors import InputError

__all__ = ["load_direct"]


def _names(ds, coord, path):
    if coord not in ds.coords:
        raise InputError(f"surrogate compare: {path}: coordinate '{coord}' missing; expected a jlsm calibrate output")
    return [str(v) for v in np.asarray(ds[coord].values)]


def load_direct(path, data) -> tuple[np.ndarray, dict, dict]:
    """``best`` parameters (S, P) [physical units], cost and provenance of a calibration file for ``data``.

    Args:
        path: a ``calibration.nc`` written by ``jlsm calibrate`` (variables ``best``,
            ``lower``, ``upper`` (site, parameter); attributes ``model_runs``, ``wall_seconds``).
        data: the comparison's :class:`jlsm.calibration.CalibrationData`.
    Returns:
        (best, cost, source): cost has ``model_runs``, ``surrogate_training_s`` (0),
        ``calibration_s`` and ``total_s`` (the file's ``wall_seconds``); source
        records the file, its settings attributes and that (d) was not re-run.
    Raises:
        InputError: file missing or unreadable, a variable or attribute missing, or
            sites, parameters or bounds differing from ``data`` (naming what differs).
    """
    import xarray as xr

    p = Path(path)
    if not p.is_file():
        raise InputError(f"surrogate compare: --direct-from {p}: no such file (expected a jlsm calibrate calibration.nc)")
    try:
        ds = xr.load_dataset(p)
    except (OSError, ValueError) as exc:
        raise InputError(f"surrogate compare: {p}: cannot read as netCDF ({exc})") from None
    for v in ("best", "lower", "upper"):
        if v not in ds:
            raise InputError(f"surrogate compare: {p}: variable '{v}' missing; expected a jlsm calibrate output")
        if set(ds[v].dims) != {"site", "parameter"}:
            raise InputError(f"surrogate compare: {p}: variable '{v}' has dims {ds[v].dims}, expected (site, parameter)")
    for a in ("model_runs", "wall_seconds"):
        if a not in ds.attrs:
            raise InputError(f"surrogate compare: {p}: attribute '{a}' missing (the cost of path (d) comes from it)")
    sites, want_sites = _names(ds, "site", p), [str(s) for s in data.sites]
    if sites != want_sites:
        raise InputError(f"surrogate compare: {p}: variable 'best' has sites {sites}, the comparison's data has "
                         f"{want_sites} (same sites in the same order expected)")
    names, want_names = _names(ds, "parameter", p), [str(n) for n in data.names]
    if names != want_names:
        raise InputError(f"surrogate compare: {p}: variable 'best' has parameters {names}, the comparison's data has "
                         f"{want_names} (same names in the same order expected)")
    for v, want in (("lower", data.lower), ("upper", data.upper)):
        got = np.asarray(ds[v].transpose("site", "parameter").values, float)
        want = np.asarray(want, float)
        bad = ~np.isclose(got, want, rtol=1e-9, atol=0.0)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise InputError(f"surrogate compare: {p}: variable '{v}' differs from the comparison's bounds at "
                             f"{bad.sum()} entries, first site {sites[i]} parameter {names[j]}: "
                             f"{got[i, j]:g} in the file, {want[i, j]:g} expected")
    for v, want in (("fit_mask", data.fit), ("test_mask", data.test)):  # the windows, when the file has them
        if v not in ds:
            continue
        got = np.asarray(ds[v].values).astype(bool)
        want = np.asarray(want, bool)
        if got.shape != want.shape or not np.array_equal(got, want):
            detail = (f"shape {got.shape} against {want.shape}" if got.shape != want.shape else
                      f"{int((got != want).sum())} steps differ, first at site {sites[np.argwhere(got != want)[0][0]]}")
            raise InputError(f"surrogate compare: {p}: variable '{v}' is not the comparison's {v.split('_')[0]} "
                             f"window ({detail}); run both on the same collection and windows")
    best = np.asarray(ds["best"].transpose("site", "parameter").values, float)
    if not np.all(np.isfinite(best)):
        i, j = np.argwhere(~np.isfinite(best))[0]
        raise InputError(f"surrogate compare: {p}: variable 'best' is not finite at site {sites[i]} parameter {names[j]}")
    lo, hi = np.asarray(data.lower, float), np.asarray(data.upper, float)
    span = hi - lo
    if np.any(best < lo - 1e-9 * span) or np.any(best > hi + 1e-9 * span):
        i, j = np.argwhere((best < lo - 1e-9 * span) | (best > hi + 1e-9 * span))[0]
        raise InputError(f"surrogate compare: {p}: variable 'best' at site {sites[i]} parameter {names[j]} is "
                         f"{best[i, j]:g}, outside the bounds [{lo[i, j]:g}, {hi[i, j]:g}]")
    wall = float(ds.attrs["wall_seconds"])
    cost = {"model_runs": int(ds.attrs["model_runs"]), "surrogate_training_s": 0.0, "calibration_s": wall,
            "total_s": wall}
    keep = ("starts", "steps", "polish", "seed", "objective", "truncate", "run_steps", "devices")
    source = {"file": str(p), "re_run": False, "wall_seconds": wall, "model_runs": int(ds.attrs["model_runs"]),
              "attrs": {k: _plain(ds.attrs[k]) for k in keep if k in ds.attrs}}
    return best, cost, source


def _plain(x):
    x = np.asarray(x)
    return x.item() if x.ndim == 0 else x.tolist()
