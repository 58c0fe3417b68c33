"""Calibration objectives: hand computations with gaps, finite gradients with missing data."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jlsm import metrics
from jlsm.calibration import objectives as obj
from jlsm.errors import InputError


@pytest.fixture
def series():
    rng = np.random.default_rng(3)
    t = 40
    obs = np.column_stack([50 + 40 * rng.standard_normal(t), 120 + 60 * rng.standard_normal(t)])
    sim = obs + np.column_stack([5 + 10 * rng.standard_normal(t), -8 + 20 * rng.standard_normal(t)])
    obs[[2, 7, 11], 0] = np.nan  # Qh gaps
    obs[[3, 30], 1] = np.nan  # Qle gaps
    fit = np.arange(t) < 28
    return sim, obs, fit


def _hand_rmse(sim, obs, fit):
    out = []
    for v in range(obs.shape[1]):
        ok = fit & np.isfinite(obs[:, v])
        out.append(np.sqrt(np.mean((sim[ok, v] - obs[ok, v]) ** 2)))
    return np.array(out)


def test_mdpl_is_sum_of_rmse_over_measured_fit_steps(series):
    sim, obs, fit = series
    want = _hand_rmse(sim, obs, fit).sum()
    got = float(obj.mdpl(jnp.asarray(sim), jnp.asarray(obs), jnp.asarray(fit)))
    assert got == pytest.approx(want, rel=1e-12)


def test_normalised_divides_by_std_of_measured_obs(series):
    sim, obs, fit = series
    rm = _hand_rmse(sim, obs, fit)
    std = [np.std(obs[fit & np.isfinite(obs[:, v]), v]) for v in range(2)]
    got = float(obj.normalised(jnp.asarray(sim), jnp.asarray(obs), jnp.asarray(fit)))
    assert got == pytest.approx(rm[0] / std[0] + rm[1] / std[1], rel=1e-12)


def test_kge_loss_matches_jlsm_metrics(series):
    sim, obs, fit = series
    want = 0.0
    for v in range(2):
        o = np.where(fit, obs[:, v], np.nan)
        want += 1.0 - metrics.kge(sim[:, v], o)
    got = float(obj.kge_loss(jnp.asarray(sim), jnp.asarray(obs), jnp.asarray(fit)))
    assert got == pytest.approx(want, rel=1e-12)


def test_wls_with_per_step_uncertainties(series):
    sim, obs, fit = series
    sigma = 10.0 + 0.2 * np.abs(np.nan_to_num(obs))  # Richardson et al. type a + b|F|
    want = 0.0
    for v in range(2):
        ok = fit & np.isfinite(obs[:, v])
        want += np.mean(((sim[ok, v] - obs[ok, v]) / sigma[ok, v]) ** 2)
    got = float(obj.wls(jnp.asarray(sim), jnp.asarray(obs), jnp.asarray(fit), sigma=jnp.asarray(sigma)))
    assert got == pytest.approx(want, rel=1e-12)
    with pytest.raises(InputError, match="sigma"):
        obj.wls(jnp.asarray(sim), jnp.asarray(obs), jnp.asarray(fit))


@pytest.mark.parametrize("name", ["mdpl", "normalised", "kge", "wls"])
def test_gradient_finite_with_nan_observations(series, name):
    sim, obs, fit = series
    obs = obs.copy()
    obs[5:9, :] = np.nan  # both fluxes missing together
    f = obj.get_objective(name)
    sigma = jnp.asarray([20.0, 30.0])
    g = jax.grad(lambda s: f(s, jnp.asarray(obs), jnp.asarray(fit), sigma))(jnp.asarray(sim))
    assert np.all(np.isfinite(np.asarray(g)))
    # unmeasured or out-of-window steps carry no gradient
    g = np.asarray(g)
    assert np.all(g[~np.isfinite(obs)] == 0.0)
    assert np.all(g[~fit] == 0.0)
    # and the gradient agrees with a central difference at a measured step
    i, v, h = 15, 1, 1e-4
    e = np.zeros_like(sim)
    e[i, v] = h
    fd = (float(f(jnp.asarray(sim + e), jnp.asarray(obs), jnp.asarray(fit), sigma))
          - float(f(jnp.asarray(sim - e), jnp.asarray(obs), jnp.asarray(fit), sigma))) / (2 * h)
    assert g[i, v] == pytest.approx(fd, rel=1e-6, abs=1e-10)


def test_perfect_fit_has_finite_zero_gradient(series):
    _, obs, fit = series
    sim = np.nan_to_num(obs, nan=7.0)
    g = jax.grad(lambda s: obj.mdpl(s, jnp.asarray(obs), jnp.asarray(fit)))(jnp.asarray(sim))
    assert float(obj.mdpl(jnp.asarray(sim), jnp.asarray(obs), jnp.asarray(fit))) == 0.0
    assert np.all(np.asarray(g) == 0.0)


def test_nan_simulation_at_measured_step_is_not_hidden(series):
    sim, obs, fit = series
    sim = sim.copy()
    sim[0, 0] = np.nan
    assert np.isnan(float(obj.mdpl(jnp.asarray(sim), jnp.asarray(obs), jnp.asarray(fit))))
    # ... but a NaN simulation at an unmeasured step is irrelevant
    sim2 = series[0].copy()
    sim2[2, 0] = np.nan  # obs[2, 0] is a gap
    assert np.isfinite(float(obj.mdpl(jnp.asarray(sim2), jnp.asarray(obs), jnp.asarray(fit))))


def test_vmap_over_sites_and_unknown_name(series):
    sim, obs, fit = series
    s = jnp.stack([jnp.asarray(sim), jnp.asarray(sim) + 1.0])
    o = jnp.stack([jnp.asarray(obs)] * 2)
    m = jnp.stack([jnp.asarray(fit)] * 2)
    out = jax.vmap(obj.mdpl)(s, o, m)
    assert out.shape == (2,)
    assert float(out[0]) == pytest.approx(float(obj.mdpl(s[0], o[0], m[0])))
    with pytest.raises(InputError, match="objective must be one of"):
        obj.get_objective("rmse2")
