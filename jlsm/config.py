"""Inversions described by a TOML file: ``jlsm invert CONFIG.toml``.

See ``examples/*.toml`` for documented examples. Top-level key ``extends``
(path relative to the config) takes another config as the base: each key of a
section given here replaces the base's key of that section (tables such as
``variables`` are replaced whole, not merged). Sections and keys:

``[data]``: ``format`` (``"urban-plumber"``, ``"plumber2"``, ``"fluxnet-csv"``),
``forcing`` (path; relative paths are looked up in ``$JLSM_DATA_DIR`` then
beside the config), ``fluxes`` (second file for PLUMBER2/FLUXNET CSV),
``hourly`` (average half-hourly data to hourly), ``utc_offset_hours``,
``max_gap_steps`` (linear gap filling of SWdown, LWdown, Tair up to this many
steps), ``qc_max``.

``[window]``: ``start`` (local standard time, ISO), ``fit_hours``,
``test_hours``, ``spinup_hours`` (run before the fit window, not fitted).

``[model]``: ``depth`` [m], ``nodes``, ``stretch`` (spacing ratio, 1 = uniform),
``top`` (``"energy_balance"`` or ``"prescribed"``), ``top_temperature``
(dataset variable for a prescribed top, e.g. ``"SoilTemp@0.02"``),
``origin_depth`` (sensor depth [m] of the model's top node, default 0; soil
observation depths are shifted by it), ``bottom`` (``"fixed"``/``"zero_flux"``),
``emissivity``, ``absorb_all_longwave``, ``initial`` (K, ``"bottom"``: uniform
at the bottom temperature, or ``"observed"``: the observed soil temperatures at
the first time, interpolated in depth, constant beyond the deepest sensor),
``theta``, and a table ``[model.parameters]`` of base values (albedo, h, beta,
conductivity, heat_capacity, bottom_temperature). The surface radiometric
temperature ``Ts`` is derived from hourly LWup and LWdown with the model's own
emissivity and longwave absorptivity, so it is consistent with the model's LWup.

``[observations]``: ``variables`` (fitted; table observable -> dataset
variable, e.g. ``"soil_temperature@0.05" = "SoilTemp@0.05"``, ``ts = "Ts"``,
``turbulent = "Qh+Qle"``), ``evaluate`` (same form: evaluated on the fit and
test windows, not fitted), ``errors`` (table observable -> std), ``weighting``.

``[parameters]``: ``free`` (table name -> [lo, hi]), ``fixed`` (table name ->
value, or ``"observed"`` for the albedo: median SWup / SWdown of the fit
window at SWdown > 200 W m-2), ``start_bounds`` (table), ``transform``.

``[reference]``: ``name``, ``values`` (a value for every free parameter) and
``description``: a parameter set evaluated with the same metrics next to the
estimates (e.g. published defaults).

``[inversion]``: ``starts``, ``seed``, ``sampler``, ``steps``,
``learning_rate``, ``polish``, ``polish_method``, ``chunk``, ``offset_profile``
(with one free parameter: also estimate it with a constant offset per fitted
variable as nuisance, see :func:`offset_profile`).

``[output]``: ``dir``, ``name``.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import time
import tomllib
from pathlib import Path

import numpy as np

from .errors import ConfigError, DataFileError, JlsmError, ObservationError

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
    "observations": {"variables", "evaluate", "errors", "weighting"},
    "parameters": {"free", "fixed", "start_bounds", "transform"},
    "reference": {"name", "values", "description"},
    "inversion": {"starts", "seed", "sampler", "steps", "learning_rate", "polish", "polish_method", "chunk", "offset_profile"},
    "output": {"dir", "name"},
}
TOP_LEVEL = {"extends"}
REQUIRED = {"data": {"format", "forcing"}, "window": {"start", "fit_hours"}, "observations": {"variables"}, "parameters": {"free"}}
FORMATS = ("urban-plumber", "plumber2", "fluxnet-csv")

__all__ = [
    "SCHEMA",
    "REQUIRED",
    "FORMATS",
    "load_config",
    "read_data",
    "build_problem",
    "observed_albedo",
    "data_path",
    "simulate_points",
    "evaluation_observations",
    "evaluate",
    "Run",
    "run_problem",
    "summarise",
    "run_config",
    "with_window",
    "run_windows",
    "first_complete_start",
]


# --------------------------------------------------------------------------
# reading and checking the config


def _read_toml(path: Path) -> dict:
    if not path.exists():
        raise DataFileError(f"{path}: config file not found")
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder, not a config file")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: cannot read the config: not a UTF-8 text file ({err.reason} at byte {err.start})") from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the config: {err.strerror or err}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None


def _check_keys(cfg: dict, path: Path) -> None:
    unknown = set(cfg) - set(SCHEMA) - TOP_LEVEL
    if unknown:
        raise ConfigError(f"{path}: unknown section(s) or key(s) {sorted(unknown)}; known sections: {sorted(SCHEMA)}")
    for section, keys in cfg.items():
        if section in TOP_LEVEL:
            continue
        if not isinstance(keys, dict):
            raise ConfigError(f"{path}: [{section}] must be a table")
        bad = set(keys) - SCHEMA[section]
        if bad:
            raise ConfigError(f"{path}: unknown key(s) {sorted(bad)} in [{section}]; known: {sorted(SCHEMA[section])}")


def _number(cfg, path, section, key, *, positive=False, minimum=None):
    value = cfg.get(section, {}).get(key)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise ConfigError(f"{path}: [{section}] {key} must be a number, got {value!r}")
    if positive and value <= 0:
        raise ConfigError(f"{path}: [{section}] {key} must be > 0, got {value!r}")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{path}: [{section}] {key} must be >= {minimum}, got {value!r}")


def _check_values(cfg: dict, path: Path) -> None:
    for section, keys in REQUIRED.items():
        missing = keys - set(cfg.get(section, {}))
        if missing:
            raise ConfigError(f"{path}: [{section}] lacks required key(s) {sorted(missing)}")
    if cfg["data"]["format"] not in FORMATS:
        raise ConfigError(f"{path}: [data] format must be one of {FORMATS}, got {cfg['data']['format']!r}")
    try:
        np.datetime64(str(cfg["window"]["start"]), "ns")
    except ValueError:
        raise ConfigError(f"{path}: [window] start {cfg['window']['start']!r} is not an ISO date-time (e.g. 2012-05-01T00:00)") from None
    _number(cfg, path, "window", "fit_hours", positive=True)
    _number(cfg, path, "window", "test_hours", minimum=0)
    _number(cfg, path, "window", "spinup_hours", minimum=0)
    _number(cfg, path, "data", "max_gap_steps", minimum=0)
    for key in ("variables", "evaluate"):
        table = cfg["observations"].get(key, {})
        if not isinstance(table, dict) or (key == "variables" and not table):
            raise ConfigError(f"{path}: [observations] {key} must be a table observable = \"data variable\"")
        for k, v in table.items():
            if not isinstance(v, str):
                raise ConfigError(f"{path}: [observations] {key}.{k} must name a data variable (a string), got {v!r}")
    free = cfg["parameters"]["free"]
    if not isinstance(free, dict) or not free:
        raise ConfigError(f"{path}: [parameters] free must be a table name = [lo, hi]")
    for k, b in free.items():
        if not (isinstance(b, list) and len(b) == 2 and all(isinstance(x, (int, float)) for x in b) and b[0] < b[1]):
            raise ConfigError(f"{path}: [parameters] free.{k} must be [lo, hi] with lo < hi, got {b!r}")
    init = cfg.get("model", {}).get("initial", "bottom")
    if not (init in ("bottom", "observed") or (isinstance(init, (int, float)) and not isinstance(init, bool))):
        raise ConfigError(f"{path}: [model] initial must be 'bottom', 'observed' or a temperature in K, got {init!r}")
    ref = cfg.get("reference")
    if ref is not None:
        values = ref.get("values")
        if not isinstance(values, dict) or set(values) != set(free):
            raise ConfigError(
                f"{path}: [reference] values must give a number for each free parameter {sorted(free)}, "
                f"got {sorted(values) if isinstance(values, dict) else values!r}"
            )


def load_config(path, *, _seen=()) -> dict:
    """Read and validate a config file (following ``extends``); errors name the file, section and key."""
    path = Path(path)
    cfg = _read_toml(path)
    _check_keys(cfg, path)
    parent = cfg.pop("extends", None)
    if parent is not None:
        if not isinstance(parent, str):
            raise ConfigError(f"{path}: extends must be the path of another config, got {parent!r}")
        base_path = (path.parent / parent).resolve()
        if base_path in _seen or base_path == path.resolve():
            raise ConfigError(f"{path}: extends {parent!r} makes a cycle")
        base = load_config(base_path, _seen=(*_seen, path.resolve()))
        merged = {k: dict(v) for k, v in base.items() if not k.startswith("_")}
        for section, keys in cfg.items():
            merged.setdefault(section, {}).update(keys)
        cfg = merged
        cfg["_extends"] = str(base_path)
    if _seen:
        return cfg
    _check_values(cfg, path)
    cfg["_path"] = str(path)
    return cfg


def config_text(cfg) -> str:
    """The text of a loaded config, with the base it extends (for provenance)."""
    text = Path(cfg["_path"]).read_text()
    if cfg.get("_extends"):
        text = f"# extends {cfg['_extends']}:\n{Path(cfg['_extends']).read_text()}\n# ---- then\n{text}"
    return text


def with_window(cfg: dict, start: str, **window) -> dict:
    """A copy of a loaded config with another window ``start`` (and optionally other [window] keys)."""
    new = copy.deepcopy(cfg)
    new["window"]["start"] = str(start)
    new["window"].update(window)
    try:
        np.datetime64(str(start), "ns")
    except ValueError:
        raise ConfigError(f"{cfg['_path']}: window start {start!r} is not an ISO date-time") from None
    return new


def data_path(name, cfg) -> Path:
    """Path of a data file named in a config: absolute, or under $JLSM_DATA_DIR, or beside the config."""
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


# --------------------------------------------------------------------------
# data


def read_data(cfg):
    """(forcing dataset, observation dataset) of the whole window incl. spin-up, gap-filled."""
    from . import io

    d = cfg["data"]
    m = cfg.get("model", {})
    fmt = d["format"]
    forcing_path = data_path(d["forcing"], cfg)
    fluxes = data_path(d["fluxes"], cfg) if d.get("fluxes") else None
    qc = d.get("qc_max", 0)
    eps = float(m.get("emissivity", 0.95))
    if fmt == "urban-plumber":
        forcing, obs = io.read_urban_plumber(forcing_path, qc_max=qc, emissivity=eps)
    elif fmt == "plumber2":
        forcing, obs = io.read_plumber2(forcing_path, fluxes, qc_max=qc, utc_offset_hours=d.get("utc_offset_hours"), emissivity=eps)
    else:
        forcing, obs = io.read_fluxnet_csv(forcing_path, fluxes, utc_offset_hours=d.get("utc_offset_hours"), emissivity=eps)
    if d.get("hourly", False):
        forcing, obs = io.to_hourly(forcing), io.to_hourly(obs)
    w = cfg["window"]
    spin = float(w.get("spinup_hours", 0))
    total = spin + float(w["fit_hours"]) + float(w.get("test_hours", 0))
    start = np.datetime64(str(w["start"]), "ns") - np.timedelta64(int(round(spin * 3600)), "s")
    off = d.get("utc_offset_hours")
    forcing = io.select_window(forcing, start, total, utc_offset_hours=off, name=str(forcing_path))
    obs = io.select_window(obs, start, total, utc_offset_hours=off, name=str(fluxes or forcing_path))
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
    io.check_forcing(forcing, source=str(forcing_path))
    return forcing, obs


def _radiometric_temperature(obs, forcing, emissivity, absorb_all):
    """Ts [K] with LWup = eps sigma Ts^4 + (1 - a_lw) LWdown, a_lw = 1 or eps, as the model computes LWup."""
    import xarray as xr

    from .io import SIGMA

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


# --------------------------------------------------------------------------
# the problem


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
        if np.isnan(top_temperature).any():
            i = int(np.flatnonzero(np.isnan(top_temperature))[0])
            raise ObservationError(
                f"{_source(obs_ds)}: prescribed top temperature {m['top_temperature']!r} is missing at "
                f"{np.datetime64(obs_ds['time'].values[i], 's')} UTC ({int(np.isnan(top_temperature).sum())} values); "
                "pick a gap-free window"
            )
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

    w = cfg["window"]
    dt_h = forcing.dt / 3600.0
    spin = int(round(float(w.get("spinup_hours", 0)) / dt_h))
    n_fit = int(round(float(w["fit_hours"]) / dt_h))
    fit = (spin, spin + n_fit)
    validate = (fit[1], forcing.n_times) if forcing.n_times > fit[1] else None

    o = cfg["observations"]
    data = {}
    for observable, spec in o["variables"].items():
        series = _series(obs_ds, spec, cfg)
        if not np.isfinite(series[fit[0] : fit[1]]).any():
            raise ObservationError(
                f"{_source(obs_ds)}: fitted variable {spec!r} has no valid value in the fit window "
                f"{_times(obs_ds, fit)}; pick another window"
            )
        data[_model_name(observable, origin)] = series
    errors = o.get("errors")
    if isinstance(errors, dict):
        errors = {_model_name(k, origin): v for k, v in errors.items()}
    observations = Observations.from_dict(data, errors=errors, weighting=o.get("weighting", "variance"))

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
    if initial == "bottom":
        initial = None
    elif initial == "observed":
        initial = _observed_profile(cfg, obs_ds, grid, origin, top_temperature)
    else:
        initial = float(initial)
    return model, forcing, observations, space, initial, fit, validate


def _observed_profile(cfg, obs_ds, grid, origin, top_temperature):
    """Initial profile [K] on the grid from the observed soil temperatures at the first time."""
    if "SoilTemp" not in obs_ds:
        raise DataFileError(f"{_source(obs_ds)}: [model] initial = 'observed' in {cfg['_path']} needs SoilTemp in the data")
    da = obs_ds["SoilTemp"]
    dim = [d for d in da.dims if d != "time"][0]
    z = np.asarray(da[dim].values, dtype=float) - origin
    t0 = np.asarray(da.isel(time=0).values, dtype=float)
    keep = (z >= -1e-9) & np.isfinite(t0)
    z, t0 = z[keep], t0[keep]
    if top_temperature is not None:
        z, t0 = np.concatenate([[0.0], z]), np.concatenate([[top_temperature[0]], t0])
    if t0.size == 0:
        raise ObservationError(
            f"{_source(obs_ds)}: no soil temperature at or below {origin} m at "
            f"{np.datetime64(obs_ds['time'].values[0], 's')} UTC for [model] initial = 'observed'"
        )
    order = np.argsort(z)
    return np.interp(grid.z, z[order], t0[order])


def observed_albedo(forcing_ds, obs_ds, fit, cfg) -> float:
    """Median SWup / SWdown over the fit window where SWdown > 200 W m-2."""
    if "SWup" not in obs_ds:
        raise DataFileError(f"{_source(obs_ds)}: albedo = 'observed' in {cfg['_path']} needs SWup in the data")
    sw_in = forcing_ds["SWdown"].values[fit[0] : fit[1]]
    sw_up = obs_ds["SWup"].values[fit[0] : fit[1]]
    ok = (sw_in > 200) & np.isfinite(sw_up)
    if ok.sum() < 3:
        raise ObservationError(
            f"{_source(obs_ds)}: fewer than 3 daytime SWup values in the fit window {_times(obs_ds, fit)} "
            "to estimate the albedo"
        )
    return float(np.median(sw_up[ok] / sw_in[ok]))


# --------------------------------------------------------------------------
# evaluation of fitted and evaluated-only variables


def evaluation_observations(cfg, obs_ds):
    """Observations of the fitted and the ``evaluate`` variables (fitted first, no duplicates).

    An evaluated-only variable without any valid value in the window is left out.
    """
    from .observe import Observations

    origin = float(cfg.get("model", {}).get("origin_depth", 0.0))
    o = cfg["observations"]
    data = {}
    for observable, spec in {**o["variables"], **o.get("evaluate", {})}.items():
        name = _model_name(observable, origin)
        if name not in data:
            series = _series(obs_ds, spec, cfg)
            if observable in o["variables"] or np.isfinite(series).any():
                data[name] = series
    return Observations.from_dict(data, weighting="equal")


def simulate_points(model, forcing, observations, space, initial, x):
    """Model counterparts (S, T, V) of ``observations`` for physical parameter vectors ``x`` (S, P)."""
    import jax.numpy as jnp

    from .inverse import Objective

    dtype = forcing.t_air.dtype
    init = None if initial is None else jnp.asarray(initial, dtype)
    problem = (model, forcing, observations, init)
    return np.asarray(_simulate_jit()(Objective(space), jnp.asarray(np.atleast_2d(x), dtype), problem))


_SIMULATE = []


def _simulate_jit():
    """One jitted, vmapped simulation function for the module (compiled code is reused)."""
    if not _SIMULATE:
        import equinox as eqx
        import jax

        @eqx.filter_jit
        def run(objective, xs, problem):
            return jax.vmap(lambda v: objective.simulated(v, problem, physical=True))(xs)

        _SIMULATE.append(run)
    return _SIMULATE[0]


def _metrics_array(sims, obs, windows):
    """(metrics (S, W, V, M), metric names) of :func:`jlsm.metrics.all_metrics`."""
    from .metrics import all_metrics

    names = list(all_metrics(np.zeros(2), np.ones(2)))
    out = np.full((sims.shape[0], len(windows), obs.shape[1], len(names)), np.nan)
    for s, sim in enumerate(sims):
        for w, (a, b) in enumerate(windows.values()):
            for v in range(obs.shape[1]):
                m = all_metrics(sim[a:b, v], obs[a:b, v])
                out[s, w, v] = [float(m[k]) for k in names]
    return out, names


def reference_vector(cfg, space) -> np.ndarray | None:
    """The ``[reference]`` values in the order of the space's free parameters, or None."""
    ref = cfg.get("reference")
    if not ref:
        return None
    return np.array([float(ref["values"][n]) for n in space.names])


def evaluate(cfg, result, model, forcing, space, initial, fit, validate, obs_ds):
    """Metrics of every start's estimate, and of the ``[reference]`` values, for fitted and evaluated variables.

    Returns an ``xarray.Dataset`` with ``evaluation`` (start, window, evaluated, metric) and,
    with a ``[reference]`` section, ``reference_evaluation`` (window, evaluated, metric);
    windows ``fit`` and ``validation`` (the test window); the metrics of
    :func:`jlsm.metrics.all_metrics` (same ``metric`` coordinate as ``metric_value``).
    """
    import xarray as xr

    obs = evaluation_observations(cfg, obs_ds)
    x = result["final"].values[:, : space.size]
    sims = simulate_points(model, forcing, obs, space, initial, x)
    values = np.asarray(obs.values)
    windows = {"fit": fit}
    if validate:
        windows["validation"] = validate
    metrics, names = _metrics_array(sims, values, windows)
    ds = xr.Dataset(
        {"evaluation": (("start", "window", "evaluated", "metric"), metrics)},
        coords={"window": list(windows), "evaluated": list(obs.names), "metric": names},
    )
    ds["evaluation"].attrs["long_name"] = "skill of each start's estimate on fitted and evaluated-only variables"
    ref = reference_vector(cfg, space)
    if ref is not None:
        rsim = simulate_points(model, forcing, obs, space, initial, ref[None])
        ds["reference_evaluation"] = (("window", "evaluated", "metric"), _metrics_array(rsim, values, windows)[0][0])
        name = cfg["reference"].get("name", "reference")
        ds["reference_evaluation"].attrs["long_name"] = f"skill of the reference parameters ({name})"
        ds.attrs["reference_name"] = name
        ds.attrs["reference_values"] = json.dumps(dict(zip(space.names, map(float, ref))))
    ds.attrs["evaluated_fitted"] = json.dumps([_model_name(k, float(cfg.get("model", {}).get("origin_depth", 0.0)))
                                               for k in cfg["observations"]["variables"]])
    return ds


# --------------------------------------------------------------------------
# running


@dataclasses.dataclass
class Run:
    """A config's problem and its inversion result (``result`` includes the evaluation)."""

    cfg: dict
    forcing_ds: object
    obs_ds: object
    model: object
    forcing: object
    observations: object
    space: object
    initial: object
    fit: tuple[int, int]
    validate: tuple[int, int] | None
    result: object

    @property
    def best(self) -> np.ndarray:
        """Physical values of the best start's free parameters (P,)."""
        return self.result["final"].sel(start=int(self.result["best_start"])).values[: self.space.size]

    def series(self, x=None) -> dict:
        """Observed and simulated series of the fitted and evaluated variables.

        Returns ``{"time", "observed": {name: (T,)}, "best": {...}, "reference": {...} or None}``;
        ``x`` (P,) physical values replace the best estimate.
        """
        obs = evaluation_observations(self.cfg, self.obs_ds)
        names = list(obs.names)
        points = [self.best if x is None else np.asarray(x, float)]
        ref = reference_vector(self.cfg, self.space)
        if ref is not None:
            points.append(ref)
        sims = simulate_points(self.model, self.forcing, obs, self.space, self.initial, np.stack(points))
        values = np.asarray(obs.values)
        return {
            "time": self.forcing_ds["time"].values,
            "observed": {n: values[:, i] for i, n in enumerate(names)},
            "best": {n: sims[0, :, i] for i, n in enumerate(names)},
            "reference": {n: sims[1, :, i] for i, n in enumerate(names)} if ref is not None else None,
        }


def run_problem(cfg, *, starts=None, polish=None, progress=False, checkpoint=None, resume=False) -> Run:
    """Read the data of a config (path or loaded dict), invert and evaluate; returns a :class:`Run`.

    ``starts`` and ``polish`` override the config's ``[inversion]`` values;
    ``checkpoint``/``resume`` are passed to :func:`jlsm.inverse.invert`.
    """
    from .inverse import invert

    if not isinstance(cfg, dict):
        cfg = load_config(cfg)
    forcing_ds, obs_ds = read_data(cfg)
    model, forcing, observations, space, initial, fit, validate = build_problem(cfg, forcing_ds, obs_ds)
    inv = cfg.get("inversion", {})
    result = invert(
        model,
        forcing,
        observations,
        space,
        starts=int(starts if starts is not None else inv.get("starts", 20)),
        seed=int(inv.get("seed", 0)),
        sampler=inv.get("sampler", "sobol"),
        initial=initial,
        fit=fit,
        validate=validate,
        steps=int(inv.get("steps", 0)),
        learning_rate=float(inv.get("learning_rate", 0.05)),
        polish=int(polish if polish is not None else inv.get("polish", 40)),
        polish_method=inv.get("polish_method", "gauss-newton"),
        chunk=int(inv.get("chunk", 50)),
        progress=progress,
        time=forcing_ds["time"].values,
        checkpoint=checkpoint,
        resume=resume,
    )
    ev = evaluate(cfg, result, model, forcing, space, initial, fit, validate, obs_ds)
    attrs = {**result.attrs, **ev.attrs}
    result = result.merge(ev, join="exact")
    result.attrs = attrs
    result.attrs["fixed_values"] = json.dumps({k: float(v) for k, v in space.fixed.items()})
    result.attrs["window_start_local"] = str(cfg["window"]["start"])
    run = Run(cfg, forcing_ds, obs_ds, model, forcing, observations, space, initial, fit, validate, result)
    if inv.get("offset_profile", False):
        prof = offset_profile(run)
        result.attrs["offset_profile_estimate"] = prof["estimate"]
        result.attrs["offset_profile_offsets"] = json.dumps(prof["offsets"])
    return run


def _good_starts(result) -> np.ndarray:
    status = result["status"].values
    good = status == 1
    if not good.any():
        good = status != 2
    return good


def summarise(run: Run) -> dict:
    """A JSON-ready summary: estimates (best, median, p05, p95 over converged starts, bound hits),
    skill of the best start and its spread over converged starts, the reference's skill."""
    from .inverse import status_counts

    r = run.result
    best = int(r["best_start"])
    good = _good_starts(r)
    lower, upper = run.space.lower, run.space.upper
    estimates = {}
    for i, p in enumerate(r["parameter"].values):
        entry = {
            "best": float(r["final"].sel(start=best, parameter=p)),
            "median": float(r["median"].sel(parameter=p)),
            "p05": float(r["p05"].sel(parameter=p)),
            "p95": float(r["p95"].sel(parameter=p)),
            "units": str(r["units"].sel(parameter=p).values),
        }
        if i < run.space.size:
            span = upper[i] - lower[i]
            entry["at_bound"] = bool(min(entry["best"] - lower[i], upper[i] - entry["best"]) < 1e-3 * span)
        estimates[str(p)] = entry

    def table(da):
        return {
            str(w): {str(v): {str(k): float(da.sel(window=w, evaluated=v, metric=k)) for k in da["metric"].values}
                     for v in da["evaluated"].values}
            for w in da["window"].values
        }

    ev = r["evaluation"]
    spread = {}
    for w in ev["window"].values:
        spread[str(w)] = {}
        for v in ev["evaluated"].values:
            vals = ev.sel(window=w, evaluated=v, metric="rmse").values[good]
            spread[str(w)][str(v)] = {"rmse_p05": float(np.nanpercentile(vals, 5)), "rmse_p95": float(np.nanpercentile(vals, 95))}
    out = {
        "config": run.cfg["_path"],
        "window_start_local": str(run.cfg["window"]["start"]),
        "fit_window_utc": _times(run.obs_ds, run.fit),
        "test_window_utc": _times(run.obs_ds, run.validate) if run.validate else None,
        "fixed": {k: float(v) for k, v in run.space.fixed.items()},
        "estimates": estimates,
        "skill": table(ev.sel(start=best)),
        "skill_spread": spread,
        "status": status_counts(r),
        "final_loss": float(r["final_loss"].sel(start=best)),
        "wall_seconds": float(r.attrs.get("wall_seconds", np.nan)),
    }
    if "offset_profile_estimate" in r.attrs:
        out["offset_profile"] = {
            "parameter": str(run.space.names[0]),
            "estimate": float(r.attrs["offset_profile_estimate"]),
            "offsets": json.loads(r.attrs["offset_profile_offsets"]),
        }
    if "reference_evaluation" in r:
        out["reference"] = {
            "name": r.attrs.get("reference_name"),
            "values": json.loads(r.attrs["reference_values"]),
            "skill": table(r["reference_evaluation"]),
        }
    return out


def run_config(path, *, out=None, json_path=None, progress=True, starts=None, checkpoint=None, resume=False) -> int:
    """Run the inversion of a config file; write NetCDF, a metrics table, figures and a JSON summary.

    ``starts`` overrides the config's number of starts; ``checkpoint`` is a
    folder to save the optimiser state in, ``resume`` continues from it.
    """
    from .inverse import status_counts

    t0 = time.perf_counter()
    cfg = load_config(path)
    run = run_problem(cfg, progress=progress, starts=starts, checkpoint=checkpoint, resume=resume)
    result = run.result
    outdir = Path(out or cfg.get("output", {}).get("dir", "results"))
    outdir.mkdir(parents=True, exist_ok=True)
    name = cfg.get("output", {}).get("name", Path(path).stem)
    result.attrs["config"] = config_text(cfg)
    nc = outdir / f"{name}.nc"
    result.to_netcdf(nc)
    print(report(run))
    print(f"starts: {status_counts(result)}; {result.attrs['wall_seconds']:.1f} s; results: {nc}")
    figures(run, outdir / name)
    if json_path:
        summary = summarise(run)
        summary["wall_seconds"] = time.perf_counter() - t0
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps(summary, indent=2))
    return 0


def report(run: Run) -> str:
    """A text table of the estimates and of the skill of the best start (and of the reference)."""
    result, space = run.result, run.space
    best = int(result["best_start"])
    lines = [f"fixed: {json.dumps({k: float(v) for k, v in space.fixed.items()})}"]
    lines.append(f"{'parameter':<20}{'best':>14}{'median':>14}{'p05':>14}{'p95':>14}{'units':>12}")
    summary = summarise(run)
    for p, e in summary["estimates"].items():
        flag = "  (at a bound)" if e.get("at_bound") else ""
        lines.append(f"{p:<20}{e['best']:>14.6g}{e['median']:>14.6g}{e['p05']:>14.6g}{e['p95']:>14.6g}{e['units']:>12}{flag}")
    if "offset_profile" in summary:
        op = summary["offset_profile"]
        lines.append(
            f"{op['parameter']} with one offset per fitted variable (profile): {op['estimate']:.6g}; offsets (obs - model): "
            + ", ".join(f"{k} {v:+.3g}" for k, v in op["offsets"].items())
        )
    lines.append("")
    ref = summary.get("reference")
    head = f"skill of the best start ({best})" + (f" | reference: {ref['name']}" if ref else "")
    lines.append(head + ":")
    cols = ("rmse", "bias", "kge")
    lines.append(
        f"{'window':<12}{'variable':<26}" + "".join(f"{k:>10}" for k in cols)
        + ("".join(f"{'ref ' + k:>10}" for k in cols) if ref else "")
    )
    fitted = set(json.loads(result.attrs["evaluated_fitted"]))
    for w, per_var in summary["skill"].items():
        for v, m in per_var.items():
            tag = v if v in fitted else f"{v} (eval)"
            row = f"{w:<12}{tag:<26}" + "".join(f"{m[k]:>10.4g}" for k in cols)
            if ref:
                row += "".join(f"{ref['skill'][w][v][k]:>10.4g}" for k in cols)
            lines.append(row)
    return "\n".join(lines)


def figures(run: Run, stem) -> list[str]:
    """Observed vs modelled series (fit | test, with the reference) and the estimates/loss figure."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return []
    from .plot import estimates_figure, timeseries_figure

    s = run.series()
    t = s["time"]
    split = t[run.fit[1] - 1] if run.validate else None
    start = t[run.fit[0]]
    keep = t >= start

    def cut(d):
        return None if d is None else {k: v[keep] for k, v in d.items()}

    fig = timeseries_figure(
        t[keep],
        cut(s["observed"]),
        cut(s["best"]),
        split=split,
        reference=cut(s["reference"]),
        reference_label=run.cfg.get("reference", {}).get("name", "reference"),
        title="best estimate: fit window | test window",
    )
    paths = [f"{stem}_timeseries.png", f"{stem}_estimates.png"]
    fig.axes[-1].set_xlabel("time (UTC)")
    fig.savefig(paths[0], dpi=110)
    estimates_figure(run.result).savefig(paths[1], dpi=110)
    import matplotlib.pyplot as plt

    plt.close("all")
    return paths


# --------------------------------------------------------------------------
# several windows


def first_complete_start(cfg, first, last, *, step_hours: float = 24.0, min_coverage: float = 0.9) -> str | None:
    """The first window start (local time, every ``step_hours`` from ``first`` to ``last``) whose forcing is
    complete (after the allowed gap filling) and whose fitted variables are observed at least
    ``min_coverage`` of the time in both the fit and the test window; None if there is none."""
    t = np.datetime64(str(first), "m")
    stop = np.datetime64(str(last), "m")
    while t <= stop:
        c = with_window(cfg, str(t))
        try:
            forcing_ds, obs_ds = read_data(c)
            model, forcing, observations, space, initial, fit, validate = build_problem(c, forcing_ds, obs_ds)
        except JlsmError:
            t = t + np.timedelta64(int(step_hours * 60), "m")
            continue
        values = np.asarray(observations.values)
        ok = all(
            np.isfinite(values[a:b]).mean(axis=0).min() >= min_coverage for a, b in [fit] + ([validate] if validate else [])
        )
        if ok:
            return str(t)
        t = t + np.timedelta64(int(step_hours * 60), "m")
    return None


def run_windows(cfg, starts, *, n_starts=None, polish=None, progress=False) -> list[dict]:
    """Run a config (path or loaded dict) for several window starts (local time); one :func:`summarise` dict each."""
    if not isinstance(cfg, dict):
        cfg = load_config(cfg)
    rows = []
    for s in starts:
        run = run_problem(with_window(cfg, s), starts=n_starts, polish=polish, progress=progress)
        rows.append(summarise(run))
    return rows


def offset_profile(run: Run, n: int = 81, *, refine: int = 3) -> dict:
    """The single free parameter estimated with a constant offset per fitted variable as nuisance.

    For a space with one free parameter (e.g. the diffusivity), the misfit with each
    variable's fit-window mean residual removed (the offsets that minimise it for that
    parameter value) is evaluated on ``n`` points spread over the bounds (log-spaced for
    log transforms), then on finer grids around the minimum (``refine`` times). This is
    the exact profile over the offsets, insensitive to sensor calibration offsets and to
    errors of the time-mean profile.

    Returns ``{"parameter", "estimate", "grid", "misfit", "offsets" {variable: K or W m-2}}``.
    """
    from .errors import ParameterError

    if run.space.size != 1:
        raise ParameterError(f"offset_profile: needs exactly one free parameter, got {list(run.space.names)}")
    p = run.space.parameters[0]
    lo, hi = p.bounds
    log = p.transform in ("log-sigmoid", "log") and lo > 0
    obs = np.asarray(run.observations.values)
    a, b = run.fit
    scale = np.asarray(run.observations.scale)

    def misfit(grid):
        sims = simulate_points(run.model, run.forcing, run.observations, run.space, run.initial, grid[:, None])
        r = (sims - obs[None])[:, a:b]
        off = np.nanmean(r, axis=1, keepdims=True)
        return np.nanmean(np.nanmean(((r - off) / scale) ** 2, axis=1), axis=1), off[:, 0]

    space = (lambda u, v, k: np.geomspace(u, v, k)) if log else (lambda u, v, k: np.linspace(u, v, k))
    grid = space(lo, hi, n)
    values, offsets = misfit(grid)
    all_grid, all_values = [grid], [values]
    for _ in range(refine):
        i = int(np.nanargmin(values))
        grid = space(grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)], 21)
        values, offsets = misfit(grid)
        all_grid.append(grid)
        all_values.append(values)
    i = int(np.nanargmin(values))
    g = np.concatenate(all_grid)
    order = np.argsort(g)
    return {
        "parameter": p.name,
        "estimate": float(grid[i]),
        "grid": g[order],
        "misfit": np.concatenate(all_values)[order],
        "offsets": {name: float(-offsets[i][j]) for j, name in enumerate(run.observations.names)},
    }
