"""Reading the sites of a collection: files -> one prepared time series per site (or run).

For each site, in this order: read its files with the reader of its format;
put the time in UTC (offset from the collection, the site table, or the file)
and label each step by the start of its interval; put the observations on the
forcing's time axis (a one-line error if they do not overlap); keep the
``period``; complete the forcing (:func:`jlsm.io.complete.complete_forcing`:
gaps filled, missing variables estimated, every value flagged); average to the
collection's common step (30 min -> 1 h: :func:`jlsm.io.to_hourly`, an hour
of observations only where both half-hours were measured); split into runs
around gaps too long to fill when ``long_gaps = "split"``.

Site constants and where each comes from (``provenance``): the collection,
then the site table, then the file. Documented defaults where none gives a
value: ``measurement_height`` = canopy height + 2 m (2 m above the surface
being the standard height of weather measurements over a reference crop, FAO-56,
Allen et al. 1998, ch. 3), ``elevation`` from the median measured pressure
(U.S. Standard Atmosphere 1976), ``pft`` = the IGBP class. Unknown ``lai`` and
``canopy_height`` stay NaN (take the model's PFT default).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from jlsm.errors import ConfigError, ObservationError

from .collection import SiteSpec

#: Observation variables of a batch.
BATCH_OBSERVATIONS = ("Qh", "Qle", "Rnet", "Qg", "Ustar", "SWup", "Qh_cor", "Qle_cor")


@dataclass
class PreparedSite:
    """One site (or one run of a site split around a long gap), ready for batching."""

    name: str
    site: str
    forcing: xr.Dataset
    obs: xr.Dataset
    constants: dict
    provenance: dict
    test_start: np.datetime64
    report: dict = field(default_factory=dict)


def _read(spec: SiteSpec, offset, qc_max):
    from jlsm import io

    f = spec.files
    if spec.format == "plumber2":
        if len(f) != 2:
            raise ConfigError(f"site {spec.name!r}: format 'plumber2' needs files = [Met.nc, Flux.nc]")
        return io.read_plumber2(f[0], f[1], qc_max=qc_max, utc_offset_hours=offset)
    if spec.format == "fluxnet2015":
        return io.read_fluxnet2015(f[0], utc_offset_hours=offset, qc_max=qc_max,
                                   soil_depths=spec.reader.get("soil_depths"),
                                   swc_depths=spec.reader.get("swc_depths"))
    if spec.format == "ameriflux":
        return io.read_ameriflux_base(f[0], utc_offset_hours=offset)
    if spec.format == "csv":
        t = spec.reader["time"]
        return io.read_csv_columns(f, spec.reader["columns"], time_column=t["column"],
                                   time_format=t.get("format"), time_label=t.get("label", "start"),
                                   utc_offset_hours=offset)
    if spec.format == "fluxnet-csv":
        return io.read_fluxnet_csv(f[0], f[1] if len(f) > 1 else None, utc_offset_hours=offset)
    return io.read_urban_plumber(f[0], qc_max=qc_max)


def _pick(key, spec: SiteSpec, file_attrs: dict, notes: list):
    """(value, source) by precedence: collection, site table, file."""
    if key in spec.given:
        v, src = spec.given[key], "collection"
    elif key in spec.table:
        v, src = spec.table[key], "site table"
    elif file_attrs.get(key) is not None:
        v, src = file_attrs[key], "file"
    else:
        return None, None
    fv = file_attrs.get(key)
    if src != "file" and fv is not None and isinstance(v, float) and np.isfinite(fv) and abs(float(fv) - v) > 1e-6 * max(1, abs(v)):
        notes.append(f"{key}: {src} says {v:g}, the file {float(fv):g}; used {v:g}")
    return v, src


def _test_start(times, split, offset_hours):
    """UTC start of the test window: given (local time), or the second year of a two-year
    record (700-740 days), or the last ``test_fraction`` (default a third) of the record."""
    import pandas as pd

    t0, t1 = times[0], times[-1]
    if split and "test_start" in split:
        return np.datetime64(str(split["test_start"]), "ns") - np.timedelta64(int(round(offset_hours * 3600)), "s")
    span = (t1 - t0).astype("int64") / 86400e9
    if split is None and 700.0 <= span <= 740.0:
        return np.datetime64(pd.Timestamp(t0) + pd.DateOffset(years=1), "ns")
    frac = 1.0 / 3.0 if split is None else float(split["test_fraction"])
    return t0 + np.timedelta64(int((t1 - t0).astype("int64") * (1.0 - frac)), "ns")


def prepare_site(spec: SiteSpec, step_seconds: float) -> list[PreparedSite]:
    """Read and prepare one site of a collection; several entries when split into runs."""
    from jlsm import io
    from jlsm.io.complete import RUN_FORCING, complete_forcing
    from jlsm.io.gaps import complete_runs

    opt = spec.options
    where = f"site {spec.name!r}"
    notes: list[str] = list(spec.table.get("notes", []))
    offset, off_src = (spec.given["utc_offset_hours"], "collection") if "utc_offset_hours" in spec.given else \
        (spec.table.get("utc_offset_hours"), "site table" if "utc_offset_hours" in spec.table else None)
    forcing, obs = _read(spec, offset, opt["qc_max"])
    attrs = dict(forcing.attrs)
    if forcing.attrs.get("time_zone") != "UTC":
        if offset is None:
            raise ConfigError(f"{where}: the UTC offset of the time stamps is unknown; give utc_offset_hours")
        forcing, obs = io.to_utc(forcing, offset), io.to_utc(obs, offset)
    offset = forcing.attrs.get("utc_offset_hours", offset)
    off_src = off_src or forcing.attrs.get("utc_offset_source", "file")
    if "time_label" in spec.given:
        for ds in (forcing, obs):
            ds.attrs["time_label"] = spec.given["time_label"]
        notes.append(f"time stamps read as interval {spec.given['time_label']} (collection)")
    forcing, obs = io.to_interval_start(forcing), io.to_interval_start(obs)
    obs = io.align(forcing, obs)
    if spec.period is not None:
        shift = np.timedelta64(int(round(float(offset) * 3600)), "s")
        a, b = spec.period[0] - shift, spec.period[1] - shift
        t = forcing["time"].values
        keep = (t >= a) & (t < b)
        if not keep.any():
            raise ConfigError(f"{where}: period {spec.period[0]} to {spec.period[1]} (local) is outside the "
                              f"record {t[0]} to {t[-1]} (UTC)")
        forcing, obs = forcing.isel(time=keep), obs.isel(time=keep)

    # site constants
    prov: dict = {}
    const: dict = {}
    for key in ("latitude", "longitude", "elevation", "measurement_height", "canopy_height", "lai",
                "igbp", "pft_group", "pft"):
        v, src = _pick(key, spec, attrs, notes)
        const[key], prov[key] = v, src
    if const["canopy_height"] is None and "canopy_height" in forcing:
        const["canopy_height"] = float(np.nanmax(forcing["canopy_height"].values))
        prov["canopy_height"] = "file (seasonal maximum of the BADM heights)"
    if const["latitude"] is None or const["longitude"] is None:
        raise ConfigError(f"{where}: latitude and longitude are unknown; give them in the collection")
    if const["pft"] is None and const["igbp"] is not None:
        const["pft"], prov["pft"] = const["igbp"], "default (the IGBP class)"
    if const["elevation"] is None and "PSurf" in forcing and np.isfinite(forcing["PSurf"].values).any():
        from jlsm.io.estimates import elevation_from_pressure

        const["elevation"] = round(float(elevation_from_pressure(np.nanmedian(forcing["PSurf"].values))), 1)
        prov["elevation"] = "default (from the median measured pressure, U.S. Standard Atmosphere)"

    completed, report = complete_forcing(
        forcing, latitude=float(const["latitude"]), longitude=float(const["longitude"]),
        elevation=const["elevation"], linear_max_hours=opt["linear_max_hours"],
        max_gap_hours=opt["max_gap_hours"], window_days=opt["window_days"],
        long_gaps="keep" if opt["long_gaps"] == "split" else "error")
    if const["measurement_height"] is None and const["canopy_height"] is not None:
        const["measurement_height"] = float(const["canopy_height"]) + 2.0
        prov["measurement_height"] = "default (canopy height + 2 m)"
    for key in ("lai", "canopy_height", "measurement_height", "elevation"):
        if const[key] is None:
            notes.append(f"{key} unknown (NaN): give it in the collection or use the model's PFT default")
    from .report import energy_balance_closure

    report["closure"] = energy_balance_closure(obs, forcing)
    if opt["corrected"] == "bowen":
        from jlsm.io.closure import bowen_ratio_closure, net_radiation

        rn, rn_note = net_radiation(obs, completed)
        obs = bowen_ratio_closure(obs, rnet=rn)
        notes.append("Qh_cor, Qle_cor: Bowen-ratio-preserving closure (Twine et al. 2000)"
                     + (f"; {rn_note}" if rn_note else ""))
    elif "Qh_cor" in obs:
        notes.append(f"Qh_cor, Qle_cor: the file's ({obs['Qh_cor'].attrs.get('source_variable')})")
    step = float(completed.attrs.get("timestep_seconds") or 0.0)
    if step > step_seconds:
        raise ConfigError(f"{where}: its time step is {step:g} s, longer than the collection's "
                          f"{step_seconds:g} s; set [defaults] step = \"1h\"")
    if step < step_seconds:
        if step_seconds != 3600.0:
            raise ConfigError(f"{where}: cannot average {step:g} s steps to {step_seconds:g} s")
        completed, obs = io.to_hourly(completed, label="start"), io.to_hourly(obs, label="start")
        notes.append(f"averaged from {step / 60:g} min to 1 h (an hour of observations only where "
                     "all its sub-steps were measured; flags: the largest)")
    test_start = _test_start(completed["time"].values, spec.split, float(offset))
    report.update(notes=notes, provenance=prov, utc_offset_hours=float(offset), utc_offset_source=off_src,
                  source=attrs.get("source"), format=spec.format, test_start=str(test_start))
    runs = [(0, completed.sizes["time"])]
    if opt["long_gaps"] == "split":
        runs = complete_runs(completed, [v for v in RUN_FORCING if v in completed],
                             min_run_hours=opt["min_run_days"] * 24.0)
        if not runs:
            raise ObservationError(f"{where}: no run of at least {opt['min_run_days']:g} days without "
                                   "unfillable forcing gaps")
        report["runs"] = [(str(completed["time"].values[a]), str(completed["time"].values[b - 1]))
                          for a, b in runs]
    out = []
    for k, (a, b) in enumerate(runs):
        name = spec.name if len(runs) == 1 else f"{spec.name}#{k + 1}"
        f, o = completed.isel(time=slice(a, b)), obs.isel(time=slice(a, b))
        missing = [v for v in RUN_FORCING if v not in f or np.isnan(f[v].values).any()]
        if missing:
            raise ObservationError(f"{where}: forcing {', '.join(missing)} still missing after filling")
        out.append(PreparedSite(name=name, site=spec.name, forcing=f, obs=o, constants=dict(const),
                                provenance=dict(prov), test_start=test_start, report=report))
    return out
