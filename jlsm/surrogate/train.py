"""Training a surrogate network with Optax: mini-batches of windows, early stopping on held-out runs.

Each training example is a window of ``window`` steps of one run: normalised
forcing of the run's site, the run's scaled parameters broadcast in time and
the positional encoding (see :class:`jlsm.surrogate.Surrogate`). The loss is
the mean squared error of the normalised outputs over the steps after
``burn_in`` (the LSTM starts each window from a zero state and needs some
steps to infer slow stores such as soil moisture), NaN targets masked.
Windows are gathered inside the jitted step from the stored records, so the
(R, T, F + P + 4 L) input array is never formed.

Early stopping (Prechelt 1998, "Early stopping - but when?", the GL
criterion's simplest form): every ``eval_every`` steps the validation loss
over all windows of the held-out runs is computed; training stops after
``patience`` evaluations without improvement by more than ``min_delta``, and
the network of the best evaluation is returned.
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

from .data import Normalisation, RunSet, window_index
from .model import Surrogate

__all__ = ["evaluate", "make_loss", "train", "train_surrogate"]


def _gather(arrays, runs: RunSet, pairs, window):
    """Inputs (B, W, C) and targets (B, W, n_out) for (run, start) pairs (B, 2)."""
    forcing_n, theta_n, target_n = arrays

    def one(pair):
        r, t0 = pair[0], pair[1]
        s = runs.site[r]
        f = jax.lax.dynamic_slice_in_dim(forcing_n[s], t0, window, axis=0)
        e = jax.lax.dynamic_slice_in_dim(runs.encoding[s], t0, window, axis=0).astype(f.dtype)
        p = jnp.broadcast_to(theta_n[r], (window, theta_n.shape[1])).astype(f.dtype)
        y = jax.lax.dynamic_slice_in_dim(target_n[r], t0, window, axis=0)
        return jnp.concatenate([f, p, e], axis=-1), y

    return jax.vmap(one)(pairs)


def _evaluator(arrays, runs, pairs, window, burn_in, chunk_size, static):
    """Jitted ``params -> masked MSE`` over all windows ``pairs``, ``chunk_size`` windows at a time."""

    @jax.jit
    def value(params):
        model = eqx.combine(params, static)

        def one(pair):
            x, y = _gather(arrays, runs, pair[None], window)
            pred = model(x[0])[burn_in:]
            yy = y[0, burn_in:]
            ok = ~jnp.isnan(yy)
            return jnp.sum(jnp.where(ok, pred - jnp.where(ok, yy, 0.0), 0.0) ** 2), jnp.sum(ok)

        sse, n = jax.lax.map(one, pairs, batch_size=chunk_size)
        return jnp.sum(sse) / jnp.maximum(jnp.sum(n), 1)

    return value


def evaluate(net, runs: RunSet, norm: Normalisation, run_ids, *, window: int = 336, burn_in: int = 0, batch_size: int = 32) -> float:
    """Masked MSE of normalised outputs over non-overlapping windows of ``run_ids`` (the validation loss of :func:`train`)."""
    dtype = jax.tree_util.tree_leaves(eqx.filter(net, eqx.is_inexact_array))[0].dtype
    valid = ~np.isnan(np.asarray(runs.target)).all(axis=-1)
    pairs = window_index(runs.target.shape[1], window, window, runs=run_ids, valid=valid)
    arrays, runs_d = _normalised(runs, norm, dtype)
    params, static = eqx.partition(net, eqx.is_inexact_array)
    return float(_evaluator(arrays, runs_d, jnp.asarray(pairs), window, burn_in, min(batch_size, pairs.shape[0]), static)(params))


def _normalised(runs, norm, dtype):
    arrays = (
        norm.forcing_in(jnp.asarray(runs.forcing, dtype)),
        norm.params_in(jnp.asarray(runs.theta, dtype)),
        norm.target_in(jnp.asarray(runs.target, dtype)),
    )
    return arrays, eqx.tree_at(lambda r: r.encoding, runs, jnp.asarray(runs.encoding, dtype))


def make_loss(burn_in: int = 0):
    """Masked MSE of normalised outputs, steps >= ``burn_in`` of each window: ``loss(net, x, y)``."""

    def loss(net, x, y):
        pred = jax.vmap(net)(x)[:, burn_in:]
        y = y[:, burn_in:]
        valid = ~jnp.isnan(y)
        err = jnp.where(valid, pred - jnp.where(valid, y, 0.0), 0.0)
        return jnp.sum(err**2) / jnp.maximum(jnp.sum(valid), 1)

    return loss


def train(
    net,
    runs: RunSet,
    norm: Normalisation,
    *,
    train_runs,
    val_runs,
    window: int = 336,
    stride: int | None = None,
    burn_in: int = 0,
    batch_size: int = 32,
    learning_rate: float = 1e-3,
    max_steps: int = 2000,
    eval_every: int = 50,
    patience: int = 5,
    min_delta: float = 0.0,
    clip_norm: float = 1.0,
    seed: int = 0,
    optimizer: optax.GradientTransformation | None = None,
    callback: Callable[[dict], None] | None = None,
):
    """Train ``net`` on windows of ``train_runs``, early-stopped on ``val_runs``.

    Args:
        net: a network ``(W, C) -> (W, n_out)`` (:mod:`jlsm.surrogate.lstm`).
        runs: the records (:class:`RunSet`); ``norm`` their normalisation.
        train_runs, val_runs: run indices (held-out runs are whole runs).
        window, stride: training windows (stride defaults to window / 2);
            validation windows do not overlap.
        burn_in: leading steps of each window excluded from the loss.
        optimizer: default ``clip_by_global_norm(clip_norm)`` + Adam(learning_rate).
        callback: called with each evaluation's record (progress reporting).
    Returns:
        (best network, history) with history keys ``step``, ``train_loss``,
        ``val_loss`` (lists, one entry per evaluation), ``best_step``,
        ``best_val_loss``, ``stopped_early``, ``steps``, ``seconds``.
    """
    T = runs.target.shape[1]
    if len(train_runs) == 0 or len(val_runs) == 0:
        raise InputError("surrogate.train: train_runs and val_runs must both be non-empty")
    if not 0 <= burn_in < window:
        raise InputError(f"surrogate.train: burn_in must be in [0, window={window}), got {burn_in}")
    dtype = jax.tree_util.tree_leaves(eqx.filter(net, eqx.is_inexact_array))[0].dtype
    valid = ~np.isnan(np.asarray(runs.target)).all(axis=-1)
    tr = window_index(T, window, stride or max(window // 2, 1), runs=train_runs, valid=valid)
    va = window_index(T, window, window, runs=val_runs, valid=valid)
    arrays, runs_d = _normalised(runs, norm, dtype)
    loss_fn = make_loss(burn_in)
    opt = optimizer or optax.chain(optax.clip_by_global_norm(clip_norm), optax.adam(learning_rate))
    params, static = eqx.partition(net, eqx.is_inexact_array)
    opt_state = opt.init(params)

    @jax.jit
    def step(params, opt_state, pairs):
        x, y = _gather(arrays, runs_d, pairs, window)
        value, grads = jax.value_and_grad(lambda p: loss_fn(eqx.combine(p, static), x, y))(params)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    val_loss = _evaluator(arrays, runs_d, jnp.asarray(va), window, burn_in, min(batch_size, va.shape[0]), static)

    rng = np.random.default_rng(seed)
    hist = {"step": [], "train_loss": [], "val_loss": []}
    best, best_params, best_step, wait, stopped = np.inf, params, 0, 0, False
    t0 = _time.perf_counter()
    order, pos, running, k = rng.permutation(tr.shape[0]), 0, 0.0, 0
    for it in range(1, max_steps + 1):
        if pos + batch_size > order.size:
            order, pos = rng.permutation(tr.shape[0]), 0
        idx = order[pos : pos + batch_size]
        pos += batch_size
        params, opt_state, value = step(params, opt_state, jnp.asarray(tr[idx]))
        running += float(value)
        k += 1
        if it % eval_every == 0 or it == max_steps:
            v = float(val_loss(params))
            rec = {"step": it, "train_loss": running / k, "val_loss": v}
            running, k = 0.0, 0
            for key in hist:
                hist[key].append(rec[key])
            if callback is not None:
                callback(rec)
            if v < best - min_delta:
                best, best_params, best_step, wait = v, params, it, 0
            else:
                wait += 1
                if wait >= patience:
                    stopped = True
                    break
    hist.update(best_step=best_step, best_val_loss=best, stopped_early=stopped, steps=it,
                seconds=_time.perf_counter() - t0, n_train_windows=int(tr.shape[0]), n_val_windows=int(va.shape[0]))
    return eqx.combine(best_params, static), hist


def train_surrogate(net, runs: RunSet, bounds, *, train_runs, val_runs, n_frequencies: int, **kwargs):
    """Fit the normalisation on ``train_runs``, train, and return ``(Surrogate, history)``.

    ``n_frequencies`` must be the L the ``runs.encoding`` was made with;
    ``kwargs`` go to :func:`train`.
    """
    dtype = jax.tree_util.tree_leaves(eqx.filter(net, eqx.is_inexact_array))[0].dtype
    if runs.encoding.shape[-1] != 4 * n_frequencies:
        raise InputError(f"train_surrogate: encoding has {runs.encoding.shape[-1]} features, expected 4 x {n_frequencies}")
    norm = Normalisation.fit(runs, bounds, train_runs, dtype=dtype)
    best, hist = train(net, runs, norm, train_runs=train_runs, val_runs=val_runs, **kwargs)
    return Surrogate(best, norm, int(n_frequencies)), hist
