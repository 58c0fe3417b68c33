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

    An hour is NaN unless all its sub-steps are present; quality flags
    (``*_qc``) take the largest flag of the sub-steps. Labels follow
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
        if str(v).endswith("_qc"):
            # a flag of an hour is the largest (least measured) of its sub-steps
            vals = a[rows].max(axis=1)
        elif np.issubdtype(a.dtype, np.number):
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


# --------------------------------------------------------------------------
# time axes of files: parsing, checks, time zones, interval labels, alignment


def parse_times(values, *, column: str, source, format: str | None = None) -> np.ndarray:
    """Parse a column of time stamps (``YYYYMMDDHHMM`` integers or text) to datetime64[ns].

    ``format`` is a :func:`time.strftime` pattern; None guesses it (12-digit
    integers as FLUXNET/AmeriFlux ``TIMESTAMP_*``). A value that cannot be
    parsed raises :class:`DataFileError` naming the file, column and value.
    """
    import pandas as pd

    s = pd.Series(values)
    if format is None and s.dtype.kind in "iuf":
        if s.isna().any():
            i = int(np.flatnonzero(s.isna().values)[0])
            raise DataFileError(f"{source}: time column {column!r} is empty in row {i + 2}")
        s = s.astype("int64").astype(str)
        format = "%Y%m%d%H%M" if s.str.len().eq(12).all() else None
    try:
        t = pd.to_datetime(s, format=format)
    except (ValueError, TypeError) as exc:
        bad = None
        for i, v in enumerate(s):
            try:
                pd.to_datetime(v, format=format)
            except (ValueError, TypeError):
                bad = (i, v)
                break
        where = f" (row {bad[0] + 2}: {bad[1]!r})" if bad else ""
        raise DataFileError(
            f"{source}: cannot parse time column {column!r}{where}"
            f"{' with format ' + repr(format) if format else ''}: {exc}"
        ) from None
    if t.isna().any():
        i = int(np.flatnonzero(t.isna().values)[0])
        raise DataFileError(f"{source}: time column {column!r} is empty in row {i + 2}")
    return np.asarray(t.values, dtype="datetime64[ns]")


def check_time_axis(times: np.ndarray, source, column: str = "time") -> float:
    """Step [s] of a strictly increasing time axis whose steps are multiples of the first.

    Raises :class:`DataFileError` naming the file, the column and the first
    offending time when stamps repeat, go backwards, or fall off the grid.
    Missing stamps (steps that are whole multiples) are allowed:
    :func:`regular_index` restores them.
    """
    t = np.asarray(times, dtype="datetime64[ns]")
    if len(t) < 2:
        raise DataFileError(f"{source}: {column!r} has {len(t)} time stamp(s); need at least two")
    d = np.diff(t).astype("int64")
    dup = np.flatnonzero(d == 0)
    if dup.size:
        i = int(dup[0]) + 1
        raise DataFileError(
            f"{source}: {column!r} repeats the time stamp {_fmt_time(t[i])} "
            f"(rows {i + 1} and {i + 2} of the data; {dup.size} duplicates)"
        )
    back = np.flatnonzero(d < 0)
    if back.size:
        i = int(back[0]) + 1
        raise DataFileError(
            f"{source}: {column!r} goes backwards at {_fmt_time(t[i])} (after "
            f"{_fmt_time(t[i - 1])}); time stamps must increase"
        )
    step = int(np.min(d))
    off = np.flatnonzero(d % step)
    if off.size:
        i = int(off[0]) + 1
        raise DataFileError(
            f"{source}: {column!r} is irregular at {_fmt_time(t[i])}: "
            f"{d[i - 1] / 1e9:g} s after the previous stamp, not a multiple of the {step / 1e9:g} s step"
        )
    if step not in (1800 * 10**9, 3600 * 10**9):
        if 86400 * 10**9 % step:
            raise DataFileError(
                f"{source}: {column!r} has a step of {step / 1e9:g} s, which does not divide a day"
            )
    return step / 1e9


def regular_index(times: np.ndarray, step_seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """(full regular axis from first to last stamp, position of each given stamp in it)."""
    t = np.asarray(times, dtype="datetime64[ns]")
    step = np.int64(round(step_seconds * 1e9))
    pos = ((t - t[0]).astype("int64") // step).astype(np.int64)
    full = t[0] + np.arange(int(pos[-1]) + 1) * np.timedelta64(int(step), "ns")
    return full, pos


def to_utc(ds: xr.Dataset, utc_offset_hours: float, *, source_of_offset: str = "given") -> xr.Dataset:
    """Shift a dataset stamped in local standard time (UTC + offset) to UTC."""
    if ds.attrs.get("time_zone", "local standard time") == "UTC":
        return ds
    out = ds.assign_coords(time=_shift(ds["time"].values.astype("datetime64[ns]"), -float(utc_offset_hours)))
    out.attrs.update(time_zone="UTC", utc_offset_hours=float(utc_offset_hours),
                     utc_offset_source=source_of_offset)
    out["time"].attrs.update(ds["time"].attrs)
    out["time"].attrs["time_zone"] = "UTC"
    return out


def to_interval_start(ds: xr.Dataset) -> xr.Dataset:
    """Label each step by the start of its averaging interval (shift end stamps back one step).

    Raises :class:`InputError` if the dataset's ``time_label`` is unknown.
    """
    label = ds.attrs.get("time_label", "unknown")
    if label == "start":
        return ds
    source = ds.attrs.get("source", "dataset")
    if label != "end":
        raise InputError(
            f"{source}: time_label is {label!r}: say whether the stamps mark the start or the "
            "end of each interval (time_label = 'start' or 'end')"
        )
    step = _regular_step(ds, source)
    out = ds.assign_coords(time=_shift(ds["time"].values.astype("datetime64[ns]"), -step / 3600.0))
    out["time"].attrs.update(ds["time"].attrs)
    out.attrs["time_label"] = "start"
    return out


def align(forcing: xr.Dataset, obs: xr.Dataset) -> xr.Dataset:
    """Observations on the forcing's time axis (NaN where the files do not overlap).

    Both datasets must share time zone, interval label and step. Raises
    :class:`ObservationError` naming both files and their spans when they do
    not overlap at all or their steps or stamps disagree.
    """
    fs, os_ = forcing.attrs.get("source", "forcing"), obs.attrs.get("source", "observations")
    if obs.sizes.get("time", 0) == 0 or not obs.data_vars:
        return obs.reindex(time=forcing["time"])
    for key in ("time_zone", "time_label"):
        a, b = forcing.attrs.get(key), obs.attrs.get(key)
        if a is not None and b is not None and a != b:
            raise ObservationError(f"{os_}: {key} {b!r} differs from that of the forcing {fs} ({a!r})")
    ft = forcing["time"].values.astype("datetime64[ns]")
    ot = obs["time"].values.astype("datetime64[ns]")
    fstep, ostep = _timestep_seconds(ft), _timestep_seconds(ot)
    span = (f"forcing {fs}: {_fmt_time(ft[0])} to {_fmt_time(ft[-1])}; observations {os_}: "
            f"{_fmt_time(ot[0])} to {_fmt_time(ot[-1])}")
    if fstep and ostep and fstep != ostep:
        raise ObservationError(
            f"{os_}: time step {ostep:g} s differs from the forcing's {fstep:g} s; "
            "resample one of them (jlsm.io.to_hourly) first"
        )
    if ot[-1] < ft[0] or ot[0] > ft[-1]:
        raise ObservationError(f"met and flux files do not overlap in time: {span}")
    common = np.intersect1d(ft, ot)
    if common.size == 0:
        raise ObservationError(
            f"met and flux time stamps never coincide (shifted by a fraction of a step?): {span}"
        )
    out = obs.reindex(time=forcing["time"])
    for v in out.data_vars:
        if str(v).endswith("_qc") and v in obs and np.issubdtype(obs[v].dtype, np.integer):
            out[v] = out[v].fillna(9).astype(obs[v].dtype)
    out.attrs.update(obs.attrs)
    return out
