"""AmeriFlux BASE half-hourly/hourly CSV, read directly from the zip AmeriFlux distributes,
with the site's BADM/BIF sheet (``.xlsx``) where the zip holds one.

Variable names and units follow the AmeriFlux FP-Standard (ameriflux.lbl.gov,
"Data Variables"): TA [deg C], RH [%], VPD [hPa], PA [kPa], WS [m s-1], P [mm
per step], SW_IN, LW_IN, SW_OUT, LW_OUT, NETRAD, G, H, LE [W m-2], PPFD_IN
[umol m-2 s-1], USTAR [m s-1], TS [deg C], SWC [%]; -9999 = missing;
``TIMESTAMP_START`` in local standard time. Qualifiers: ``_PI`` (provided by the
site team), ``_F`` (gap-filled), and positional suffixes ``_H_V_R``
(horizontal position, vertical position, replicate). BASE files are not
gap-filled and carry no flags: every value present is taken as measured.

Positional suffixes: replicates and horizontal positions of a variable are
averaged; for the soil (TS, SWC) every vertical position becomes a depth
level, its depth taken from the BADM ``GRP_VAR_INFO`` entries
(``VAR_INFO_HEIGHT``, negative below ground) when the sheet has them, else NaN
(said in the attributes); G uses its shallowest vertical position; other
variables their highest. Reading the ``.xlsx`` needs openpyxl (the optional
extra ``sites``); without it the data are read and the attributes say that the
BADM was not read.
"""

from __future__ import annotations

import io as _io
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from jlsm.errors import DataFileError

from .columns import Column, build_datasets, read_table
from .time import _shift, check_time_axis, parse_times, regular_index

#: ALMA variable -> (AmeriFlux base name, FP-Standard units).
AMERIFLUX_VARIABLES: dict[str, tuple[str, str]] = {
    "Tair": ("TA", "degC"), "SWdown": ("SW_IN", "W m-2"), "LWdown": ("LW_IN", "W m-2"),
    "RH": ("RH", "%"), "VPD": ("VPD", "hPa"), "PSurf": ("PA", "kPa"), "Wind": ("WS", "m s-1"),
    "Rainf": ("P", "mm"), "PPFD": ("PPFD_IN", "umol m-2 s-1"),
    "Qh": ("H", "W m-2"), "Qle": ("LE", "W m-2"), "Qg": ("G", "W m-2"), "Rnet": ("NETRAD", "W m-2"),
    "SWup": ("SW_OUT", "W m-2"), "LWup": ("LW_OUT", "W m-2"), "Ustar": ("USTAR", "m s-1"),
    "SoilTemp": ("TS", "degC"), "SoilMoist": ("SWC", "%"),
}

_BASE_CSV = re.compile(r"(?:.*/)?AMF_([A-Z]{2}-[A-Za-z0-9]{3})_BASE_(HH|HR)_[^/]*\.csv$")
_BADM = re.compile(r"(?:.*/)?AMF_[A-Z]{2}-[A-Za-z0-9]{3}_(BIF|BADM)[^/]*\.xlsx$")


def _match(header, base):
    """Columns of ``header`` for AmeriFlux variable ``base``: [(column, H, V, R)], preferring
    plain/_PI names over positional ones."""
    pat = re.compile(rf"^{base}(?:_PI)?(?:_F)?(?:_(\d+)_(\d+)_(\d+))?$")
    found = []
    for h in header:
        m = pat.match(h)
        if m:
            hvr = tuple(int(x) for x in m.groups()) if m.group(1) else None
            found.append((h, hvr))
    plain = [f for f in found if f[1] is None]
    if plain:
        # prefer the plain name, then _PI, then _F
        plain.sort(key=lambda f: len(f[0]))
        return [(plain[0][0], None)]
    return found


def read_badm(data: bytes | str | Path, *, source: str = "BADM") -> dict:
    """Site metadata from an AmeriFlux BADM/BIF ``.xlsx``.

    Returns ``{"igbp", "latitude", "longitude", "elevation", "utc_offset_hours",
    "canopy_height": [(date, m), ...], "var_info": {column: depth_m},
    "site_name"}`` with what the sheet gives. Needs openpyxl: raises
    ImportError without it.
    """
    import pandas as pd

    import openpyxl  # noqa: F401  (pandas' xlsx engine; ImportError if absent)

    buf = _io.BytesIO(data) if isinstance(data, bytes) else data
    try:
        sheets = pd.read_excel(buf, sheet_name=None)
    except Exception as exc:
        raise DataFileError(f"cannot read {source} as an .xlsx BADM sheet: {exc}") from exc
    df = next(iter(sheets.values()))
    need = {"GROUP_ID", "VARIABLE_GROUP", "VARIABLE", "DATAVALUE"}
    if not need <= set(df.columns):
        raise DataFileError(f"{source}: BADM sheet lacks columns {sorted(need - set(df.columns))}")
    out: dict = {"canopy_height": [], "var_info": {}}

    def first(var):
        s = df.loc[df["VARIABLE"] == var, "DATAVALUE"]
        return s.iloc[0] if len(s) else None

    for key, var, conv in (("igbp", "IGBP", str), ("latitude", "LOCATION_LAT", float),
                           ("longitude", "LOCATION_LONG", float), ("elevation", "LOCATION_ELEV", float),
                           ("utc_offset_hours", "UTC_OFFSET", float), ("site_name", "SITE_NAME", str)):
        v = first(var)
        if v is not None:
            try:
                out[key] = conv(v)
            except (TypeError, ValueError):
                pass
    for _, g in df.groupby("GROUP_ID"):
        kv = dict(zip(g["VARIABLE"], g["DATAVALUE"]))
        if "HEIGHTC" in kv and "HEIGHTC_DATE" in kv:
            try:
                date = np.datetime64(pd.to_datetime(str(kv["HEIGHTC_DATE"])[:8], format="%Y%m%d"), "D")
                out["canopy_height"].append((date, float(kv["HEIGHTC"])))
            except (TypeError, ValueError):
                pass
        if "VAR_INFO_VARNAME" in kv and "VAR_INFO_HEIGHT" in kv:
            try:
                out["var_info"][str(kv["VAR_INFO_VARNAME"])] = -float(kv["VAR_INFO_HEIGHT"])
            except (TypeError, ValueError):
                pass
    out["canopy_height"].sort()
    return out


def ameriflux_columns(header: Sequence[str], var_info: dict | None = None,
                      soil_depths: dict | None = None) -> list[Column]:
    """The column map of an AmeriFlux BASE file with these column names.

    ``var_info``: {column: depth below ground [m]} from the BADM;
    ``soil_depths`` overrides it ({column: depth [m]}).
    """
    depths = {**(var_info or {}), **(soil_depths or {})}
    cols = []
    for var, (base, units) in AMERIFLUX_VARIABLES.items():
        found = _match(header, base)
        if not found:
            continue
        if found[0][1] is None:
            d = depths.get(found[0][0]) if var in ("SoilTemp", "SoilMoist") else None
            if var in ("SoilTemp", "SoilMoist"):
                d = np.nan if d is None else d
            cols.append(Column(found[0][0], var, units, missing=(-9999.0,), depth=d))
            continue
        if var in ("SoilTemp", "SoilMoist"):
            for h, (_, v, _) in found:
                d = depths.get(h)
                if d is None:
                    # positions sharing a vertical index are averaged at an unknown depth
                    d = -float(v)  # placeholder sorted by vertical index, replaced below
                cols.append(Column(h, var, units, depth=d))
            continue
        vs = [hvr[1] for _, hvr in found]
        keep_v = min(vs) if var == "Qg" else max(vs)
        for h, hvr in found:
            if hvr[1] == keep_v:
                cols.append(Column(h, var, units))
    # unknown soil depths: NaN per vertical index (kept apart by a tiny negative code)
    out = []
    for c in cols:
        if c.depth is not None and not np.isnan(c.depth) and c.depth < 0:
            out.append(Column(c.column, c.variable, c.units, c.missing, c.qc, c.measured, np.nan,
                              note=f"vertical index {int(-c.depth)}"))
        else:
            out.append(c)
    return out


def _open_zip(path: Path):
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise DataFileError(f"{path}: not a zip file ({exc})") from exc


def read_ameriflux_base(path, *, utc_offset_hours: float | None = None,
                        soil_depths: dict | None = None,
                        site: dict | None = None) -> tuple[xr.Dataset, xr.Dataset]:
    """Read an AmeriFlux BASE file: the distributed ``.zip`` (BASE CSV + BADM/BIF) or the ``.csv``.

    Returns ``(forcing, obs)`` stamped at interval start (TIMESTAMP_START), in
    UTC with ``utc_offset_hours``, else the BADM's UTC_OFFSET, else local
    standard time. Forcing: Tair, SWdown, LWdown, PSurf, Wind, Rainf, Qair
    (from VPD or RH, where PA is present; see
    :func:`jlsm.io.complete.complete_forcing` for the rest), auxiliary RH,
    VPD, PPFD, with ``_qc`` flags (0 measured, 9 missing: BASE is not
    gap-filled). Observations: Qh, Qle, Qg, Rnet, SWup, LWup, Ustar, and
    SoilTemp/SoilMoist by depth (see the module docstring). Dataset
    attributes carry the BADM values (igbp, latitude, longitude, elevation,
    canopy height dates and values) and ``badm`` saying whether it was read.
    """
    from ._common import _finish
    from .complete import derive_qair

    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise DataFileError(f"data file {path} not found")
    badm: dict = {}
    badm_note = "no BADM/BIF sheet"
    if path.suffix.lower() == ".zip":
        zf = _open_zip(path)
        members = zf.namelist()
        csvs = [m for m in members if _BASE_CSV.match(m)]
        if not csvs:
            raise DataFileError(
                f"{source}: no AmeriFlux BASE CSV (AMF_<site>_BASE_HH_<version>.csv or _HR_) in the zip; "
                f"it holds: {', '.join(members) or 'nothing'}"
            )
        member = sorted(csvs)[0]
        source = f"{path}:{member}"
        with zf.open(member) as fh:
            df = read_table(fh, source=source, comment="#")
        sheets = [m for m in members if _BADM.match(m)]
        if sheets:
            try:
                badm = read_badm(zf.read(sheets[0]), source=f"{path}:{sheets[0]}")
                badm_note = f"read from {sheets[0]}"
            except ImportError:
                badm_note = (f"{sheets[0]} not read: openpyxl is not installed "
                             "(pip install openpyxl, or the 'sites' extra)")
        site_code = _BASE_CSV.match(member).group(1)
    else:
        df = read_table(path, source=source, comment="#")
        m = _BASE_CSV.match(path.name)
        site_code = m.group(1) if m else None
    if "TIMESTAMP_START" not in df.columns:
        raise DataFileError(f"{source}: column 'TIMESTAMP_START' (time) not found; is this an AmeriFlux BASE file?")
    times = parse_times(df["TIMESTAMP_START"].values, column="TIMESTAMP_START", source=source)
    step = check_time_axis(times, source, "TIMESTAMP_START")
    full, pos = regular_index(times, step)
    if len(full) != len(times):
        df = df.set_axis(pos).reindex(range(len(full))).reset_index(drop=True)
    times = full
    cols = ameriflux_columns(df.columns, badm.get("var_info"), soil_depths)
    names = {c.variable for c in cols}
    if "Tair" not in names:
        raise DataFileError(f"{source}: column TA (variable Tair) not found")
    offset = utc_offset_hours if utc_offset_hours is not None else badm.get("utc_offset_hours")
    offset_src = "given" if utc_offset_hours is not None else ("BADM UTC_OFFSET" if offset is not None else None)
    if offset is not None:
        times = _shift(times, -float(offset))
    f, o = build_datasets(df, times, cols, source=source, dt=step, time_label="start")
    forcing = xr.Dataset(f, coords={"time": times})
    obs = xr.Dataset(o, coords={"time": times})
    attrs = {
        "source": source,
        "site": site_code,
        "format": "AmeriFlux BASE",
        "time_zone": "UTC" if offset is not None else "local standard time",
        "utc_offset_hours": None if offset is None else float(offset),
        "utc_offset_source": offset_src,
        "time_label": "start",
        "time_column": "TIMESTAMP_START",
        "timestep_seconds": step,
        "badm": badm_note,
    }
    for k in ("igbp", "latitude", "longitude", "elevation", "site_name"):
        if k in badm:
            attrs[k] = badm[k]
    if badm.get("canopy_height"):
        attrs["canopy_height_dates"] = [str(d) for d, _ in badm["canopy_height"]]
        attrs["canopy_height_m"] = [h for _, h in badm["canopy_height"]]
        forcing["canopy_height"] = canopy_height_series(forcing["time"].values, badm["canopy_height"],
                                                        utc_offset_hours=offset)
    attrs.update({k: v for k, v in (site or {}).items() if v is not None})
    _finish(forcing, attrs)
    _finish(obs, attrs)
    derive_qair(forcing)
    return forcing, obs


def canopy_height_series(times, dated_heights, *, utc_offset_hours: float | None = None) -> xr.DataArray:
    """Canopy height [m] on ``times``: linear in time between the BADM dates (local
    midnight; ``times`` in UTC when ``utc_offset_hours`` is given), constant outside."""
    shift = np.timedelta64(int(round(-(utc_offset_hours or 0.0) * 3600)), "s")
    d = np.array([np.datetime64(x, "ns") + shift for x, _ in dated_heights]).astype("int64").astype(float)
    h = np.array([v for _, v in dated_heights], dtype=float)
    t = np.asarray(times, dtype="datetime64[ns]").astype("int64").astype(float)
    return xr.DataArray(np.interp(t, d, h), dims=("time",), coords={"time": times},
                        attrs={"units": "m", "long_name": "canopy height",
                               "source_variable": "BADM HEIGHTC", "comment": "linear between dated values"})
