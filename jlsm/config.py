"""Inversions described by a TOML file: ``jlsm invert CONFIG.toml``.

See ``examples/*.toml`` for documented examples. Sections and keys:

``[data]``: ``format`` (``"urban-plumber"``, ``"plumber2"``, ``"fluxnet-csv"``),
``forcing`` (path; relative paths are looked up in ``$JLSM_DATA_DIR`` then
beside the config), ``fluxes`` (second file for PLUMBER2/FLUXNET CSV),
``hourly`` (average half-hourly data to hourly), ``utc_offset_hours``,
``max_gap_steps`` (linear gap filling of the forcing up to this many steps).

``[window]``: ``start`` (local standard time, ISO), ``fit_hours``,
``test_hours``, ``spinup_hours`` (run before the fit window, not fitted).

``[model]``: ``depth`` [m], ``nodes``, ``stretch`` (spacing ratio, 1 = uniform),
``top`` (``"energy_balance"`` or ``"prescribed"``), ``top_temperature``
(dataset variable for a prescribed top, e.g. ``"SoilTemp@0.02"``),
``origin_depth`` (sensor depth [m] of the model's top node, default 0),
``bottom`` (``"fixed"``/``"zero_flux"``), ``emissivity``,
``absorb_all_longwave``, ``initial`` (K, or ``"bottom"``), ``theta``, and a
table ``[model.parameters]`` of base values (albedo, h, beta, conductivity,
heat_capacity, bottom_temperature).

``[observations]``: ``variables`` (table observable -> dataset variable, e.g.
``"soil_temperature@0.05" = "SoilTemp@0.05"``, ``ts = "Ts"``,
``turbulent = "Qh+Qle"``), ``errors`` (table observable -> std), ``weighting``.

``[parameters]``: ``free`` (table name -> [lo, hi]), ``fixed`` (table name ->
value, or ``"observed"`` for the albedo: median SWup / SWdown of the fit
window at SWdown > 200 W m-2), ``start_bounds`` (table), ``transform``.

``[inversion]``: ``starts``, ``seed``, ``sampler``, ``steps``,
``learning_rate``, ``polish``, ``polish_method``, ``chunk``.

``[output]``: ``dir``, ``name``.
"""

from __future__ import annotations

import json
import time
import tomllib
from pathlib import Path

import numpy as np

from .errors import ConfigError, DataFileError

SCHEMA = {
    "data": {"format", "forcing", "fluxes", "hourly", "utc_offset_hours", "max_gap_steps", "qc_max"},
    "window": {"start", "fit_hours", "test_hours", "spinup_hours"},
    "model": {
        "depth",
        "nodes",
        "stretch",
        "top",
        "top_temperature",
        "origin_depth",
        "bottom",
        "emissivity",
        "absorb_all_longwave",
        "initial",
        "theta",
        "parameters",
    },
    "observations": {"variables", "errors", "weighting"},
    "parameters": {"free", "fixed", "start_bounds", "transform"},
    "inversion": {"starts", "seed", "sampler", "steps", "learning_rate", "polish", "polish_method", "chunk"},
    "output": {"dir", "name"},
}
REQUIRED = {"data": {"format", "forcing"}, "window": {"start", "fit_hours"}, "observations": {"variables"}, "parameters": {"free"}}
FORMATS = ("urban-plumber", "plumber2", "fluxnet-csv")


def load_config(path) -> dict:
    """Read and validate a config file; errors name the file, section and key."""
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"{path}: config file not found")
    try:
        cfg = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None
    unknown = set(cfg) - set(SCHEMA)
    if unknown:
        raise ConfigError(f"{path}: unknown section(s) {sorted(unknown)}; known: {sorted(SCHEMA)}")
    for section, keys in cfg.items():
        if not isinstance(keys, dict):
            raise ConfigError(f"{path}: [{section}] must be a table")
        bad = set(keys) - SCHEMA[section]
        if bad:
            raise ConfigError(f"{path}: unknown key(s) {sorted(bad)} in [{section}]; known: {sorted(SCHEMA[section])}")
    for section, keys in REQUIRED.items():
        missing = keys - set(cfg.get(section, {}))
        if missing:
            raise ConfigError(f"{path}: [{section}] lacks required key(s) {sorted(missing)}")
    if cfg["data"]["format"] not in FORMATS:
        raise ConfigError(f"{path}: [data] format must be one of {FORMATS}, got {cfg['data']['format']!r}")
    cfg["_path"] = str(path)
    return cfg


def _resolve(name, cfg) -> Path:
    from .io import data_dir

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
    from . import io

    d = cfg["data"]
    fmt = d["format"]
    forcing_path = _resolve(d["forcing"], cfg)
    fluxes = _resolve(d["fluxes"], cfg) if d.get("fluxes") else None
    qc = d.get("qc_max", 0)
    if fmt == "urban-plumber":
        forcing, obs = io.read_urban_plumber(forcing_path, qc_max=qc)
    elif fmt == "plumber2":
        forcing, obs = io.read_plumber2(forcing_path, fluxes, qc_max=qc, utc_offset_hours=d.get("utc_offset_hours"))
    else:
        forcing, obs = io.read_fluxnet_csv(forcing_path, fluxes, utc_offset_hours=d.get("utc_offset_hours"))
    if d.get("hourly", False):
        forcing, obs = io.to_hourly(forcing), io.to_hourly(obs)
    w = cfg["window"]
    spin = float(w.get("spinup_hours", 0))
    total = spin + float(w["fit_hours"]) + float(w.get("test_hours", 0))
    start = np.datetime64(w["start"], "ns") - np.timedelta64(int(round(spin * 3600)), "s")
    off = d.get("utc_offset_hours")
    forcing = io.select_window(forcing, start, total, utc_offset_hours=off, name=str(forcing_path))
    obs = io.select_window(obs, start, total, utc_offset_hours=off, name=str(fluxes or forcing_path))
    max_gap = int(d.get("max_gap_steps", 0))
    if max_gap:
        forcing, report = io.fill_gaps(forcing, max_gap_steps=max_gap)
        forcing.attrs["gap_filled"] = json.dumps(report)
    io.check_forcing(forcing, source=str(forcing_path))
    return forcing, obs


def _series(obs, spec, cfg):
    """A dataset variable by spec: ``Name``, ``Name@depth`` or ``A+B``."""
    if "+" in spec:
        parts = [_series(obs, s.strip(), cfg) for s in spec.split("+")]
        return np.sum(parts, axis=0)
    name, _, depth = spec.partition("@")
    if name not in obs:
        raise ConfigError(f"{cfg['_path']}: observation variable {name!r} is not in the data (have {sorted(map(str, obs.data_vars))})")
    da = obs[name]
    if depth:
        dim = [d for d in da.dims if d != "time"]
        if not dim:
            raise ConfigError(f"{cfg['_path']}: {name} has no depth dimension; drop '@{depth}'")
        coord = da[dim[0]].values
        i = int(np.argmin(np.abs(coord - float(depth))))
        if abs(coord[i] - float(depth)) > 1e-6:
            raise ConfigError(f"{cfg['_path']}: {name} has no level at {depth} m (levels: {coord.tolist()})")
        da = da.isel({dim[0]: i})
    return np.asarray(da.values, dtype=float)


def build_problem(cfg, forcing_ds, obs_ds):
    """(model, forcing, observations, space, initial, fit, validate) from a config and its data."""
    from .forcing import Forcing
    from .grid import SoilGrid
    from .model import LandSurfaceModel
    from .observe import Observations
    from .params import ParameterSpace
    from .physics import BowenRatioExchange, Radiation, SoilThermal, TridiagonalSolver

    m = cfg.get("model", {})
    base = {"albedo": 0.2, "h": 15.0, "beta": 1.5, "conductivity": 0.8, "heat_capacity": 2.2e6, "bottom_temperature": 293.0}
    unknown = set(m.get("parameters", {})) - set(base)
    if unknown:
        raise ConfigError(f"{cfg['_path']}: unknown key(s) {sorted(unknown)} in [model.parameters]; known: {sorted(base)}")
    base.update(m.get("parameters", {}))
    origin = float(m.get("origin_depth", 0.0))
    top = m.get("top", "energy_balance")
    top_temperature = None
    if top == "prescribed":
        if "top_temperature" not in m:
            raise ConfigError(f"{cfg['_path']}: [model] top = 'prescribed' needs top_temperature (a data variable)")
        top_temperature = _series(obs_ds, m["top_temperature"], cfg)
    forcing = Forcing.from_xarray(forcing_ds, top_temperature=top_temperature)
    depth, nodes, stretch = float(m.get("depth", 1.0)), int(m.get("nodes", 101)), float(m.get("stretch", 1.0))
    grid = SoilGrid.uniform(depth, nodes) if stretch == 1.0 else SoilGrid.stretched(depth, nodes, stretch)
    model = LandSurfaceModel(
        grid=grid,
        soil=SoilThermal(base["conductivity"], base["heat_capacity"]),
        radiation=Radiation(base["albedo"], m.get("emissivity", 0.95), absorb_all_longwave=m.get("absorb_all_longwave", False)),
        turbulence=BowenRatioExchange(base["h"], base["beta"]),
        bottom_temperature=base["bottom_temperature"],
        top=top,
        bottom=m.get("bottom", "fixed"),
        solver=TridiagonalSolver(theta=float(m.get("theta", 1.0))),
    )
    o = cfg["observations"]
    data = {}
    for observable, spec in o["variables"].items():
        name = observable
        if observable.startswith("soil_temperature@") and origin:
            name = f"soil_temperature@{float(observable.partition('@')[2]) - origin:g}"
        data[name] = _series(obs_ds, spec, cfg)
    observations = Observations.from_dict(data, errors=o.get("errors"), weighting=o.get("weighting", "variance"))

    w = cfg["window"]
    dt_h = forcing.dt / 3600.0
    spin = int(round(float(w.get("spinup_hours", 0)) / dt_h))
    n_fit = int(round(float(w["fit_hours"]) / dt_h))
    fit = (spin, spin + n_fit)
    validate = (fit[1], forcing.n_times) if forcing.n_times > fit[1] else None

    p = cfg["parameters"]
    fixed = dict(p.get("fixed", {}))
    if fixed.get("albedo") == "observed":
        fixed["albedo"] = observed_albedo(forcing_ds, obs_ds, fit, cfg)
    space = ParameterSpace(
        {k: tuple(v) for k, v in p["free"].items()},
        fixed=fixed,
        transform=p.get("transform", "sigmoid"),
        start_bounds={k: tuple(v) for k, v in p.get("start_bounds", {}).items()},
    )
    initial = m.get("initial", "bottom")
    initial = None if initial == "bottom" else float(initial)
    return model, forcing, observations, space, initial, fit, validate


def observed_albedo(forcing_ds, obs_ds, fit, cfg) -> float:
    """Median SWup / SWdown over the fit window where SWdown > 200 W m-2."""
    if "SWup" not in obs_ds:
        raise ConfigError(f"{cfg['_path']}: albedo = 'observed' needs SWup in the data")
    sw_in = forcing_ds["SWdown"].values[fit[0] : fit[1]]
    sw_up = obs_ds["SWup"].values[fit[0] : fit[1]]
    ok = (sw_in > 200) & np.isfinite(sw_up)
    if ok.sum() < 3:
        raise ConfigError(f"{cfg['_path']}: fewer than 3 daytime SWup values in the fit window to estimate the albedo")
    return float(np.median(sw_up[ok] / sw_in[ok]))


def run_config(path, *, out=None, json_path=None, progress=True) -> int:
    """Run the inversion of a config file; write NetCDF, a metrics table, figures and a JSON summary."""
    from .inverse import invert, status_counts

    t0 = time.perf_counter()
    cfg = load_config(path)
    forcing_ds, obs_ds = read_data(cfg)
    model, forcing, observations, space, initial, fit, validate = build_problem(cfg, forcing_ds, obs_ds)
    inv = cfg.get("inversion", {})
    result = invert(
        model,
        forcing,
        observations,
        space,
        starts=int(inv.get("starts", 20)),
        seed=int(inv.get("seed", 0)),
        sampler=inv.get("sampler", "sobol"),
        initial=initial,
        fit=fit,
        validate=validate,
        steps=int(inv.get("steps", 0)),
        learning_rate=float(inv.get("learning_rate", 0.05)),
        polish=int(inv.get("polish", 40)),
        polish_method=inv.get("polish_method", "gauss-newton"),
        chunk=int(inv.get("chunk", 50)),
        progress=progress,
        time=forcing_ds["time"].values,
    )
    outdir = Path(out or cfg.get("output", {}).get("dir", "results"))
    outdir.mkdir(parents=True, exist_ok=True)
    name = cfg.get("output", {}).get("name", Path(path).stem)
    result.attrs["config"] = Path(cfg["_path"]).read_text()
    result.attrs["fixed_values"] = json.dumps({k: float(v) for k, v in space.fixed.items()})
    nc = outdir / f"{name}.nc"
    result.to_netcdf(nc)
    print(_report(result, space))
    print(f"starts: {status_counts(result)}; {result.attrs['wall_seconds']:.1f} s; results: {nc}")
    _figures(result, model, forcing, observations, space, initial, forcing_ds, fit, outdir / name)
    if json_path:
        best = int(result["best_start"])
        summary = {
            "config": str(path),
            "fixed": {k: float(v) for k, v in space.fixed.items()},
            "estimates": {
                str(p): {
                    "best": float(result["final"].sel(start=best, parameter=p)),
                    "median": float(result["median"].sel(parameter=p)),
                    "p05": float(result["p05"].sel(parameter=p)),
                    "p95": float(result["p95"].sel(parameter=p)),
                }
                for p in result["parameter"].values
            },
            "metrics": {
                str(w): {
                    str(v): {str(k): float(result["metric_value"].sel(start=best, window=w, variable=v, metric=k))
                             for k in result["metric"].values}
                    for v in result["variable"].values
                }
                for w in result["window"].values
            },
            "status": status_counts(result),
            "wall_seconds": time.perf_counter() - t0,
        }
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps(summary, indent=2))
    return 0


def _report(result, space) -> str:
    best = int(result["best_start"])
    lines = [f"fixed: {json.dumps({k: float(v) for k, v in space.fixed.items()})}"]
    lines.append(f"{'parameter':<20}{'best':>14}{'median':>14}{'p05':>14}{'p95':>14}{'units':>12}")
    for p in result["parameter"].values:
        lines.append(
            f"{p:<20}{float(result['final'].sel(start=best, parameter=p)):>14.6g}"
            f"{float(result['median'].sel(parameter=p)):>14.6g}{float(result['p05'].sel(parameter=p)):>14.6g}"
            f"{float(result['p95'].sel(parameter=p)):>14.6g}{str(result['units'].sel(parameter=p).values):>12}"
        )
    lines.append("")
    lines.append(f"skill of the best start ({best}):")
    lines.append(f"{'window':<12}{'variable':<26}" + "".join(f"{k:>11}" for k in ("rmse", "bias", "kge", "nse")))
    for w in result["window"].values:
        for v in result["variable"].values:
            vals = [float(result["metric_value"].sel(start=best, window=w, variable=v, metric=k)) for k in ("rmse", "bias", "kge", "nse")]
            lines.append(f"{w:<12}{v:<26}" + "".join(f"{x:>11.4g}" for x in vals))
    return "\n".join(lines)


def _figures(result, model, forcing, observations, space, initial, forcing_ds, fit, stem):
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return
    import jax.numpy as jnp

    from .model import simulate
    from .plot import estimates_figure, timeseries_figure

    best = int(result["best_start"])
    x = jnp.asarray(result["final"].sel(start=best).values[: space.size])
    m = space.physical_to_model(x, model)
    out = simulate(m, forcing, initial=initial, depths=observations.depths)
    sim = np.asarray(observations.simulated(out))
    obs = np.asarray(observations.values)
    time_axis = forcing_ds["time"].values
    names = list(observations.names)
    fig = timeseries_figure(
        time_axis,
        {n: obs[:, i] for i, n in enumerate(names)},
        {n: sim[:, i] for i, n in enumerate(names)},
        split=time_axis[fit[1] - 1] if fit[1] < len(time_axis) else None,
        title="best estimate: fit window | test window",
    )
    fig.savefig(f"{stem}_timeseries.png", dpi=110)
    estimates_figure(result).savefig(f"{stem}_estimates.png", dpi=110)
