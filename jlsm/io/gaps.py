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
