"""``jlsm calibrate``: the protocol on a short CN-Cng window, through ``jlsm.cli.main``.

Settings are tiny (2 starts, 4 Adam steps, 6 days): the test checks that the
command runs the protocol, writes its outputs and prints tables whose numbers
are those of the written files, not the quality of a calibration.
"""

import json

import numpy as np
import pytest
import xarray as xr
from land_sites import cn_cng_collection


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    return cn_cng_collection(tmp_path_factory.mktemp("cal"), ("2008-07-01", "2008-07-07"), test_start="2008-07-05")


@pytest.fixture(scope="module")
def calibrated(collection, tmp_path_factory):
    import contextlib
    import io

    from jlsm.cli import main

    out = tmp_path_factory.mktemp("cal_out")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        status = main(["calibrate", str(collection), "--starts", "2", "--steps", "4", "--chunk", "1",
                       "--methods", "default,calibrated,1lin", "--out", str(out), "--json", str(out / "s.json"),
                       "--no-progress", "--no-figures"])
    return status, out, buf.getvalue()


def test_calibrate_writes_the_protocol_outputs(calibrated):
    status, out, text = calibrated
    assert status == 0
    for name in ("calibration.nc", "series.nc", "skill.nc", "summary.json", "report.md", "s.json"):
        assert (out / name).is_file(), name
    cal = xr.load_dataset(out / "calibration.nc")
    assert cal.sizes["start"] == 2 and cal.sizes["parameter"] == 13
    lo, hi = cal["lower"].values, cal["upper"].values
    assert np.all((cal["best"].values >= lo) & (cal["best"].values <= hi))
    # start 0 is the default: the calibrated fit loss is never above the default's
    assert float(cal["final_loss"].min()) <= float(cal["loss"].values[0, 0, 0]) + 1e-9
    summary = json.loads((out / "summary.json").read_text())
    assert summary == json.loads((out / "s.json").read_text())
    assert "Ukkola" in summary["citations"]["CN-Cng"]
    assert set(summary["sites"]["CN-Cng"]["test"]) == {"default", "calibrated", "1lin"}


def test_calibrate_table_is_the_written_skill(calibrated):
    _, out, text = calibrated
    series = xr.load_dataset(out / "series.nc")
    summary = json.loads((out / "summary.json").read_text())
    test = series["test_mask"].values[0]
    for method in ("default", "calibrated", "1lin"):
        for v, key in (("Qh", "qh"), ("Qle", "qle")):
            obs, sim = series[f"obs_{v}"].values[0], series[f"{method}_{v}"].values[0]
            ok = test & np.isfinite(obs) & np.isfinite(sim)
            rmse = np.sqrt(np.mean((sim[ok] - obs[ok]) ** 2))
            assert summary["sites"]["CN-Cng"]["test"][method][key]["rmse"] == pytest.approx(rmse, rel=1e-9)
        row = next(line for line in text.splitlines() if line.startswith(f"{method} "))
        assert f"{summary['sites']['CN-Cng']['test'][method]['qh']['rmse']:.1f}" in row
    assert "RMSE Qh" in text and "[W m-2]" in text and "Average over the 1 site(s) with a test window" in text


def test_calibrate_bad_options_fail_before_computing(collection, tmp_path, capsys):
    from jlsm.cli import main

    assert main(["calibrate", str(collection), "--methods", "default,magic", "--out", str(tmp_path)]) == 2
    assert "magic" in capsys.readouterr().err
    assert main(["calibrate", str(collection), "--resume", "--out", str(tmp_path)]) == 2
    assert "--checkpoint" in capsys.readouterr().err
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["calibrate", str(collection), "--out", str(blocker / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--out" in err


def test_window_days_straddles_the_test_start(collection):
    from jlsm.cli.sites import load_sites

    _, batch = load_sites(collection, window_days=3)
    t = batch.time[0][batch.mask[0]]
    assert batch.lengths[0] == 3 * 48 and batch.fit_mask[0].sum() == 2 * 48 and batch.test_mask[0].sum() == 48
    assert str(t[batch.test_mask[0][batch.mask[0]]][0])[:16] == "2008-07-04T16:00"  # 5 July 00:00 UTC+8
    _, batch = load_sites(collection, window_days=1.5, window_start="2008-07-02")
    t = batch.time[0][batch.mask[0]]
    assert str(t[0])[:16] == "2008-07-01T16:00" and batch.lengths[0] == 72 and batch.test_mask[0].sum() == 24
