"""Site collections: a TOML file listing flux sites, checked and resolved to :class:`SiteSpec`.

Layout (every key but ``name``, ``format`` and ``files`` optional)::

    [defaults]                 # for every site unless the site says otherwise
    step = "1h"                # common time step of the batch: "30min" or "1h"
    qc_max = 0                 # observation flags counted as measured (0 = measured only)
    max_gap_hours = 168        # forcing gaps filled up to this length ...
    linear_max_hours = 2       # ... linearly up to this one, by mean diurnal course beyond
    window_days = 7            # neighbouring days of the mean diurnal course
    long_gaps = "error"        # longer gaps: "error", or "split" the site into runs
    min_run_days = 30          # runs shorter than this are dropped (with "split")
    corrected = "file"         # Qh_cor, Qle_cor: the file's (PLUMBER2, FLUXNET H_CORR) or
                               # "bowen": Bowen-ratio-preserving closure for every site
    site_table = "sites.csv"   # defaults per site (under JLSM_DATA_DIR)

    [[sites]]
    name = "DE-Tha"            # site code, looked up in the site table
    format = "fluxnet2015"     # plumber2 | fluxnet2015 | ameriflux | csv | fluxnet-csv | urban-plumber
    files = ["de-tharandt/FLX_DE-Tha_FLUXNET2015_SUBSET_HH_2010-2010.csv.gz"]
    igbp = "ENF"               # site metadata: igbp, pft, pft_group, measurement_height [m],
    canopy_height = 26.5       # canopy_height [m], lai [m2 m-2], latitude, longitude [deg],
    utc_offset_hours = 1       # elevation [m], utc_offset_hours, time_label ("start"/"end")
    period = ["2010-01-01", "2011-01-01"]   # local standard time, end excluded
    split = { test_start = "2010-09-01" }   # or { test_fraction = 0.5 }; default below

For ``format = "csv"`` a ``[sites.columns]`` table (a column map, see
:mod:`jlsm.io.columns`) and ``time = { column = "...", label = "end", format = "..." }``.
Paths are relative to ``$JLSM_DATA_DIR``, else to the collection's folder.

Precedence of site metadata: the collection, then the site table, then the
files' own metadata, then documented defaults (:mod:`jlsm.sites.load`).
Default fit/test split: the second year held out when the record spans two
years, otherwise the last third.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from jlsm._paths import data_dir
from jlsm.errors import ConfigError, DataFileError

from .table import read_site_table

FORMATS = ("plumber2", "fluxnet2015", "ameriflux", "csv", "fluxnet-csv", "urban-plumber")
DEFAULT_OPTIONS = {
    "step": "1h", "qc_max": 0, "max_gap_hours": 168.0, "linear_max_hours": 2.0,
    "window_days": 7.0, "long_gaps": "error", "min_run_days": 30.0, "site_table": "sites.csv",
    "corrected": "file",
}
_OPTION_KEYS = set(DEFAULT_OPTIONS) - {"step", "site_table"}
_META_KEYS = {"igbp", "pft", "pft_group", "measurement_height", "canopy_height", "lai", "latitude",
              "longitude", "elevation", "utc_offset_hours", "time_label"}
_SITE_KEYS = {"name", "format", "files", "period", "split", "time", "columns", "soil_depths",
              "swc_depths"} | _META_KEYS | _OPTION_KEYS
_STEPS = {"30min": 1800.0, "30 min": 1800.0, "1h": 3600.0, "60min": 3600.0, "1 h": 3600.0, "hourly": 3600.0}


@dataclass
class SiteSpec:
    """One site of a collection: resolved files, format, what the collection says
    (``given``), the site-table row (``table``) and the processing ``options``."""

    name: str
    format: str
    files: list[Path]
    given: dict = field(default_factory=dict)
    table: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)
    period: tuple | None = None
    split: dict | None = None
    reader: dict = field(default_factory=dict)


@dataclass
class Collection:
    """A parsed collection: its ``path``, common ``step_seconds`` and the sites."""

    path: Path
    step_seconds: float
    sites: list[SiteSpec]
    options: dict


def _resolve(name, where, base: Path) -> Path:
    p = Path(str(name)).expanduser()
    cands = [p] if p.is_absolute() else ([data_dir() / p] if data_dir() else []) + [base / p]
    for c in cands:
        if c.is_file():
            return c
    raise DataFileError(f"{where}: data file {name!r} not found (looked in: "
                        f"{', '.join(str(c) for c in cands)}); set JLSM_DATA_DIR to the data folder")


def _number(v, where, key, lo=None):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ConfigError(f"{where}: {key} must be a number, got {v!r}")
    if lo is not None and not v >= lo:
        raise ConfigError(f"{where}: {key} must be >= {lo:g}, got {v!r}")
    return float(v)


def _options(raw: dict, where: str, base: dict) -> dict:
    out = dict(base)
    for k in _OPTION_KEYS & set(raw):
        v = raw[k]
        if k == "long_gaps":
            if v not in ("error", "split"):
                raise ConfigError(f"{where}: long_gaps must be 'error' or 'split', got {v!r}")
            out[k] = v
        elif k == "corrected":
            if v not in ("file", "bowen"):
                raise ConfigError(f"{where}: corrected must be 'file' or 'bowen', got {v!r}")
            out[k] = v
        elif k == "qc_max":
            out[k] = int(_number(v, where, k, 0))
        else:
            out[k] = _number(v, where, k, 0)
    if out["linear_max_hours"] > out["max_gap_hours"]:
        raise ConfigError(f"{where}: linear_max_hours ({out['linear_max_hours']:g}) exceeds "
                          f"max_gap_hours ({out['max_gap_hours']:g})")
    return out


def read_collection(path) -> Collection:
    """Parse and check a site-collection TOML file (see the module docstring).

    Raises :class:`ConfigError` naming the file, the site and the key for
    unknown keys or bad values, :class:`DataFileError` for missing files.
    """
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"site collection {path} not found")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    unknown = set(raw) - {"defaults", "sites", "title", "description"}
    if unknown:
        raise ConfigError(f"{path}: unknown top-level key(s) {sorted(unknown)}; expected [defaults] and [[sites]]")
    defaults = raw.get("defaults", {})
    bad = set(defaults) - set(DEFAULT_OPTIONS)
    if bad:
        raise ConfigError(f"{path}: [defaults] has unknown key(s) {sorted(bad)}; allowed: {sorted(DEFAULT_OPTIONS)}")
    step_txt = str(defaults.get("step", DEFAULT_OPTIONS["step"]))
    if step_txt not in _STEPS:
        raise ConfigError(f"{path}: [defaults] step {step_txt!r} is not one of {sorted(set(_STEPS))}")
    options = _options(defaults, f"{path} [defaults]", {k: DEFAULT_OPTIONS[k] for k in _OPTION_KEYS})
    table_name = defaults.get("site_table", DEFAULT_OPTIONS["site_table"])
    table = {}
    try:
        table = read_site_table(_resolve(table_name, f"{path} [defaults] site_table", path.parent))
    except DataFileError:
        if "site_table" in defaults:
            raise
    sites = raw.get("sites")
    if not isinstance(sites, list) or not sites:
        raise ConfigError(f"{path}: no [[sites]] entries")
    specs, names = [], set()
    for k, s in enumerate(sites):
        where = f"{path} site {s.get('name', k + 1)!r}" if isinstance(s, dict) else f"{path} site {k + 1}"
        if not isinstance(s, dict):
            raise ConfigError(f"{where}: each [[sites]] entry must be a table")
        bad = set(s) - _SITE_KEYS
        if bad:
            raise ConfigError(f"{where}: unknown key(s) {sorted(bad)}; allowed: {sorted(_SITE_KEYS)}")
        for key in ("name", "format", "files"):
            if key not in s:
                raise ConfigError(f"{where}: missing key {key!r}")
        name = str(s["name"])
        if name in names:
            raise ConfigError(f"{where}: site name {name!r} appears twice")
        names.add(name)
        if s["format"] not in FORMATS:
            raise ConfigError(f"{where}: format {s['format']!r} is not one of {', '.join(FORMATS)}")
        files = s["files"] if isinstance(s["files"], list) else [s["files"]]
        paths = [_resolve(f, where, path.parent) for f in files]
        given = {k: s[k] for k in _META_KEYS if k in s}
        for k in ("measurement_height", "canopy_height", "lai", "elevation"):
            if k in given:
                given[k] = _number(given[k], where, k, 0)
        for k in ("latitude", "longitude", "utc_offset_hours"):
            if k in given:
                given[k] = _number(given[k], where, k)
        if "time_label" in given and given["time_label"] not in ("start", "end"):
            raise ConfigError(f"{where}: time_label must be 'start' or 'end', got {given['time_label']!r}")
        period = None
        if "period" in s:
            p = s["period"]
            if not (isinstance(p, list) and len(p) == 2):
                raise ConfigError(f"{where}: period must be [start, end] (local standard time), got {p!r}")
            import numpy as np
            try:
                period = tuple(np.datetime64(str(x), "ns") for x in p)
            except ValueError:
                raise ConfigError(f"{where}: period {p!r} is not two ISO dates") from None
            if not period[0] < period[1]:
                raise ConfigError(f"{where}: period start {p[0]!r} is not before its end {p[1]!r}")
        split = s.get("split")
        if split is not None:
            if not isinstance(split, dict) or set(split) - {"test_start", "test_fraction"} or len(split) != 1:
                raise ConfigError(f"{where}: split must be {{ test_start = \"YYYY-MM-DD\" }} or "
                                  f"{{ test_fraction = 0.33 }}, got {split!r}")
            if "test_fraction" in split and not 0.0 <= float(split["test_fraction"]) < 1.0:
                raise ConfigError(f"{where}: split.test_fraction must be in [0, 1), got {split['test_fraction']!r}")
        reader = {}
        if s["format"] == "csv":
            if "columns" not in s or "time" not in s:
                raise ConfigError(f"{where}: format 'csv' needs a [sites.columns] map and time = {{ column = ... }}")
            t = s["time"]
            if not isinstance(t, dict) or "column" not in t or set(t) - {"column", "label", "format"}:
                raise ConfigError(f"{where}: time must be {{ column = ..., label = 'start'|'end', format = ... }}")
            from jlsm.io.columns import column_map
            from jlsm.errors import InputError
            try:
                reader["columns"] = column_map(s["columns"], source=where)
            except InputError as exc:
                raise ConfigError(str(exc)) from None
            reader["time"] = t
        for k in ("soil_depths", "swc_depths"):
            if k in s:
                reader[k] = s[k]
        specs.append(SiteSpec(name=name, format=s["format"], files=paths, given=given,
                              table=dict(table.get(name, {})), options=_options(s, where, options),
                              period=period, split=split, reader=reader))
    return Collection(path=path, step_seconds=_STEPS[step_txt], sites=specs,
                      options={**options, "step": step_txt})
