"""Training loop: early stopping on held-out runs whose loss rises, best network returned."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from surrogate_toy import BOUNDS, toy_forcing, toy_sim

from jlsm.errors import InputError
from jlsm.surrogate import MultiTaskLSTM, Normalisation, RunSet, generate_runs, positional_encoding, sobol_design, train
from jlsm.surrogate.train import evaluate


@pytest.fixture(scope="module")
def contradicting_runs():
    """Held-out runs whose targets are the negated model output: fitting the training runs raises their loss."""
    time, f = toy_forcing(6, seed=2)
    d = sobol_design(BOUNDS, 12, seed=0)
    y = np.array(generate_runs(toy_sim, d.theta, jnp.asarray(f)))
    y[8:] = -y[8:]
    runs = RunSet(jnp.asarray(f[None]), jnp.asarray(positional_encoding(time, 1, np.float64)[None]),
                  jnp.asarray(d.theta), jnp.zeros(12, int), jnp.asarray(y))
    norm = Normalisation.fit(runs, BOUNDS, train_runs=np.arange(8), dtype=np.float64)
    return runs, norm


def _fit(runs, norm, max_steps, patience):
    net = MultiTaskLSTM(4 + 4 + 4, 12, 1, 2, 8, key=jax.random.PRNGKey(0))
    return train(net, runs, norm, train_runs=np.arange(8), val_runs=np.arange(8, 12), window=48, burn_in=8,
                 batch_size=8, learning_rate=1e-2, max_steps=max_steps, eval_every=10, patience=patience, seed=1)


def test_early_stopping_stops_when_validation_loss_rises(contradicting_runs):
    runs, norm = contradicting_runs
    best, hist = _fit(runs, norm, max_steps=1000, patience=3)
    val = np.asarray(hist["val_loss"])
    assert hist["stopped_early"] and hist["steps"] < 1000
    i = int(np.argmin(val))
    # it stopped exactly `patience` evaluations after the best one, each worse than the best
    assert val.size == i + 1 + 3
    assert np.all(val[i + 1 :] > val[i])
    assert hist["best_val_loss"] == val[i] and hist["best_step"] == hist["step"][i]
    assert hist["train_loss"][-1] < hist["train_loss"][0]  # the training runs kept improving
    # the network returned is the one of the best evaluation, not the last
    assert evaluate(best, runs, norm, np.arange(8, 12), window=48, burn_in=8, batch_size=8) == pytest.approx(val[i], rel=1e-12)


def test_bad_training_arguments(contradicting_runs):
    runs, norm = contradicting_runs
    net = MultiTaskLSTM(12, 4, key=jax.random.PRNGKey(0))
    with pytest.raises(InputError, match="burn_in"):
        train(net, runs, norm, train_runs=[0], val_runs=[1], window=10, burn_in=10)
    with pytest.raises(InputError, match="non-empty"):
        train(net, runs, norm, train_runs=[], val_runs=[1], window=10)
