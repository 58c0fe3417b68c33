"""The flux-site part of ``jlsm demo`` (:mod:`jlsm.cli.flux_demo`) with tiny settings."""

import argparse
import json

import numpy as np
import pytest
import xarray as xr


def _args(out, **kw):
    base = dict(out=out, flux_fit_days=2.0, flux_test_days=1.0, flux_starts=2, flux_steps=5, no_progress=True)
    base.update(kw)
    return argparse.Namespace(**base)


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    import contextlib
    import io
    import os

    from jlsm.cli import flux_demo

    out = tmp_path_factory.mktemp("flux")
    empty = tmp_path_factory.mktemp("no_data")
    old = os.environ.get("JLSM_DATA_DIR")
    os.environ["JLSM_DATA_DIR"] = str(empty)  # no data folder: the synthetic twin
    try:
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            summary = flux_demo.run(_args(out))
    finally:
        if old is None:
            os.environ.pop("JLSM_DATA_DIR")
        else:
            os.environ["JLSM_DATA_DIR"] = old
    return summary, out, buf.getvalue()


def test_twin_prints_and_writes_results(twin):
    summary, out, text = twin
    assert "synthetic twin" in text and "RMSE Qh" in text and "[W m-2]" in text
    assert summary == json.loads((out / "flux_site.json").read_text())
    ds = xr.load_dataset(out / "flux_site.nc")
    assert ds.sizes["start"] == 2 and ds.sizes["parameter"] == 13
    assert summary["windows"] == {"fit_steps": 2 * 48, "test_steps": 48}
    # the twin's parameters are listed next to the estimates
    from jlsm.cli.flux_demo import TWIN_TRUTH

    for name, value in TWIN_TRUTH.items():
        assert summary["parameters"][name]["true"] == pytest.approx(value)
        assert name in text
    # the twin's observations are far from the defaults: the calibration brings the fit objective down
    fit = summary["skill"]
    default = fit["default"]["fit"]["Qh"]["rmse"] + fit["default"]["fit"]["Qle"]["rmse"]
    calibrated = fit["calibrated"]["fit"]["Qh"]["rmse"] + fit["calibrated"]["fit"]["Qle"]["rmse"]
    assert calibrated < default
    assert float(np.min(ds["final_loss"].values)) == pytest.approx(calibrated, rel=1e-6)
    assert (out / "flux_site.png").is_file() or "flux_site.png" not in text


def test_twin_skill_is_that_of_the_written_series(twin):
    summary, out, _ = twin
    ds = xr.load_dataset(out / "flux_site.nc")
    test = ds["test_mask"].values[0]
    for method, prefix in (("default", "default_"), ("calibrated", "sim_")):
        for v in ("Qh", "Qle"):
            obs, sim = ds[f"obs_{v}"].values[0][test], ds[f"{prefix}{v}"].values[0][test]
            rmse = np.sqrt(np.mean((sim - obs) ** 2))
            assert summary["skill"][method]["test"][v]["rmse"] == pytest.approx(rmse, rel=1e-9)
    # observations are the model at the true parameters: the defaults miss them
    assert summary["skill"]["default"]["fit"]["Qle"]["rmse"] > 1.0


def test_twin_forcing_is_cn_cng_like():
    from jlsm.cli.flux_demo import twin_forcing

    f, utc = twin_forcing(3.0, 1.0)
    assert f.n_times == 4 * 48 and utc.size == 4 * 48
    sw = np.asarray(f.sw_down).reshape(4, 48)
    assert 850.0 < sw.max() < 1000.0  # PLUMBER2 CN-Cng July 2008 peak 937 W m-2
    assert str(utc[0])[:16] == "2008-06-30T16:00"  # 1 July 00:00 local standard time (UTC+8)
    local_noon = (np.argmax(sw[0]) + 0.5) / 2.0  # rows are local days; centre of the step [h]
    assert abs(local_noon - 11.77) < 0.3  # solar noon at 123.5 E is 11:46 local standard time
    assert np.mean(np.asarray(f.t_air)) == pytest.approx(297.1, abs=0.05)
    rain_mm = float(np.sum(np.asarray(f.precip))) * f.dt
    assert rain_mm == pytest.approx(15.0)  # one 3-h, 5 mm h-1 shower in four days (every third day)


def test_demo_flags_parse():
    from jlsm.cli import demo

    parser = argparse.ArgumentParser()
    demo.add_parser(parser.add_subparsers(dest="command"))
    assert parser.parse_args(["demo"]).flux_site is True
    assert parser.parse_args(["demo", "--no-flux-site"]).flux_site is False
    args = parser.parse_args(["demo", "--flux-starts", "4", "--flux-steps", "20", "--flux-fit-days", "7"])
    assert (args.flux_starts, args.flux_steps, args.flux_fit_days) == (4, 20, 7.0)


def test_real_site_window(data_dir):
    from jlsm.cli import flux_demo

    for name in (flux_demo.MET, flux_demo.FLUX):
        if not (data_dir / name).is_file():
            pytest.skip(f"{data_dir / name} not found; PLUMBER2 CN-Cng (Ukkola et al. 2022) in the shared data folder")
    data = flux_demo.real_site(data_dir, 3.0, 2.0)
    assert data.sites == ["CN-Cng"] and data.fit.sum() == 3 * 48 and data.test.sum() == 2 * 48
    t = np.asarray(data.time)[0]
    first_test = t[data.test[0]][0]
    assert str(first_test)[:16] == "2008-07-03T16:00"  # 4 July 00:00 local standard time (UTC+8)
    assert np.isfinite(data.obs["Qle"][0][data.fit[0]]).mean() > 0.8
