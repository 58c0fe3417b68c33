"""PLUMBER empirical benchmarks: exact linear relations recovered, NaN-aware."""

import numpy as np
import pytest

from jlsm.calibration import benchmarks as bm
from jlsm.errors import InputError


@pytest.fixture
def met():
    rng = np.random.default_rng(5)
    n = 3000
    sw = np.clip(800 * rng.random(n) - 100, 0, None)
    ta = 280 + 15 * rng.random(n)
    rh = 0.3 + 0.6 * rng.random(n)
    fit = np.arange(n) < 2000
    return sw, ta, rh, fit


def test_1lin_recovers_linear_relation_with_gaps(met):
    sw, _, _, fit = met
    qh = -12.0 + 0.31 * sw
    qle = 5.0 + 0.52 * sw
    qh_obs, sw_gap = qh.copy(), sw.copy()
    qh_obs[::7] = np.nan
    sw_gap[3::11] = np.nan
    pred = bm.benchmark_1lin(sw_gap, {"Qh": qh_obs, "Qle": qle}, fit)
    ok = np.isfinite(sw_gap)
    np.testing.assert_allclose(pred["Qh"][ok], qh[ok], rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(pred["Qle"][ok], qle[ok], rtol=1e-10, atol=1e-9)
    assert np.all(np.isnan(pred["Qh"][~ok]))


def test_1lin_is_fitted_on_fit_window_only(met):
    sw, _, _, fit = met
    y = 0.4 * sw
    y_obs = np.where(fit, y, 1e4)  # test window values must not enter the fit
    pred = bm.benchmark_1lin(sw, {"Qh": y_obs}, fit)
    np.testing.assert_allclose(pred["Qh"], y, atol=1e-8)


def test_2lin_recovers_two_input_relation(met):
    sw, ta, _, fit = met
    y = 3.0 + 0.2 * sw - 1.5 * (ta - 273.15)
    pred = bm.benchmark_2lin(sw, ta, {"Qle": y}, fit)
    np.testing.assert_allclose(pred["Qle"], y, atol=1e-8)


def test_3km27_recovers_global_linear_relation_with_gaps(met):
    sw, ta, rh, fit = met
    y = 10 + 0.3 * sw + 2.0 * (ta - 285) - 40 * rh
    y_obs = y.copy()
    y_obs[::5] = np.nan
    rh_gap = rh.copy()
    rh_gap[7::13] = np.nan
    pred = bm.benchmark_3km27(sw, ta, rh_gap, {"Qh": y_obs}, fit, seed=1)
    ok = np.isfinite(rh_gap)
    np.testing.assert_allclose(pred["Qh"][ok], y[ok], atol=1e-7)
    assert np.all(np.isnan(pred["Qh"][~ok]))


def test_3km27_recovers_piecewise_linear_relation_in_separated_clusters():
    rng = np.random.default_rng(2)
    centres = np.array([[i, j, k] for i in range(3) for j in range(3) for k in range(3)], float) * 50.0
    lab = np.repeat(np.arange(27), 120)
    x = centres[lab] + rng.standard_normal((lab.size, 3))
    slopes = rng.standard_normal((27, 3))
    inter = 100 * rng.standard_normal(27)
    y = inter[lab] + np.sum(slopes[lab] * x, axis=1)
    fit = rng.random(lab.size) < 0.7
    pred = bm.benchmark_3km27(x[:, 0], x[:, 1], x[:, 2], {"Qle": y}, fit, seed=0)
    np.testing.assert_allclose(pred["Qle"], y, atol=1e-6)


def test_3km27_same_seed_same_result(met):
    sw, ta, rh, fit = met
    rng = np.random.default_rng(0)
    y = 0.3 * sw * rh + 20 * rng.standard_normal(sw.size)
    a = bm.benchmark_3km27(sw, ta, rh, {"Qh": y}, fit, seed=4)["Qh"]
    b = bm.benchmark_3km27(sw, ta, rh, {"Qh": y}, fit, seed=4)["Qh"]
    np.testing.assert_array_equal(a, b)
    # and better than 1lin on a nonlinear relation, in the test window
    lin = bm.benchmark_1lin(sw, {"Qh": y}, fit)["Qh"]
    test = ~fit
    assert np.sqrt(np.mean((a[test] - y[test]) ** 2)) < np.sqrt(np.mean((lin[test] - y[test]) ** 2))


def test_relative_humidity_and_site_benchmarks(met):
    sw, ta, rh, fit = met
    p = np.full(sw.size, 101325.0)
    es = 611.2 * np.exp(17.67 * (ta - 273.15) / (ta - 29.65))
    e = rh * es
    q = 0.622 * e / (p - 0.378 * e)
    np.testing.assert_allclose(bm.relative_humidity(q, ta, p), rh, rtol=1e-12)
    y = 1.0 + 0.5 * sw
    out = bm.site_benchmarks({"SWdown": sw, "Tair": ta, "Qair": q, "PSurf": p}, {"Qh": y}, fit)
    assert set(out) == {"1lin", "3km27"}
    np.testing.assert_allclose(out["3km27"]["Qh"], y, atol=1e-7)
    with pytest.raises(InputError, match="'Tair' is missing"):
        bm.site_benchmarks({"SWdown": sw}, {"Qh": y}, fit, names=("2lin",))
