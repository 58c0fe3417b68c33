"""Sobol-256 and one-factor-at-a-time designs; leave-one-site-out transfer."""

import numpy as np
import pytest

from jlsm.calibration import designs, transfer
from jlsm.errors import ParameterError
from jlsm.params import Parameter, ParameterSpace


@pytest.fixture
def space():
    return ParameterSpace({
        "a": (0.1, 0.4),
        "b": Parameter("b", (1e-7, 1e-4), "log-sigmoid"),
        "c": (50.0, 500.0),
    })


def test_sobol256_within_bounds_and_reproducible(space):
    x = designs.sobol_design(space, 256, seed=3)
    assert x.shape == (256, 3)
    assert np.all(x > space.lower) and np.all(x < space.upper)
    np.testing.assert_array_equal(x, designs.sobol_design(space, 256, seed=3))
    assert not np.array_equal(x, designs.sobol_design(space, 256, seed=4))
    # log-sigmoid parameter spread uniformly in log space: about half below the geometric mean
    assert 0.4 < np.mean(x[:, 1] < np.sqrt(1e-7 * 1e-4)) < 0.6


def test_sobol_with_per_site_bounds_maps_the_same_points(space):
    lo, hi, log = designs.space_bounds(space)
    lower = np.stack([lo, lo * 1.1])
    upper = np.stack([hi, hi * 0.9])
    x = designs.sobol_design((lower, upper, log), 256, seed=3)
    assert x.shape == (2, 256, 3)
    np.testing.assert_allclose(x[0], space.sample(256, seed=3), rtol=1e-12)
    assert np.all(x[1] > lower[1]) and np.all(x[1] < upper[1])
    np.testing.assert_array_equal(designs.best_of_design([[3.0, np.nan, 1.0], [np.inf, 2.0, 5.0]]), [2, 1])


def test_oat_design_shape_and_levels(space):
    lo, hi, log = designs.space_bounds(space)
    d = np.array([0.2, 1e-5, 100.0])
    sets, param, level = designs.oat_design(d, lo, hi, log)
    assert sets.shape == (12, 3)
    assert list(param) == [0] * 4 + [1] * 4 + [2] * 4
    assert list(level) == [0, 1, 2, 3] * 3
    for row, p, k in zip(sets, param, level):
        others = np.delete(np.arange(3), p)
        np.testing.assert_array_equal(row[others], d[others])  # one factor at a time
        f = designs.OAT_FRACTIONS[k]
        if log[p]:
            want = np.exp(np.log(d[p]) + abs(f) * ((np.log(hi[p]) if f > 0 else np.log(lo[p])) - np.log(d[p])))
        else:
            want = d[p] + abs(f) * ((hi[p] if f > 0 else lo[p]) - d[p])
        assert row[p] == pytest.approx(want, rel=1e-12)
        assert lo[p] < row[p] < hi[p]
    # c: 100 -> 100 - 2/3*50, 100 - 1/3*50, 100 + 1/3*400, 100 + 2/3*400
    np.testing.assert_allclose(sets[8:, 2], [100 - 100 / 3, 100 - 50 / 3, 100 + 400 / 3, 100 + 800 / 3])
    with pytest.raises(ParameterError, match="outside its bounds"):
        designs.oat_levels([0.5, 1e-5, 100.0], lo, hi, log)


def test_oat_table_relative_change():
    rmse = np.arange(1.0, 9.0)  # 2 parameters x 4 levels
    t = designs.oat_table(rmse, 4.0, ["p", "q"])
    assert t["relative_change"].shape == (2, 4)
    assert float(t["relative_change"].sel(parameter="q", level=3)) == pytest.approx(8 / 4 - 1)
    np.testing.assert_allclose(t["fraction"], designs.OAT_FRACTIONS)


def test_loo_mean_in_transformed_space():
    lo = np.array([0.0, 1e-6])
    hi = np.array([1.0, 1e-2])
    log = np.array([False, True])
    x = np.array([[0.2, 1e-5], [0.9, 1e-3], [0.5, 1e-4], [0.3, 2e-3]])
    groups = ["forest", "forest", "forest", "crop"]
    out = transfer.leave_one_out(x, groups, lo, hi, log, sites=list("ABCD"), names=["f", "k"])
    # site A: donors B and C; mean of logit in the transformed space, mapped back
    u = transfer.to_unconstrained(x[1:3], lo, hi, log).mean(axis=0)
    want = transfer.to_physical(u, lo, hi, log)
    np.testing.assert_allclose(out["mean"].sel(site="A").values, want, rtol=1e-10)
    p = np.array([0.9, 0.5])
    want_f = 1.0 / (1.0 + np.exp(-np.mean(np.log(p / (1 - p)))))
    assert float(out["mean"].sel(site="A", parameter="f")) == pytest.approx(want_f, rel=1e-10)
    # log-sigmoid: the mean is that of the logit of the log position, not the arithmetic mean
    assert float(out["mean"].sel(site="A", parameter="k")) != pytest.approx(np.mean([1e-3, 1e-4]), rel=1e-3)
    np.testing.assert_allclose(out["median"].sel(site="A").values, np.median(x[1:3], axis=0))
    assert int(out["donors"].sel(site="A")) == 2
    # a site alone in its group has no donors
    assert np.all(np.isnan(out["mean"].sel(site="D").values)) and int(out["donors"].sel(site="D")) == 0
    # the left-out site's own value never enters
    x2 = x.copy()
    x2[0] = [0.999, 9e-3]
    out2 = transfer.leave_one_out(x2, groups, lo, hi, log)
    np.testing.assert_allclose(out2["mean"].values[0], out["mean"].values[0])


def test_loo_excludes_runs_of_the_same_site():
    x = np.array([[0.2], [0.3], [0.6]])
    out = transfer.leave_one_out(x, ["crop"] * 3, [0.0], [1.0], site_ids=["US-CRT", "US-CRT", "US-Ne1"])
    assert list(out["donors"].values) == [1, 1, 2]
    assert float(out["median"].values[0, 0]) == pytest.approx(0.6)


def test_loo_donors_clipped_into_target_bounds():
    x = np.array([[5.0], [9.0]])
    lower = np.array([[0.0], [0.0]])
    upper = np.array([[6.0], [10.0]])  # site 0's bounds exclude site 1's value
    out = transfer.leave_one_out(x, ["g", "g"], lower, upper)
    v = float(out["mean"].values[0, 0])
    assert 0.0 < v < 6.0 and v == pytest.approx(6.0, rel=1e-6)
