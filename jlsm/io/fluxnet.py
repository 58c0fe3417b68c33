"""FLUXNET/ICOS-style CSV files (e.g. the hourly DE-Hai 2018 files)."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import xarray as xr

from jlsm.errors import DataFileError, ForcingError, ObservationError

from ._common import (
    FORCING_VARIABLES,
    REQUIRED_FORCING,
    _check_range,
    _col,
    _finish,
    _gap_attrs,
    _make_var,
    _read_csv,
    _soil_var,
)
from .humidity import specific_humidity_from_rh, specific_humidity_from_vpd
from .radiation import _add_ts
from .time import _check_label, _csv_times, _shift, _timestep_seconds
from .units import _convert


_DEFAULT_TS_DEPTHS = (0.02, 0.05, 0.10, 0.20, 0.50)


_DEFAULT_SWC_DEPTHS = (0.05, 0.15, 0.30)


def read_fluxnet_csv(input_csv, fluxes_csv=None, *, utc_offset_hours: float | None = None,
                     time_label: str | None = None,
                     soil_depths: Sequence[float] = _DEFAULT_TS_DEPTHS,
                     swc_depths: Sequence[float] = _DEFAULT_SWC_DEPTHS,
                     swc_units: str | None = None,
                     emissivity: float = 0.95) -> tuple[xr.Dataset, xr.Dataset]:
    """Read FLUXNET/ICOS-style CSV files (e.g. the DE-Hai 2018 files).

    Forcing from ``input_csv``: TA_F [deg C], SW_IN_F, LW_IN_F [W m-2],
    VPD_F [hPa] or RH [%] with PA_F [kPa] -> Qair, WS_F [m s-1], P_F [mm per
    step]. Observations from ``fluxes_csv`` (or ``input_csv`` if None):
    TS_F_MDS_n [deg C] at ``soil_depths`` [m], SWC_F_MDS_n [%] at
    ``swc_depths`` [m], G_F_MDS, H_F_MDS, LE_F_MDS, SW_OUT, LW_OUT [W m-2].
    SWC units are ``swc_units`` ("%" or "m3 m-3"); if None, percent when any
    value exceeds 1.5. Defaults of the depths are those of DE-Hai.
    Time stamps are local standard time; with ``utc_offset_hours`` they are
    converted to UTC. ``time_label`` overrides the label implied by the time
    column (TIMESTAMP_START: start; TIMESTAMP_END, Date.Time: end).
    """
    source = str(input_csv)
    df_in = _read_csv(input_csv)
    times, tcol, label = _csv_times(df_in, source)
    label = _check_label(time_label or label)
    if utc_offset_hours is not None:
        times = _shift(times, -float(utc_offset_hours))
    dt = _timestep_seconds(times)

    def get(df, names):
        c = _col(df, names)
        if c is None:
            return None, None
        return np.asarray(df[c].values, dtype=float), c

    fmap = {
        "SWdown": (("SW_IN_F", "SW_IN_F_MDS", "SW_IN"), "W m-2"),
        "LWdown": (("LW_IN_F", "LW_IN_F_MDS", "LW_IN"), "W m-2"),
        "Tair": (("TA_F", "TA_F_MDS", "TA"), "degC"),
        "PSurf": (("PA_F", "PA"), "kPa"),
        "Wind": (("WS_F", "WS"), "m s-1"),
        "Rainf": (("P_F", "P"), "mm"),
    }
    out = {}
    for std in REQUIRED_FORCING:
        if _col(df_in, fmap[std][0]) is None:
            raise DataFileError(
                f"{source}: forcing variable {std!r} not found; accepted columns: "
                f"{', '.join(fmap[std][0])}"
            )
    for std, (names, units) in fmap.items():
        vals, c = get(df_in, names)
        if vals is None:
            continue
        conv, su = _convert(vals, units, std, source, dt_seconds=dt)
        out[std] = _make_var(std, conv, times, c, su, {"n_flagged": 0})
    if "Tair" in out and "PSurf" in out:
        vpd_c = _col(df_in, ("VPD_F", "VPD_F_MDS", "VPD"))
        rh_c = _col(df_in, ("RH",))
        if vpd_c is not None:
            q = specific_humidity_from_vpd(df_in[vpd_c].values.astype(float) * 100.0,
                                           out["Tair"].values, out["PSurf"].values)
            out["Qair"] = _make_var("Qair", q, times, vpd_c, "hPa",
                                    {"n_flagged": 0, "comment": f"derived from {vpd_c}, Tair, PSurf"})
            if rh_c is not None:
                # fill the VPD gaps from RH where possible
                q_rh = specific_humidity_from_rh(df_in[rh_c].values.astype(float),
                                                 out["Tair"].values, out["PSurf"].values)
                out["Qair"].values[:] = np.where(np.isnan(q), q_rh, q)
        elif rh_c is not None:
            q = specific_humidity_from_rh(df_in[rh_c].values.astype(float),
                                          out["Tair"].values, out["PSurf"].values)
            out["Qair"] = _make_var("Qair", q, times, rh_c, "%",
                                    {"n_flagged": 0, "comment": f"derived from {rh_c}, Tair, PSurf"})
    forcing_vars = {k: out[k] for k in FORCING_VARIABLES if k in out}
    for std, da in forcing_vars.items():
        _check_range(da.values, std, source, times, ForcingError)
        da.attrs.update(_gap_attrs(da.values))
    forcing = xr.Dataset(forcing_vars, coords={"time": times})

    # observations
    if fluxes_csv is not None:
        osource = str(fluxes_csv)
        df_obs = _read_csv(fluxes_csv)
        otimes, _, _ = _csv_times(df_obs, osource)
        if utc_offset_hours is not None:
            otimes = _shift(otimes, -float(utc_offset_hours))
    else:
        osource, df_obs, otimes = source, df_in, times
    omap = {
        "SWup": ("SW_OUT",), "LWup": ("LW_OUT",), "Qh": ("H_F_MDS", "H"),
        "Qle": ("LE_F_MDS", "LE"), "Qg": ("G_F_MDS", "G"), "Rnet": ("NETRAD",),
        "Qh_cor": ("H_CORR",), "Qle_cor": ("LE_CORR",),
    }
    obs = {}
    for std, names in omap.items():
        vals, c = get(df_obs, names)
        if vals is None:
            continue
        conv, su = _convert(vals, "W m-2", std, osource)
        _check_range(conv, std, osource, otimes, ObservationError)
        obs[std] = _make_var(std, conv, otimes, c, su, {"n_qc_masked": 0})
    for std, stem, depths, ddim, units in (
        ("SoilTemp", "TS_F_MDS_", soil_depths, "depth", "degC"),
        ("SoilMoist", "SWC_F_MDS_", swc_depths, "depth_swc", swc_units),
    ):
        cols = sorted((c for c in df_obs.columns if re.fullmatch(stem + r"\d+", c)),
                      key=lambda c: int(c.rsplit("_", 1)[1]))
        if not cols:
            continue
        if len(cols) > len(depths):
            raise ObservationError(
                f"{osource}: {len(cols)} columns {stem}n but only {len(depths)} depths "
                f"given; pass {'soil_depths' if std == 'SoilTemp' else 'swc_depths'}"
            )
        idx = [int(c.rsplit("_", 1)[1]) - 1 for c in cols]
        vals = np.stack([df_obs[c].values.astype(float) for c in cols], axis=1)
        conv, su = _convert(vals, units, std, osource)
        _check_range(conv, std, osource, otimes, ObservationError)
        extra = {"n_qc_masked": 0}
        if std == "SoilMoist" and su.startswith("%"):
            extra["comment"] = "file values are percent; divided by 100"
        obs[std] = _soil_var(std, conv, otimes, np.asarray(depths, float)[idx], ddim,
                             ", ".join(cols), su, extra)
    obs_ds = xr.Dataset(obs, coords={"time": otimes})
    _add_ts(obs_ds, forcing, emissivity)
    base = {
        "time_zone": "UTC" if utc_offset_hours is not None else "local standard time",
        "utc_offset_hours": float(utc_offset_hours) if utc_offset_hours is not None else None,
        "time_label": label,
        "time_column": tcol,
        "timestep_seconds": dt,
    }
    _finish(forcing, {**base, "source": source})
    _finish(obs_ds, {**base, "source": osource})
    return forcing, obs_ds
