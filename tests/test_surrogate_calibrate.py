"""Per-site multi-start calibration through a generic differentiable simulator."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from surrogate_toy import BOUNDS, toy_forcing, toy_sim

from jlsm.errors import InputError
from jlsm.surrogate import as_space, calibrate, calibrate_sites, rmse_objective


@pytest.fixture(scope="module")
def twins():
    rng = np.random.default_rng(5)
    truth = BOUNDS[:, 0] + rng.uniform(0.2, 0.8, (2, 4)) * (BOUNDS[:, 1] - BOUNDS[:, 0])
    F = jnp.asarray(np.stack([toy_forcing(8, seed=20 + s, scale=0.9 + 0.2 * s)[1] for s in range(2)]))
    obs = np.array(jax.vmap(toy_sim)(jnp.asarray(truth), F))
    obs[:, ::7, 0] = np.nan  # missing observations are skipped
    return truth, F, jnp.asarray(obs)


def test_calibrate_recovers_a_twin(twins):
    truth, F, obs = twins
    res = calibrate(toy_sim, F[0], obs[0], BOUNDS, n_starts=4, steps=400, learning_rate=0.05)
    assert res.params.shape == (4, 4) and res.history.shape == (400, 4)
    assert int(res.best_start) == int(np.argmin(res.loss))
    assert float(res.loss[res.best_start]) < 1e-2 * float(res.history[0].min())
    err = np.abs(np.asarray(res.best) - truth[0]) / (BOUNDS[:, 1] - BOUNDS[:, 0])
    assert err.max() < 0.02, err
    again = calibrate(toy_sim, F[0], obs[0], BOUNDS, n_starts=4, steps=400, learning_rate=0.05)
    np.testing.assert_array_equal(np.asarray(again.params), np.asarray(res.params))  # same seed, same result


def test_calibrate_sites_and_a_diverging_start(twins):
    truth, F, obs = twins

    def fragile(theta, forcing):  # NaN fluxes for albedo above 0.28: that start must not spoil the others
        out = toy_sim(theta, forcing)
        return jnp.where(theta[0] > 0.28, jnp.nan, out)

    starts = np.tile(BOUNDS.mean(axis=1), (3, 1))
    starts[1, 0] = 0.29
    res = calibrate_sites(fragile, F, obs, BOUNDS, starts=starts, steps=400, learning_rate=0.05)
    assert res.best.shape == (2, 4)
    assert np.all(np.isinf(np.asarray(res.loss[:, 1])))
    assert np.all(np.asarray(res.best_start) != 1)
    err = np.abs(np.asarray(res.best) - truth) / (BOUNDS[:, 1] - BOUNDS[:, 0])
    assert err.max() < 0.02, err
    # the healthy starts are those of a run without the fragile one (same computation, one start fewer)
    alone = calibrate_sites(fragile, F, obs, BOUNDS, starts=starts[[0, 2]], steps=400, learning_rate=0.05)
    np.testing.assert_allclose(np.asarray(res.params[:, [0, 2]]), np.asarray(alone.params), rtol=1e-12)


def test_objective_and_space():
    sim = jnp.array([[1.0, 2.0], [3.0, 4.0]])
    obs = jnp.array([[1.0, 0.0], [jnp.nan, 4.0]])
    assert float(rmse_objective(sim, obs)) == pytest.approx(0.0 + np.sqrt(2.0))
    space = as_space(BOUNDS)
    assert space.names == ("p0", "p1", "p2", "p3") and as_space(space) is space
    with pytest.raises(InputError, match=r"\(P, 2\)"):
        as_space(np.zeros(3))


def test_calibrate_through_a_surrogate_module():
    """A surrogate's bound method (an Equinox module with arrays) is a valid simulator."""
    from jlsm.surrogate import MultiTaskLSTM, Normalisation, Surrogate, site_inputs

    net = MultiTaskLSTM(4 + 2 + 4, 6, key=jax.random.PRNGKey(0))
    norm = Normalisation(jnp.zeros(4), jnp.ones(4), jnp.zeros(2), jnp.ones(2), jnp.zeros(2), jnp.full(2, 10.0))
    sur = Surrogate(net, norm, 1)
    time, f = toy_forcing(1)
    inputs = site_inputs(f / 1000.0, time, 1, np.float64)
    target = sur.simulate(jnp.array([0.3, 0.7]), inputs)
    res = calibrate(sur.simulate, inputs, target, [[0.0, 1.0], [0.0, 1.0]], n_starts=3, steps=200, learning_rate=0.05)
    assert np.all(np.isfinite(np.asarray(res.params)))
    assert float(res.loss.min()) < 0.05 * float(res.history[0].max())
