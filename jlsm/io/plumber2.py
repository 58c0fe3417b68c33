"""PLUMBER2 ``*_Met.nc`` forcing and ``*_Flux.nc`` evaluation files."""

from __future__ import annotations

import re
from pathlib import Path

import xarray as xr

from jlsm.errors import DataFileError

from ._common import _finish
from .alma import _alma_forcing, _alma_obs, _open_netcdf, _squeeze_space, _time_axis
from .time import _check_label, _shift, _timestep_seconds


def read_plumber2(met_path, flux_path=None, *, qc_max: int = 0,
                  utc_offset_hours: float | None = None,
                  emissivity: float = 0.95,
                  time_label: str = "start") -> tuple[xr.Dataset, xr.Dataset]:
    """Read PLUMBER2 ``*_Met.nc`` and optionally ``*_Flux.nc``.

    PLUMBER2 time is local standard time at the start of each interval
    (``time_label``; CN-Cng daylight is centred 15 min before solar noon); it is
    converted to UTC with ``utc_offset_hours`` or, if None, with the offset
    round(longitude / 15) h (recorded in ``utc_offset_source``). Flux values
    whose ``*_qc`` flag exceeds ``qc_max`` (0 = measured) become NaN. Forcing
    and observations keep their own time axes.
    """
    met_path = Path(met_path)
    source = str(met_path)
    raw, site = _squeeze_space(_open_netcdf(met_path), source)
    flux_raw = None
    if flux_path is not None:
        flux_raw, fsite = _squeeze_space(_open_netcdf(flux_path), str(flux_path))
        for k, v in fsite.items():
            site.setdefault(k, v)
    if utc_offset_hours is None:
        if "longitude" not in site:
            raise DataFileError(
                f"{source}: no longitude to estimate the UTC offset; pass utc_offset_hours"
            )
        offset = float(round(site["longitude"] / 15.0))
        offset_src = "round(longitude / 15)"
    else:
        offset = float(utc_offset_hours)
        offset_src = "given"
    times = _shift(_time_axis(raw, source), -offset)
    raw = raw.assign_coords(time=times)
    dt = _timestep_seconds(times)
    forcing = _alma_forcing(raw, times, source, qc_max, dt, keep_qc=True)
    attrs = {
        "time_zone": "UTC",
        "utc_offset_hours": offset,
        "utc_offset_source": offset_src,
        "time_label": _check_label(time_label),
        "timestep_seconds": dt,
        **site,
    }
    if flux_raw is not None:
        fsource = str(flux_path)
        ftimes = _shift(_time_axis(flux_raw, fsource), -offset)
        flux_raw = flux_raw.assign_coords(time=ftimes)
        obs = _alma_obs(flux_raw, ftimes, fsource, qc_max, _timestep_seconds(ftimes),
                        forcing, emissivity, None, keep_qc=True)
        site_code = flux_raw.attrs.get("site_code")
        _finish(obs, {**attrs, "source": fsource, "site": site_code, "qc_max": qc_max})
    else:
        site_code = None
        obs = xr.Dataset(coords={"time": times})
        _finish(obs, {**attrs, "source": source, "qc_max": qc_max})
    if site_code is None:
        m = re.match(r"([A-Z]{2}-[A-Za-z0-9]{3})_", met_path.name)
        site_code = m.group(1) if m else None
    _finish(forcing, {**attrs, "source": source, "site": site_code})
    if site_code is not None:
        obs.attrs.setdefault("site", site_code)
    return forcing, obs
