"""Fidelity of a surrogate: exact on a surrogate that is the simulator, and known departures."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from surrogate_toy import BOUNDS, toy_forcing, toy_sim

from jlsm.errors import InputError
from jlsm.surrogate import flux_fidelity, gradient_accuracy, rmse_objective, sobol_design


@pytest.fixture(scope="module")
def case():
    time, f = toy_forcing(4, seed=3)
    thetas = sobol_design(BOUNDS, 6, seed=2).theta
    F = jnp.asarray(f)
    y = np.asarray(jax.vmap(toy_sim, in_axes=(0, None))(jnp.asarray(thetas), F))
    obs = toy_sim(jnp.asarray(BOUNDS.mean(axis=1)), F)
    return time, F, thetas, y, obs


def test_flux_fidelity_of_the_simulator_against_itself(case):
    time, _, _, y, _ = case
    fid = flux_fidelity(y, y, time)
    for scale in ("half_hourly", "daily"):
        for name in ("Qh", "Qle"):
            assert fid[scale][name]["r"] == pytest.approx(1.0, abs=1e-12)
            assert fid[scale][name]["rmse"] == pytest.approx(0.0, abs=1e-12)
            assert fid[scale][name]["bias"] == pytest.approx(0.0, abs=1e-12)


def test_flux_fidelity_of_a_shifted_and_scaled_surrogate(case):
    time, _, _, y, _ = case
    shifted = flux_fidelity(y + 5.0, y, time)
    assert shifted["half_hourly"]["Qh"]["bias"] == pytest.approx(5.0, rel=1e-12)
    assert shifted["daily"]["Qle"]["rmse"] == pytest.approx(5.0, rel=1e-12)
    assert shifted["half_hourly"]["Qle"]["r"] == pytest.approx(1.0, abs=1e-12)
    noisy = y + np.random.default_rng(0).normal(0, 1, y.shape) * y.std()
    r_noisy = flux_fidelity(noisy, y)["half_hourly"]["Qh"]["r"]
    assert 0.5 < r_noisy < 0.9  # noise as large as the signal: r near 1/sqrt(2)
    with pytest.raises(InputError, match="shape"):
        flux_fidelity(y[:, :-1], y)


def test_gradient_accuracy_of_the_simulator_against_itself(case):
    _, F, thetas, _, obs = case
    acc = gradient_accuracy(toy_sim, toy_sim, thetas, F, F, obs, BOUNDS)
    np.testing.assert_allclose(acc["cosine"], 1.0, atol=1e-12)
    np.testing.assert_allclose(acc["relative_error"], 0.0, atol=1e-12)
    assert np.all(np.linalg.norm(acc["grad_model"], axis=1) > 0)


def test_gradients_are_range_scaled_and_departures_are_seen(case):
    _, F, thetas, _, obs = case
    # central finite differences of the loss in x = (theta - lo) / (hi - lo)
    span = BOUNDS[:, 1] - BOUNDS[:, 0]
    acc = gradient_accuracy(toy_sim, toy_sim, thetas[:1], F, F, obs, BOUNDS)
    h = 1e-6
    loss = jax.jit(jax.vmap(lambda th: rmse_objective(toy_sim(th, F), obs)))
    steps = np.eye(4) * h * span
    lp = np.asarray(loss(jnp.asarray(thetas[0] + steps)))
    lm = np.asarray(loss(jnp.asarray(thetas[0] - steps)))
    fd = (lp - lm) / (2 * h)
    np.testing.assert_allclose(acc["grad_model"][0], fd, rtol=1e-5)

    # a "surrogate" blind to the albedo: zero gradient in that direction, cosine below 1
    def blind(theta, forcing):
        return toy_sim(theta.at[0].set(jax.lax.stop_gradient(theta[0])), forcing)

    acc = gradient_accuracy(blind, toy_sim, thetas, F, F, obs, BOUNDS)
    np.testing.assert_array_equal(acc["grad_surrogate"][:, 0], 0.0)
    gm = acc["grad_model"]
    expected = np.linalg.norm(gm[:, 1:], axis=1) / np.linalg.norm(gm, axis=1)
    np.testing.assert_allclose(acc["cosine"], expected, rtol=1e-10)
    np.testing.assert_allclose(acc["relative_error"], np.abs(gm[:, 0]) / np.linalg.norm(gm, axis=1), rtol=1e-10)
