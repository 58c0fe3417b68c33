"""``jlsm simulate``: a short CN-Cng window with PFT defaults, through ``jlsm.cli.main``."""

import json

import numpy as np
import pytest
import xarray as xr
from land_sites import cn_cng_collection


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    return cn_cng_collection(tmp_path_factory.mktemp("sim"), ("2008-07-01", "2008-07-06"))


@pytest.fixture(scope="module")
def simulated(collection, tmp_path_factory):
    from jlsm.cli import main

    out = tmp_path_factory.mktemp("sim_out")
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        status = main(["simulate", str(collection), "--out", str(out), "--pft-defaults"])
    return status, out, buf.getvalue()


def test_simulate_writes_cf_netcdf_with_closed_balances(simulated):
    status, out, _ = simulated
    assert status == 0
    ds = xr.load_dataset(out / "simulate_CN-Cng.nc")
    for name, units in (("Qh", "W m-2"), ("Qle", "W m-2"), ("Rnet", "W m-2"), ("Qg", "W m-2"), ("SurfTemp", "K"),
                        ("Ustar", "m s-1"), ("SoilMoist", "m3 m-3"), ("Precip", "kg m-2 s-1"),
                        ("Evap", "kg m-2 s-1"), ("Qs", "kg m-2 s-1"), ("Qsb", "kg m-2 s-1"),
                        ("DelWaterStorage", "kg m-2")):
        assert ds[name].attrs["units"] == units, name
        assert np.all(np.isfinite(ds[name].values)), name
    assert ds["SoilMoist"].dims == ("time", "layer") and ds.sizes["layer"] >= 4
    assert ds.sizes["time"] == 5 * 48
    dt = ds.attrs["timestep_seconds"]
    # water: storage change of every step = (P - E - runoff - drainage) dt, and over the record
    net = (ds["Precip"] - ds["Evap"] - ds["Qs"] - ds["Qsb"]).values * dt
    scale = np.abs(ds["WaterStorage"].values).max()
    assert np.max(np.abs(ds["DelWaterStorage"].values - net)) < 1e-10 * scale
    assert float(ds["DelWaterStorage"].sum()) == pytest.approx(float(ds["water_storage_change"]), rel=1e-10, abs=1e-9)
    # energy: Rn - H - LE - G = 0 at every step
    resid = (ds["Rnet"] - ds["Qh"] - ds["Qle"] - ds["Qg"]).values
    assert np.max(np.abs(resid)) < 1e-8 * np.max(np.abs(ds["Rnet"].values))
    assert "Ukkola" in ds.attrs["data_citation"]
    assert ds.attrs["pft"] == "GRA"
    assert ds["parameter_value"].sel(parameter="rs_min") == pytest.approx(40.0)  # VEGPARM.TBL GRA RS


def test_simulate_skill_matches_the_written_series(simulated):
    _, out, text = simulated
    ds = xr.load_dataset(out / "simulate_CN-Cng.nc")
    skill = json.loads((out / "skill.json").read_text())
    for v in ("Qh", "Qle"):
        obs, sim = ds[f"obs_{v}"].values, ds[v].values
        ok = np.isfinite(obs)
        step = skill["sites"]["CN-Cng"][v]["step (30 min)"]
        assert step["n"] == int(ok.sum())
        assert step["rmse"] == pytest.approx(np.sqrt(np.mean((sim[ok] - obs[ok]) ** 2)), rel=1e-9)
        assert step["bias"] == pytest.approx(np.mean(sim[ok] - obs[ok]), rel=1e-9, abs=1e-9)
        assert step["pearson_r"] == pytest.approx(np.corrcoef(sim[ok], obs[ok])[0, 1], rel=1e-9)
        assert skill["sites"]["CN-Cng"][v]["daily"]["n"] == 5
    assert "RMSE [W m-2]" in text and "bias [W m-2]" in text and "Ukkola" in text
    assert (out / "simulate_CN-Cng.png").stat().st_size > 10_000 or not _has_matplotlib()


def test_simulate_unknown_site_is_one_line_error(collection, tmp_path, capsys):
    from jlsm.cli import main

    assert main(["simulate", str(collection), "--site", "XX-Nop", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "XX-Nop" in err and "CN-Cng" in err


def _has_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True
