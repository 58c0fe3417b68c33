"""Skill of estimates and of the reference parameters on fitted and evaluated-only variables."""

from __future__ import annotations

import json

import numpy as np

from .data import _model_name, _series


def evaluation_observations(cfg, obs_ds):
    """Observations of the fitted and the ``evaluate`` variables (fitted first, no duplicates).

    An evaluated-only variable without any valid value in the window is left out.
    """
    from ..observe import Observations

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

    from ..inverse import Objective

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
    from ..metrics import all_metrics

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
