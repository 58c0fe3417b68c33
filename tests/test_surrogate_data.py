"""Run designs, batched runs, normalisation and windows of the surrogate training data."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from surrogate_toy import BOUNDS, DEFAULT, toy_forcing, toy_sim

from jlsm.errors import InputError
from jlsm.surrogate import (
    Normalisation,
    RunSet,
    build_runset,
    comparison_designs,
    generate_runs,
    oat_design,
    sobol_design,
    window_index,
)
from jlsm.surrogate.data import OAT_LEVELS


def test_oat_design_is_mdpl_sized_and_one_at_a_time():
    rng = np.random.default_rng(0)
    lo = rng.uniform(0, 1, 12)
    bounds = np.stack([lo, lo + rng.uniform(0.5, 2, 12)], axis=1)
    default = bounds.mean(axis=1)
    d = oat_design(bounds, default)
    assert d.theta.shape == (48, 12)
    for r in range(48):
        i = d.parameter[r]
        others = np.delete(np.arange(12), i)
        np.testing.assert_array_equal(d.theta[r, others], default[others])
        expected = bounds[i, 0] + d.level[r] * (bounds[i, 1] - bounds[i, 0])
        assert d.theta[r, i] == pytest.approx(expected, rel=1e-14)
    np.testing.assert_array_equal(d.level[:4], OAT_LEVELS)


def test_oat_relative_levels_are_clipped_into_bounds():
    d = oat_design(BOUNDS, BOUNDS[:, 1] * 0.95, levels=(-0.1, 0.1), mode="relative")
    assert d.theta.shape == (8, 4)
    up = d.theta[1::2, :][np.arange(4), np.arange(4)]
    np.testing.assert_allclose(up, BOUNDS[:, 1])  # +10 % of 0.95 hi is above hi
    down = d.theta[0::2, :][np.arange(4), np.arange(4)]
    np.testing.assert_allclose(down, BOUNDS[:, 1] * 0.95 * 0.9)
    with pytest.raises(InputError, match="outside its bounds"):
        oat_design(BOUNDS, BOUNDS[:, 1] * 2)


def test_sobol_design_inside_bounds_deterministic_and_log():
    a = sobol_design(BOUNDS, 192, seed=3)
    b = sobol_design(BOUNDS, 192, seed=3)
    np.testing.assert_array_equal(a.theta, b.theta)
    assert np.all(a.theta > BOUNDS[:, 0]) and np.all(a.theta < BOUNDS[:, 1])
    # each parameter's marginal is close to uniform over its range
    frac = (a.theta - BOUNDS[:, 0]) / (BOUNDS[:, 1] - BOUNDS[:, 0])
    np.testing.assert_allclose(frac.mean(axis=0), 0.5, atol=0.02)
    lg = sobol_design(BOUNDS, 64, seed=3, log=[False, False, True, True])
    u = np.log(lg.theta[:, 3] / BOUNDS[3, 0]) / np.log(BOUNDS[3, 1] / BOUNDS[3, 0])
    assert abs(u.mean() - 0.5) < 0.03
    with pytest.raises(InputError, match="lo < hi"):
        sobol_design([[1.0, 0.0]], 4)


def test_generate_runs_matches_a_loop():
    _, f = toy_forcing(3, seed=1)
    thetas = sobol_design(BOUNDS, 5, seed=0).theta
    out = np.asarray(generate_runs(toy_sim, thetas, jnp.asarray(f), batch_size=2))
    for r in range(5):
        np.testing.assert_allclose(out[r], np.asarray(toy_sim(jnp.asarray(thetas[r]), jnp.asarray(f))), rtol=1e-12, atol=1e-10)


def test_normalisation_uses_training_runs_only():
    _, f = toy_forcing(2, seed=0)
    T = f.shape[0]
    target = np.zeros((3, T, 2))
    target[0] = 1.0
    target[1] = 3.0
    target[2] = 1000.0  # a held-out run: must not move the scaling
    runs = RunSet(jnp.asarray(f[None]), jnp.zeros((1, T, 4)), jnp.asarray(np.tile(DEFAULT, (3, 1))), jnp.zeros(3, int), jnp.asarray(target))
    norm = Normalisation.fit(runs, BOUNDS, train_runs=[0, 1], dtype=np.float64)
    np.testing.assert_allclose(norm.target_mean, [2.0, 2.0])
    np.testing.assert_allclose(norm.target_std, [1.0, 1.0])
    np.testing.assert_allclose(norm.forcing_mean, f.mean(axis=0))
    np.testing.assert_allclose(norm.params_in(jnp.asarray(BOUNDS[:, 0])), -1.0)
    np.testing.assert_allclose(norm.params_in(jnp.asarray(BOUNDS[:, 1])), 1.0)
    z = norm.target_in(jnp.asarray(target[2]))
    np.testing.assert_allclose(norm.target_out(z), target[2])
    again = Normalisation.from_dict(norm.to_dict(), np.float64)
    for k in norm.__dataclass_fields__:
        np.testing.assert_array_equal(getattr(again, k), getattr(norm, k))


def test_window_index():
    pairs = window_index(100, 30, 20, runs=[4, 7])
    np.testing.assert_array_equal(pairs[:, 1][:4], [0, 20, 40, 60])  # 80 + 30 > 100 dropped
    assert pairs.shape == (8, 2) and set(pairs[:, 0]) == {4, 7}
    valid = np.ones((8, 100), bool)
    valid[7, :50] = False
    kept = window_index(100, 30, 20, runs=[4, 7], valid=valid)
    assert kept.shape == (6, 2)  # run 7: windows [0, 30) and [20, 50) have no valid step
    with pytest.raises(InputError, match="longer than the record"):
        window_index(10, 30)


def test_runset_checks_shapes():
    with pytest.raises(InputError, match="encoding"):
        RunSet(jnp.zeros((1, 10, 4)), jnp.zeros((1, 9, 4)), jnp.zeros((2, 4)), jnp.zeros(2, int), jnp.zeros((2, 10, 2)))
    assert jax.tree_util.tree_leaves(RunSet(jnp.zeros((1, 10, 4)), jnp.zeros((1, 10, 4)), jnp.zeros((2, 4)), jnp.zeros(2, int), jnp.zeros((2, 10, 2))))


def test_comparison_designs_budgets():
    d = comparison_designs(BOUNDS, DEFAULT, seed=1)
    assert d["oat"].theta.shape == (16, 4)
    assert d["sobol_1x"].theta.shape == (16, 4) and d["sobol_4x"].theta.shape == (64, 4)


def test_build_runset_runs_every_site_and_set():
    sites = [toy_forcing(2, seed=s) for s in range(2)]
    time = np.stack([t for t, _ in sites])
    forcing = np.stack([f for _, f in sites])
    thetas = sobol_design(BOUNDS, 3, seed=0).theta
    valid = np.ones(time.shape, bool)
    valid[1, -5:] = False  # padding at the end of site 1
    rs = build_runset(toy_sim, jnp.asarray(forcing), forcing, time, thetas, 2, valid=valid, dtype=np.float64)
    assert rs.target.shape == (6, 96, 2) and rs.encoding.shape == (2, 96, 8)
    np.testing.assert_array_equal(rs.site, [0, 0, 0, 1, 1, 1])
    np.testing.assert_allclose(rs.target[4, :-5], toy_sim(jnp.asarray(thetas[1]), jnp.asarray(forcing[1]))[:-5], rtol=1e-12)
    assert np.all(np.isnan(rs.target[3:, -5:])) and not np.any(np.isnan(rs.target[:3]))
