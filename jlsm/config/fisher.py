"""The Fisher analysis of a config's problem at one point (``jlsm identify CONFIG.toml``).

:func:`fisher_at` runs :func:`jlsm.identify.local_analysis` for the site,
window, observed variables and free parameters of a config, at given physical
values (the best estimate of an inversion, or values named by the user). The
observation error of each variable is, in this order: the config's
``[observations] errors``, the ``errors`` argument, or the root-mean-square
residual of the model at the analysis point over the fit window (the
maximum-likelihood estimate of a constant error, Seber and Wild 1989,
Nonlinear Regression, sec. 2.2.1), which makes the Cramer-Rao bounds those of
the fit that was actually achieved.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError, ObservationError


def best_estimate(result, names, source: str) -> dict:
    """Physical values of the best start of a result dataset, for the free parameters ``names``."""
    have = [str(p) for p in result["parameter"].values]
    missing = [n for n in names if n not in have]
    if missing:
        raise InputError(f"{source}: the result has no estimate of {missing} (it has {have}); "
                         "was it made with this config?")
    best = int(result["best_start"])
    return {n: float(result["final"].sel(start=best, parameter=n)) for n in names}


def parse_values(items, names, where: str) -> dict:
    """``["name=value", ...]`` to a dict of floats, names checked against ``names`` (the free parameters)."""
    out = {}
    for item in items or []:
        name, sep, value = str(item).partition("=")
        name = name.strip()
        if not sep or not name:
            raise InputError(f"{where} {item!r}: expected name=value")
        if name not in names:
            raise InputError(f"{where} {item!r}: {name!r} is not a free parameter of the config (free: {', '.join(names)})")
        try:
            out[name] = float(value)
        except ValueError:
            raise InputError(f"{where} {item!r}: {value!r} is not a number") from None
        if not np.isfinite(out[name]):
            raise InputError(f"{where} {item!r}: the value must be finite")
    return out


def fisher_at(cfg, values: dict, *, errors=None, data=None):
    """Local identifiability of a config's free parameters at ``values`` (name -> physical value).

    Args:
        cfg: a loaded config (:func:`jlsm.config.load_config`).
        values: a physical value for every free parameter.
        errors: observation error std (one number for all variables, or name ->
            std, in each variable's units) used when the config gives none.
        data: the (forcing, observation) datasets of :func:`jlsm.config.read_data`, if already read.

    Returns:
        (analysis, info): the :func:`jlsm.identify.local_analysis` dataset and a
        dict with ``noise`` (name -> std), ``noise_source``, ``fit_window`` (text),
        ``n_observations`` and ``units`` (variable -> units).
    """
    from ..identify import local_analysis
    from .data import _times, read_data
    from .evaluation import simulate_points
    from .problem import build_problem

    forcing_ds, obs_ds = read_data(cfg) if data is None else data
    model, forcing, observations, space, initial, fit, _ = build_problem(cfg, forcing_ds, obs_ds)
    names = list(space.names)
    missing = [n for n in names if n not in values]
    if missing:
        raise InputError(f"{cfg['_path']}: no value for the free parameter(s) {missing}; give name=value for each of {names}")
    x = np.array([float(values[n]) for n in names])
    obs = np.asarray(observations.values, dtype=float)
    mask = np.isfinite(obs)
    mask[: fit[0]] = False
    mask[fit[1]:] = False
    if not mask.any():
        raise ObservationError(f"{cfg['_path']}: no observed value in the fit window {_times(obs_ds, fit)}")
    variables = list(observations.names)
    units = {o.name: o.units for o in observations.observables}
    config_errors = cfg["observations"].get("errors")
    if config_errors is not None:
        noise, source = config_errors, "[observations] errors of the config"
        if isinstance(noise, dict):
            from .data import _model_name

            origin = float(cfg.get("model", {}).get("origin_depth", 0.0))
            noise = {_model_name(k, origin): v for k, v in noise.items()}
    elif errors is not None:
        noise, source = errors, "given"
    else:
        sim = simulate_points(model, forcing, observations, space, initial, x[None])[0]
        resid = np.where(mask, sim - np.nan_to_num(obs), np.nan)
        rms = np.sqrt(np.nanmean(resid**2, axis=0))
        if not np.all(np.isfinite(rms) & (rms > 0)):
            raise ObservationError(
                f"{cfg['_path']}: the residual of {[v for v, r in zip(variables, rms) if not (np.isfinite(r) and r > 0)]} "
                "at the analysis point is zero or undefined; give the observation error (--error)"
            )
        noise, source = dict(zip(variables, map(float, rms))), "root-mean-square residual at the point (fit window)"
    analysis = local_analysis(
        model, forcing, space, x, variables, noise=noise, initial=initial, mask=mask
    )
    info = {
        "noise": {str(v): float(s) for v, s in zip(analysis["variable"].values, analysis["noise"].values)},
        "noise_source": source,
        "fit_window": _times(obs_ds, fit),
        "n_observations": int(mask.sum()),
        "units": units,
    }
    analysis.attrs.update({"config": cfg["_path"], "noise_source": source, "fit_window_utc": info["fit_window"]})
    return analysis, info
