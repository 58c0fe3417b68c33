"""Parameter generators trained for several folds at once (leave one site out), through any simulator.

Path (b) (through a frozen surrogate) and path (c) (through the physical model)
of :mod:`jlsm.surrogate.compare`: K generators
(:class:`jlsm.surrogate.generator.ParameterGenerator`, site features ->
parameters) trained at once, fold k on the sites with a positive weight, with
Adam (Kingma and Ba 2015) on MdPL's RMSE(Qh) + RMSE(Qle) objective (Xie et al.
2025, egusphere-2025-3301) by default.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from .calibrate import rmse_objective
from .generator import ParameterGenerator, site_features
from .land import forcing_features

__all__ = ["loo_generators", "loo_weights", "train_generators"]


def loo_weights(site_ids) -> np.ndarray:
    """(K, K) fold weights: fold k trains on every entry of another site (0 for all entries of k's site,
    e.g. both runs of a split record; 1 otherwise)."""
    ids = np.asarray([str(i) for i in site_ids])
    return (ids[None, :] != ids[:, None]).astype(float)


def _generator_step(space, objective, optimizer, static):
    """Jitted Adam step of K generators at once (one per fold), site weights (K, S) per fold."""

    def fold_loss(params, weights, sim, feats, inputs, obs):
        gen = eqx.combine(params, static)

        def per_site(x, inp, o):
            return objective(sim(space.to_physical(gen(x)), inp), o)

        losses = jax.vmap(per_site)(feats, inputs, obs)
        return jnp.sum(weights * losses) / jnp.sum(weights)

    @eqx.filter_jit
    def step(params, state, weights, sim, feats, inputs, obs):
        def total(p):
            per_fold = jax.vmap(fold_loss, in_axes=(0, 0, None, None, None, None))(p, weights, sim, feats, inputs, obs)
            return jnp.sum(per_fold), per_fold

        (_, per_fold), grads = jax.value_and_grad(total, has_aux=True)(params)
        # a fold whose loss or gradient is not finite skips this update (the others go on)
        leaves = jax.tree_util.tree_leaves(grads)
        ok = jnp.isfinite(per_fold)
        for g in leaves:
            ok = ok & jnp.all(jnp.isfinite(g.reshape(g.shape[0], -1)), axis=1)
        grads = jax.tree_util.tree_map(
            lambda g: jnp.where(ok.reshape((-1,) + (1,) * (g.ndim - 1)), g, 0.0), grads)
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state, jnp.where(ok, per_fold, jnp.nan)

    return step


def train_generators(simulate: Callable, space, features, inputs, observations, weights, *, u0=None,
                     width: int = 32, depth: int = 2, steps: int = 150, learning_rate: float = 0.02,
                     seed: int = 0, objective: Callable = rmse_objective):
    """Train K generators at once, fold k on the sites with ``weights[k] > 0`` (one compiled program).

    Args:
        simulate: ``simulate(theta (P,), inputs) -> (T, 2)``; ``inputs`` leading axis S.
        features: (S, K_f) site features; observations (S, T, 2) fit window, NaN elsewhere.
        weights: (K, S) site weights per fold (leave-one-out: 1 but 0 at the left-out site).
        u0: (K, P) unconstrained starting parameters per fold (default 0, the middle of the ranges).
    Returns:
        (parameters (K, S, P) physical for every fold and site, loss history (steps, K), seconds).
    """
    feats = np.asarray(features, float)
    w = np.asarray(weights, float)
    n_k = w.shape[0]
    key = jax.random.PRNGKey(seed)
    gens = []
    for k in range(n_k):
        train = w[k] > 0
        gens.append(ParameterGenerator(feats[train], space.size, width=width, depth=depth,
                                       u0=None if u0 is None else u0[k], key=jax.random.fold_in(key, k)))
    static = eqx.partition(gens[0], eqx.is_inexact_array)[1]
    params = jax.tree_util.tree_map(lambda *a: jnp.stack(a), *[eqx.partition(g, eqx.is_inexact_array)[0] for g in gens])
    opt = optax.adam(optax.cosine_decay_schedule(learning_rate, int(steps), 0.01))
    state = opt.init(params)
    step = _generator_step(space, objective, opt, static)
    f, o, wj = jnp.asarray(feats), jnp.asarray(observations), jnp.asarray(w)
    hist = []
    t0 = _time.perf_counter()
    for _ in range(int(steps)):
        params, state, per_fold = step(params, state, wj, simulate, f, inputs, o)
        hist.append(np.asarray(per_fold))
    seconds = _time.perf_counter() - t0

    def physical(p):
        gen = eqx.combine(p, static)
        return jax.vmap(lambda x: space.to_physical(gen(x)))(f)

    theta = np.asarray(jax.vmap(physical)(params))
    return theta, np.asarray(hist), seconds



def loo_generators(sim, space, data, inputs, obs_fit, defaults, st):
    """Leave-one-site-out generators through ``sim``: parameters (S, P) for each site from the fold without it.

    ``data``: the :class:`jlsm.calibration.CalibrationData` (site features from its models, forcing and fit
    masks); ``obs_fit`` (S, T, 2) fit-window Qh, Qle; ``st``: a :class:`jlsm.surrogate.compare.CompareSettings`.
    Entries of one site (``data.site_ids``, e.g. the two runs of a split record) are left out together.
    Returns (parameters (S, P), loss history (steps, S), seconds).
    """
    S = data.n_sites
    forcing = np.asarray(forcing_features(data.forcing), float)
    canopy = np.asarray(data.models.site.canopy_height, float).reshape(S, -1)[:, :1]
    z_ref = np.asarray(data.models.site.z_ref, float).reshape(S, -1)[:, :1]
    feats = site_features(np.concatenate([canopy, z_ref], axis=1), forcing, masks=data.fit)
    w = loo_weights(data.site_ids or data.sites)
    u_def = np.asarray(space.to_unconstrained(defaults))
    u0 = np.stack([u_def[w[k] > 0].mean(axis=0) for k in range(S)])
    theta, hist, seconds = train_generators(sim, space, feats, inputs, obs_fit, w, u0=u0, width=st.gen_width,
                                            depth=st.gen_depth, steps=st.gen_steps,
                                            learning_rate=st.gen_learning_rate, seed=st.seed)
    return theta[np.arange(S), np.arange(S)], hist, seconds
