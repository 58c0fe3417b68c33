"""How faithful a surrogate is to the model: fluxes and gradients.

* :func:`flux_fidelity`: Pearson R, RMSE and bias [W m-2] of surrogate
  against model fluxes on parameter sets not used in training (MdPL reports
  R > 0.97 on jointly perturbed sets; Xie et al. 2025, egusphere-2025-3301),
  half-hourly (every step) and daily means, pooled over runs.
* :func:`gradient_accuracy`: the gradient of a loss with respect to the
  parameters, surrogate against model, since calibration follows the
  gradient: cosine similarity and relative error ||g_s - g_m|| / ||g_m||.
  Gradients are taken with respect to the parameters scaled to their range,
  x = (theta - lo) / (hi - lo), so every parameter weighs by its range
  rather than its units.
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from jlsm.errors import InputError
from jlsm.metrics import bias, daily_mean, pearson_r, rmse

from .calibrate import rmse_objective
from .data import check_bounds

__all__ = ["OUTPUT_NAMES", "flux_fidelity", "gradient_accuracy"]

OUTPUT_NAMES = ("Qh", "Qle")


def _scores(s, m):
    return {"r": float(pearson_r(s, m)), "rmse": float(rmse(s, m)), "bias": float(bias(s, m))}


def flux_fidelity(surrogate_fluxes, model_fluxes, time=None, names=OUTPUT_NAMES) -> dict:
    """R, RMSE [W m-2] and bias (surrogate - model) [W m-2] per output, pooled over runs.

    Args:
        surrogate_fluxes, model_fluxes: (R, T, n_out) or (T, n_out).
        time: (T,) datetime64; when given, daily means are scored too.
    Returns:
        ``{"half_hourly": {name: {"r", "rmse", "bias"}}, "daily": {...}}`` (daily only with ``time``).
    """
    s = np.asarray(surrogate_fluxes, dtype=float)
    m = np.asarray(model_fluxes, dtype=float)
    if s.shape != m.shape:
        raise InputError(f"flux_fidelity: surrogate fluxes {s.shape} and model fluxes {m.shape} differ in shape")
    if s.ndim == 2:
        s, m = s[None], m[None]
    if s.shape[-1] != len(names):
        raise InputError(f"flux_fidelity: {s.shape[-1]} outputs but names {names}")
    out = {"half_hourly": {n: _scores(s[..., j].ravel(), m[..., j].ravel()) for j, n in enumerate(names)}}
    if time is not None:
        # (T, R, n_out) -> daily means per run
        _, ds = daily_mean(np.moveaxis(s, 1, 0), time)
        _, dm = daily_mean(np.moveaxis(m, 1, 0), time)
        out["daily"] = {n: _scores(ds[..., j].ravel(), dm[..., j].ravel()) for j, n in enumerate(names)}
    return out


def gradient_accuracy(
    surrogate_sim: Callable,
    model_sim: Callable,
    thetas,
    surrogate_inputs,
    model_inputs,
    observations,
    bounds,
    *,
    objective: Callable = rmse_objective,
) -> dict:
    """Gradients of ``objective(sim(theta, inputs), observations)`` at each row of ``thetas`` (R, P).

    Returns ``{"cosine": (R,), "relative_error": (R,), "grad_surrogate": (R, P),
    "grad_model": (R, P)}``, gradients with respect to range-scaled parameters
    [loss units per range].
    """
    b = jnp.asarray(check_bounds(bounds))
    lo, span = b[:, 0], b[:, 1] - b[:, 0]
    obs = jnp.asarray(observations)

    @eqx.filter_jit  # the simulator is an argument: a surrogate's arrays are traced, not baked in
    def grads(sim, inputs, x):
        def f(xi):
            return objective(sim(lo + span * xi, inputs), obs)

        return jax.vmap(jax.grad(f))(x)

    x = (jnp.asarray(thetas) - lo) / span
    gs = np.asarray(grads(surrogate_sim, surrogate_inputs, x.astype(_dtype(surrogate_inputs, x))), dtype=float)
    gm = np.asarray(grads(model_sim, model_inputs, x.astype(_dtype(model_inputs, x))), dtype=float)
    ns, nm = np.linalg.norm(gs, axis=1), np.linalg.norm(gm, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.sum(gs * gm, axis=1) / (ns * nm)
        rel = np.linalg.norm(gs - gm, axis=1) / nm
    return {"cosine": cos, "relative_error": rel, "grad_surrogate": gs, "grad_model": gm}


def _dtype(inputs, x):
    leaves = [l for l in jax.tree_util.tree_leaves(inputs) if hasattr(l, "dtype") and jnp.issubdtype(l.dtype, jnp.floating)]
    return leaves[0].dtype if leaves else x.dtype
