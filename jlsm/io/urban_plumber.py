"""Urban-PLUMBER ``*_clean_observations_v1.nc`` / ``*_metforcing_v1.nc`` and ``*_sitedata_v1.csv``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from jlsm.errors import DataFileError

from ._common import _finish, _read_csv
from .alma import _alma_forcing, _alma_obs, _open_netcdf, _squeeze_space, _time_axis
from .time import _check_label, _shift, _timestep_seconds


def read_urban_plumber(path, *, qc_max: int = 0, emissivity: float = 0.95,
                       soil_depth: float | None = None,
                       time_label: str = "end") -> tuple[xr.Dataset, xr.Dataset]:
    """Read an Urban-PLUMBER ``*_clean_observations_v1.nc`` or ``*_metforcing_v1.nc``.

    Returns ``(forcing, obs)`` on the same UTC time axis. Observation values
    whose ``*_qc`` flag exceeds ``qc_max`` (0 = measured) become NaN; forcing
    values are kept, with their gap and flag counts in the attributes.
    ``soil_depth`` [m] overrides the SoilTemp depth found in the file.
    Stamps mark the end of each interval (``time_label``): the US-WestPhoenix
    daylight is centred 13 min after solar noon at 30 min steps.
    """
    path = Path(path)
    source = str(path)
    raw = _open_netcdf(path)
    raw, site = _squeeze_space(raw, source)
    times = _time_axis(raw, source)
    shown = str(raw.attrs.get("time_shown_in", "UTC")).strip().lower()
    offset = raw.attrs.get("local_utc_offset_hours")
    offset = float(offset) if offset is not None else None
    if shown not in ("utc", "gmt"):
        if offset is None:
            raise DataFileError(f"{source}: time is shown in {shown!r} without local_utc_offset_hours")
        times = _shift(times, -offset)
    raw = raw.assign_coords(time=times)
    dt = _timestep_seconds(times)
    forcing = _alma_forcing(raw, times, source, qc_max, dt)
    obs = _alma_obs(raw, times, source, qc_max, dt, forcing, emissivity, soil_depth)
    sitedata = path.with_name(f"{raw.attrs.get('sitename', '')}_sitedata_v1.csv")
    if raw.attrs.get("sitename") and sitedata.is_file():
        try:
            sd = read_urban_plumber_sitedata(sitedata)
        except DataFileError:
            sd = {}
        for k in ("latitude", "longitude"):
            if k in sd:
                site[k] = sd[k]
        if "measurement_height_above_ground" in sd:
            site["measurement_height"] = sd["measurement_height_above_ground"]
        if "average_albedo_at_midday" in sd:
            site["albedo_midday"] = sd["average_albedo_at_midday"]
    attrs = {
        "source": source,
        "site": raw.attrs.get("sitename"),
        "time_zone": "UTC",
        "utc_offset_hours": offset,
        "time_label": _check_label(time_label),
        "timestep_seconds": dt,
        **site,
    }
    _finish(forcing, attrs)
    _finish(obs, {**attrs, "qc_max": qc_max})
    return forcing, obs


def read_urban_plumber_sitedata(path) -> dict[str, float]:
    """Numeric site parameters of an Urban-PLUMBER ``*_sitedata_v1.csv``.

    Returns ``{parameter: value}`` in the file's units (fractions, m, ...).
    """
    import pandas as pd

    df = _read_csv(path)
    if not {"parameter", "value"} <= set(df.columns):
        raise DataFileError(f"{path}: expected columns 'parameter' and 'value'")
    out = {}
    for name, val in zip(df["parameter"], df["value"]):
        num = pd.to_numeric(val, errors="coerce")
        if isinstance(name, str) and np.isfinite(num):
            out[name.strip()] = float(num)
    return out
