"""Reading a config's data: file lookup, the readers, the window, gap filling, observed series."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataFileError


def data_path(name, cfg) -> Path:
    """Path of a data file named in a config: absolute, or under $JLSM_DATA_DIR, or beside the config."""
    from ..io import data_dir

    p = Path(name).expanduser()
    if p.is_absolute():
        candidates = [p]
    else:
        base = data_dir()
        candidates = ([base / p] if base else []) + [Path(cfg["_path"]).parent / p, p]
    for c in candidates:
        if c.exists():
            return c
    raise DataFileError(
        f"{cfg['_path']}: data file {name!r} not found (looked in: {', '.join(str(c) for c in candidates)}); "
        "set JLSM_DATA_DIR to the data folder"
    )


def read_data(cfg):
    """(forcing dataset, observation dataset) of the whole window incl. spin-up, gap-filled."""
    from .. import io

    d = cfg["data"]
    m = cfg.get("model", {})
    fmt = d["format"]
    forcing_path = data_path(d["forcing"], cfg)
    fluxes = data_path(d["fluxes"], cfg) if d.get("fluxes") else None
    qc = d.get("qc_max", 0)
    eps = float(m.get("emissivity", 0.95))
    _check_format(fmt, forcing_path, fluxes)
    if fmt == "urban-plumber":
        forcing, obs = io.read_urban_plumber(forcing_path, qc_max=qc, emissivity=eps)
    elif fmt == "plumber2":
        forcing, obs = io.read_plumber2(forcing_path, fluxes, qc_max=qc, utc_offset_hours=d.get("utc_offset_hours"), emissivity=eps)
    else:
        forcing, obs = io.read_fluxnet_csv(forcing_path, fluxes, utc_offset_hours=d.get("utc_offset_hours"), emissivity=eps)
    if fluxes is not None:
        _check_overlap(forcing, obs, forcing_path, fluxes)
    steps = _step(forcing), _step(obs)
    if d.get("hourly", False):
        forcing, obs = io.to_hourly(forcing), io.to_hourly(obs)
    elif obs.sizes.get("time", 0) > 1 and steps[0] != steps[1]:
        forcing, obs = _match_steps(forcing, obs, steps, forcing_path, fluxes)
    w = cfg["window"]
    spin = float(w.get("spinup_hours", 0))
    total = spin + float(w["fit_hours"]) + float(w.get("test_hours", 0))
    start = np.datetime64(str(w["start"]), "ns") - np.timedelta64(int(round(spin * 3600)), "s")
    off = d.get("utc_offset_hours")
    forcing = io.select_window(forcing, start, total, utc_offset_hours=off, name=str(forcing_path))
    obs = io.select_window(obs, start, total, utc_offset_hours=off, name=str(fluxes or forcing_path))
    if obs.sizes["time"] != forcing.sizes["time"] or not np.array_equal(obs["time"].values, forcing["time"].values):
        raise DataFileError(
            f"[data] forcing {forcing_path} and fluxes {fluxes or forcing_path} have different time stamps in the window "
            f"({forcing.sizes['time']} and {obs.sizes['time']} steps, {_span(forcing)} and {_span(obs)}); "
            "give files on the same time axis"
        )
    if "LWup" in obs and "LWdown" in forcing:
        obs["Ts"] = _radiometric_temperature(obs, forcing, eps, bool(m.get("absorb_all_longwave", False)))
    # the heat-only model needs SWdown, LWdown, Tair; other forcing is kept only if complete
    dropped = [v for v in forcing.data_vars if v not in io.REQUIRED_FORCING and bool(forcing[v].isnull().any())]
    forcing = forcing.drop_vars(dropped)
    if dropped:
        forcing.attrs["dropped_incomplete"] = ", ".join(map(str, dropped))
    max_gap = int(d.get("max_gap_steps", 0))
    if max_gap:
        forcing, report = io.fill_gaps(forcing, [v for v in io.REQUIRED_FORCING if v in forcing], max_gap_steps=max_gap)
        forcing.attrs["gap_filled"] = json.dumps(report)
    for v in io.REQUIRED_FORCING:
        if v in forcing and not bool(forcing[v].notnull().any()):
            t = forcing["time"].values
            raise DataFileError(
                f"{forcing_path}: forcing variable {v!r} is entirely missing in the window "
                f"{np.datetime64(t[0], 's')} to {np.datetime64(t[-1], 's')} UTC (spin-up, fit and test); "
                "pick another [window] start or another file"
            )
    io.check_forcing(forcing, source=str(forcing_path))
    return forcing, obs


def _step(ds) -> float | None:
    """The most common time step [s] of a dataset (None with fewer than 2 times)."""
    t = ds["time"].values
    if t.size < 2:
        return None
    d = np.diff(t).astype("timedelta64[s]").astype(float)
    vals, counts = np.unique(d, return_counts=True)
    return float(vals[np.argmax(counts)])


def _span(ds) -> str:
    t = ds["time"].values
    return f"{np.datetime64(t[0], 's')} to {np.datetime64(t[-1], 's')} UTC"


def _check_overlap(forcing, obs, forcing_path, fluxes) -> None:
    """Met and flux files must share some time."""
    tf, to = forcing["time"].values, obs["time"].values
    if tf.size and to.size and (to[-1] < tf[0] or tf[-1] < to[0]):
        raise DataFileError(
            f"[data] forcing {forcing_path} ({_span(forcing)}) and fluxes {fluxes} ({_span(obs)}) "
            "do not overlap in time; give files of the same site and period"
        )


def _match_steps(forcing, obs, steps, forcing_path, fluxes):
    """Forcing and fluxes at different steps: both averaged to hourly if one is hourly, else an error."""
    from .. import io

    sf, so = steps
    if 3600.0 in steps and all(s is not None and s <= 3600.0 and 3600.0 % s == 0 for s in steps):
        coarse, fine = (fluxes, forcing_path) if so == 3600.0 else (forcing_path, fluxes)
        forcing, obs = io.to_hourly(forcing), io.to_hourly(obs)
        forcing.attrs["resampled"] = (
            f"{coarse} is hourly and {fine} has {min(steps) / 60:g}-min steps: the {min(steps) / 60:g}-min data "
            f"were averaged to hourly ({forcing.attrs.get('time_label', 'start')}-labelled hours, as with [data] hourly = true)"
        )
        return forcing, obs
    raise DataFileError(
        f"[data] forcing {forcing_path} has {sf:g}-s steps and fluxes {fluxes or forcing_path} {so:g}-s steps; "
        "jlsm aligns them only when one is hourly and the other divides the hour"
    )


def _check_format(fmt, forcing_path, fluxes) -> None:
    """A NetCDF given as PLUMBER2 that is an Urban-PLUMBER file (or the reverse): say which it looks like."""
    if forcing_path.suffix != ".nc":
        return
    import xarray as xr

    try:
        with xr.open_dataset(forcing_path, decode_times=False) as raw:
            attrs, names = dict(raw.attrs), set(map(str, raw.data_vars))
    except (OSError, ValueError):
        return  # the reader says what is wrong with the file
    urban = "time_shown_in" in attrs or forcing_path.name.endswith("_clean_observations_v1.nc")
    has_fluxes = bool({"Qh", "Qle"} & names)
    if fmt == "plumber2" and urban:
        raise DataFileError(
            f"{forcing_path}: [data] format = \"plumber2\" expects a PLUMBER2 met file (*_Met.nc: local standard time, "
            "latitude/longitude) with the fluxes in a second file ([data] fluxes = *_Flux.nc); this file looks like an "
            f"Urban-PLUMBER file (forcing{' and fluxes' if has_fluxes else ''} in one file, times in "
            f"{attrs.get('time_shown_in', 'UTC')}): use format = \"urban-plumber\""
        )
    if fmt == "urban-plumber" and not urban and ("longitude" in names or forcing_path.name.endswith("_Met.nc")):
        raise DataFileError(
            f"{forcing_path}: [data] format = \"urban-plumber\" expects one Urban-PLUMBER file (*_clean_observations_v1.nc, "
            "forcing and fluxes, times in UTC); this file looks like a PLUMBER2 met file: use format = \"plumber2\" "
            "with [data] fluxes = the *_Flux.nc file"
        )


def _radiometric_temperature(obs, forcing, emissivity, absorb_all):
    """Ts [K] with LWup = eps sigma Ts^4 + (1 - a_lw) LWdown, a_lw = 1 or eps, as the model computes LWup."""
    import xarray as xr

    from ..io import SIGMA

    lwd = forcing["LWdown"].reindex(time=obs["time"]).values
    a_lw = 1.0 if absorb_all else emissivity
    num = obs["LWup"].values - (1.0 - a_lw) * lwd
    ts = np.where(num > 0, num, np.nan) ** 0.25 / (emissivity * SIGMA) ** 0.25
    return xr.DataArray(
        ts,
        dims=("time",),
        coords={"time": obs["time"]},
        attrs={
            "units": "K",
            "long_name": "surface radiometric temperature",
            "source_variable": "LWup, LWdown",
            "emissivity": float(emissivity),
            "longwave_absorptivity": float(a_lw),
            "comment": "((LWup - (1 - a_lw) LWdown) / (emissivity sigma))^(1/4), from the averaged fluxes",
        },
    )


def _source(obs_ds) -> str:
    return str(obs_ds.attrs.get("source", "the data"))


def _series(obs, spec, cfg):
    """A dataset variable by spec: ``Name``, ``Name@depth`` or ``A+B``."""
    if "+" in spec:
        parts = [_series(obs, s.strip(), cfg) for s in spec.split("+")]
        return np.sum(parts, axis=0)
    name, _, depth = spec.partition("@")
    if name not in obs:
        raise DataFileError(
            f"{_source(obs)}: observation variable {name!r} (asked for by {cfg['_path']}) is not in the data "
            f"(have {sorted(map(str, obs.data_vars))})"
        )
    da = obs[name]
    if depth:
        dim = [d for d in da.dims if d != "time"]
        if not dim:
            raise ConfigError(f"{cfg['_path']}: {name} has no depth dimension; drop '@{depth}'")
        coord = da[dim[0]].values
        i = int(np.argmin(np.abs(coord - float(depth))))
        if abs(coord[i] - float(depth)) > 1e-6:
            raise ConfigError(f"{cfg['_path']}: {name} in {_source(obs)} has no level at {depth} m (levels: {coord.tolist()})")
        da = da.isel({dim[0]: i})
    return np.asarray(da.values, dtype=float)


def _model_name(observable: str, origin: float) -> str:
    """The model's observable name: soil depths are shifted by the origin depth [m]."""
    if observable.startswith("soil_temperature@") and origin:
        depth = float(observable.partition("@")[2]) - origin
        if depth < 0:
            raise ConfigError(f"observable {observable!r} lies above the model's top node at origin_depth {origin} m")
        return f"soil_temperature@{depth:.10g}"
    return observable


def _times(obs_ds, window) -> str:
    t = obs_ds["time"].values
    return f"{np.datetime64(t[window[0]], 's')} to {np.datetime64(t[window[1] - 1], 's')} UTC"
