"""Per-site calibration through any differentiable simulator (a surrogate or the model).

Adam (Kingma and Ba 2015) on the unconstrained parameters of a
``jlsm.ParameterSpace``, from scrambled Sobol' starts, all starts in one
jitted computation (``vmap`` over starts, ``lax.scan`` over iterations).
The default objective is MdPL's RMSE(Qh) + RMSE(Qle) over observed steps
(Xie et al. 2025, egusphere-2025-3301), NaN-aware with the double-where
pattern of :mod:`jlsm.metrics`.

The simulator interface is ``simulate(theta (P,) physical, site_inputs) -> (T, 2)``
[W m-2] with any pytree ``site_inputs``; for a :class:`jlsm.surrogate.Surrogate`
pass ``surrogate.simulate`` with :class:`jlsm.surrogate.SiteInputs`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jlsm.errors import InputError
from jlsm.metrics import rmse

__all__ = ["CalibrationResult", "as_space", "calibrate", "calibrate_sites", "rmse_objective"]


def rmse_objective(sim, obs):
    """Sum over output columns of the NaN-aware RMSE [W m-2]: RMSE(Qh) + RMSE(Qle) for (T, 2)."""
    return sum(rmse(sim[:, j], obs[:, j]) for j in range(obs.shape[-1]))


def as_space(space_or_bounds, names=None):
    """A ``jlsm.ParameterSpace`` from one, or from bounds (P, 2) (sigmoid transforms, names p0, p1, ...)."""
    from jlsm.params import ParameterSpace

    if isinstance(space_or_bounds, ParameterSpace):
        return space_or_bounds
    b = np.asarray(space_or_bounds, dtype=float)
    if b.ndim != 2 or b.shape[1] != 2:
        raise InputError(f"calibrate: bounds must have shape (P, 2), got {b.shape}")
    names = names or [f"p{i}" for i in range(b.shape[0])]
    return ParameterSpace({n: (lo, hi) for n, (lo, hi) in zip(names, b)})


class CalibrationResult(NamedTuple):
    """Result of :func:`calibrate` (leading site axis for :func:`calibrate_sites`).

    Attributes:
        best: (P,) physical parameters of the start with the lowest final loss.
        params: (n_starts, P) final physical parameters of every start.
        loss: (n_starts,) final objective values.
        history: (steps, n_starts) objective at every iteration (before its update).
        best_start: index of the best start.
    """

    best: jax.Array
    params: jax.Array
    loss: jax.Array
    history: jax.Array
    best_start: jax.Array


@functools.lru_cache(maxsize=16)
def _compiled(space, objective, steps, learning_rate, sites: bool):
    """The jitted calibration ``run(simulate, u0s, inputs, obs)``, cached per settings.

    ``simulate`` is an argument of ``eqx.filter_jit``: a plain function is
    static (hashed by identity), a surrogate's bound method is a pytree whose
    arrays are traced, so a new surrogate or a repeated call does not recompile.
    """
    opt = optax.adam(learning_rate)

    def run(simulate, u0s, inputs, obs):
        def loss(u, inputs, obs):
            return objective(simulate(space.to_physical(u), inputs), obs)

        def one_start(u0, inputs, obs):
            def body(carry, _):
                u, st = carry
                value, g = jax.value_and_grad(loss)(u, inputs, obs)
                g = jnp.where(jnp.isfinite(g), g, 0.0)  # a non-finite gradient stalls that start only
                upd, st = opt.update(g, st, u)
                return (optax.apply_updates(u, upd), st), value

            (u, _), hist = jax.lax.scan(body, (u0, opt.init(u0)), None, length=steps)
            return u, loss(u, inputs, obs), hist

        def one_site(inputs, obs):
            u, final, hist = jax.vmap(one_start, in_axes=(0, None, None))(u0s, inputs, obs)
            final = jnp.where(jnp.isfinite(final), final, jnp.inf)
            b = jnp.argmin(final)
            x = jax.vmap(space.to_physical)(u)
            return CalibrationResult(x[b], x, final, hist.T, b)

        return jax.vmap(one_site)(inputs, obs) if sites else one_site(inputs, obs)

    return eqx.filter_jit(run)


def _starts(space, n_starts, seed, starts):
    if starts is not None:
        return jnp.asarray(space.to_unconstrained(np.asarray(starts, dtype=float)))
    return jnp.asarray(space.to_unconstrained(space.sample(int(n_starts), seed=seed)))


def calibrate(
    simulate: Callable,
    site_inputs,
    observations,
    space_or_bounds,
    *,
    n_starts: int = 8,
    steps: int = 300,
    learning_rate: float = 0.05,
    seed: int = 0,
    starts=None,
    objective: Callable = rmse_objective,
) -> CalibrationResult:
    """Calibrate one site: minimise ``objective(simulate(theta, site_inputs), observations)``.

    Args:
        simulate: ``simulate(theta (P,) physical, site_inputs) -> (T, 2)`` [W m-2], differentiable.
        observations: (T, 2) observed fluxes, NaN where missing.
        space_or_bounds: ``jlsm.ParameterSpace`` or bounds (P, 2).
        n_starts, seed: Sobol' starts from the space (or explicit ``starts`` (n, P) physical).
        steps, learning_rate: Adam iterations and step in unconstrained units.
    """
    space = as_space(space_or_bounds)
    run = _compiled(space, objective, int(steps), float(learning_rate), False)
    return run(simulate, _starts(space, n_starts, seed, starts), site_inputs, jnp.asarray(observations))


def calibrate_sites(simulate, site_inputs, observations, space_or_bounds, **kwargs) -> CalibrationResult:
    """:func:`calibrate` for S sites at once (``vmap``): inputs with leading axis S, observations (S, T, 2).

    Every site starts from the same Sobol' points; each field of the result gains a leading axis S.
    """
    space = as_space(space_or_bounds)
    steps = int(kwargs.pop("steps", 300))
    lr = kwargs.pop("learning_rate", 0.05)
    objective = kwargs.pop("objective", rmse_objective)
    u0 = _starts(space, kwargs.pop("n_starts", 8), kwargs.pop("seed", 0), kwargs.pop("starts", None))
    if kwargs:
        raise InputError(f"calibrate_sites: unknown arguments {sorted(kwargs)}")
    run = _compiled(space, objective, steps, float(lr), True)
    return run(simulate, u0, site_inputs, jnp.asarray(observations))
