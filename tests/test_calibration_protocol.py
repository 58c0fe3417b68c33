"""The whole protocol on toy-model twins: every method, skill, JSON summary, files."""

import json

import numpy as np
import pytest

from calibration_toy import twin_data
from jlsm.calibration import objectives
from jlsm.calibration.protocol import run_protocol


@pytest.fixture(scope="module")
def protocol(tmp_path_factory):
    folder = tmp_path_factory.mktemp("protocol")
    data = twin_data(days=12)
    return data, folder, run_protocol(data, starts=3, steps=40, sobol=16, seed=0, outdir=folder)


def _fit_loss(data, series, i):
    sim = np.stack([series["Qh"][i], series["Qle"][i]], -1)
    obs = np.stack([data.obs["Qh"][i], data.obs["Qle"][i]], -1)
    return float(objectives.mdpl(sim, obs, data.fit[i]))


def test_every_method_is_evaluated(protocol):
    data, _, out = protocol
    methods = list(out.skill["method"].values)
    for m in ("default", "sobol256", "calibrated", "1lin", "3km27", "loo", "loo_median"):
        assert m in methods
    for i in range(data.n_sites):
        cal = _fit_loss(data, out.series["calibrated"], i)
        assert cal <= _fit_loss(data, out.series["default"], i) + 1e-9  # start 0 is the default
        assert cal < _fit_loss(data, out.series["sobol256"], i)
    # leave-one-out with two sites of one group: each site gets the other's estimate
    np.testing.assert_allclose(out.parameters["loo"][0], out.parameters["calibrated"][1], rtol=1e-6)
    assert out.model_runs["sobol256"] == 2 * 16 + 2
    assert out.model_runs["oat"] == 2 * (3 * 4 + 1)
    assert out.model_runs["1lin"] == 0
    assert out.oat["relative_change"].dims == ("site", "variable", "parameter", "level")
    assert {"default", "sobol256", "calibrated", "benchmarks", "loo", "oat", "total"} <= set(out.timing)


def test_files_and_json(protocol):
    _, folder, out = protocol
    for name in ("calibration.nc", "series.nc", "skill.nc", "oat.nc", "summary.json", "report.md"):
        assert (folder / name).is_file(), name
    s = json.loads((folder / "summary.json").read_text())
    assert set(s["sites"]) == {"A", "B"}
    assert {"default", "sobol256", "calibrated", "1lin", "3km27", "loo"} <= set(s["sites"]["A"]["test"])
    assert s["sites"]["A"]["test"]["calibrated"]["qh"]["rmse"] < s["sites"]["A"]["test"]["default"]["qh"]["rmse"]
    assert s["model_runs"]["calibrated"] == out.model_runs["calibrated"]
    assert "| A | grass | calibrated |" in (folder / "report.md").read_text()


def test_ctrl_c_keeps_the_methods_already_done(monkeypatch, tmp_path):
    import xarray as xr

    from jlsm.calibration import protocol

    data = twin_data()

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(protocol.transfer, "leave_one_out", interrupt)  # Ctrl-C after the calibration
    with pytest.raises(protocol.ProtocolInterrupted) as caught:
        run_protocol(data, starts=2, steps=10, sobol=8, seed=0, outdir=tmp_path, oat=False)
    stop = caught.value
    assert set(stop.series) == {"default", "sobol256", "calibrated", "1lin", "3km27"}
    assert stop.partial is None and set(stop.timing) == {"default", "sobol256", "calibrated", "benchmarks"}
    saved = xr.open_dataset(tmp_path / "partial_series.nc")
    np.testing.assert_array_equal(saved["calibrated_Qle"].values, stop.series["calibrated"]["Qle"])
    assert saved.attrs["methods"].split() == list(stop.series)
    assert not (tmp_path / "report.md").exists()

    calls = []

    def stop_in_calibration(info):
        calls.append(info["iteration"])
        raise KeyboardInterrupt

    with pytest.raises(protocol.ProtocolInterrupted) as caught:
        run_protocol(data, starts=2, steps=10, sobol=8, seed=0, outdir=tmp_path / "b", progress=stop_in_calibration,
                     chunk=4)
    stop = caught.value
    assert set(stop.series) == {"default", "sobol256"} and stop.partial is not None and calls
    assert (tmp_path / "b" / "partial_calibration.nc").is_file()
    np.testing.assert_allclose(xr.open_dataset(tmp_path / "b" / "partial_series.nc")["default_Qh"].values,
                               stop.series["default"]["Qh"])
