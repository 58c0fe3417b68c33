"""The jlsm command: demo end to end, JSON summary, NetCDF output."""

import json
import subprocess
import sys

import xarray as xr


def test_demo_writes_results_and_summary(tmp_path):
    summary = tmp_path / "summary.json"
    proc = subprocess.run(
        [sys.executable, "-m", "jlsm.cli", "demo", "--starts", "6", "--out", str(tmp_path), "--json", str(summary), "--no-progress", "--no-flux-site"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "NOT identified" in proc.stdout  # h and beta
    data = json.loads(summary.read_text())
    for name in ("5cm", "surface+5cm"):
        cfg = data["configurations"][name]
        assert cfg["n_starts"] == 6
        assert cfg["wall_seconds"] > 0
        lam = cfg["parameters"]["conductivity"]
        assert lam["true"] == 0.8 and abs(lam["median"] / 0.8 - 1) < 0.005
        assert set(lam) == {"true", "median", "p05", "p95"}
    result = xr.load_dataset(tmp_path / "demo_surface_5cm.nc")
    assert result.sizes["start"] == 6
    assert "h_eff" in result["parameter"].values


def test_demo_runs_one_configuration(tmp_path):
    from jlsm.cli import DEMO_CONFIGURATIONS
    from jlsm.synthetic import TWIN_CONFIGURATIONS

    assert DEMO_CONFIGURATIONS == tuple(TWIN_CONFIGURATIONS)
    summary = tmp_path / "summary.json"
    proc = subprocess.run(
        [sys.executable, "-m", "jlsm.cli", "demo", "--configuration", "surface+5cm", "--starts", "4",
         "--out", str(tmp_path), "--json", str(summary), "--no-progress"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(summary.read_text())
    assert list(data["configurations"]) == ["surface+5cm"]
    assert (tmp_path / "demo_surface_5cm.nc").is_file()
    assert not (tmp_path / "demo_5cm.nc").exists()
    bad = subprocess.run([sys.executable, "-m", "jlsm.cli", "demo", "--configuration", "surface"],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
