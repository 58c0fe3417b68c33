"""Differentiable parameter generator: site attributes + forcing statistics -> model parameters.

MdPL's generator (Xie et al. 2025, egusphere-2025-3301; the differentiable
parameter learning of Tsai et al. 2021, Nat. Commun. 12, 5988): an MLP maps
per-site features to an unconstrained vector u (P,), and a
``jlsm.ParameterSpace`` maps u into the physical bounds (sigmoid or
log-sigmoid transforms). :func:`train_generator` fits the MLP to several
sites' observations through any differentiable ``simulate(theta, inputs)``:
a frozen surrogate (MdPL's path) or the physical model itself (end to end).
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jlsm.errors import InputError

from .calibrate import rmse_objective

__all__ = ["ParameterGenerator", "forcing_statistics", "site_features", "train_generator"]


def forcing_statistics(forcing, mask=None) -> np.ndarray:
    """Per-variable mean and standard deviation over time: (2 F,) from forcing (T, F), NaN-aware.

    ``mask``: optional (T,) booleans of the steps to use (e.g. a site's fit window).
    """
    f = np.asarray(forcing, dtype=float)
    if f.ndim != 2:
        raise InputError(f"forcing_statistics: forcing must be (T, F), got shape {f.shape}")
    if mask is not None:
        f = f[np.asarray(mask, bool)]
    return np.concatenate([np.nanmean(f, axis=0), np.nanstd(f, axis=0)])


def site_features(attributes, forcings, masks=None) -> np.ndarray:
    """Generator inputs (S, A + 2 F): site attributes (S, A) beside forcing statistics of (S, T, F)."""
    a = np.asarray(attributes, dtype=float).reshape(len(forcings), -1)
    stats = np.stack([forcing_statistics(f, None if masks is None else masks[i]) for i, f in enumerate(forcings)])
    return np.concatenate([a, stats], axis=1)


class ParameterGenerator(eqx.Module):
    """MLP from normalised site features (K,) to unconstrained parameters (P,).

    ``feature_mean``/``feature_std`` (K,) are fitted on the training sites and
    frozen (``stop_gradient``). The last layer starts at zero weights, so every
    site starts at u = ``u0`` (default 0: the middle of each sigmoid range).
    """

    mlp: eqx.nn.MLP
    feature_mean: jax.Array
    feature_std: jax.Array
    u0: jax.Array

    def __init__(self, features, n_parameters: int, *, width: int = 32, depth: int = 2, u0=None, key, dtype=None):
        x = np.asarray(features, dtype=float)
        if x.ndim != 2:
            raise InputError(f"ParameterGenerator: features must be (S, K), got shape {x.shape}")
        dtype = dtype or jnp.zeros(()).dtype
        mlp = eqx.nn.MLP(x.shape[1], int(n_parameters), width, depth, activation=jax.nn.gelu, key=key, dtype=dtype)
        last = mlp.layers[-1]
        mlp = eqx.tree_at(lambda m: (m.layers[-1].weight, m.layers[-1].bias), mlp,
                          (jnp.zeros_like(last.weight), jnp.zeros_like(last.bias)))
        self.mlp = mlp
        self.feature_mean = jnp.asarray(x.mean(axis=0), dtype)
        self.feature_std = jnp.asarray(np.maximum(x.std(axis=0), 1e-6 * np.maximum(np.abs(x.mean(axis=0)), 1.0)), dtype)
        self.u0 = jnp.zeros(int(n_parameters), dtype) if u0 is None else jnp.asarray(u0, dtype)

    def __call__(self, features):
        """Unconstrained parameters (P,) for one site's features (K,)."""
        m, s, u0 = (jax.lax.stop_gradient(v) for v in (self.feature_mean, self.feature_std, self.u0))
        return u0 + self.mlp((jnp.asarray(features, m.dtype) - m) / s)

    def physical(self, features, space):
        """Physical parameters (P,) through a ``jlsm.ParameterSpace``."""
        return space.to_physical(self(features))


def train_generator(
    generator: ParameterGenerator,
    simulate: Callable,
    space,
    features,
    site_inputs,
    observations,
    *,
    steps: int = 500,
    learning_rate: float = 1e-2,
    objective: Callable = rmse_objective,
    optimizer: optax.GradientTransformation | None = None,
    callback: Callable[[int, float], None] | None = None,
    callback_every: int = 50,
):
    """Train a generator through ``simulate`` on S sites (full batch, Adam).

    Args:
        simulate: ``simulate(theta (P,) physical, inputs) -> (T, n_out)``, differentiable:
            a surrogate's ``Surrogate.simulate`` or a wrapper of the physical model.
        space: ``jlsm.ParameterSpace`` of the P parameters (bounds and transforms).
        features: (S, K) site features; ``site_inputs``: pytree with leading axis S;
            ``observations``: (S, T, n_out), NaN where not observed.
        objective: ``objective(sim (T, n_out), obs (T, n_out)) -> scalar``
            (default RMSE(Qh) + RMSE(Qle)); the loss is its mean over sites.
        optimizer: default Adam(learning_rate) with a cosine decay to 1 % over ``steps``.
    Returns:
        (generator, history) with ``loss`` per step, ``seconds``.
    """
    feats = jnp.asarray(features)
    obs = jnp.asarray(observations)
    if feats.shape[0] != obs.shape[0]:
        raise InputError(f"train_generator: {feats.shape[0]} sites of features but {obs.shape[0]} of observations")

    def loss(gen, sim):
        def per_site(x, inp, o):
            return objective(sim(space.to_physical(gen(x)), inp), o)

        return jnp.mean(jax.vmap(per_site)(feats, site_inputs, obs))

    opt = optimizer or optax.adam(optax.cosine_decay_schedule(learning_rate, int(steps), 0.01))
    params, static = eqx.partition(generator, eqx.is_inexact_array)
    state = opt.init(params)

    @eqx.filter_jit  # the simulator is an argument: a surrogate's arrays are traced, not baked in
    def step(params, state, sim):
        value, grads = jax.value_and_grad(lambda p: loss(eqx.combine(p, static), sim))(params)
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state, value

    losses = []
    t0 = _time.perf_counter()
    for i in range(int(steps)):
        params, state, value = step(params, state, simulate)
        losses.append(float(value))
        if callback is not None and (i + 1) % callback_every == 0:
            callback(i + 1, losses[-1])
    return eqx.combine(params, static), {"loss": losses, "seconds": _time.perf_counter() - t0}
