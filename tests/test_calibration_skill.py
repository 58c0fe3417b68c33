"""Skill at half-hourly, daily and monthly scales against pandas resampling."""

import numpy as np
import pandas as pd
import pytest

from jlsm import metrics
from jlsm.calibration import skill


@pytest.fixture
def site():
    rng = np.random.default_rng(11)
    time = pd.date_range("2010-01-01", "2010-12-31 23:30", freq="30min").to_numpy()
    n = time.size
    hours = (np.arange(n) % 48) / 2.0
    diurnal = np.clip(np.sin((hours - 6) / 12 * np.pi), 0, None)
    obs = {"Qh": 20 + 150 * diurnal + 15 * rng.standard_normal(n),
           "Qle": 30 + 200 * diurnal + 20 * rng.standard_normal(n)}
    sim = {"Qh": obs["Qh"] * 0.9 + 10 * rng.standard_normal(n), "Qle": obs["Qle"] + 12}
    obs["Qh"][rng.random(n) < 0.3] = np.nan  # 30 % gaps in Qh
    obs["Qle"][500:900] = np.nan  # a long gap in Qle
    fit = time < np.datetime64("2010-08-15")
    return time, sim, obs, {"fit": fit, "test": ~fit}


def _pandas_means(time, s, o, rule, min_fraction=0.5):
    bad = np.isnan(s) | np.isnan(o)
    df = pd.DataFrame({"s": np.where(bad, np.nan, s), "o": np.where(bad, np.nan, o)}, index=pd.DatetimeIndex(time))
    mean = df.resample(rule).mean()
    count = df.resample(rule).count()
    size = df.resample(rule).size()
    ok = count["o"] >= np.maximum(min_fraction * size, 1)
    return mean["s"].where(ok).to_numpy(), mean["o"].where(ok).to_numpy()


@pytest.mark.parametrize("scale,rule", [("daily", "D"), ("monthly", "MS")])
def test_daily_monthly_metrics_match_pandas_resample(site, scale, rule):
    time, sim, obs, windows = site
    ds = skill.site_skill(time, sim, obs, windows)
    for w, mask in windows.items():
        for v in ("Qh", "Qle"):
            s = np.where(mask, sim[v], np.nan)
            o = np.where(mask, obs[v], np.nan)
            ps, po = _pandas_means(time, s, o, rule)
            want = metrics.all_metrics(ps, po)
            for m in ("rmse", "bias", "kge", "nse", "pearson_r"):
                got = float(ds["skill"].sel(window=w, scale=scale, variable=v, metric=m))
                assert np.isfinite(got), (w, v, m)
                assert got == pytest.approx(float(want[m]), rel=1e-10, abs=1e-12), (w, v, m)
            assert int(ds["n"].sel(window=w, scale=scale, variable=v)) == want["n"]


def test_halfhourly_is_plain_metrics_on_window(site):
    time, sim, obs, windows = site
    ds = skill.site_skill(time, sim, obs, windows)
    m = windows["test"]
    want = metrics.rmse(sim["Qh"][m], obs["Qh"][m])
    assert float(ds["skill"].sel(window="test", scale="halfhourly", variable="Qh", metric="rmse")) == pytest.approx(want)


def test_daily_means_use_paired_steps_only():
    time = pd.date_range("2010-06-01", periods=48, freq="30min").to_numpy()
    obs = np.full(48, 100.0)
    obs[:24] = np.nan  # night missing
    sim = np.where(np.arange(48) < 24, -50.0, 100.0)  # wrong only where unmeasured
    ds = skill.site_skill(time, {"Qh": sim}, {"Qh": obs}, {"all": np.ones(48, bool)}, min_fraction=0.4)
    assert float(ds["skill"].sel(window="all", scale="daily", variable="Qh", metric="rmse")) == pytest.approx(0.0)


def test_mean_diurnal_cycle_per_season(site):
    time, _, obs, _ = site
    c = skill.mean_diurnal_cycle(time, obs["Qle"])
    assert c.sizes["hour"] == 48
    df = pd.DataFrame({"v": obs["Qle"]}, index=pd.DatetimeIndex(time))
    mam = df[df.index.month.isin([3, 4, 5])]
    assert mam["v"].notna().any()
    want = mam.groupby(mam.index.hour + mam.index.minute / 60.0)["v"].mean()
    np.testing.assert_allclose(c.sel(season="MAM").values, want.to_numpy(), rtol=1e-12)
    short = skill.mean_diurnal_cycle(time[:2000], obs["Qle"][:2000])  # January to early March
    assert np.all(np.isnan(short.sel(season="JJA").values))


def test_collection_skill_and_summary(site):
    time, sim, obs, windows = site
    times = np.stack([time, time])
    obs2 = {v: np.stack([obs[v], obs[v]]) for v in obs}
    sims = {"default": {v: np.stack([sim[v], sim[v] + 5]) for v in sim},
            "calibrated": {v: np.stack([obs[v] * 0 + np.nan_to_num(obs[v]), sim[v]]) for v in sim}}
    win = {w: np.stack([m, m]) for w, m in windows.items()}
    ds = skill.collection_skill(times, sims, obs2, win, sites=["A", "B"], pft=["grass", "grass"])
    assert ds["skill"].dims == ("site", "method", "window", "scale", "variable", "metric")
    sel = {"site": "A", "method": "calibrated", "window": "test", "scale": "daily", "variable": "Qh", "metric": "rmse"}
    assert float(ds["skill"].sel(sel)) == pytest.approx(0.0, abs=1e-9)
    summ = skill.summarise(ds)
    sel = {"method": "default", "window": "test", "scale": "monthly", "variable": "Qle", "metric": "rmse"}
    want = ds["skill"].sel(sel).mean()
    assert float(summ["mean"].sel(sel)) == pytest.approx(float(want))
    assert list(summ["pft_mean"]["pft_group"].values) == ["grass"]
