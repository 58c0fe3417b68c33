"""``jlsm data report``: a short CN-Cng window, through ``jlsm.cli.main``."""

import json

import numpy as np
import pytest

MET = "cn-changling/CN-Cng_2008-2009_FLUXNET2015_Met.nc"
FLUX = "cn-changling/CN-Cng_2008-2009_FLUXNET2015_Flux.nc"


@pytest.fixture
def collection(tmp_path, data_dir):
    for name in (MET, FLUX):
        if not (data_dir / name).is_file():
            pytest.skip(f"{data_dir / name} not found; PLUMBER2 CN-Cng (Ukkola et al. 2022) in the shared data folder")
    path = tmp_path / "cng.toml"
    path.write_text(
        '[defaults]\nstep = "30min"\n[[sites]]\nname = "CN-Cng"\nformat = "plumber2"\n'
        f'files = ["{data_dir / MET}", "{data_dir / FLUX}"]\n'
        'period = ["2008-07-01", "2008-07-11"]\n'
    )
    return path


def test_data_report_prints_and_writes(collection, tmp_path, capsys):
    from jlsm.cli import main
    from jlsm.sites import load_collection

    out = tmp_path / "report"
    assert main(["data", "report", str(collection), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    md = (out / "data_report.md").read_text()
    assert md in printed
    assert "## CN-Cng" in md and "energy-balance closure" in md and "Ukkola" in md
    info = json.loads((out / "data_report.json").read_text())  # strict JSON: NaN written as null
    site = info["sites"]["CN-Cng"]
    batch = load_collection(collection)
    qh = batch.obs["Qh"][0][batch.mask[0]]
    assert site["observations"]["Qh"]["measured"] == pytest.approx(np.mean(np.isfinite(qh)), abs=1e-12)
    closure = site["closure"]
    assert closure["n"] > 100 and 0.3 < closure["slope"] < 1.3
    for path in site["figures"]:
        assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_data_report_unwritable_out_fails_before_reading(collection, tmp_path, capsys):
    from jlsm.cli import main

    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["data", "report", str(collection), "--out", str(blocker / "sub")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--out" in err
