"""Shared conventions of the readers: variable names, long names, plausible ranges,
attributes and the data-folder lookup."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import xarray as xr

from jlsm._paths import data_dir
from jlsm.errors import DataFileError, ObservationError


#: Forcing variables, in ALMA names.
FORCING_VARIABLES = ("SWdown", "LWdown", "Tair", "Qair", "PSurf", "Wind", "Rainf")


#: Forcing variables some readers add when the file has them: snowfall
#: [kg m-2 s-1] where precipitation is separated, leaf area index [m2 m-2].
OPTIONAL_FORCING = ("Snowf", "LAI")

#: Auxiliary source variables kept beside the forcing to estimate or check it:
#: photosynthetic photon flux density, vapour-pressure deficit, relative humidity.
AUXILIARY_VARIABLES = ("PPFD", "VPD", "RH")

#: Forcing variables without which no run is possible.
REQUIRED_FORCING = ("SWdown", "LWdown", "Tair")


#: Observation variables the readers may return.
OBSERVATION_VARIABLES = (
    "SWup", "LWup", "Qh", "Qle", "Qg", "Rnet", "Qh_cor", "Qle_cor",
    "SoilTemp", "SoilMoist", "Ts", "Ustar",
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
    "Ustar": ("Ustar", "USTAR"),
    "Snowf": ("Snowf",),
    "LAI": ("LAI",),
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
    "Ustar": "friction velocity",
    "Snowf": "snowfall rate",
    "LAI": "leaf area index",
    "PPFD": "incoming photosynthetic photon flux density",
    "VPD": "vapour-pressure deficit",
    "RH": "relative humidity",
}


_KIND = {
    "SWdown": "flux", "LWdown": "flux", "Tair": "temperature",
    "Qair": "humidity", "PSurf": "pressure", "Wind": "speed",
    "Rainf": "precip", "SWup": "flux", "LWup": "flux", "Qh": "flux",
    "Qle": "flux", "Qg": "flux", "Rnet": "flux", "Qh_cor": "flux",
    "Qle_cor": "flux", "SoilTemp": "temperature", "SoilMoist": "fraction",
    "Ts": "temperature", "Ustar": "speed", "Snowf": "precip", "LAI": "lai",
    "PPFD": "ppfd", "VPD": "pressure", "RH": "percent",
}


_CANONICAL_UNITS = {
    "flux": "W m-2", "temperature": "K", "humidity": "kg kg-1",
    "pressure": "Pa", "speed": "m s-1", "precip": "kg m-2 s-1",
    "fraction": "m3 m-3", "lai": "m2 m-2", "ppfd": "umol m-2 s-1", "percent": "%",
}


_RANGES = {
    "SWdown": (-50.0, 1500.0), "LWdown": (50.0, 700.0), "Tair": (180.0, 345.0),
    "Qair": (0.0, 0.06), "PSurf": (30000.0, 110000.0), "Wind": (0.0, 80.0),
    "Rainf": (0.0, 0.2), "SWup": (-50.0, 1500.0), "LWup": (50.0, 1000.0),
    "Qh": (-1000.0, 1500.0), "Qle": (-1000.0, 1500.0), "Qg": (-1000.0, 1500.0),
    "Rnet": (-1000.0, 1500.0), "Qh_cor": (-1000.0, 1500.0),
    "Qle_cor": (-1000.0, 1500.0), "SoilTemp": (200.0, 360.0),
    "SoilMoist": (0.0, 1.0), "Ustar": (0.0, 10.0), "Snowf": (0.0, 0.2),
    "LAI": (0.0, 15.0), "PPFD": (-100.0, 3000.0), "VPD": (-100.0, 12000.0),
    "RH": (0.0, 105.0),
}


_FILL_VALUES = (-9999.0, -99999.0)


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


def _fmt_time(t) -> str:
    return str(np.datetime64(t, "s"))


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


def _finish(ds: xr.Dataset, attrs: dict) -> xr.Dataset:
    ds.attrs.update({k: v for k, v in attrs.items() if v is not None})
    ds["time"].attrs.update({"long_name": "time", "time_zone": attrs.get("time_zone", "UTC")})
    return ds


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


def _col(df, names):
    return next((c for c in names if c in df.columns), None)
