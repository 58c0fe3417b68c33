"""Per-site calibration objectives for sensible (Qh) and latent (Qle) heat.

Every objective takes, for one site, simulated and observed fluxes ``sim``
and ``obs`` of shape (T, V) [W m-2] (V variables, e.g. Qh and Qle) and a
window mask (T,) or (T, V) (True = the step belongs to the fit window). A
step enters variable v's term only where the mask is True *and* ``obs`` is
finite (measured); padded steps of a site batch carry mask False. All
objectives are pure ``jax.numpy`` functions of one site: ``jax.vmap`` them
over sites and starts. Missing observations are masked with the
double-``where`` pattern, so they give neither a NaN value nor a NaN
gradient; a NaN *simulation* at a measured step propagates to a NaN loss
(a diverged start is detected, never hidden).

Objectives (``OBJECTIVES``):

* ``"mdpl"`` (default): sum over variables of RMSE_v [W m-2], the
  RMSE(Qh) + RMSE(Qle) of Xie, Li & Yoshimura (2025, HESS discussions,
  egusphere-2025-3301, their calibration objective);
* ``"normalised"``: sum of RMSE_v / std(obs_v) [-] over the measured fit
  steps, so that each flux weighs by its own variability;
* ``"kge"``: sum of (1 - KGE_v) [-], Kling-Gupta efficiency
  (Gupta et al. 2009, J. Hydrol. 377, eq. 9);
* ``"wls"``: weighted least squares, sum of mean((sim - obs)^2 / sigma^2) [-]
  with flux uncertainties ``sigma`` [W m-2] of shape (V,), (T, V) or scalar
  (e.g. a random-error model such as Richardson et al. 2006, sigma = a + b |F|).
"""

from __future__ import annotations

from collections.abc import Callable

import jax.numpy as jnp

from jlsm.errors import InputError

__all__ = [
    "OBJECTIVES",
    "masked_moments",
    "masked_rmse",
    "masked_kge",
    "mdpl",
    "normalised",
    "kge_loss",
    "wls",
    "get_objective",
    "valid_mask",
]


def valid_mask(obs, mask):
    """Boolean (T, V): inside the window and measured."""
    obs = jnp.asarray(obs)
    mask = jnp.asarray(mask, bool)
    if mask.ndim == obs.ndim - 1:
        mask = mask[..., None]
    return mask & jnp.isfinite(obs)


def _safe_sqrt(x):
    pos = x > 0
    return jnp.where(pos, jnp.sqrt(jnp.where(pos, x, 1.0)), 0.0 * x)


def _safe_div(num, den):
    ok = den != 0
    return jnp.where(ok, num / jnp.where(ok, den, 1.0), jnp.nan)


def _pairs(sim, obs, mask):
    """(sim0, obs0, valid, n_safe) with unmeasured pairs set to zero (double where)."""
    sim = jnp.asarray(sim)
    obs = jnp.asarray(obs)
    if sim.shape != obs.shape:
        raise InputError(f"calibration objective: sim has shape {sim.shape} but obs has shape {obs.shape}")
    valid = valid_mask(obs, mask)
    o0 = jnp.where(valid, obs, 0.0)
    s0 = jnp.where(valid, sim, 0.0)  # a NaN sim at a valid step stays NaN
    n = jnp.sum(valid, axis=0)
    return s0, o0, valid, n, jnp.maximum(n, 1)


def masked_moments(sim, obs, mask):
    """Per variable (V,): n, mean sim, mean obs, sum sq. anomalies of sim and obs, cross sum."""
    s0, o0, valid, n, ns = _pairs(sim, obs, mask)
    ms = jnp.sum(s0, axis=0) / ns
    mo = jnp.sum(o0, axis=0) / ns
    ds = jnp.where(valid, s0 - ms, 0.0)
    do = jnp.where(valid, o0 - mo, 0.0)
    return n, ms, mo, jnp.sum(ds**2, axis=0), jnp.sum(do**2, axis=0), jnp.sum(ds * do, axis=0)


def masked_rmse(sim, obs, mask):
    """RMSE per variable (V,) [units of the data] over the valid steps; 0 where none is valid."""
    s0, o0, valid, n, ns = _pairs(sim, obs, mask)
    return _safe_sqrt(jnp.sum((s0 - o0) ** 2, axis=0) / ns)


def masked_kge(sim, obs, mask):
    """KGE per variable (V,) (Gupta et al. 2009): 1 - sqrt((r-1)^2 + (alpha-1)^2 + (beta-1)^2).

    NaN where it is undefined (no valid step, constant series, zero observed mean).
    """
    n, ms, mo, vs, vo, cov = masked_moments(sim, obs, mask)
    r = _safe_div(cov, _safe_sqrt(vs * vo))
    alpha = _safe_div(_safe_sqrt(vs), _safe_sqrt(vo))
    beta = _safe_div(ms, mo)
    ed2 = (r - 1.0) ** 2 + (alpha - 1.0) ** 2 + (beta - 1.0) ** 2
    return jnp.where(n > 0, 1.0 - _safe_sqrt(ed2), jnp.nan)


def mdpl(sim, obs, mask, sigma=None):
    """MdPL objective: sum over variables of RMSE [W m-2] (Xie et al. 2025)."""
    del sigma
    return jnp.sum(masked_rmse(sim, obs, mask))


def normalised(sim, obs, mask, sigma=None):
    """Sum over variables of RMSE_v / std(obs_v) [-] over the measured fit steps."""
    del sigma
    n, _, _, _, vo, _ = masked_moments(sim, obs, mask)
    std = _safe_sqrt(vo / jnp.maximum(n, 1))
    return jnp.sum(_safe_div(masked_rmse(sim, obs, mask), std))


def kge_loss(sim, obs, mask, sigma=None):
    """Sum over variables of (1 - KGE_v) [-] (Gupta et al. 2009)."""
    del sigma
    return jnp.sum(1.0 - masked_kge(sim, obs, mask))


def wls(sim, obs, mask, sigma=None):
    """Weighted least squares [-]: sum_v mean_t ((sim - obs) / sigma)^2 over valid steps.

    ``sigma`` [W m-2]: scalar, (V,) or (T, V) flux uncertainties (required, > 0).
    """
    if sigma is None:
        raise InputError("calibration objective 'wls': flux uncertainties sigma [W m-2] are required")
    s0, o0, valid, n, ns = _pairs(sim, obs, mask)
    sig = jnp.broadcast_to(jnp.asarray(sigma, s0.dtype), s0.shape)
    sig = jnp.where(valid, sig, 1.0)
    r = jnp.where(valid, (s0 - o0) / sig, 0.0)
    return jnp.sum(jnp.sum(r**2, axis=0) / ns)


OBJECTIVES: dict[str, Callable] = {"mdpl": mdpl, "normalised": normalised, "kge": kge_loss, "wls": wls}
"""Objective name -> function ``f(sim (T, V), obs (T, V), mask, sigma=None) -> scalar``."""


def get_objective(name: str | Callable) -> Callable:
    """The objective function of ``name`` (or ``name`` itself if callable)."""
    if callable(name):
        return name
    try:
        return OBJECTIVES[name]
    except KeyError:
        raise InputError(f"calibration: objective must be one of {sorted(OBJECTIVES)}, got {name!r}") from None
