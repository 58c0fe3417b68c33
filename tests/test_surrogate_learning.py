"""The multi-task LSTM learns a known map: the toy land model of surrogate_toy.py."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
from surrogate_toy import BOUNDS, toy_forcing, toy_sim

from jlsm.surrogate import (
    MultiTaskLSTM,
    RunSet,
    flux_fidelity,
    generate_runs,
    positional_encoding,
    site_inputs,
    sobol_design,
    train_surrogate,
)


def test_multitask_lstm_learns_the_toy_model():
    """After 300 Adam steps: normalised MSE on held-out runs below 0.1, and on their full records
    R > 0.9 half-hourly and R > 0.85 for daily means (stated levels)."""
    time, f = toy_forcing(20, seed=0)
    design = sobol_design(BOUNDS, 64, seed=1)
    y = np.asarray(generate_runs(toy_sim, design.theta, jnp.asarray(f)))
    L = 2
    enc = positional_encoding(time, L)
    runs = RunSet(jnp.asarray(f[None], jnp.float32), jnp.asarray(enc[None]), jnp.asarray(design.theta, jnp.float32),
                  jnp.zeros(64, int), jnp.asarray(y, jnp.float32))
    net = MultiTaskLSTM(4 + 4 + 4 * L, 32, 1, 2, 16, key=jax.random.PRNGKey(0), dtype=jnp.float32)
    steps = 300
    opt = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(optax.cosine_decay_schedule(1e-2, steps, 0.05)))
    sur, hist = train_surrogate(net, runs, BOUNDS, train_runs=np.arange(48), val_runs=np.arange(48, 64), n_frequencies=L,
                                window=192, burn_in=48, batch_size=16, optimizer=opt, max_steps=steps, eval_every=100, patience=10)
    assert hist["train_loss"][-1] < 0.03  # it learns the training runs ...
    assert hist["train_loss"][0] > 3 * hist["train_loss"][-1]  # ... from far off
    assert hist["best_val_loss"] < 0.1  # held-out parameter sets, normalised MSE
    inputs = site_inputs(f, time, L)
    pred = jax.jit(jax.vmap(sur.simulate, in_axes=(0, None)))(jnp.asarray(design.theta[48:], jnp.float32), inputs)
    fid = flux_fidelity(pred, y[48:], time)
    for name in ("Qh", "Qle"):
        assert fid["half_hourly"][name]["r"] > 0.9, fid
        assert fid["daily"][name]["r"] > 0.85, fid
