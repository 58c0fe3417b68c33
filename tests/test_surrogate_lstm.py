"""LSTM surrogates: the fused layer is an LSTM, a known map is learnt, save/load is bit-exact."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from surrogate_toy import BOUNDS, toy_forcing

from jlsm.errors import DataFileError
from jlsm.surrogate import (
    MultiTaskLSTM,
    Normalisation,
    SingleTaskLSTM,
    Surrogate,
    count_weights,
    hidden_for_weights,
    load,
    save,
    site_inputs,
)
from jlsm.surrogate.lstm import LSTMLayer, _weights


def test_fused_layer_equals_equinox_lstm_cell():
    layer = LSTMLayer(5, 7, key=jax.random.PRNGKey(1))
    cell = eqx.nn.LSTMCell(5, 7, key=jax.random.PRNGKey(2))
    cell = eqx.tree_at(lambda c: (c.weight_ih, c.weight_hh, c.bias), cell, (layer.w_in.T, layer.w_rec.T, layer.bias))
    xs = jax.random.normal(jax.random.PRNGKey(3), (20, 5))

    def step(state, x):
        state = cell(x, state)
        return state, state[0]

    _, ref = jax.lax.scan(step, (jnp.zeros(7), jnp.zeros(7)), xs)
    np.testing.assert_allclose(layer(xs), ref, rtol=1e-12, atol=1e-14)
    # forget-gate bias starts at 1 (gates ordered i, f, g, o)
    np.testing.assert_array_equal(layer.bias[7:14], 1.0)


def test_weight_counts_and_sizing():
    for kind, cls in (("multi", MultiTaskLSTM), ("single", SingleTaskLSTM)):
        net = cls(30, 24, 2, 2, 8, key=jax.random.PRNGKey(0))
        assert count_weights(net) == _weights(kind, 30, 24, 2, 2, 8)
        assert jax.eval_shape(net, jnp.zeros((11, 30))).shape == (11, 2)
    # MdPL's sizes: about 0.98 M multi-task, 1.1 M single-task
    h_multi = hidden_for_weights(980_000, "multi", 30, n_layers=2, head_width=64)
    h_single = hidden_for_weights(1_100_000, "single", 30, n_layers=2, head_width=64)
    assert abs(_weights("multi", 30, h_multi, 2, 2, 64) / 980_000 - 1) < 0.01
    assert abs(_weights("single", 30, h_single, 2, 2, 64) / 1_100_000 - 1) < 0.01
    assert h_single < h_multi


@pytest.mark.parametrize("cls", [MultiTaskLSTM, SingleTaskLSTM])
def test_save_load_round_trips_bit_exactly(tmp_path, cls):
    net = cls(4 + 4 + 8, 12, 1, 2, 6, key=jax.random.PRNGKey(7), dtype=jnp.float32)
    rng = np.random.default_rng(0)
    norm = Normalisation(*(jnp.asarray(rng.uniform(1, 2, n), jnp.float32) for n in (4, 4)),
                         jnp.asarray(BOUNDS[:, 0], jnp.float32), jnp.asarray(BOUNDS[:, 1], jnp.float32),
                         *(jnp.asarray(rng.uniform(1, 2, 2), jnp.float32) for _ in range(2)))
    sur = Surrogate(net, norm, 2)
    save(tmp_path / "sur", sur, metadata={"site": "toy"})
    back, meta = load(tmp_path / "sur")
    assert meta == {"site": "toy"}
    a, b = (jax.tree_util.tree_leaves(eqx.filter(s, eqx.is_array)) for s in (sur, back))
    assert jax.tree_util.tree_structure(sur) == jax.tree_util.tree_structure(back)
    assert len(a) == len(b) > 8
    for x, z in zip(a, b):
        assert x.dtype == z.dtype
        np.testing.assert_array_equal(np.asarray(x), np.asarray(z))
    time, f = toy_forcing(2)
    inp = site_inputs(f, time, 2)
    theta = jnp.asarray(BOUNDS.mean(axis=1), jnp.float32)
    run = eqx.filter_jit(lambda s, th, i: s.simulate(th, i))
    np.testing.assert_array_equal(np.asarray(run(sur, theta, inp)), np.asarray(run(back, theta, inp)))


def test_load_missing_file_names_it(tmp_path):
    with pytest.raises(DataFileError, match="nothing.eqx"):
        load(tmp_path / "nothing")
