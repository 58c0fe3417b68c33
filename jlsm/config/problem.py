"""Building the inversion problem of a config: model, forcing, observations, parameter space, windows."""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError, DataFileError, ObservationError
from .data import _model_name, _series, _source, _times


def build_problem(cfg, forcing_ds, obs_ds):
    """(model, forcing, observations, space, initial, fit, validate) from a config and its data."""
    from ..forcing import Forcing
    from ..grid import SoilGrid
    from ..model import LandSurfaceModel
    from ..observe import Observations
    from ..params import ParameterSpace
    from ..physics import BowenRatioExchange, Radiation, SoilThermal, TridiagonalSolver

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
