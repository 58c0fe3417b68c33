"""The parameter generator, trained end to end through a simulator, recovers the parameters of synthetic twins."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from surrogate_toy import BOUNDS, NAMES, toy_forcing, toy_sim

from jlsm import ParameterSpace
from jlsm.errors import InputError
from jlsm.surrogate import ParameterGenerator, forcing_statistics, site_features, train_generator


def test_forcing_statistics_are_mean_and_std():
    _, f = toy_forcing(3, seed=4)
    f[5, 1] = np.nan
    stats = forcing_statistics(f)
    np.testing.assert_allclose(stats[:4], np.nanmean(f, axis=0))
    np.testing.assert_allclose(stats[4:], np.nanstd(f, axis=0))
    mask = np.arange(f.shape[0]) < 48
    np.testing.assert_allclose(forcing_statistics(f, mask)[:4], np.nanmean(f[:48], axis=0))
    with pytest.raises(InputError, match=r"\(T, F\)"):
        forcing_statistics(f[:, 0])


def test_generator_through_the_simulator_recovers_twin_parameters():
    S = 6
    rng = np.random.default_rng(0)
    forcings = [toy_forcing(10, seed=10 + s, scale=0.8 + 0.1 * s)[1] for s in range(S)]
    attributes = rng.normal(size=(S, 2))
    truth = BOUNDS[:, 0] + rng.uniform(0.15, 0.85, (S, 4)) * (BOUNDS[:, 1] - BOUNDS[:, 0])
    F = jnp.asarray(np.stack(forcings))
    twins = jax.vmap(toy_sim)(jnp.asarray(truth), F)  # noise-free observations made by the simulator
    space = ParameterSpace({n: tuple(b) for n, b in zip(NAMES, BOUNDS)})
    feats = site_features(attributes, forcings)
    assert feats.shape == (S, 2 + 2 * 4)
    gen = ParameterGenerator(feats, 4, key=jax.random.PRNGKey(0))
    start = np.asarray(jax.vmap(lambda x: gen.physical(x, space))(jnp.asarray(feats)))
    np.testing.assert_allclose(start, np.tile(BOUNDS.mean(axis=1), (S, 1)))  # zero last layer: mid-range
    trained, hist = train_generator(gen, toy_sim, space, feats, F, twins, steps=1000, learning_rate=2e-2)
    assert hist["loss"][-1] < 0.01 * hist["loss"][0]
    est = np.asarray(jax.vmap(lambda x: trained.physical(x, space))(jnp.asarray(feats)))
    err = np.abs(est - truth) / (BOUNDS[:, 1] - BOUNDS[:, 0])
    assert err.max() < 0.03, err  # every parameter of every site within 3 % of its range
    # the feature normalisation is frozen
    np.testing.assert_array_equal(trained.feature_mean, gen.feature_mean)
