"""NetCDF files with ALMA names (Urban-PLUMBER, PLUMBER2): opening, QC flags, variables."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import xarray as xr

from jlsm.errors import DataFileError, ForcingError, ObservationError

from ._common import (
    _FILL_VALUES,
    REQUIRED_FORCING,
    _check_range,
    _gap_attrs,
    _make_var,
    _soil_var,
)
from .humidity import _humidity_from
from .radiation import _add_ts
from .units import _convert


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
    for n in ("elevation", "canopy_height"):
        if n in ds.variables and ds[n].size == 1:
            val = float(np.asarray(ds[n].values).ravel()[0])
            if np.isfinite(val):
                site[n] = val
    if "IGBP_veg_short" in ds.variables and ds["IGBP_veg_short"].size == 1:
        val = np.asarray(ds["IGBP_veg_short"].values).ravel()[0]
        val = val.decode() if isinstance(val, bytes) else str(val)
        if val.strip():
            site["igbp"] = val.strip()
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


def _alma_forcing(raw, times, source, qc_max, dt, keep_qc: bool = False) -> xr.Dataset:
    """Forcing of an ALMA file; with ``keep_qc`` a ``<name>_qc`` flag (:mod:`jlsm.io.qc`) per
    variable: 1 where the file's own flag exceeds ``qc_max`` (filled by the provider)."""
    from .qc import initial_qc, qc_attrs

    out = {}
    flags = {}
    names = {
        "SWdown": ("SWdown",), "LWdown": ("LWdown",), "Tair": ("Tair",),
        "Qair": ("Qair",), "PSurf": ("PSurf", "Psurf"), "Wind": ("Wind",),
        "Rainf": ("Rainf", "Precip"), "Snowf": ("Snowf",), "LAI": ("LAI",),
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
        if keep_qc:
            flags[f"{std}_qc"] = xr.DataArray(initial_qc(vals, None if bad is None else bad.reshape(len(times))),
                                              dims=("time",), coords={"time": times}, attrs=qc_attrs(std))
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
    return xr.Dataset({**out, **flags}, coords={"time": times})


def _alma_obs(raw, times, source, qc_max, dt, forcing, emissivity, soil_depth,
              keep_qc: bool = False) -> xr.Dataset:
    """Observations of an ALMA file; values flagged above ``qc_max`` become NaN.

    With ``keep_qc`` the file's flags are kept as ``<name>_qc``, and the
    energy-balance corrected Qh_cor/Qle_cor (no flag of their own in PLUMBER2)
    are masked with the flags of Qh/Qle, since they are computed from them.
    """
    out = {}
    for std in ("SWup", "LWup", "Qh", "Qle", "Qg", "Rnet", "Qh_cor", "Qle_cor", "Ustar"):
        if std not in raw.variables:
            continue
        vals, su = _convert(_raw_values(raw[std]), raw[std].attrs.get("units"), std, source)
        bad, qc_name = _qc_bad(raw, std, qc_max, source)
        extra = {}
        if bad is None and keep_qc and std in ("Qh_cor", "Qle_cor") and std[:-4] in raw.variables:
            bad, qc_name = _qc_bad(raw, std[:-4], qc_max, source)
            if bad is not None:
                extra["qc_note"] = f"masked with the flag {qc_name} of {std[:-4]}"
        n_masked = 0
        if bad is not None:
            n_masked = int((bad & np.isfinite(vals)).sum())
            vals = np.where(bad, np.nan, vals)
        _check_range(vals, std, source, times, ObservationError)
        out[std] = _make_var(std, vals, times, std, su, {"n_qc_masked": n_masked, **extra})
        if keep_qc and qc_name is not None:
            out[f"{std}_qc"] = xr.DataArray(
                _raw_values(raw[qc_name]).reshape(-1), dims=("time",), coords={"time": times},
                attrs={"long_name": f"{std} quality flag of the file", "units": "1",
                       "source_variable": qc_name,
                       "comment": str(raw.attrs.get("QC_flag_descriptions", "0 = measured"))})
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
