"""FLUXNET2015 FULLSET / SUBSET and ONEFlux half-hourly or hourly CSV files (``.csv`` or ``.csv.gz``).

Column names and units of the FLUXNET2015 data product (Pastorello et al.
2020, Sci. Data 7, 225, doi:10.1038/s41597-020-0534-3): TA_F [deg C], SW_IN_F,
LW_IN_F [W m-2], VPD_F [hPa], PA_F [kPa], P_F [mm per step], WS_F [m s-1],
RH [%], PPFD_IN [umol m-2 s-1], USTAR [m s-1], NETRAD, G_F_MDS, H_F_MDS,
LE_F_MDS, H_CORR, LE_CORR, SW_OUT, LW_OUT [W m-2], TS_F_MDS_n [deg C],
SWC_F_MDS_n [%], each with a ``_QC`` column where the product has one (0 =
measured, 1-3 = gap-filled; for ``_F`` met variables 2 = downscaled from
ERA-Interim), -9999 = missing. Time stamps ``TIMESTAMP_START`` /
``TIMESTAMP_END`` (YYYYMMDDHHMM) are local standard time.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import xarray as xr

from jlsm.errors import DataFileError

from .columns import Column, build_datasets, read_table
from .time import _regular_step, _shift, check_time_axis, parse_times, regular_index

#: ALMA variable -> (candidate FLUXNET2015 columns in order of preference, units).
FLUXNET2015_COLUMNS: dict[str, tuple[tuple[str, ...], str]] = {
    "Tair": (("TA_F", "TA_F_MDS", "TA"), "degC"),
    "SWdown": (("SW_IN_F", "SW_IN_F_MDS", "SW_IN"), "W m-2"),
    "LWdown": (("LW_IN_F", "LW_IN_F_MDS", "LW_IN"), "W m-2"),
    "VPD": (("VPD_F", "VPD_F_MDS", "VPD"), "hPa"),
    "RH": (("RH",), "%"),
    "PSurf": (("PA_F", "PA"), "kPa"),
    "Wind": (("WS_F", "WS"), "m s-1"),
    "Rainf": (("P_F", "P"), "mm"),
    "PPFD": (("PPFD_IN",), "umol m-2 s-1"),
    "LAI": (("LAI",), "m2 m-2"),
    "Qh": (("H_F_MDS", "H"), "W m-2"),
    "Qle": (("LE_F_MDS", "LE"), "W m-2"),
    "Qg": (("G_F_MDS", "G"), "W m-2"),
    "Rnet": (("NETRAD",), "W m-2"),
    "Qh_cor": (("H_CORR",), "W m-2"),
    "Qle_cor": (("LE_CORR",), "W m-2"),
    "SWup": (("SW_OUT",), "W m-2"),
    "LWup": (("LW_OUT",), "W m-2"),
    "Ustar": (("USTAR",), "m s-1"),
}


def fluxnet2015_columns(header: Sequence[str], *, qc_max: int = 0,
                        soil_depths: Sequence[float] | None = None,
                        swc_depths: Sequence[float] | None = None) -> list[Column]:
    """The column map of a FLUXNET2015 file with these column names.

    Flags 0..``qc_max`` count as measured. TS_F_MDS_n / SWC_F_MDS_n are read
    only with their depths [m] (``soil_depths`` / ``swc_depths``; the files do
    not give them).
    """
    have = set(header)
    measured = tuple(float(i) for i in range(int(qc_max) + 1))
    cols = []
    for var, (cands, units) in FLUXNET2015_COLUMNS.items():
        c = next((c for c in cands if c in have), None)
        if c is None:
            continue
        qc = f"{c}_QC" if f"{c}_QC" in have else None
        cols.append(Column(c, var, units, qc=qc, measured=measured))
    for var, stem, depths, units in (("SoilTemp", "TS_F_MDS_", soil_depths, "degC"),
                                     ("SoilMoist", "SWC_F_MDS_", swc_depths, "%")):
        names = sorted((h for h in have if re.fullmatch(stem + r"\d+", h)), key=lambda h: int(h.rsplit("_", 1)[1]))
        if not names or depths is None:
            continue
        for h in names:
            k = int(h.rsplit("_", 1)[1]) - 1
            if k < len(depths):
                qc = f"{h}_QC" if f"{h}_QC" in have else None
                cols.append(Column(h, var, units, qc=qc, measured=measured, depth=float(depths[k])))
    return cols


def read_fluxnet2015(path, *, utc_offset_hours: float | None = None, qc_max: int = 0,
                     soil_depths: Sequence[float] | None = None,
                     swc_depths: Sequence[float] | None = None,
                     site: dict | None = None) -> tuple[xr.Dataset, xr.Dataset]:
    """Read a FLUXNET2015 FULLSET/SUBSET or ONEFlux CSV (``.csv`` or ``.csv.gz``).

    Returns ``(forcing, obs)`` on one time axis stamped at interval start
    (``TIMESTAMP_START``), in UTC when ``utc_offset_hours`` (local = UTC +
    offset) is given, else in local standard time. Forcing: Tair, SWdown,
    LWdown, PSurf, Wind, Rainf (total precipitation), Qair (from VPD_F, or RH
    where VPD is missing), and the auxiliary VPD, RH, PPFD, each with a
    ``_qc`` flag (:mod:`jlsm.io.qc`). Observations: Qh, Qle, Qg, Rnet, Qh_cor,
    Qle_cor, SWup, LWup, Ustar where present, NaN unless their ``_QC`` flag is
    at most ``qc_max`` (0 = measured only); the file's flags kept as ``<name>_qc``.
    A missing variable is simply absent: estimate it with
    :func:`jlsm.io.complete.complete_forcing`. Needs TA and SW_IN or PPFD_IN.
    """
    from .complete import derive_qair
    from ._common import _finish

    path = Path(path)
    source = str(path)
    df = read_table(path, source=source)
    tcol = "TIMESTAMP_START" if "TIMESTAMP_START" in df.columns else "TIMESTAMP_END"
    if tcol not in df.columns:
        raise DataFileError(f"{source}: no TIMESTAMP_START or TIMESTAMP_END column; is this a FLUXNET2015 file?")
    label = "start" if tcol == "TIMESTAMP_START" else "end"
    times = parse_times(df[tcol].values, column=tcol, source=source)
    step = check_time_axis(times, source, tcol)
    full, pos = regular_index(times, step)
    if len(full) != len(times):
        df = df.set_axis(pos).reindex(range(len(full))).reset_index(drop=True)
    times = full
    cols = fluxnet2015_columns(df.columns, qc_max=qc_max, soil_depths=soil_depths, swc_depths=swc_depths)
    names = {c.variable for c in cols}
    if "Tair" not in names:
        raise DataFileError(f"{source}: column TA_F (variable Tair) not found; accepted: TA_F, TA_F_MDS, TA")
    if "SWdown" not in names and "PPFD" not in names:
        raise DataFileError(f"{source}: neither SW_IN_F/SW_IN (variable SWdown) nor PPFD_IN found")
    if utc_offset_hours is not None:
        times = _shift(times, -float(utc_offset_hours))
    f, o = build_datasets(df, times, cols, source=source, dt=step, time_label=label)
    forcing = xr.Dataset(f, coords={"time": times})
    obs = xr.Dataset(o, coords={"time": times})
    m = re.match(r"(?:FLX_|AMF_)?([A-Z]{2}-[A-Za-z0-9]{3})_", path.name)
    attrs = {
        "source": source,
        "site": m.group(1) if m else None,
        "format": "FLUXNET2015",
        "time_zone": "UTC" if utc_offset_hours is not None else "local standard time",
        "utc_offset_hours": None if utc_offset_hours is None else float(utc_offset_hours),
        "time_label": label,
        "time_column": tcol,
        "timestep_seconds": step,
        **{k: v for k, v in (site or {}).items() if v is not None},
    }
    _finish(forcing, attrs)
    _finish(obs, {**attrs, "qc_max": qc_max})
    derive_qair(forcing)
    _regular_step(forcing, source)
    return forcing, obs
