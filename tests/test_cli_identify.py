"""The ``jlsm identify`` command (jlsm.cli.identify), also reachable as jlsm.identify.add_parser / run."""

import argparse

import numpy as np
import xarray as xr

from identify_cases import DEPTHS_CM, NOISE_LEVELS
from jlsm import identify as idf


def test_identify_command(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    idf.add_parser(sub)
    args = parser.parse_args(["identify", "--out", str(tmp_path), "--top", "5"])
    assert idf.run(args) == 0
    out = capsys.readouterr().out
    assert "rank" in out and "0+" in out
    back = xr.load_dataset(tmp_path / "design_sweep.nc")
    # the default designs: single depths and pairs of the default depths at each noise level
    assert back.sizes["design"] == len(idf.design_grid(np.array(DEPTHS_CM) / 100, NOISE_LEVELS, sizes=(1, 2)))
    assert int(back["rank"][0]) == 1


# ---- jlsm identify CONFIG.toml: the Fisher analysis of a site's observations at a point

def _cli(*args):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "jlsm.cli", *args], capture_output=True, text=True, timeout=600)


def test_identify_a_config_at_given_values_and_at_a_result(tmp_path):
    from config_cases import setup_case
    from jlsm.config import load_config
    from jlsm.config.fisher import fisher_at

    cfg = setup_case(tmp_path)
    proc = _cli("identify", str(cfg), "--at", "h_eff=20", "conductivity=0.8", "--out", str(tmp_path / "id"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert "at the given values" in out and "Cramer-Rao bounds" in out and "parameter combinations" in out
    saved = xr.load_dataset(tmp_path / "id" / "identify_case.nc")
    for p in ("h_eff", "conductivity"):
        row = next(line for line in out.splitlines() if line.startswith(p + " "))
        rel = float(saved["cr_std"].sel(parameter=p)) * 100
        assert f"{rel:.3g} %" in row and row.rstrip().endswith("identifiable")
    # the printed combinations are the eigen-directions of the saved Fisher matrix
    assert out.count("log conductivity") >= 2 and "eigenvalue" in out
    # the same numbers in-process: the noise is the RMS residual at the point over the fit window
    analysis, info = fisher_at(load_config(cfg), {"h_eff": 20.0, "conductivity": 0.8})
    assert np.allclose(analysis["cr_std"].values, saved["cr_std"].values, rtol=1e-6)
    assert info["n_observations"] == 96 and set(info["noise"]) == {"ts", "soil_temperature@0.02"}
    # a given error replaces the residual: Cramer-Rao std scales with it
    a1, _ = fisher_at(load_config(cfg), {"h_eff": 20.0, "conductivity": 0.8}, errors=1.0)
    a2, _ = fisher_at(load_config(cfg), {"h_eff": 20.0, "conductivity": 0.8}, errors=2.0)
    assert np.allclose(a2["cr_std"].values, 2 * a1["cr_std"].values, rtol=1e-8)

    # at the best start of a result file
    from jlsm.cli.invert import run_config

    assert run_config(cfg, out=tmp_path / "inv", progress=False) == 0
    result = xr.load_dataset(tmp_path / "inv" / "case.nc")
    best = result["final"].sel(start=int(result["best_start"]))
    proc = _cli("identify", str(cfg), "--result", str(tmp_path / "inv" / "case.nc"), "--out", str(tmp_path / "id2"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    at = xr.load_dataset(tmp_path / "id2" / "identify_case.nc")
    for p in ("h_eff", "conductivity"):
        assert float(at["value"].sel(parameter=p)) == float(best.sel(parameter=p))


def test_identify_a_config_bad_arguments_one_line(tmp_path):
    from config_cases import setup_case

    cfg = setup_case(tmp_path)
    for args, expected in (
        (["--at", "albdo=0.2"], "'albdo' is not a free parameter"),
        (["--at", "h_eff=20"], "no value for the free parameter(s) ['conductivity']"),
        (["--result", str(tmp_path / "none.nc")], "no such file"),
    ):
        proc = _cli("identify", str(cfg), *args, "--out", str(tmp_path / "id"))
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("jlsm: error:") and expected in lines[0], proc.stderr
    proc = _cli("identify", "--at", "h_eff=20")
    assert proc.returncode == 2 and "--at needs a config" in proc.stderr
