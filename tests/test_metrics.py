"""Tests of jlsm.metrics: hand-computed values, NaN handling, JAX jit/grad."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr

from jlsm import metrics as m
from jlsm.errors import InputError, ObservationError

# sim = obs + 1: bias 1, mae 1, rmse 1, r 1, alpha 1, beta 4/3
S1, O1 = np.array([2.0, 4.0, 6.0]), np.array([1.0, 3.0, 5.0])
# anti-correlated, same mean and spread: r -1, alpha 1, beta 1
S2, O2 = np.array([1.0, 2.0, 3.0]), np.array([3.0, 2.0, 1.0])
# same mean, twice the spread: r 1, alpha 2, beta 1
S3, O3 = np.array([1.0, 3.0, 5.0]), np.array([2.0, 3.0, 4.0])


def test_hand_computed_offset():
    assert m.bias(S1, O1) == pytest.approx(1.0)
    assert m.mae(S1, O1) == pytest.approx(1.0)
    assert m.rmse(S1, O1) == pytest.approx(1.0)
    assert m.pearson_r(S1, O1) == pytest.approx(1.0)
    # SSE 3, sum of squared obs anomalies 8
    assert m.nse(S1, O1) == pytest.approx(1.0 - 3.0 / 8.0)
    c = m.kge_components(S1, O1)
    assert (c.r, c.alpha, c.beta) == pytest.approx((1.0, 1.0, 4.0 / 3.0))
    assert c.kge == pytest.approx(1.0 - 1.0 / 3.0)
    assert m.kge(S1, O1) == pytest.approx(c.kge)


def test_hand_computed_anticorrelated():
    assert m.bias(S2, O2) == pytest.approx(0.0)
    assert m.mae(S2, O2) == pytest.approx(4.0 / 3.0)
    assert m.rmse(S2, O2) == pytest.approx(math.sqrt(8.0 / 3.0))
    assert m.pearson_r(S2, O2) == pytest.approx(-1.0)
    assert m.nse(S2, O2) == pytest.approx(1.0 - 8.0 / 2.0)
    assert m.kge(S2, O2) == pytest.approx(1.0 - 2.0)


def test_hand_computed_variability_ratio():
    c = m.kge_components(S3, O3)
    assert c.alpha == pytest.approx(2.0)
    assert c.beta == pytest.approx(1.0)
    assert c.kge == pytest.approx(0.0)
    assert m.nse(S3, O3) == pytest.approx(0.0)


def test_perfect_simulation():
    obs = np.array([280.0, 285.5, 290.1, 287.3, 281.0])
    assert m.rmse(obs, obs) == 0.0
    assert m.nse(obs, obs) == pytest.approx(1.0)
    assert m.kge(obs, obs) == pytest.approx(1.0)
    assert m.pearson_r(obs, obs) == pytest.approx(1.0)


def test_nan_pairs_are_dropped():
    s = np.r_[S1, np.nan, 10.0]
    o = np.r_[O1, 7.0, np.nan]
    ref = m.all_metrics(S1, O1)
    got = m.all_metrics(s, o)
    assert got["n"] == 3
    for k in m.METRICS:
        assert got[k] == pytest.approx(ref[k]), k


def test_undefined_metrics_are_nan():
    nan = np.full(4, np.nan)
    assert np.isnan(m.rmse(nan, nan))
    assert m.all_metrics(nan, nan)["n"] == 0
    const = np.ones(3)
    assert np.isnan(m.nse(S1, const))
    assert np.isnan(m.pearson_r(S1, const))
    assert np.isnan(m.kge(S1, const))


def test_shape_mismatch():
    with pytest.raises(InputError, match="shape"):
        m.rmse(np.ones(3), np.ones(4))


def test_numpy_results_are_float64():
    assert isinstance(m.rmse(S1, O1), np.float64)
    assert isinstance(m.rmse([1, 2], [1, 3]), np.float64)


def test_jax_matches_numpy_under_jit():
    s = np.r_[S3, 2.5, np.nan]
    o = np.r_[O3, np.nan, 3.5]
    ref = m.all_metrics(s, o)
    got = jax.jit(m.all_metrics)(jnp.asarray(s), jnp.asarray(o))
    assert int(got["n"]) == ref["n"]
    for k in (*m.METRICS, "kge_alpha", "kge_beta"):
        assert float(got[k]) == pytest.approx(ref[k], rel=1e-5, abs=1e-6), k


@pytest.mark.parametrize("name", ["rmse", "mae", "bias", "pearson_r", "nse", "kge"])
def test_gradients_finite_with_nan_obs(name):
    f = getattr(m, name)
    obs = jnp.array([1.0, jnp.nan, 3.0, 2.0, jnp.nan, 5.0])
    sim = jnp.array([1.5, 2.0, 2.5, 2.0, 7.0, 4.0])
    g = jax.jit(jax.grad(lambda s: f(s, obs)))(sim)
    assert np.all(np.isfinite(np.asarray(g)))
    # points without an observation do not affect the metric
    assert float(g[1]) == 0.0 and float(g[4]) == 0.0


@pytest.mark.parametrize("name", ["rmse", "nse", "kge"])
def test_gradients_finite_at_perfect_fit(name):
    f = getattr(m, name)
    obs = jnp.array([1.0, jnp.nan, 3.0, 2.0])
    sim = jnp.array([1.0, 0.0, 3.0, 2.0])
    g = jax.grad(lambda s: f(s, obs))(sim)
    assert np.all(np.isfinite(np.asarray(g)))


def test_rmse_gradient_value():
    obs = jnp.array([1.0, jnp.nan, 3.0])
    sim = jnp.array([2.0, 5.0, 2.0])
    g = jax.grad(lambda s: m.rmse(s, obs))(sim)
    r = math.sqrt((1.0 + 1.0) / 2.0)
    # d rmse / d s_i = (s_i - o_i) / (n rmse) over valid pairs
    np.testing.assert_allclose(np.asarray(g), [1.0 / (2 * r), 0.0, -1.0 / (2 * r)], rtol=1e-6)


@pytest.mark.parametrize("name", ["rmse", "kge"])
def test_grad_with_nan_in_sim(name):
    # a NaN in sim drops the pair; it must not poison the other gradients
    f = getattr(m, name)
    obs = jnp.array([1.0, 2.0, 3.0, 2.5])
    g = jax.grad(lambda s: f(s, obs))(jnp.array([1.2, jnp.nan, 2.9, 2.0]))
    g = np.asarray(g)
    assert g[1] == 0.0
    assert np.all(np.isfinite(g))


def _times(n, hours=6):
    return np.datetime64("2020-01-01T00", "ns") + np.arange(n) * np.timedelta64(hours, "h")


def test_daily_mean_arrays():
    t = _times(8)
    v = np.arange(8.0)
    v[1] = np.nan
    days, means = m.daily_mean(v, t)
    assert list(days.astype(str)) == ["2020-01-01", "2020-01-02"]
    np.testing.assert_allclose(means, [(0 + 2 + 3) / 3, (4 + 5 + 6 + 7) / 4])
    # a local-day shift of +12 h moves the last two steps of day 1 into day 2
    days, means = m.daily_mean(v, t, offset_hours=12.0)
    np.testing.assert_allclose(means, [0.0, (2 + 3 + 4 + 5) / 4, 6.5])
    _, means = m.daily_mean(v, t, min_count=4)
    assert np.isnan(means[0]) and means[1] == 5.5


def test_daily_mean_xarray_and_2d():
    t = _times(8)
    v = np.c_[np.arange(8.0), 10 + np.arange(8.0)]
    da = xr.DataArray(v, dims=("time", "depth"), coords={"time": t, "depth": [0.02, 0.05]})
    out = m.daily_mean(da)
    assert out.dims == ("time", "depth")
    np.testing.assert_allclose(out.values, [[1.5, 11.5], [5.5, 15.5]])
    assert str(out.time.values[1])[:10] == "2020-01-02"
    _, means = m.daily_mean(v, t)
    np.testing.assert_allclose(means, out.values)


def test_daily_mean_needs_time():
    with pytest.raises(InputError, match="time"):
        m.daily_mean(np.ones(3))


def _datasets():
    t = _times(8)
    obs = xr.Dataset(
        {
            "Ts": ("time", 280.0 + np.arange(8.0), {"units": "K"}),
            "SoilTemp": (("time", "depth"), np.c_[np.arange(8.0), np.arange(8.0) * 2], {"units": "K"}),
        },
        coords={"time": t, "depth": [0.02, 0.05]},
    )
    sim = obs.copy(deep=True)
    sim["Ts"] = sim["Ts"] + 1.0
    return sim, obs


def test_metrics_table_dataset():
    sim, obs = _datasets()
    tab = m.metrics_table(sim, obs, ["Ts", "SoilTemp"])
    assert tab["skill"].dims == ("variable", "metric")
    assert list(tab.metric.values) == list(m.METRICS)
    assert list(tab.variable.values) == ["Ts", "SoilTemp[depth=0.02]", "SoilTemp[depth=0.05]"]
    assert float(tab.skill.sel(variable="Ts", metric="bias")) == pytest.approx(1.0)
    assert float(tab.skill.sel(variable="SoilTemp[depth=0.05]", metric="rmse")) == 0.0
    assert float(tab.skill.sel(variable="SoilTemp[depth=0.02]", metric="kge")) == pytest.approx(1.0)
    assert tab.units.sel(variable="Ts").item() == "K"
    assert tab.n.sel(variable="Ts").item() == 8


def test_metrics_table_aligns_time_and_daily():
    sim, obs = _datasets()
    tab = m.metrics_table(sim.isel(time=slice(2, None)), obs, ["Ts"])
    assert tab.n.item() == 6
    daily = m.metrics_table(sim, obs, ["Ts"], daily=True)
    assert daily.attrs["daily"] == 1
    assert daily.n.item() == 2
    assert float(daily.skill.sel(variable="Ts", metric="bias")) == pytest.approx(1.0)


def test_metrics_table_dicts():
    t = _times(8)
    tab = m.metrics_table({"Qh": S1}, {"Qh": O1}, ["Qh"])
    assert tab.skill.sel(variable="Qh", metric="nse").item() == pytest.approx(0.625)
    s = np.arange(8.0)
    daily = m.metrics_table({"Qh": s + 2}, {"Qh": s}, "Qh", time=t, daily=True)
    assert daily.skill.sel(variable="Qh", metric="bias").item() == pytest.approx(2.0)
    with pytest.raises(InputError, match="time"):
        m.metrics_table({"Qh": s}, {"Qh": s}, ["Qh"], daily=True)


def test_metrics_table_errors():
    sim, obs = _datasets()
    with pytest.raises(ObservationError, match="Qle"):
        m.metrics_table(sim, obs, ["Qle"])
    late = sim.assign_coords(time=sim.time.values + np.timedelta64(100, "D"))
    with pytest.raises(ObservationError, match="Ts"):
        m.metrics_table(late, obs, ["Ts"])
    with pytest.raises(ObservationError, match="Qh"):
        m.metrics_table({"Qh": np.ones(3)}, {"Qh": np.ones(4)}, ["Qh"])
