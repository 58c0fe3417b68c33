"""NaN-aware misfit between simulated and observed series.

    J = (1 / V) sum_v  mean_{t observed} ((sim_vt - obs_vt) / sigma_v)^2

Missing observations (NaN) are masked with the double-where pattern, so they
never produce a NaN value or gradient.
"""

from __future__ import annotations

import jax.numpy as jnp


def residuals(simulated, observed, scale):
    """Scaled residuals (sim - obs) / sigma, zero where ``observed`` is NaN; shape (T, V)."""
    mask = jnp.isfinite(observed)
    safe_obs = jnp.where(mask, observed, 0.0)
    safe_sim = jnp.where(mask, simulated, 0.0)
    return jnp.where(mask, (safe_sim - safe_obs) / scale, 0.0), mask


def misfit(simulated, observed, scale):
    """Weighted mean squared misfit J [-] (dimensionless: residuals are divided by ``scale``).

    Args:
        simulated: model values, shape (T, V).
        observed: observations, shape (T, V), NaN = missing.
        scale: error scale per variable, shape (V,).
    """
    r, mask = residuals(simulated, observed, scale)
    count = jnp.sum(mask, axis=0)
    per_variable = jnp.sum(r**2, axis=0) / jnp.maximum(count, 1)
    return jnp.mean(per_variable)
