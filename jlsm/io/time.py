"""Time axes: steps, interval labels, time zones, CSV time columns, windows and hourly means."""

from __future__ import annotations

import numpy as np
import xarray as xr

from jlsm.errors import DataFileError, InputError, ObservationError

from ._common import _fmt_time, _gap_attrs


def _timestep_seconds(times: np.ndarray) -> float | None:
    if len(times) < 2:
        return None
    d = np.diff(times.astype("datetime64[ns]")).astype("int64")
    return float(np.median(d)) / 1e9


def _check_label(label: str) -> str:
    if label not in ("start", "end", "unknown"):
        raise InputError(f"time_label must be 'start', 'end' or 'unknown', got {label!r}")
    return label


def _shift(times: np.ndarray, hours: float) -> np.ndarray:
    return times + np.timedelta64(int(round(hours * 3600.0)), "s")


_TIME_COLUMNS = ("TIMESTAMP_END", "TIMESTAMP_START", "Date.Time", "Date/Time",
                 "DateTime", "datetime", "date_time", "TIMESTAMP", "time")


def _csv_times(df, source) -> tuple[np.ndarray, str, str]:
    """(times, column, label) from the first time column found."""
    import pandas as pd

    col = next((c for c in _TIME_COLUMNS if c in df.columns), None)
    if col is None:
        raise DataFileError(
            f"{source}: no time column; accepted: {', '.join(_TIME_COLUMNS)}"
        )
    s = df[col]
    try:
        if col.startswith("TIMESTAMP_"):
            t = pd.to_datetime(s.astype("int64").astype(str), format="%Y%m%d%H%M")
        else:
            t = pd.to_datetime(s)
    except Exception as exc:
        raise DataFileError(f"{source}: cannot parse time column {col!r}: {exc}") from exc
    label = {"TIMESTAMP_END": "end", "TIMESTAMP_START": "start",
             "Date.Time": "end", "Date/Time": "end"}.get(col, "unknown")
    return np.asarray(t.values, dtype="datetime64[ns]"), col, label


def _regular_step(ds: xr.Dataset, source) -> float:
    if "time" not in ds.coords:
        raise InputError(f"{source}: dataset has no 'time' coordinate")
    t = ds["time"].values.astype("datetime64[ns]")
    if len(t) < 2:
        raise InputError(f"{source}: need at least two time steps, got {len(t)}")
    d = np.diff(t).astype("int64")
    bad = np.flatnonzero(d != d[0])
    if d[0] <= 0 or bad.size:
        i = int(bad[0]) if bad.size else 0
        raise InputError(
            f"{source}: time axis is not regular: step {_fmt_time(t[i])} -> "
            f"{_fmt_time(t[i + 1])} differs from the first step"
        )
    return float(d[0]) / 1e9


def to_hourly(ds: xr.Dataset, *, label: str | None = None) -> xr.Dataset:
    """Average a sub-hourly dataset (e.g. 30 min) to 1 h.

    An hour is NaN unless all its sub-steps are present. Labels follow
    ``label`` (default: the dataset's ``time_label``): ``"end"`` averages the
    steps stamped in (H-1h, H] and labels them H; ``"start"`` or unknown
    averages [H, H+1h) and labels them H. Incomplete hours at either end of the
    record are dropped.
    """
    source = ds.attrs.get("source", "dataset")
    step = _regular_step(ds, source)
    if step == 3600.0:
        return ds.copy()
    if step > 3600.0 or 3600.0 % step:
        raise InputError(f"{source}: time step {step:g} s does not divide one hour")
    per = int(round(3600.0 / step))
    lab = _check_label(label or ds.attrs.get("time_label", "start"))
    hour = np.int64(3_600_000_000_000)
    tn = ds["time"].values.astype("datetime64[ns]").astype("int64")
    bins = -((-tn) // hour) if lab == "end" else tn // hour
    ub, first, count = np.unique(bins, return_index=True, return_counts=True)
    full = count == per
    rows = first[full][:, None] + np.arange(per)  # (hours, per) indices into time
    new_time = (ub[full] * hour).astype("datetime64[ns]")
    out = xr.Dataset(coords={"time": new_time})
    for c, coord in ds.coords.items():
        if "time" not in coord.dims:
            out = out.assign_coords({c: coord})
    for v, da in ds.data_vars.items():
        if "time" not in da.dims:
            out[v] = da
            continue
        other = tuple(d for d in da.dims if d != "time")
        a = da.transpose("time", *other).values
        if np.issubdtype(a.dtype, np.number):
            vals = a[rows].astype(float).mean(axis=1)
        else:
            vals = a[rows[:, 0]]
        new = xr.DataArray(vals, dims=("time",) + other,
                           coords={"time": new_time, **{d: ds[d] for d in other if d in ds.coords}},
                           attrs=dict(da.attrs)).transpose(*da.dims)
        if "n_missing" in new.attrs:
            new.attrs.update(_gap_attrs(new.transpose("time", ...).values))
        out[v] = new
    out.attrs = dict(ds.attrs)
    out.attrs["timestep_seconds"] = 3600.0
    out.attrs["time_label"] = lab
    out["time"].attrs = dict(ds["time"].attrs)
    return out


def select_window(ds: xr.Dataset, start, hours: float, *,
                  utc_offset_hours: float | None = None,
                  name: str | None = None) -> xr.Dataset:
    """Take ``hours`` of data from ``start`` given in local standard time.

    Keeps the stamps t with start <= t < start + hours (after conversion to the
    dataset's time zone, using ``utc_offset_hours`` or the dataset attribute).
    Raises :class:`ObservationError` naming ``name`` (default: the source) and
    the time span if the window is empty, outside the span or has missing steps.
    """
    name = name or ds.attrs.get("source", "dataset")
    if "time" not in ds.coords or ds.sizes.get("time", 0) == 0:
        raise ObservationError(f"{name}: dataset has no time steps")
    try:
        start_local = np.datetime64(start, "ns")
    except Exception as exc:
        raise InputError(f"select_window: cannot parse start {start!r}") from exc
    if not hours or hours <= 0:
        raise InputError(f"select_window: hours must be > 0, got {hours!r}")
    tz = ds.attrs.get("time_zone", "UTC")
    if tz == "UTC":
        off = utc_offset_hours if utc_offset_hours is not None else ds.attrs.get("utc_offset_hours")
        if off is None:
            raise InputError(
                f"{name}: time is UTC and the UTC offset is unknown; pass utc_offset_hours"
            )
        t0 = _shift(start_local, -float(off))
    else:
        t0 = start_local
    t1 = _shift(t0, float(hours))
    times = ds["time"].values.astype("datetime64[ns]")
    step = _timestep_seconds(times) or 0.0
    span = f"{_fmt_time(times[0])} to {_fmt_time(times[-1])} ({tz})"
    end_avail = _shift(times[-1], step / 3600.0)
    if t0 < times[0] or t1 > end_avail:
        raise ObservationError(
            f"{name}: window {_fmt_time(start_local)} local + {hours:g} h "
            f"({_fmt_time(t0)} to {_fmt_time(t1)} {tz}) is outside the time span {span}"
        )
    sel = ds.isel(time=(times >= t0) & (times < t1))
    n = sel.sizes["time"]
    if n == 0:
        raise ObservationError(f"{name}: window {_fmt_time(t0)} + {hours:g} h ({tz}) is empty; span {span}")
    if step:
        expected = int(round(hours * 3600.0 / step))
        st = sel["time"].values
        if n != expected:
            d = np.diff(st).astype("int64") / 1e9
            j = np.flatnonzero(d != step)
            where = f" after {_fmt_time(st[j[0]])}" if j.size else ""
            raise ObservationError(
                f"{name}: window {_fmt_time(t0)} + {hours:g} h ({tz}) has {n} steps, "
                f"expected {expected}: missing time steps{where}"
            )
    return sel
