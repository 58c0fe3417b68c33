"""Gaps in time series: reports, short-gap filling, and the completeness check of forcing."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import xarray as xr

from jlsm.errors import ForcingError, InputError

from ._common import (
    ACCEPTED_NAMES,
    FORCING_VARIABLES,
    REQUIRED_FORCING,
    _check_range,
    _fmt_time,
    _gap_attrs,
    _nan_runs,
)
from .time import _timestep_seconds


def _time_vars(ds, variables) -> list[str]:
    if variables is None:
        return [v for v in ds.data_vars
                if "time" in ds[v].dims and np.issubdtype(ds[v].dtype, np.floating)]
    if isinstance(variables, str):
        variables = [variables]
    return list(variables)


def gap_report(ds: xr.Dataset, variables: Iterable[str] | None = None) -> dict[str, list[tuple[str, int]]]:
    """Gaps per variable: ``{name: [(first missing time, length in steps), ...]}``.

    A time step counts as missing if any level of the variable is NaN.
    """
    times = ds["time"].values
    out = {}
    for v in _time_vars(ds, variables):
        if v not in ds:
            raise InputError(f"gap_report: variable {v!r} not in dataset; has {list(ds.data_vars)}")
        a = ds[v].transpose("time", ...).values
        nan = np.isnan(a)
        if nan.ndim > 1:
            nan = nan.reshape(nan.shape[0], -1).any(axis=1)
        out[v] = [(_fmt_time(times[s]), n) for s, n in _nan_runs(nan)]
    return out


def fill_gaps(ds: xr.Dataset, variables: Iterable[str] | None = None,
              max_gap_steps: int = 4) -> tuple[xr.Dataset, dict[str, int]]:
    """Fill NaN gaps of at most ``max_gap_steps`` steps by linear interpolation in time.

    Returns ``(filled, report)`` with ``report[name]`` the number of values
    filled (also stored as the variable attribute ``n_filled``). A longer gap,
    or a gap at the start or end of the record, raises :class:`ForcingError`
    naming the variable, the first missing times and the gap length.
    """
    source = ds.attrs.get("source", "dataset")
    if max_gap_steps < 0:
        raise InputError(f"fill_gaps: max_gap_steps must be >= 0, got {max_gap_steps}")
    times = ds["time"].values.astype("datetime64[ns]")
    tnum = times.astype("int64").astype(float)
    step = _timestep_seconds(times)
    out = ds.copy()
    report: dict[str, int] = {}
    for v in _time_vars(ds, variables):
        if v not in ds:
            raise ForcingError(f"{source}: fill_gaps: variable {v!r} not found; has {list(ds.data_vars)}")
        da = ds[v]
        arr = np.array(da.transpose("time", ...).values, dtype=float)
        flat = arr.reshape(arr.shape[0], -1)
        filled = 0
        for j in range(flat.shape[1]):
            col = flat[:, j]
            nan = np.isnan(col)
            if not nan.any():
                continue
            if nan.all():
                raise ForcingError(f"{source}: variable {v!r} is entirely missing; nothing to interpolate from")
            for s, n in _nan_runs(nan):
                edge = s == 0 or s + n == len(col)
                if n > max_gap_steps or edge:
                    first = ", ".join(_fmt_time(t) for t in times[s:s + min(n, 3)])
                    dur = f" ({n * step / 3600.0:g} h)" if step else ""
                    why = ("at the start of the record" if s == 0 else "at the end of the record") \
                        if edge else f"longer than max_gap_steps={max_gap_steps}"
                    raise ForcingError(
                        f"{source}: variable {v!r} has a gap of {n} steps{dur} {why}; "
                        f"first missing times: {first}"
                    )
            col[nan] = np.interp(tnum[nan], tnum[~nan], col[~nan])
            filled += int(nan.sum())
        new = xr.DataArray(flat.reshape(arr.shape), dims=("time",) + tuple(d for d in da.dims if d != "time"),
                           coords=da.transpose("time", ...).coords, attrs=dict(da.attrs))
        new = new.transpose(*da.dims)
        new.attrs["n_filled"] = filled
        if "n_missing" in new.attrs:
            new.attrs.update(_gap_attrs(new.transpose("time", ...).values))
        out[v] = new
        report[v] = filled
    return out, report


def check_forcing(ds: xr.Dataset, *, source: str | None = None) -> xr.Dataset:
    """Check a forcing dataset is complete and plausible; return it unchanged.

    Raises :class:`ForcingError` naming ``source`` (default: the ``source``
    attribute) if SWdown, LWdown or Tair is missing, the time axis is not
    strictly increasing and regular, Tair looks like deg C (all < 150),
    NaN remains, or a value is outside its plausible range.
    """
    src = source or ds.attrs.get("source", "forcing dataset")
    for v in REQUIRED_FORCING:
        if v not in ds.data_vars:
            raise ForcingError(
                f"{src}: required forcing variable {v!r} is missing; accepted source "
                f"names: {', '.join(ACCEPTED_NAMES[v])}; dataset has: "
                f"{', '.join(map(str, ds.data_vars)) or 'nothing'}"
            )
    if "time" not in ds.coords:
        raise ForcingError(f"{src}: forcing has no 'time' coordinate")
    t = ds["time"].values
    if not np.issubdtype(t.dtype, np.datetime64):
        raise ForcingError(f"{src}: 'time' is not datetime64 (dtype {t.dtype})")
    if len(t) >= 2:
        d = np.diff(t.astype("datetime64[ns]")).astype("int64")
        nonpos = np.flatnonzero(d <= 0)
        if nonpos.size:
            i = int(nonpos[0]) + 1
            raise ForcingError(
                f"{src}: time is not strictly increasing at {_fmt_time(t[i])} "
                f"(after {_fmt_time(t[i - 1])})"
            )
        irregular = np.flatnonzero(d != d[0])
        if irregular.size:
            i = int(irregular[0]) + 1
            raise ForcingError(
                f"{src}: time step is irregular at {_fmt_time(t[i])}: "
                f"{d[i - 1] / 1e9:g} s instead of {d[0] / 1e9:g} s"
            )
    tair = np.asarray(ds["Tair"].values, dtype=float)
    if np.any(np.isfinite(tair)) and np.nanmax(tair) < 150.0:
        raise ForcingError(
            f"{src}: Tair looks like deg C (all values < 150, max {np.nanmax(tair):g}); "
            "jlsm needs kelvin"
        )
    for v in FORCING_VARIABLES:
        if v not in ds.data_vars:
            continue
        a = ds[v].transpose("time", ...).values
        nan = np.isnan(a)
        if nan.ndim > 1:
            nan = nan.reshape(nan.shape[0], -1).any(axis=1)
        if nan.any():
            idx = np.flatnonzero(nan)
            first = ", ".join(_fmt_time(t[i]) for i in idx[:3])
            raise ForcingError(
                f"{src}: forcing variable {v!r} has {idx.size} missing values; "
                f"first at {first}; use fill_gaps or pick another window"
            )
        _check_range(np.asarray(a, dtype=float), v, src, t, ForcingError)
    return ds


# --------------------------------------------------------------------------
# filling forcing gaps: linear for short gaps, mean diurnal course for longer ones


def _diurnal_fill(col: np.ndarray, slot: np.ndarray, s: int, n: int, half_window: int,
                  min_values: int) -> np.ndarray | None:
    """Values for the gap col[s:s+n] from the mean of the same time of day in the
    ``half_window`` steps before and after it; None if a time of day has fewer than
    ``min_values`` values there."""
    lo, hi = max(0, s - half_window), min(len(col), s + n + half_window)
    idx = np.r_[lo:s, s + n:hi]
    vals, slots = col[idx], slot[idx]
    ok = np.isfinite(vals)
    need = slot[s:s + n]
    nslot = int(slot.max()) + 1
    sums = np.bincount(slots[ok], weights=vals[ok], minlength=nslot)
    cnt = np.bincount(slots[ok], minlength=nslot)
    if np.any(cnt[need] < min_values):
        return None
    return sums[need] / cnt[need]


def fill_forcing_gaps(ds: xr.Dataset, variables: Iterable[str] | None = None, *,
                      linear_max_hours: float = 2.0, max_gap_hours: float = 168.0,
                      window_days: float = 7.0, min_values: int = 3,
                      long_gaps: str = "error") -> tuple[xr.Dataset, dict]:
    """Fill forcing gaps and flag every filled value in ``<name>_qc``.

    Gaps of at most ``linear_max_hours`` between two values: linear
    interpolation in time (flag 2). Gaps up to ``max_gap_hours`` (or shorter
    gaps at either end of the record): the mean diurnal course of the
    ``window_days`` days before and after the gap, each time of day averaged
    over at least ``min_values`` values, the window widened to 2 and 3 times
    when too few values are found (flag 3; the mean diurnal course of Falge et
    al. 2001, Agric. For. Meteorol. 107, 43, with windows widened as in the
    marginal distribution sampling of Reichstein et al. 2005, Glob. Change
    Biol. 11, 1424). Longer gaps, or gaps whose neighbourhood has too few values:
    ``long_gaps="error"`` raises :class:`ForcingError` naming the variable and
    the times; ``"keep"`` leaves them NaN (flag 9) and lists them in the report
    (see :func:`complete_runs` to split the record around them).

    Defaults: linear filling up to 2 h, the 4 half-hours of PLUMBER2's linear
    filling (Ukkola et al. 2022; ``Gapfilling_thresholds: linfill: 4`` in its
    files); a window of +-7 days as in MDS (Reichstein et al. 2005); at most 7
    days filled (a choice: beyond a week the mean diurnal course no longer
    follows the weather, and the record is better split).

    Returns ``(filled, report)``: ``report[name]`` holds the counts
    ``linear``, ``diurnal`` and the list ``long_gaps`` of (first, last time,
    steps). Default variables: the 1-D float variables of ``ds`` whose names
    do not end in ``_qc``.
    """
    from .qc import QC_DIURNAL, QC_LINEAR, QC_MISSING, qc_of, set_qc

    if long_gaps not in ("error", "keep"):
        raise InputError(f"fill_forcing_gaps: long_gaps must be 'error' or 'keep', got {long_gaps!r}")
    source = ds.attrs.get("source", "dataset")
    times = ds["time"].values.astype("datetime64[ns]")
    step = _timestep_seconds(times)
    if not step:
        raise InputError(f"{source}: cannot fill gaps of a record with fewer than two steps")
    if 86400.0 % step:
        raise InputError(f"{source}: time step {step:g} s does not divide a day")
    linear_max = int(np.floor(linear_max_hours * 3600.0 / step + 1e-9))
    max_steps = int(np.floor(max_gap_hours * 3600.0 / step + 1e-9))
    half_window = int(round(window_days * 86400.0 / step))
    per_day = int(round(86400.0 / step))
    tod = ((times - times.astype("datetime64[D]")).astype("int64") // int(round(step * 1e9)))
    slot = (tod % per_day).astype(np.int64)
    tnum = times.astype("int64").astype(float)
    names = [v for v in _time_vars(ds, variables) if not str(v).endswith("_qc")]
    out = ds.copy()
    report: dict = {}
    for v in names:
        if v not in ds:
            raise ForcingError(f"{source}: fill_forcing_gaps: variable {v!r} not found; has {list(ds.data_vars)}")
        if ds[v].dims != ("time",):
            continue
        col = np.array(ds[v].values, dtype=float)
        qc = qc_of(ds, v)
        nan = np.isnan(col)
        rep = {"linear": 0, "diurnal": 0, "long_gaps": []}
        if nan.all():
            raise ForcingError(f"{source}: forcing variable {v!r} is entirely missing; nothing to fill from")
        orig = col.copy()
        for s, n in _nan_runs(nan):
            edge = s == 0 or s + n == len(col)
            if n <= linear_max and not edge:
                x = tnum[s - 1:s + n + 1]
                col[s:s + n] = np.interp(x[1:-1], x[[0, -1]], orig[[s - 1, s + n]])
                qc[s:s + n] = QC_LINEAR
                rep["linear"] += n
                continue
            filled = None
            if n <= max_steps:
                for widen in (1, 2, 3):  # widened windows, as in MDS (Reichstein et al. 2005)
                    filled = _diurnal_fill(orig, slot, s, n, widen * half_window, min_values)
                    if filled is not None:
                        break
            if filled is not None:
                col[s:s + n] = filled
                qc[s:s + n] = QC_DIURNAL
                rep["diurnal"] += n
                continue
            first, last = _fmt_time(times[s]), _fmt_time(times[s + n - 1])
            if long_gaps == "error":
                why = (f"longer than max_gap_hours={max_gap_hours:g}" if n > max_steps else
                       f"with fewer than {min_values} values per time of day within {3 * window_days:g} days")
                raise ForcingError(
                    f"{source}: forcing variable {v!r} has a gap of {n} steps ({n * step / 3600.0:g} h) "
                    f"from {first} to {last}, {why}; raise max_gap_hours or split the record there"
                )
            rep["long_gaps"].append((first, last, n))
            qc[s:s + n] = QC_MISSING
        new = xr.DataArray(col, dims=("time",), coords={"time": ds["time"]}, attrs=dict(ds[v].attrs))
        new.attrs.update(_gap_attrs(col))
        new.attrs["n_filled_linear"] = rep["linear"]
        new.attrs["n_filled_diurnal"] = rep["diurnal"]
        out[v] = new
        set_qc(out, v, qc)
        report[v] = rep
    out.attrs["gap_filling"] = (
        f"linear up to {linear_max_hours:g} h; mean diurnal course of +-{window_days:g} days "
        f"up to {max_gap_hours:g} h; longer gaps: {long_gaps}"
    )
    return out, report


def complete_runs(ds: xr.Dataset, variables: Iterable[str] | None = None, *,
                  min_run_hours: float = 0.0) -> list[tuple[int, int]]:
    """Index ranges ``[(start, stop), ...]`` where every listed variable is finite.

    Runs shorter than ``min_run_hours`` are dropped. Use after
    :func:`fill_forcing_gaps` with ``long_gaps="keep"`` to split a record
    into separate runs around the gaps that were too long to fill.
    """
    names = [v for v in _time_vars(ds, variables) if not str(v).endswith("_qc")]
    ok = np.ones(ds.sizes["time"], dtype=bool)
    for v in names:
        a = np.asarray(ds[v].transpose("time", ...).values, dtype=float)
        ok &= np.isfinite(a.reshape(a.shape[0], -1)).all(axis=1)
    step = _timestep_seconds(ds["time"].values) or 0.0
    min_steps = int(np.ceil(min_run_hours * 3600.0 / step)) if step else 0
    return [(s, s + n) for s, n in _nan_runs(ok) if n >= max(min_steps, 1)]
