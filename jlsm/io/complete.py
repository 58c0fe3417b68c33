"""Complete forcing for a model run: fill gaps, then estimate what is missing, flagging every value.

:func:`complete_forcing` applies, in this order (each step flags what it changed
in ``<name>_qc``, see :mod:`jlsm.io.qc`, and lists it in the attributes):

1. gaps of the measured variables: linear up to ``linear_max_hours``, mean
   diurnal course of neighbouring days up to ``max_gap_hours``
   (:func:`jlsm.io.gaps.fill_forcing_gaps`);
2. specific humidity from VPD (or RH where VPD is missing) with Tair and PSurf;
3. PSurf from the elevation where still missing (U.S. Standard Atmosphere);
4. SWdown from PPFD where missing (factor 2.1 umol J-1);
5. LWdown from Tair, humidity and a cloud index from SWdown where missing
   (Brutsaert 1975 clear sky, Crawford & Duchon 1999 clouds);
6. whatever is still missing: a one-line :class:`ForcingError` naming the
   variable and the times (``long_gaps="error"``), or left NaN and reported
   (``long_gaps="keep"``: split the record with :func:`jlsm.io.gaps.complete_runs`).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from jlsm.errors import ForcingError, InputError

from ._common import _fmt_time, _gap_attrs, _make_var, _nan_runs
from .estimates import (
    PPFD_PER_SHORTWAVE,
    elevation_from_pressure,
    estimate_lwdown,
    pressure_from_elevation,
    shortwave_from_ppfd,
)
from .gaps import fill_forcing_gaps
from .humidity import specific_humidity_from_rh, specific_humidity_from_vpd
from .qc import QC_ESTIMATED, QC_MISSING, count_flags, qc_of, set_qc

#: Variables a model run needs (version 2); LWdown, PSurf, Qair and SWdown may be estimated.
RUN_FORCING = ("SWdown", "LWdown", "Tair", "Qair", "PSurf", "Wind", "Rainf")


def _put(ds, name, values, qc, source_variable, source_units, extra):
    if name in ds:
        da = ds[name].copy(data=values)
        da.attrs.update(extra)
    else:
        da = _make_var(name, values, ds["time"].values, source_variable, source_units, extra)
    da.attrs.update(_gap_attrs(values))
    ds[name] = da
    set_qc(ds, name, qc)


def _note(ds, name, text):
    notes = [n for n in str(ds.attrs.get("estimated_variables", "")).split("; ") if n]
    notes.append(f"{name}: {text}")
    ds.attrs["estimated_variables"] = "; ".join(notes)


def derive_qair(ds: xr.Dataset) -> int:
    """Fill missing Qair (in place) from VPD, else RH, with Tair and PSurf; returns values set.

    The flag of a derived value is the largest flag of its inputs.
    """
    if "Tair" not in ds or "PSurf" not in ds or not ({"VPD", "RH"} & set(ds.data_vars)):
        return 0
    t, p = ds["Tair"].values, ds["PSurf"].values
    n = ds.sizes["time"]
    q = ds["Qair"].values.copy() if "Qair" in ds else np.full(n, np.nan)
    qc = qc_of(ds, "Qair") if "Qair" in ds else np.full(n, QC_MISSING, dtype=np.int8)
    used = []
    set_total = 0
    for src, func in (("VPD", specific_humidity_from_vpd), ("RH", specific_humidity_from_rh)):
        if src not in ds:
            continue
        h = ds[src].values
        need = np.isnan(q) & np.isfinite(h) & np.isfinite(t) & np.isfinite(p)
        if not need.any():
            continue
        q[need] = func(h[need], t[need], p[need])
        qc[need] = np.maximum.reduce([qc_of(ds, "Tair")[need], qc_of(ds, "PSurf")[need], qc_of(ds, src)[need]])
        used.append(src)
        set_total += int(need.sum())
    if not set_total:
        return 0
    extra = {"comment": f"derived from {' (then '.join(used)}{')' * (len(used) - 1)}, Tair and PSurf "
                        "(Tetens saturation vapour pressure)",
             "n_flagged": 0}
    _put(ds, "Qair", q, qc, " or ".join(used), ", ".join(ds[u].attrs.get("source_units", "") for u in used), extra)
    return set_total


def complete_forcing(ds: xr.Dataset, *, latitude: float | None = None, longitude: float | None = None,
                     elevation: float | None = None, linear_max_hours: float = 2.0,
                     max_gap_hours: float = 168.0, window_days: float = 7.0,
                     long_gaps: str = "error", ppfd_factor: float = PPFD_PER_SHORTWAVE,
                     variables=RUN_FORCING) -> tuple[xr.Dataset, dict]:
    """Gap-filled forcing with missing variables estimated; ``(dataset, report)``.

    ``latitude``, ``longitude`` [deg] (default: dataset attributes) are needed
    to estimate LWdown, whose solar geometry also needs the time in UTC;
    ``elevation`` [m] to estimate PSurf (default: the attribute, else from the
    median measured pressure). ``report`` holds the gap-filling counts per
    variable, the estimates made (``estimated``: variable -> method and
    count), the flag counts per variable and the elevation used.
    """
    source = ds.attrs.get("source", "forcing dataset")
    lat = latitude if latitude is not None else ds.attrs.get("latitude")
    lon = longitude if longitude is not None else ds.attrs.get("longitude")
    elev = elevation if elevation is not None else ds.attrs.get("elevation")
    from .columns import FORCING_NAMES

    present = [v for v in ds.data_vars if v in FORCING_NAMES and ds[v].dims == ("time",)
               and np.isfinite(ds[v].values).any()]
    aux_h = {"VPD", "RH"} & set(present)
    to_fill = [v for v in present if not (v == "Qair" and aux_h)]
    out, gaps = fill_forcing_gaps(ds, to_fill, linear_max_hours=linear_max_hours,
                                  max_gap_hours=max_gap_hours, window_days=window_days, long_gaps="keep")
    estimated: dict = {}
    derive_qair(out)
    step = float(out.attrs.get("timestep_seconds") or
                 np.median(np.diff(out["time"].values).astype("int64")) / 1e9)
    n = out.sizes["time"]

    # pressure
    p_meas = out["PSurf"].values if "PSurf" in out else np.full(n, np.nan)
    if np.isnan(p_meas).any():
        elev_src = "given"
        if elev is None:
            if np.isfinite(p_meas).any():
                elev = float(elevation_from_pressure(np.nanmedian(p_meas)))
                elev_src = "from the median measured pressure"
            else:
                raise ForcingError(f"{source}: PSurf is missing and the site elevation is unknown; "
                                   "give the elevation (m) to estimate it")
        need = np.isnan(p_meas)
        p = p_meas.copy()
        p[need] = pressure_from_elevation(elev)
        qc = qc_of(out, "PSurf") if "PSurf" in out else np.full(n, QC_MISSING, np.int8)
        qc[need] = QC_ESTIMATED
        method = f"U.S. Standard Atmosphere 1976 at elevation {elev:g} m ({elev_src})"
        _put(out, "PSurf", p, qc, "elevation", "m", {"estimated": method})
        estimated["PSurf"] = {"method": method, "count": int(need.sum())}
        _note(out, "PSurf", f"{int(need.sum())} values, {method}")
        derive_qair(out)

    # shortwave from PPFD
    sw = out["SWdown"].values if "SWdown" in out else np.full(n, np.nan)
    if np.isnan(sw).any() and "PPFD" in out:
        need = np.isnan(sw) & np.isfinite(out["PPFD"].values)
        if need.any():
            sw = sw.copy()
            sw[need] = shortwave_from_ppfd(out["PPFD"].values[need], ppfd_factor)
            qc = qc_of(out, "SWdown") if "SWdown" in out else np.full(n, QC_MISSING, np.int8)
            qc[need] = np.maximum(QC_ESTIMATED, qc_of(out, "PPFD")[need])
            method = f"PPFD / {ppfd_factor:g} umol J-1 (Meek et al. 1984; McCree 1972)"
            _put(out, "SWdown", sw, qc, out["PPFD"].attrs.get("source_variable", "PPFD"),
                 "umol m-2 s-1", {"estimated": method})
            estimated["SWdown"] = {"method": method, "count": int(need.sum())}
            _note(out, "SWdown", f"{int(need.sum())} values, {method}")

    # longwave
    lw = out["LWdown"].values if "LWdown" in out else np.full(n, np.nan)
    if np.isnan(lw).any():
        missing_inputs = [v for v in ("Tair", "Qair", "PSurf", "SWdown") if v not in out]
        if missing_inputs:
            raise ForcingError(f"{source}: LWdown is missing and cannot be estimated without "
                               f"{', '.join(missing_inputs)}")
        if lat is None or lon is None:
            raise ForcingError(f"{source}: LWdown is missing; its estimate needs the site latitude "
                               "and longitude")
        if out.attrs.get("time_zone") != "UTC":
            raise InputError(f"{source}: LWdown is missing; its estimate needs time in UTC "
                             "(give utc_offset_hours)")
        est, clf = estimate_lwdown(out["time"].values, out["Tair"].values, out["Qair"].values,
                                   out["PSurf"].values, out["SWdown"].values, latitude=float(lat),
                                   longitude=float(lon), elevation=float(elev or 0.0),
                                   step_seconds=step, label=out.attrs.get("time_label", "start"))
        need = np.isnan(lw) & np.isfinite(est)
        lw = lw.copy()
        lw[need] = est[need]
        qc = qc_of(out, "LWdown") if "LWdown" in out else np.full(n, QC_MISSING, np.int8)
        inputs_qc = np.maximum.reduce([qc_of(out, v) for v in ("Tair", "Qair", "SWdown")])
        qc[need] = np.maximum(QC_ESTIMATED, inputs_qc[need])
        method = ("Brutsaert (1975) clear-sky emissivity with the Crawford & Duchon (1999) cloud "
                  "fraction 1 - SWdown/SWclear (FAO-56 clear sky), interpolated over night")
        _put(out, "LWdown", lw, qc, "Tair, Qair, SWdown", "derived", {"estimated": method})
        estimated["LWdown"] = {"method": method, "count": int(need.sum()),
                               "mean_cloud_fraction": float(np.nanmean(clf))}
        _note(out, "LWdown", f"{int(need.sum())} values, {method}")

    # what is still missing
    still = {}
    for v in variables:
        if v not in out:
            if long_gaps == "error":
                raise ForcingError(f"{source}: forcing variable {v!r} is missing and cannot be estimated; "
                                   f"the file has: {', '.join(map(str, ds.data_vars))}")
            still[v] = "absent"
            continue
        nan = np.isnan(out[v].values)
        if nan.any():
            runs = _nan_runs(nan)
            s, k = max(runs, key=lambda r: r[1])
            t = out["time"].values
            if long_gaps == "error":
                raise ForcingError(
                    f"{source}: forcing variable {v!r} has a gap of {k} steps ({k * step / 3600.0:g} h) "
                    f"from {_fmt_time(t[s])} to {_fmt_time(t[s + k - 1])} that could not be filled "
                    f"(max_gap_hours={max_gap_hours:g}); raise it or split the record there"
                )
            still[v] = [(_fmt_time(t[a]), _fmt_time(t[a + m - 1]), m) for a, m in runs]
    report = {
        "gaps": gaps,
        "estimated": estimated,
        "unfilled": still,
        "flags": {v: count_flags(qc_of(out, v)) for v in variables if v in out},
        "elevation_m": None if elev is None else float(elev),
    }
    if elev is not None:
        out.attrs["elevation"] = float(elev)
    return out, report
