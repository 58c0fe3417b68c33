"""Tables of columns -> ALMA variables: the generic CSV reader with a column map.

A column map says, for each column of a CSV file, which variable it holds, in
which unit, which value means missing, which column holds its quality flag and
which flag values mean "measured". In a TOML file (site collections use the
same keys)::

    [columns.TA_F]
    variable = "Tair"        # ALMA name (see VARIABLES)
    units = "degC"
    missing = -9999          # number or list; default -9999
    qc = "TA_F_QC"           # optional flag column
    measured = [0]           # flag values that mean measured; default [0]

    [columns.TS_F_MDS_1]
    variable = "SoilTemp"
    units = "degC"
    depth = 0.02             # m, for SoilTemp and SoilMoist

Several columns of one variable (replicates) are averaged. Forcing values whose
flag is not "measured" are kept and flagged 1 (filled by the provider) in
``<name>_qc``; observation values whose flag is not "measured" become NaN and
the file's flags are kept in ``<name>_qc``. The FLUXNET2015 and AmeriFlux
readers are column maps filled in from the files' naming conventions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from jlsm.errors import DataFileError, ForcingError, InputError, ObservationError

from ._common import (
    AUXILIARY_VARIABLES,
    FORCING_VARIABLES,
    OPTIONAL_FORCING,
    _check_range,
    _finish,
    _gap_attrs,
    _make_var,
    _soil_var,
)
from .qc import initial_qc, qc_attrs
from .time import check_time_axis, parse_times, regular_index
from .units import _convert

#: Variables a column map may name: forcing, auxiliary inputs of estimates, observations.
FORCING_NAMES = (*FORCING_VARIABLES, *OPTIONAL_FORCING, *AUXILIARY_VARIABLES)
OBSERVATION_NAMES = ("SWup", "LWup", "Qh", "Qle", "Qg", "Rnet", "Qh_cor", "Qle_cor", "Ustar",
                     "SoilTemp", "SoilMoist")
VARIABLES = FORCING_NAMES + OBSERVATION_NAMES
_SOIL = {"SoilTemp": "depth", "SoilMoist": "depth_swc"}
_KEYS = {"variable", "units", "missing", "qc", "measured", "depth", "optional"}


@dataclass(frozen=True)
class Column:
    """One source column: the ``variable`` it holds, its ``units``, missing values,
    flag column ``qc`` and the flag values ``measured``; ``depth`` [m] for soil
    variables (NaN = unknown); ``optional`` columns may be absent from the file."""

    column: str
    variable: str
    units: str | None = None
    missing: tuple[float, ...] = (-9999.0,)
    qc: str | None = None
    measured: tuple[float, ...] = (0.0,)
    depth: float | None = None
    optional: bool = False
    note: str = field(default="", compare=False)


def column_map(mapping: Mapping, *, source: str = "column map") -> list[Column]:
    """Columns from a mapping ``{column: {variable, units, missing, qc, measured, depth}}``.

    Raises :class:`InputError` naming ``source`` and the column for an unknown
    key or variable, or a soil variable without ``depth``.
    """
    if not isinstance(mapping, Mapping) or not mapping:
        raise InputError(f"{source}: the column map must be a non-empty table of columns")
    out = []
    for col, spec in mapping.items():
        where = f"{source}: column {col!r}"
        if isinstance(spec, str):
            spec = {"variable": spec}
        if not isinstance(spec, Mapping):
            raise InputError(f"{where}: expected a table with 'variable' and 'units', got {spec!r}")
        unknown = set(spec) - _KEYS
        if unknown:
            raise InputError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_KEYS)}")
        var = spec.get("variable")
        if var not in VARIABLES:
            raise InputError(f"{where}: variable {var!r} is not one of {', '.join(VARIABLES)}")
        missing = spec.get("missing", -9999.0)
        missing = tuple(float(m) for m in (missing if isinstance(missing, (list, tuple)) else [missing]))
        measured = spec.get("measured", [0])
        measured = tuple(float(m) for m in (measured if isinstance(measured, (list, tuple)) else [measured]))
        depth = spec.get("depth")
        if var in _SOIL and depth is None:
            raise InputError(f"{where}: {var} needs 'depth' (m below the surface)")
        if depth is not None and not (float(depth) >= 0.0):
            raise InputError(f"{where}: depth must be >= 0 m, got {depth!r}")
        out.append(Column(str(col), var, spec.get("units"), missing, spec.get("qc"), measured,
                          None if depth is None else float(depth), bool(spec.get("optional", False))))
    return out


def read_table(path_or_buffer, *, source=None, comment: str | None = None):
    """A CSV file (``.csv`` or ``.csv.gz``, or an open binary file) as a pandas DataFrame."""
    import pandas as pd

    src = source or str(path_or_buffer)
    if isinstance(path_or_buffer, (str, Path)):
        p = Path(path_or_buffer)
        if not p.is_file():
            raise DataFileError(f"data file {p} not found")
    try:
        df = pd.read_csv(path_or_buffer, comment=comment, low_memory=False)
    except Exception as exc:  # parser errors vary
        raise DataFileError(f"cannot read {src} as CSV: {exc}") from exc
    if df.shape[1] < 2:
        raise DataFileError(f"cannot read {src} as CSV: fewer than two columns")
    df.columns = [str(c).strip() for c in df.columns]
    return df


def _missing_column(source, col: Column, have) -> DataFileError:
    listed = ", ".join(list(have)[:40]) + (", ..." if len(have) > 40 else "")
    return DataFileError(
        f"{source}: column {col.column!r} (variable {col.variable}) not found; the file has: {listed}"
    )


def _numeric(df, name, source) -> np.ndarray:
    import pandas as pd

    s = pd.to_numeric(df[name], errors="coerce")
    bad = s.isna() & df[name].notna() & (df[name].astype(str).str.strip() != "")
    if bad.any():
        i = int(np.flatnonzero(bad.values)[0])
        raise DataFileError(f"{source}: column {name!r} has a non-numeric value {df[name].iloc[i]!r} in row {i + 2}")
    return s.to_numpy(dtype=float, copy=True)


def _frame_variables(df, times, cols: Sequence[Column], source, dt) -> tuple[dict, dict]:
    """(forcing parts, observation parts): variable -> list of (values, qc info, column, units)."""
    forcing: dict = {}
    obs: dict = {}
    for c in cols:
        v = _numeric(df, c.column, source)
        for m in c.missing:
            v[np.isclose(v, m)] = np.nan
        where = f"{source}, column {c.column!r}"
        vals, su = _convert(v, c.units, c.variable, where, dt_seconds=dt)
        flag = None
        if c.qc is not None:
            if c.qc not in df.columns:
                raise _missing_column(source, Column(c.qc, f"{c.variable} quality flag"), df.columns)
            flag = _numeric(df, c.qc, source)
            measured = np.isin(flag, c.measured)
        else:
            measured = np.ones(len(v), dtype=bool)
        target = forcing if c.variable in FORCING_NAMES else obs
        level = c.depth if c.depth is not None and not np.isnan(c.depth) else (c.note or None)
        target.setdefault((c.variable, level), []).append((vals, measured, flag, c, su))
    return forcing, obs


def _combine(parts, name):
    """Average replicate columns; (values, measured flags, file flags, description)."""
    vals = np.stack([p[0] for p in parts], axis=1)
    meas = np.stack([p[1] & np.isfinite(p[0]) for p in parts], axis=1)
    flags = [p[2] for p in parts]
    cols = [p[3].column for p in parts]
    units = parts[0][4]
    if len(parts) == 1:
        return vals[:, 0], meas[:, 0], flags[0], cols[0], units
    cnt = np.isfinite(vals).sum(axis=1)
    mean = np.where(cnt > 0, np.nansum(vals, axis=1) / np.maximum(cnt, 1), np.nan)
    flag = None
    if all(f is not None for f in flags):
        f = np.stack(flags, axis=1)
        flag = np.where(np.isfinite(f).any(axis=1), np.nanmax(np.where(np.isfinite(f), f, -np.inf), axis=1), np.nan)
    return mean, meas.any(axis=1), flag, ", ".join(cols) + " (mean of replicates)", units


def build_datasets(df, times, cols: Sequence[Column], *, source, dt, time_label,
                   forcing_only=False) -> tuple[dict, dict]:
    """DataArrays of the mapped columns of one table on ``times``: (forcing, obs) dicts."""
    fparts, oparts = _frame_variables(df, times, cols, source, dt)
    forcing, obs = {}, {}
    # forcing: keep every value, flag provider-filled ones
    for (name, _), parts in fparts.items():
        vals, meas, _flag, desc, su = _combine(parts, name)
        _check_range(vals, name, source, times, ForcingError)
        has_flag = any(p[3].qc is not None for p in parts)
        qc = initial_qc(vals, (~meas & np.isfinite(vals)) if has_flag else None)
        extra = {"n_flagged": int(np.sum(qc == 1))}
        if not has_flag:
            extra["qc_note"] = "no flag column: every value taken as measured"
        forcing[name] = _make_var(name, vals, times, desc, su, extra)
        forcing[name].attrs.update(_gap_attrs(vals))
        forcing[f"{name}_qc"] = xr.DataArray(qc, dims=("time",), coords={"time": times}, attrs=qc_attrs(name))
    # observations: measured values only; the file's flags kept
    soil: dict = {}
    for (name, _level), parts in oparts.items():
        if name in _SOIL:
            soil.setdefault(name, []).append((parts[0][3].depth, parts))
            continue
        vals, meas, flag, desc, su = _combine(parts, name)
        has_flag = any(p[3].qc is not None for p in parts)
        n_masked = int(np.sum(~meas & np.isfinite(vals)))
        vals = np.where(meas, vals, np.nan)
        _check_range(vals, name, source, times, ObservationError)
        extra = {"n_qc_masked": n_masked}
        if not has_flag:
            extra["qc_note"] = "no flag column: every value taken as measured"
        obs[name] = _make_var(name, vals, times, desc, su, extra)
        if flag is not None:
            obs[f"{name}_qc"] = xr.DataArray(flag, dims=("time",), coords={"time": times},
                                             attrs={"long_name": f"{name} quality flag of the file",
                                                    "units": "1", "comment": "file's own codes; "
                                                    f"measured = {sorted(set(parts[0][3].measured))}"})
    for name, levels in soil.items():
        levels.sort(key=lambda x: (np.inf if x[0] is None or np.isnan(x[0]) else x[0]))
        arrays, descs = [], []
        for depth, parts in levels:
            vals, meas, _flag, desc, su = _combine(parts, name)
            arrays.append(np.where(meas, vals, np.nan))
            descs.append(desc)
        vals = np.stack(arrays, axis=1)
        _check_range(vals, name, source, times, ObservationError)
        depths = [np.nan if d is None else d for d, _ in levels]
        extra = {"n_qc_masked": 0}
        if su.startswith("%"):
            extra["comment"] = "file values are percent; divided by 100"
        if np.isnan(depths).any():
            extra["depth_note"] = "depth not given for some columns (NaN)"
        obs[name] = _soil_var(name, vals, times, depths, _SOIL[name], "; ".join(descs), su, extra)
    return forcing, obs


def _regularise(df, times, source, column):
    """Rows of ``df`` on a regular time axis (missing stamps become empty rows)."""
    step = check_time_axis(times, source, column)
    full, pos = regular_index(times, step)
    if len(full) != len(times):
        df = df.set_axis(pos).reindex(np.arange(len(full)))
    return df.reset_index(drop=True), full, step


def read_csv_columns(files, columns, *, time_column: str, time_format: str | None = None,
                     time_label: str = "start", utc_offset_hours: float | None = None,
                     comment: str | None = None, site: Mapping | None = None
                     ) -> tuple[xr.Dataset, xr.Dataset]:
    """Read CSV files (``.csv`` or ``.csv.gz``) with a column map.

    ``files``: one path or a list (e.g. met and flux files); each mapped column
    is taken from the first file that has it. ``columns``: a column map (see
    the module docstring) or a list of :class:`Column`. ``time_column`` holds
    the stamps (``time_format`` a strftime pattern, None to guess),
    ``time_label`` whether they mark the "start" or "end" of each interval.
    Stamps are local standard time; with ``utc_offset_hours`` (local = UTC +
    offset) they are converted to UTC. ``site`` adds attributes (latitude,
    longitude, ...). Returns ``(forcing, obs)``, each on the time axis of the
    file(s) its variables come from.
    """
    from .complete import derive_qair
    from .time import _check_label, _shift

    paths = [files] if isinstance(files, (str, Path)) else list(files)
    if not paths:
        raise InputError("read_csv_columns: no file given")
    cols = columns if (columns and isinstance(columns, (list, tuple)) and isinstance(columns[0], Column)) \
        else column_map(columns, source=f"column map of {paths[0]}")
    _check_label(time_label)
    frames = []
    for p in paths:
        src = str(p)
        df = read_table(p, source=src, comment=comment)
        if time_column not in df.columns:
            raise _missing_column(src, Column(time_column, "time"), df.columns)
        times = parse_times(df[time_column].values, column=time_column, source=src, format=time_format)
        df, times, step = _regularise(df, times, src, time_column)
        if utc_offset_hours is not None:
            times = _shift(times, -float(utc_offset_hours))
        frames.append((src, df, times, step))
    owner: dict[int, list[Column]] = {}
    for c in cols:
        i = next((k for k, (_, df, _, _) in enumerate(frames) if c.column in df.columns), None)
        if i is None:
            if c.optional:
                continue
            raise DataFileError(
                f"{' + '.join(s for s, *_ in frames)}: column {c.column!r} named in the column map "
                f"(variable {c.variable}) is not in the file(s); "
                f"they have: {', '.join(map(str, frames[0][1].columns[:40]))}"
            )
        owner.setdefault(i, []).append(c)
    fvars, ovars, fsrc, osrc = {}, {}, [], []
    for i, cs in sorted(owner.items()):
        src, df, times, step = frames[i]
        f, o = build_datasets(df, times, cs, source=src, dt=step, time_label=time_label)
        if f:
            fvars[i] = xr.Dataset(f, coords={"time": times})
            fsrc.append(src)
        if o:
            ovars[i] = xr.Dataset(o, coords={"time": times})
            osrc.append(src)
    if not fvars:
        raise DataFileError(f"{paths[0]}: the column map names no forcing variable")
    forcing = xr.merge(list(fvars.values()), join="outer", combine_attrs="drop_conflicts")
    obs = xr.merge(list(ovars.values()), join="outer", combine_attrs="drop_conflicts") if ovars \
        else xr.Dataset(coords={"time": forcing["time"]})
    for ds in (forcing, obs):
        for v in ds.data_vars:
            if str(v).endswith("_qc") and ds[v].dtype.kind == "f" and v.replace("_qc", "") in FORCING_NAMES:
                ds[v] = ds[v].fillna(9).astype(np.int8)
    step = frames[0][3]
    attrs = {
        "time_zone": "UTC" if utc_offset_hours is not None else "local standard time",
        "utc_offset_hours": None if utc_offset_hours is None else float(utc_offset_hours),
        "time_label": time_label,
        "time_column": time_column,
        "timestep_seconds": step,
        **{k: v for k, v in (site or {}).items() if v is not None},
    }
    _finish(forcing, {**attrs, "source": " + ".join(fsrc)})
    _finish(obs, {**attrs, "source": " + ".join(osrc) if osrc else " + ".join(fsrc)})
    derive_qair(forcing)
    return forcing, obs
