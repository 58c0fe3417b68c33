"""Readers for flux-tower forcing and observations, and time-axis helpers.

Every reader returns ``(forcing, obs)``, two :class:`xarray.Dataset` objects
with these conventions.

Forcing (ALMA names, dims ``(time,)``, float64):
``SWdown``, ``LWdown`` [W m-2], ``Tair`` [K], ``Qair`` [kg kg-1],
``PSurf`` [Pa], ``Wind`` [m s-1], ``Rainf`` [kg m-2 s-1], each when available.

Observations: ``SWup``, ``LWup``, ``Qh``, ``Qle``, ``Qg``, ``Rnet`` [W m-2]
with dims ``(time,)``; ``SoilTemp`` [K] with dims ``(time, depth)``;
``SoilMoist`` [m3 m-3] with dims ``(time, depth_swc)``; ``Ts`` [K], the
surface radiometric temperature from ``LWup`` and ``LWdown``.

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
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from jlsm._paths import data_dir
from jlsm.errors import (
    DataFileError,
    ForcingError,
    InputError,
    ObservationError,
)

__all__ = [
    "SIGMA",
    "FORCING_VARIABLES",
    "REQUIRED_FORCING",
    "OBSERVATION_VARIABLES",
    "ACCEPTED_NAMES",
    "DATA_SOURCES",
    "data_dir",
    "data_file",
    "read_urban_plumber",
    "read_urban_plumber_sitedata",
    "read_plumber2",
    "read_fluxnet_csv",
    "saturation_vapour_pressure",
    "specific_humidity_from_vpd",
    "specific_humidity_from_rh",
    "surface_temperature_from_lwup",
    "to_hourly",
    "select_window",
    "gap_report",
    "fill_gaps",
    "check_forcing",
]

#: Stefan-Boltzmann constant [W m-2 K-4].
SIGMA = 5.670374419e-8

#: Forcing variables, in ALMA names.
FORCING_VARIABLES = ("SWdown", "LWdown", "Tair", "Qair", "PSurf", "Wind", "Rainf")
#: Forcing variables without which no run is possible.
REQUIRED_FORCING = ("SWdown", "LWdown", "Tair")
#: Observation variables the readers may return.
OBSERVATION_VARIABLES = (
    "SWup", "LWup", "Qh", "Qle", "Qg", "Rnet", "Qh_cor", "Qle_cor",
    "SoilTemp", "SoilMoist", "Ts",
)

#: Source names the readers accept for each standard variable.
ACCEPTED_NAMES: dict[str, tuple[str, ...]] = {
    "SWdown": ("SWdown", "SW_IN_F", "SW_IN"),
    "LWdown": ("LWdown", "LW_IN_F", "LW_IN"),
    "Tair": ("Tair", "TA_F", "TA"),
    "Qair": ("Qair", "RH", "VPD", "VPD_F", "VPD_F_MDS"),
    "PSurf": ("PSurf", "Psurf", "PA_F", "PA"),
    "Wind": ("Wind", "Wind_N+Wind_E", "WS_F", "WS"),
    "Rainf": ("Rainf", "Precip", "P_F", "P"),
    "SWup": ("SWup", "SW_OUT"),
    "LWup": ("LWup", "LW_OUT"),
    "Qh": ("Qh", "H_F_MDS", "H"),
    "Qle": ("Qle", "LE_F_MDS", "LE"),
    "Qg": ("Qg", "G_F_MDS", "G"),
    "Rnet": ("Rnet", "NETRAD"),
    "Qh_cor": ("Qh_cor", "H_CORR"),
    "Qle_cor": ("Qle_cor", "LE_CORR"),
    "SoilTemp": ("SoilTemp", "TS_F_MDS_n"),
    "SoilMoist": ("SoilMoist", "SWC_F_MDS_n"),
}

#: Where each data folder under :func:`data_dir` comes from.
DATA_SOURCES = {
    "west-phoenix": (
        "Urban-PLUMBER US-WestPhoenix, Lipson et al. (2022), "
        "doi:10.5281/zenodo.5517550"
    ),
    "cn-changling": (
        "PLUMBER2 CN-Cng, Ukkola et al. (2022), doi:10.25914/5fdb0902607e1"
    ),
    "de-hainich": (
        "ICOS FLUXNET-format release for DE-Hai 2018, aggregated to hourly "
        "(eap-fes-unigoe/canopy-model)"
    ),
    "paper-synthetic": (
        "synthetic targets of Huang, Heaney & van Reeuwijk, Parameter "
        "estimation for land-surface models using Neural Physics"
    ),
}

_LONG_NAMES = {
    "SWdown": "downward shortwave radiation",
    "LWdown": "downward longwave radiation",
    "Tair": "air temperature",
    "Qair": "specific humidity",
    "PSurf": "surface air pressure",
    "Wind": "wind speed",
    "Rainf": "precipitation rate",
    "SWup": "upward shortwave radiation",
    "LWup": "upward longwave radiation",
    "Qh": "sensible heat flux (positive upward)",
    "Qle": "latent heat flux (positive upward)",
    "Qg": "ground heat flux (positive downward)",
    "Rnet": "net radiation (positive downward)",
    "Qh_cor": "sensible heat flux corrected for energy-balance closure",
    "Qle_cor": "latent heat flux corrected for energy-balance closure",
    "SoilTemp": "soil temperature",
    "SoilMoist": "volumetric soil water content",
    "Ts": "surface radiometric temperature",
}

_KIND = {
    "SWdown": "flux", "LWdown": "flux", "Tair": "temperature",
    "Qair": "humidity", "PSurf": "pressure", "Wind": "speed",
    "Rainf": "precip", "SWup": "flux", "LWup": "flux", "Qh": "flux",
    "Qle": "flux", "Qg": "flux", "Rnet": "flux", "Qh_cor": "flux",
    "Qle_cor": "flux", "SoilTemp": "temperature", "SoilMoist": "fraction",
    "Ts": "temperature",
}

_CANONICAL_UNITS = {
    "flux": "W m-2", "temperature": "K", "humidity": "kg kg-1",
    "pressure": "Pa", "speed": "m s-1", "precip": "kg m-2 s-1",
    "fraction": "m3 m-3",
}

# normalised unit string -> (scale, offset) giving canonical = value*scale + offset
_UNIT_TABLE: dict[str, dict[str, tuple[float, float]]] = {
    "flux": {u: (1.0, 0.0) for u in ("w/m2", "wm-2", "w/m-2", "wm**-2", "w.m-2")},
    "temperature": {
        **{u: (1.0, 0.0) for u in ("k", "kelvin", "degk", "degreek")},
        **{
            u: (1.0, 273.15)
            for u in ("degc", "c", "°c", "deg_c", "degreec", "degreesc",
                      "degree_celsius", "degrees_celsius", "celsius", "degreecelsius")
        },
    },
    "humidity": {
        **{u: (1.0, 0.0) for u in ("kg/kg", "kgkg-1", "1", "-")},
        **{u: (1e-3, 0.0) for u in ("g/kg", "gkg-1")},
    },
    "pressure": {
        "pa": (1.0, 0.0), "hpa": (100.0, 0.0), "mbar": (100.0, 0.0),
        "mb": (100.0, 0.0), "kpa": (1000.0, 0.0),
    },
    "speed": {u: (1.0, 0.0) for u in ("m/s", "ms-1")},
    "precip": {
        **{u: (1.0, 0.0) for u in ("kg/m2/s", "kgm-2s-1", "mm/s", "mms-1", "kg/m2s")},
        **{u: (1.0 / 3600.0, 0.0) for u in ("mm/h", "mmh-1", "mm/hr")},
    },
    "fraction": {
        **{u: (1.0, 0.0) for u in ("m3/m3", "m3m-3", "1", "-")},
        **{u: (0.01, 0.0) for u in ("%", "percent")},
    },
}

# plausible ranges after conversion to canonical units
_RANGES = {
    "SWdown": (-50.0, 1500.0), "LWdown": (50.0, 700.0), "Tair": (180.0, 345.0),
    "Qair": (0.0, 0.06), "PSurf": (30000.0, 110000.0), "Wind": (0.0, 80.0),
    "Rainf": (0.0, 0.2), "SWup": (-50.0, 1500.0), "LWup": (50.0, 1000.0),
    "Qh": (-1000.0, 1500.0), "Qle": (-1000.0, 1500.0), "Qg": (-1000.0, 1500.0),
    "Rnet": (-1000.0, 1500.0), "Qh_cor": (-1000.0, 1500.0),
    "Qle_cor": (-1000.0, 1500.0), "SoilTemp": (200.0, 360.0),
    "SoilMoist": (0.0, 1.0),
}

_FILL_VALUES = (-9999.0, -99999.0)

_DEFAULT_TS_DEPTHS = (0.02, 0.05, 0.10, 0.20, 0.50)
_DEFAULT_SWC_DEPTHS = (0.05, 0.15, 0.30)


# --------------------------------------------------------------------------
# data location


def data_file(relative: str | os.PathLike) -> Path:
    """Path of a file under :func:`data_dir`.

    Raises :class:`DataFileError` naming the file and its source if absent.
    """
    rel = Path(relative)
    folder = rel.parts[0] if rel.parts else ""
    where = DATA_SOURCES.get(folder, "see the data README")
    base = data_dir()
    if base is None:
        raise DataFileError(
            f"data file {rel} not found: no data folder (set JLSM_DATA_DIR or "
            f"provide ../shared/data next to the repository); source: {where}"
        )
    p = base / rel
    if not p.is_file():
        raise DataFileError(f"data file {p} not found; source: {where}")
    return p


# --------------------------------------------------------------------------
# small helpers


def _norm_units(units) -> str:
    s = str(units).strip().lower()
    for a, b in (("^", ""), (" ", ""), ("**", ""), ("·", ""), ("per", "/")):
        s = s.replace(a, b)
    return s


def _infer_units(values: np.ndarray, kind: str) -> tuple[float, float, str]:
    """Guess (scale, offset, description) from plausible ranges."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 1.0, 0.0, "none (all missing)"
    med = float(np.median(finite))
    if kind == "temperature":
        if np.max(finite) < 150.0:
            return 1.0, 273.15, "degC (inferred: all values < 150)"
        return 1.0, 0.0, "K (inferred)"
    if kind == "pressure":
        if med > 20000.0:
            return 1.0, 0.0, "Pa (inferred)"
        if med > 200.0:
            return 100.0, 0.0, "hPa (inferred)"
        return 1000.0, 0.0, "kPa (inferred)"
    if kind == "fraction":
        if np.max(finite) > 1.5:
            return 0.01, 0.0, "% (inferred: values > 1.5)"
        return 1.0, 0.0, "m3 m-3 (inferred)"
    if kind == "humidity" and np.max(finite) > 1.0:
        return 1e-3, 0.0, "g kg-1 (inferred: values > 1)"
    return 1.0, 0.0, f"{_CANONICAL_UNITS[kind]} (assumed)"


def _convert(values, units, name: str, source, *, dt_seconds: float | None = None):
    """Convert ``values`` of variable ``name`` to canonical units.

    Returns (float64 array, description of the source units).
    """
    kind = _KIND[name]
    v = np.asarray(values, dtype=float)
    if units is None or str(units).strip() == "":
        scale, offset, desc = _infer_units(v, kind)
        return v * scale + offset, desc
    key = _norm_units(units)
    if kind == "precip" and key in ("mm", "kg/m2", "kgm-2"):
        if not dt_seconds:
            raise InputError(
                f"{source}: variable {name!r} is in {units!r} per time step but "
                "the time step is unknown"
            )
        return v / float(dt_seconds), f"{units} per {dt_seconds:g} s step"
    table = _UNIT_TABLE[kind]
    if key not in table:
        raise InputError(
            f"{source}: variable {name!r} has units {units!r}, which jlsm cannot "
            f"convert to {_CANONICAL_UNITS[kind]}; accepted: {sorted(table)}"
        )
    scale, offset = table[key]
    return v * scale + offset, str(units)


def _check_range(values: np.ndarray, name: str, source, times, err_cls) -> None:
    lo, hi = _RANGES.get(name, (-np.inf, np.inf))
    bad = np.isfinite(values) & ((values < lo) | (values > hi))
    if bad.any():
        flat = np.argwhere(bad)[0]
        i = int(flat[0])
        val = values[tuple(flat)]
        units = _CANONICAL_UNITS[_KIND[name]]
        raise err_cls(
            f"{source}: variable {name!r} = {val:g} {units} at "
            f"{_fmt_time(times[i])} is outside the plausible range "
            f"[{lo:g}, {hi:g}] {units} ({int(bad.sum())} such values); check its units"
        )


def _fmt_time(t) -> str:
    return str(np.datetime64(t, "s"))


def _timestep_seconds(times: np.ndarray) -> float | None:
    if len(times) < 2:
        return None
    d = np.diff(times.astype("datetime64[ns]")).astype("int64")
    return float(np.median(d)) / 1e9


def _nan_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start index, length) of each run of True in a 1-D boolean array."""
    m = np.asarray(mask, dtype=np.int8)
    d = np.diff(np.concatenate(([0], m, [0])))
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1)
    return [(int(s), int(e - s)) for s, e in zip(starts, ends)]


def _gap_attrs(values: np.ndarray) -> dict:
    nan = np.isnan(values)
    if nan.ndim > 1:
        nan = nan.any(axis=tuple(range(1, nan.ndim)))
    runs = _nan_runs(nan)
    return {
        "n_missing": int(nan.sum()),
        "longest_gap_steps": int(max((n for _, n in runs), default=0)),
    }


def _var_attrs(name, source_variable, source_units, extra=None) -> dict:
    """CF-style attributes of an output variable, with where it came from."""
    attrs = {
        "units": _CANONICAL_UNITS[_KIND[name]],
        "long_name": _LONG_NAMES[name],
        "source_variable": source_variable,
        "source_units": source_units,
    }
    if extra:
        attrs.update(extra)
    return attrs


def _make_var(name, values, times, source_variable, source_units, extra=None):
    attrs = _var_attrs(name, source_variable, source_units, extra)
    return xr.DataArray(values, dims=("time",), coords={"time": times}, attrs=attrs)


def _open_netcdf(path) -> xr.Dataset:
    p = Path(path)
    if not p.exists():
        raise DataFileError(f"data file {p} not found")
    if p.is_dir():
        raise DataFileError(f"{p} is a folder, not a NetCDF file")
    try:
        with xr.open_dataset(p, decode_times=True, mask_and_scale=True) as ds:
            return ds.load()
    except Exception as exc:  # engine errors vary: ValueError, OSError, ...
        raise DataFileError(f"cannot read {p} as NetCDF: {exc}") from exc


def _squeeze_space(ds: xr.Dataset, source) -> tuple[xr.Dataset, dict]:
    """Drop singleton spatial dims; return site attributes found on the way."""
    site = {}
    for dim in ("x", "y", "lat", "lon", "latitude", "longitude", "land", "z"):
        if dim in ds.dims:
            if ds.sizes[dim] != 1:
                raise DataFileError(
                    f"{source}: dimension {dim!r} has size {ds.sizes[dim]}; only "
                    "single-site files are supported"
                )
            ds = ds.isel({dim: 0}, drop=True)
    for key, names in (("latitude", ("latitude", "lat")), ("longitude", ("longitude", "lon"))):
        for n in names:
            if n in ds.variables and ds[n].size == 1:
                val = float(np.asarray(ds[n].values).ravel()[0])
                if np.isfinite(val):
                    site[key] = val
                break
    for n in ("reference_height", "reference_height_t"):
        if n in ds.variables and ds[n].size == 1:
            val = float(np.asarray(ds[n].values).ravel()[0])
            if np.isfinite(val):
                site["measurement_height"] = val
                break
    return ds, site


def _raw_values(da: xr.DataArray) -> np.ndarray:
    v = np.asarray(da.values, dtype=float)
    for fv in _FILL_VALUES:
        v[v == fv] = np.nan
    return v


def _qc_bad(raw: xr.Dataset, name: str, qc_max: float, source) -> tuple[np.ndarray | None, str | None]:
    """Boolean mask of values whose QC flag exceeds ``qc_max`` (None if no QC)."""
    qc_name = None
    anc = str(raw[name].attrs.get("ancillary_variables", "")).split()
    for cand in [*anc, f"{name}_qc"]:
        if cand.endswith("_qc") and cand in raw.variables:
            qc_name = cand
            break
    if qc_name is None:
        return None, None
    qc = raw[qc_name]
    var = raw[name]
    if qc.size != var.size or qc.shape != var.shape:
        raise ObservationError(
            f"{source}: QC variable {qc_name!r} has shape {qc.shape} but variable "
            f"{name!r} has shape {var.shape}; they must match"
        )
    q = np.asarray(qc.values, dtype=float)
    return np.isfinite(q) & (q > qc_max), qc_name


def _time_axis(raw: xr.Dataset, source) -> np.ndarray:
    if "time" not in raw.coords and "time" not in raw.variables:
        raise DataFileError(f"{source}: no 'time' variable")
    t = raw["time"].values
    if not np.issubdtype(t.dtype, np.datetime64):
        raise DataFileError(
            f"{source}: variable 'time' could not be decoded to dates "
            f"(units {raw['time'].attrs.get('units')!r})"
        )
    return t.astype("datetime64[ns]")


def _parse_depth(text) -> float | None:
    m = re.search(r"([-+]?[0-9]*\.?[0-9]+)\s*(mm|cm|m)\b", str(text))
    if not m:
        return None
    val = float(m.group(1))
    return val * {"mm": 1e-3, "cm": 1e-2, "m": 1.0}[m.group(2)]


def _check_label(label: str) -> str:
    if label not in ("start", "end", "unknown"):
        raise InputError(f"time_label must be 'start', 'end' or 'unknown', got {label!r}")
    return label


def _shift(times: np.ndarray, hours: float) -> np.ndarray:
    return times + np.timedelta64(int(round(hours * 3600.0)), "s")


# --------------------------------------------------------------------------
# humidity and surface temperature


def saturation_vapour_pressure(t_k):
    """Saturation vapour pressure over water [Pa] at temperature ``t_k`` [K].

    Tetens formula: 610.78 exp(17.27 T / (T + 237.3)), T in deg C.
    """
    t_c = t_k - 273.15
    return 610.78 * np.exp(17.27 * t_c / (t_c + 237.3))


def _check_humidity_inputs(t_k, p_pa, func):
    t = np.asarray(t_k, dtype=float)
    p = np.asarray(p_pa, dtype=float)
    if np.any(np.isfinite(t)) and np.nanmax(t) < 150.0:
        raise InputError(f"{func}: temperature looks like deg C (all < 150); pass kelvin")
    if np.any(np.isfinite(p)) and np.nanmedian(p) < 20000.0:
        raise InputError(f"{func}: pressure median {np.nanmedian(p):g} looks like hPa or kPa; pass Pa")


def _q_from_e(e, p_pa):
    eps = 0.622
    return eps * e / (p_pa - (1.0 - eps) * e)


def specific_humidity_from_vpd(vpd_pa, t_k, p_pa):
    """Specific humidity [kg kg-1] from vapour-pressure deficit [Pa].

    ``t_k`` air temperature [K], ``p_pa`` air pressure [Pa]. Vapour pressure
    e = e_s(T) - VPD (Tetens e_s, clipped at 0); q = 0.622 e / (p - 0.378 e).
    """
    _check_humidity_inputs(t_k, p_pa, "specific_humidity_from_vpd")
    e = np.maximum(saturation_vapour_pressure(t_k) - vpd_pa, 0.0)
    return _q_from_e(e, p_pa)


def specific_humidity_from_rh(rh_percent, t_k, p_pa):
    """Specific humidity [kg kg-1] from relative humidity [%].

    ``t_k`` [K], ``p_pa`` [Pa]; e = RH/100 e_s(T) with the Tetens e_s.
    """
    _check_humidity_inputs(t_k, p_pa, "specific_humidity_from_rh")
    rh = np.asarray(rh_percent, dtype=float)
    if np.any(np.isfinite(rh)) and np.nanmax(rh) <= 1.5:
        raise InputError("specific_humidity_from_rh: RH looks like a fraction (all <= 1.5); pass percent")
    e = np.clip(rh_percent, 0.0, 100.0) / 100.0 * saturation_vapour_pressure(t_k)
    return _q_from_e(e, p_pa)


def surface_temperature_from_lwup(lwup, lwdown, emissivity: float = 0.95):
    """Surface radiometric temperature [K] from LWup and LWdown [W m-2].

    Ts = ((LWup - (1 - eps) LWdown) / (eps sigma))^(1/4); NaN where the
    numerator is not positive or an input is NaN.
    """
    if not (0.0 < emissivity <= 1.0):
        raise InputError(f"surface_temperature_from_lwup: emissivity {emissivity!r} must be in (0, 1]")
    num = lwup - (1.0 - emissivity) * lwdown
    if isinstance(num, xr.DataArray):
        num = num.where(num > 0)
        return (num / (emissivity * SIGMA)) ** 0.25
    num = np.asarray(num, dtype=float)
    num = np.where(num > 0, num, np.nan)
    return (num / (emissivity * SIGMA)) ** 0.25


# --------------------------------------------------------------------------
# NetCDF readers (ALMA names)


def _alma_forcing(raw, times, source, qc_max, dt) -> xr.Dataset:
    out = {}
    names = {
        "SWdown": ("SWdown",), "LWdown": ("LWdown",), "Tair": ("Tair",),
        "Qair": ("Qair",), "PSurf": ("PSurf", "Psurf"), "Wind": ("Wind",),
        "Rainf": ("Rainf", "Precip"),
    }
    for std in REQUIRED_FORCING:
        if not any(n in raw.variables for n in names[std]):
            raise DataFileError(
                f"{source}: forcing variable {std!r} not found; accepted names: "
                f"{', '.join(names[std])}; file has: {', '.join(map(str, raw.data_vars))}"
            )
    for std, cands in names.items():
        src = next((n for n in cands if n in raw.variables), None)
        if src is None:
            continue
        vals, su = _convert(_raw_values(raw[src]), raw[src].attrs.get("units"), std, source, dt_seconds=dt)
        bad, _ = _qc_bad(raw, src, qc_max, source)
        extra = {"n_flagged": int((bad & np.isfinite(vals)).sum()) if bad is not None else 0}
        if std == "Rainf" and src == "Precip":
            extra["comment"] = "total precipitation (rain and snow)"
        out[std] = _make_var(std, vals, times, src, su, extra)
    if "Wind" not in out and "Wind_N" in raw.variables and "Wind_E" in raw.variables:
        vn, su = _convert(_raw_values(raw["Wind_N"]), raw["Wind_N"].attrs.get("units"), "Wind", source)
        ve, _ = _convert(_raw_values(raw["Wind_E"]), raw["Wind_E"].attrs.get("units"), "Wind", source)
        flagged = 0
        bn, _ = _qc_bad(raw, "Wind_N", qc_max, source)
        be, _ = _qc_bad(raw, "Wind_E", qc_max, source)
        speed = np.hypot(vn, ve)
        if bn is not None and be is not None:
            flagged = int(((bn | be) & np.isfinite(speed)).sum())
        out["Wind"] = _make_var(
            "Wind", speed, times, "Wind_N, Wind_E", su,
            {"n_flagged": flagged, "comment": "magnitude of Wind_N and Wind_E"},
        )
    if "Qair" not in out and "Tair" in out and "PSurf" in out:
        for src in ("VPD", "RH"):
            if src in raw.variables:
                q, su = _humidity_from(raw[src].values, raw[src].attrs.get("units"), src,
                                       out["Tair"].values, out["PSurf"].values, source)
                out["Qair"] = _make_var("Qair", q, times, src, su,
                                        {"n_flagged": 0, "comment": f"derived from {src}, Tair, PSurf"})
                break
    for std, da in out.items():
        _check_range(da.values, std, source, times, ForcingError)
        da.attrs.update(_gap_attrs(da.values))
    return xr.Dataset(out, coords={"time": times})


def _humidity_from(values, units, src, t_k, p_pa, source):
    """Specific humidity from a VPD [Pa, hPa, kPa] or RH [%, fraction] variable."""
    v = np.asarray(values, dtype=float).copy()
    for fv in _FILL_VALUES:
        v[v == fv] = np.nan
    key = _norm_units(units) if units else None
    if src.upper().startswith("VPD"):
        if key is None:
            scale = 100.0 if np.nanmax(v) < 200.0 else 1.0  # hPa vs Pa
        elif key in _UNIT_TABLE["pressure"]:
            scale = _UNIT_TABLE["pressure"][key][0]
        else:
            raise InputError(f"{source}: variable {src!r} has units {units!r}; expected hPa, kPa or Pa")
        return specific_humidity_from_vpd(v * scale, t_k, p_pa), units or "hPa (assumed)"
    if key in ("1", "-") or (key is None and np.nanmax(v) <= 1.5):
        v = v * 100.0
    elif key not in (None, "%", "percent"):
        raise InputError(f"{source}: variable {src!r} has units {units!r}; expected % or 1")
    return specific_humidity_from_rh(v, t_k, p_pa), units or "% (assumed)"


def _alma_obs(raw, times, source, qc_max, dt, forcing, emissivity, soil_depth) -> xr.Dataset:
    out = {}
    for std in ("SWup", "LWup", "Qh", "Qle", "Qg", "Rnet", "Qh_cor", "Qle_cor"):
        if std not in raw.variables:
            continue
        vals, su = _convert(_raw_values(raw[std]), raw[std].attrs.get("units"), std, source)
        bad, _ = _qc_bad(raw, std, qc_max, source)
        n_masked = 0
        if bad is not None:
            n_masked = int((bad & np.isfinite(vals)).sum())
            vals = np.where(bad, np.nan, vals)
        _check_range(vals, std, source, times, ObservationError)
        out[std] = _make_var(std, vals, times, std, su, {"n_qc_masked": n_masked})
    if "SoilTemp" in raw.variables:
        da = raw["SoilTemp"]
        vals, su = _convert(_raw_values(da), da.attrs.get("units"), "SoilTemp", source)
        bad, _ = _qc_bad(raw, "SoilTemp", qc_max, source)
        n_masked = 0
        if bad is not None:
            n_masked = int((bad & np.isfinite(vals)).sum())
            vals = np.where(bad, np.nan, vals)
        if vals.ndim == 1:
            depth = soil_depth
            if depth is None:
                depth = _parse_depth(da.attrs.get("depth", ""))
            if depth is None:
                comment = str(raw.attrs.get("comment", ""))
                if "SoilTemp" in comment:
                    depth = _parse_depth(comment.split("SoilTemp", 1)[1])
            if depth is None:
                raise ObservationError(
                    f"{source}: the depth of 'SoilTemp' is not given in the file; "
                    "pass soil_depth (m)"
                )
            depths = np.atleast_1d(np.asarray(depth, dtype=float))
            vals = vals[:, None]
        else:
            other = [d for d in da.dims if d != "time"]
            if soil_depth is not None:
                depths = np.atleast_1d(np.asarray(soil_depth, dtype=float))
            elif other[0] in raw.coords:
                depths = np.asarray(raw[other[0]].values, dtype=float)
            else:
                raise ObservationError(
                    f"{source}: 'SoilTemp' has a {other[0]!r} dimension without "
                    "depth values; pass soil_depth (m)"
                )
            vals = np.asarray(xr.DataArray(vals, dims=da.dims).transpose("time", *other).values)
        _check_range(vals, "SoilTemp", source, times, ObservationError)
        out["SoilTemp"] = _soil_var("SoilTemp", vals, times, depths, "depth", "SoilTemp", su,
                                    {"n_qc_masked": n_masked})
    obs = xr.Dataset(out, coords={"time": times})
    _add_ts(obs, forcing, emissivity)
    return obs


def _soil_var(name, vals, times, depths, depth_dim, source_variable, su, extra=None):
    if vals.shape[1] != len(depths):
        raise ObservationError(
            f"{name}: {vals.shape[1]} levels but {len(depths)} depths given"
        )
    attrs = _var_attrs(name, source_variable, su, extra)
    return xr.DataArray(
        vals, dims=("time", depth_dim),
        coords={"time": times, depth_dim: xr.DataArray(
            np.asarray(depths, float), dims=(depth_dim,),
            attrs={"units": "m", "positive": "down", "long_name": "depth below surface"})},
        attrs=attrs,
    )


def _add_ts(obs: xr.Dataset, forcing: xr.Dataset, emissivity: float) -> None:
    if "LWup" not in obs or "LWdown" not in forcing:
        return
    lwd = forcing["LWdown"].reindex(time=obs["time"])
    ts = surface_temperature_from_lwup(obs["LWup"].values, lwd.values, emissivity)
    obs["Ts"] = xr.DataArray(
        ts, dims=("time",), coords={"time": obs["time"]},
        attrs={
            "units": "K", "long_name": _LONG_NAMES["Ts"],
            "source_variable": "LWup, LWdown", "emissivity": float(emissivity),
            "comment": "((LWup - (1 - emissivity) LWdown) / (emissivity sigma))^(1/4)",
        },
    )


def _finish(ds: xr.Dataset, attrs: dict) -> xr.Dataset:
    ds.attrs.update({k: v for k, v in attrs.items() if v is not None})
    ds["time"].attrs.update({"long_name": "time", "time_zone": attrs.get("time_zone", "UTC")})
    return ds


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
    forcing = _alma_forcing(raw, times, source, qc_max, dt)
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
                        forcing, emissivity, None)
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


# --------------------------------------------------------------------------
# FLUXNET / ICOS CSV


def _read_csv(path):
    import pandas as pd

    p = Path(path)
    if not p.exists():
        raise DataFileError(f"data file {p} not found")
    try:
        df = pd.read_csv(p, na_values=["-9999", "-9999.0", "-9999.00", "NA", "NaN"])
    except Exception as exc:
        raise DataFileError(f"cannot read {p} as CSV: {exc}") from exc
    if df.shape[1] < 2:
        raise DataFileError(f"cannot read {p} as CSV: fewer than two columns")
    return df


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


def _col(df, names):
    return next((c for c in names if c in df.columns), None)


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


# --------------------------------------------------------------------------
# time axis


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


# --------------------------------------------------------------------------
# gaps


def _time_vars(ds, variables) -> list[str]:
    if variables is None:
        return [v for v in ds.data_vars
                if "time" in ds[v].dims and np.issubdtype(ds[v].dtype, np.floating)]
    if isinstance(variables, str):
        variables = [variables]
    return list(variables)


def gap_report(ds: xr.Dataset, variables: Iterable[str] | None = None) -> dict[str, list[tuple[str, int]]]:
    """Gaps per variable: ``{name: [(first missing time, length in steps), ...]}``.

    A time step counts as missing if any level of the variable is NaN.
    """
    times = ds["time"].values
    out = {}
    for v in _time_vars(ds, variables):
        if v not in ds:
            raise InputError(f"gap_report: variable {v!r} not in dataset; has {list(ds.data_vars)}")
        a = ds[v].transpose("time", ...).values
        nan = np.isnan(a)
        if nan.ndim > 1:
            nan = nan.reshape(nan.shape[0], -1).any(axis=1)
        out[v] = [(_fmt_time(times[s]), n) for s, n in _nan_runs(nan)]
    return out


def fill_gaps(ds: xr.Dataset, variables: Iterable[str] | None = None,
              max_gap_steps: int = 4) -> tuple[xr.Dataset, dict[str, int]]:
    """Fill NaN gaps of at most ``max_gap_steps`` steps by linear interpolation in time.

    Returns ``(filled, report)`` with ``report[name]`` the number of values
    filled (also stored as the variable attribute ``n_filled``). A longer gap,
    or a gap at the start or end of the record, raises :class:`ForcingError`
    naming the variable, the first missing times and the gap length.
    """
    source = ds.attrs.get("source", "dataset")
    if max_gap_steps < 0:
        raise InputError(f"fill_gaps: max_gap_steps must be >= 0, got {max_gap_steps}")
    times = ds["time"].values.astype("datetime64[ns]")
    tnum = times.astype("int64").astype(float)
    step = _timestep_seconds(times)
    out = ds.copy()
    report: dict[str, int] = {}
    for v in _time_vars(ds, variables):
        if v not in ds:
            raise ForcingError(f"{source}: fill_gaps: variable {v!r} not found; has {list(ds.data_vars)}")
        da = ds[v]
        arr = np.array(da.transpose("time", ...).values, dtype=float)
        flat = arr.reshape(arr.shape[0], -1)
        filled = 0
        for j in range(flat.shape[1]):
            col = flat[:, j]
            nan = np.isnan(col)
            if not nan.any():
                continue
            if nan.all():
                raise ForcingError(f"{source}: variable {v!r} is entirely missing; nothing to interpolate from")
            for s, n in _nan_runs(nan):
                edge = s == 0 or s + n == len(col)
                if n > max_gap_steps or edge:
                    first = ", ".join(_fmt_time(t) for t in times[s:s + min(n, 3)])
                    dur = f" ({n * step / 3600.0:g} h)" if step else ""
                    why = ("at the start of the record" if s == 0 else "at the end of the record") \
                        if edge else f"longer than max_gap_steps={max_gap_steps}"
                    raise ForcingError(
                        f"{source}: variable {v!r} has a gap of {n} steps{dur} {why}; "
                        f"first missing times: {first}"
                    )
            col[nan] = np.interp(tnum[nan], tnum[~nan], col[~nan])
            filled += int(nan.sum())
        new = xr.DataArray(flat.reshape(arr.shape), dims=("time",) + tuple(d for d in da.dims if d != "time"),
                           coords=da.transpose("time", ...).coords, attrs=dict(da.attrs))
        new = new.transpose(*da.dims)
        new.attrs["n_filled"] = filled
        if "n_missing" in new.attrs:
            new.attrs.update(_gap_attrs(new.transpose("time", ...).values))
        out[v] = new
        report[v] = filled
    return out, report


def check_forcing(ds: xr.Dataset, *, source: str | None = None) -> xr.Dataset:
    """Check a forcing dataset is complete and plausible; return it unchanged.

    Raises :class:`ForcingError` naming ``source`` (default: the ``source``
    attribute) if SWdown, LWdown or Tair is missing, the time axis is not
    strictly increasing and regular, Tair looks like deg C (all < 150),
    NaN remains, or a value is outside its plausible range.
    """
    src = source or ds.attrs.get("source", "forcing dataset")
    for v in REQUIRED_FORCING:
        if v not in ds.data_vars:
            raise ForcingError(
                f"{src}: required forcing variable {v!r} is missing; accepted source "
                f"names: {', '.join(ACCEPTED_NAMES[v])}; dataset has: "
                f"{', '.join(map(str, ds.data_vars)) or 'nothing'}"
            )
    if "time" not in ds.coords:
        raise ForcingError(f"{src}: forcing has no 'time' coordinate")
    t = ds["time"].values
    if not np.issubdtype(t.dtype, np.datetime64):
        raise ForcingError(f"{src}: 'time' is not datetime64 (dtype {t.dtype})")
    if len(t) >= 2:
        d = np.diff(t.astype("datetime64[ns]")).astype("int64")
        nonpos = np.flatnonzero(d <= 0)
        if nonpos.size:
            i = int(nonpos[0]) + 1
            raise ForcingError(
                f"{src}: time is not strictly increasing at {_fmt_time(t[i])} "
                f"(after {_fmt_time(t[i - 1])})"
            )
        irregular = np.flatnonzero(d != d[0])
        if irregular.size:
            i = int(irregular[0]) + 1
            raise ForcingError(
                f"{src}: time step is irregular at {_fmt_time(t[i])}: "
                f"{d[i - 1] / 1e9:g} s instead of {d[0] / 1e9:g} s"
            )
    tair = np.asarray(ds["Tair"].values, dtype=float)
    if np.any(np.isfinite(tair)) and np.nanmax(tair) < 150.0:
        raise ForcingError(
            f"{src}: Tair looks like deg C (all values < 150, max {np.nanmax(tair):g}); "
            "jlsm needs kelvin"
        )
    for v in FORCING_VARIABLES:
        if v not in ds.data_vars:
            continue
        a = ds[v].transpose("time", ...).values
        nan = np.isnan(a)
        if nan.ndim > 1:
            nan = nan.reshape(nan.shape[0], -1).any(axis=1)
        if nan.any():
            idx = np.flatnonzero(nan)
            first = ", ".join(_fmt_time(t[i]) for i in idx[:3])
            raise ForcingError(
                f"{src}: forcing variable {v!r} has {idx.size} missing values; "
                f"first at {first}; use fill_gaps or pick another window"
            )
        _check_range(np.asarray(a, dtype=float), v, src, t, ForcingError)
    return ds
