"""Readers for flux-tower forcing and observations, and time-axis helpers.

One module per file format, beside the helpers they share::

    jlsm/io/
      urban_plumber.py  Urban-PLUMBER NetCDF (clean observations, met forcing, site data)
      plumber2.py       PLUMBER2 *_Met.nc + *_Flux.nc
      fluxnet.py        FLUXNET/ICOS-style CSV as in the hourly DE-Hai files
      fluxnet2015.py    FLUXNET2015 FULLSET/SUBSET and ONEFlux CSV (.csv, .csv.gz)
      ameriflux.py      AmeriFlux BASE zip (CSV + BADM/BIF .xlsx)
      columns.py        any CSV with a column map (column -> variable, unit, missing, QC)
      alma.py           NetCDF files with ALMA names: opening, QC flags, variables
      units.py          unit conversion to SI
      humidity.py       saturation vapour pressure, specific humidity from VPD or RH
      radiation.py      Stefan-Boltzmann constant, surface temperature from LWup
      solar.py          solar geometry, clear-sky shortwave
      estimates.py      missing forcing from other variables (LWdown, SWdown, PSurf)
      complete.py       gap filling + estimates for a run, every value flagged
      closure.py        Bowen-ratio-preserving energy-balance closure of H and LE
      qc.py             quality-flag codes of forcing values
      time.py           time axes, interval labels, time zones, alignment, hourly means
      gaps.py           gap reports and filling, splitting into runs, the forcing check
      _common.py        variable names, ranges, attributes, the data-folder lookup

Site collections (many sites in one batch) live in :mod:`jlsm.sites`.

Every reader returns ``(forcing, obs)``, two :class:`xarray.Dataset` objects
with these conventions.

Forcing (ALMA names, dims ``(time,)``, float64):
``SWdown``, ``LWdown`` [W m-2], ``Tair`` [K], ``Qair`` [kg kg-1],
``PSurf`` [Pa], ``Wind`` [m s-1], ``Rainf`` [kg m-2 s-1] (total precipitation
unless ``Snowf`` is given apart), ``LAI`` [m2 m-2], each when available; the
newer readers add the auxiliary ``PPFD`` [umol m-2 s-1], ``VPD`` [Pa], ``RH``
[%] and a flag ``<name>_qc`` per variable (:mod:`jlsm.io.qc`).

Observations: ``SWup``, ``LWup``, ``Qh``, ``Qle``, ``Qg``, ``Rnet`` [W m-2]
with dims ``(time,)``; ``SoilTemp`` [K] with dims ``(time, depth)``;
``SoilMoist`` [m3 m-3] with dims ``(time, depth_swc)``; ``Ts`` [K], the
surface radiometric temperature from ``LWup`` and ``LWdown``; ``Ustar`` [m s-1];
the file's own flags as ``<name>_qc`` where the reader keeps them.

Coordinates: ``time`` (datetime64[ns]); ``depth`` and ``depth_swc`` [m,
positive down].

Dataset attributes: ``source`` (file path or paths), ``time_zone`` (``"UTC"``
or ``"local standard time"``), ``utc_offset_hours`` (local = UTC + offset)
when known, ``time_label`` (``"start"``, ``"end"`` or ``"unknown"``: which end
of the averaging interval a time stamp marks), ``timestep_seconds``, and
``site``, ``latitude``, ``longitude`` when known.

Variable attributes: ``units``, ``long_name``, ``source_variable``,
``source_units``; forcing variables also ``n_missing`` (NaN count) and
``longest_gap_steps``, and ``n_flagged`` (values kept although their QC flag
exceeds ``qc_max``); observation variables ``n_qc_masked`` (values set to NaN
because of their QC flag).

Names are imported on first use (module ``__getattr__``), so finding the data
folder (:func:`data_dir`) imports none of the readers, nor xarray.
"""

from __future__ import annotations

import importlib

from jlsm._paths import data_dir

# public name -> module of this package that defines it
_WHERE = {
    "SIGMA": "radiation",
    "FORCING_VARIABLES": "_common",
    "REQUIRED_FORCING": "_common",
    "OBSERVATION_VARIABLES": "_common",
    "ACCEPTED_NAMES": "_common",
    "DATA_SOURCES": "_common",
    "data_file": "_common",
    "read_urban_plumber": "urban_plumber",
    "read_urban_plumber_sitedata": "urban_plumber",
    "read_plumber2": "plumber2",
    "read_fluxnet_csv": "fluxnet",
    "saturation_vapour_pressure": "humidity",
    "specific_humidity_from_vpd": "humidity",
    "specific_humidity_from_rh": "humidity",
    "surface_temperature_from_lwup": "radiation",
    "to_hourly": "time",
    "select_window": "time",
    "gap_report": "gaps",
    "fill_gaps": "gaps",
    "check_forcing": "gaps",
    "OPTIONAL_FORCING": "_common",
    "AUXILIARY_VARIABLES": "_common",
    "read_fluxnet2015": "fluxnet2015",
    "read_ameriflux_base": "ameriflux",
    "read_badm": "ameriflux",
    "read_csv_columns": "columns",
    "column_map": "columns",
    "Column": "columns",
    "complete_forcing": "complete",
    "derive_qair": "complete",
    "fill_forcing_gaps": "gaps",
    "complete_runs": "gaps",
    "align": "time",
    "to_utc": "time",
    "to_interval_start": "time",
    "check_time_axis": "time",
    "parse_times": "time",
    "estimate_lwdown": "estimates",
    "shortwave_from_ppfd": "estimates",
    "pressure_from_elevation": "estimates",
    "clear_sky_shortwave": "solar",
    "bowen_ratio_closure": "closure",
    "solar_noon_utc_hours": "solar",
}

__all__ = ["data_dir", *_WHERE]


def __getattr__(name: str):
    mod = _WHERE.get(name)
    if mod is None:
        raise AttributeError(f"module 'jlsm.io' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{mod}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
