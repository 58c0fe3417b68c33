"""The ``jlsm invert`` command (jlsm.cli.invert): one-line errors (exit 2), outputs never lost, the verdict, Ctrl-C, --check."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from config_cases import CONFIG, setup_case, up_dataset
from sigint_helpers import module_command


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "jlsm.cli", *args], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("kind", ["unknown key", "missing variable", "not toml"])
def test_cli_bad_config_one_line_exit_2(tmp_path, kind):
    if kind == "unknown key":
        cfg = setup_case(tmp_path, text=CONFIG.replace("[inversion]", "[inversion]\ncolour = 1"), name="bad.toml")
        expected = "colour"
    elif kind == "missing variable":
        cfg = setup_case(tmp_path, ds=up_dataset().drop_vars(["LWdown", "LWdown_qc"]), name="bad.toml")
        expected = "LWdown"
    else:
        cfg = tmp_path / "bad.toml"
        cfg.write_text("this is not = = toml")
        expected = "not valid TOML"
    proc = _cli("invert", str(cfg), "--no-progress", "--out", str(tmp_path / "out"))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("jlsm: error: ") and expected in lines[0]
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def _one_error_line(proc, *expected):
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("jlsm: error: "), proc.stderr
    for text in expected:
        assert text in lines[0], lines[0]


@pytest.mark.parametrize("option", ["--out", "--json"])
def test_unwritable_output_refused_before_computing(tmp_path, option):
    # a path under a regular file cannot be written, even by root
    cfg = setup_case(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    bad = blocker / ("out" if option == "--out" else "summary.json")
    args = ["invert", str(cfg), "--no-progress", option, str(bad)]
    if option == "--json":
        args += ["--out", str(tmp_path / "out")]
    proc = _cli(*args)
    assert proc.returncode == 2, proc.stderr
    _one_error_line(proc, option, str(bad), "cannot write")
    assert proc.stdout == ""  # nothing computed, nothing reported
    assert not (tmp_path / "out" / "case.nc").exists()


def test_write_failure_at_the_end_saves_to_a_fallback_folder(tmp_path, monkeypatch, capsys):
    import xarray as xr

    from jlsm.cli.invert import run_config

    cfg = setup_case(tmp_path)
    out = tmp_path / "out"
    original = xr.Dataset.to_netcdf

    def failing(self, path=None, *args, **kwargs):
        if path is not None and Path(path).parent == out:
            raise PermissionError(13, "Permission denied", str(path))
        return original(self, path, *args, **kwargs)

    monkeypatch.setattr(xr.Dataset, "to_netcdf", failing)
    monkeypatch.chdir(tmp_path)
    status = run_config(cfg, out=out, json_path=out / "summary.json", progress=False)
    err = capsys.readouterr().err
    assert status == 1
    saved = [line for line in err.splitlines() if "results saved in" in line]
    assert len(saved) == 1 and str(out) in saved[0] and "Permission denied" in saved[0], err
    folders = list(tmp_path.glob("jlsm-results-*"))
    assert len(folders) == 1 and folders[0].name in saved[0]
    result = xr.load_dataset(folders[0] / "case.nc")
    assert result.sizes["start"] == 2 and "verdict" in result
    assert json.loads((folders[0] / "summary.json").read_text())["verdicts"]["best_basin"] >= 1


def test_invert_prints_the_verdict_per_parameter_and_starts_per_verdict(tmp_path):
    import xarray as xr

    cfg = setup_case(tmp_path)
    proc = _cli("invert", str(cfg), "--no-progress", "--out", str(tmp_path / "out"), "--starts", "4")
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = xr.load_dataset(tmp_path / "out" / "case.nc")
    lines = proc.stdout.splitlines()
    header = next(line for line in lines if line.startswith("parameter"))
    assert header.split()[:3] == ["parameter", "units", "best"] and header.rstrip().endswith("verdict")
    for p in ("h_eff", "conductivity"):
        row = next(line for line in lines if line.startswith(p + " "))
        median = float(row.split()[4])
        assert median == pytest.approx(float(result["median"].sel(parameter=p)), rel=1e-5)
        assert "identified" in row  # "identified", "NOT identified" or "undetermined (...identified...)"
    counts = next(line for line in lines if line.startswith("starts: best basin"))
    n = {k: int(result[f"n_{k}"]) for k in ("best_basin", "other_basin", "at_bound")}
    assert f"best basin {n['best_basin']}, other basin {n['other_basin']}, at bound {n['at_bound']}" in counts
    # the config's test window is printed as "test", metrics with units
    assert any(line.startswith("test ") for line in lines) and not any(line.startswith("validation") for line in lines)
    assert "W m-2" in proc.stdout and "rmse and bias in the variable's units" in proc.stdout


def test_sigint_says_where_the_partial_results_and_checkpoint_are(tmp_path):
    import signal
    import time

    import xarray as xr

    # Adam with a small step: thousands of iterations to converge, the first checkpoint after 10
    text = CONFIG.replace("starts = 2\npolish = 3", "starts = 16\nsteps = 200000\nlearning_rate = 0.002\npolish = 0\nchunk = 10")
    text = text.replace("nodes = 21", "nodes = 101")
    cfg = setup_case(tmp_path, text=text)
    ckpt = tmp_path / "ckpt"
    child = subprocess.Popen(
        [*module_command("jlsm.cli"), "invert", str(cfg), "--no-progress", "--out", str(tmp_path / "out"),
         "--checkpoint", str(ckpt)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.time() + 240
        while not (ckpt / "meta.json").exists() and child.poll() is None and time.time() < deadline:
            time.sleep(0.2)
        assert child.poll() is None, child.communicate()[1][-2000:]
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 130, err[-2000:]
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    partial = ckpt / "partial.nc"
    assert f"partial results in {partial}" in lines[0]
    assert f"checkpoint in {ckpt}" in lines[0] and "--resume" in lines[0]
    assert xr.load_dataset(partial).sizes["start"] == 16


def test_check_validates_config_and_data_without_computing(tmp_path):
    cfg = setup_case(tmp_path)
    proc = _cli("invert", str(cfg), "--check", "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"{cfg}: OK") and "nothing computed" in proc.stdout
    assert "h_eff [6, 60]" in proc.stdout and "96 steps of 1 h" in proc.stdout
    assert not (tmp_path / "out").exists()
    bad = setup_case(tmp_path, ds=up_dataset().drop_vars(["LWdown", "LWdown_qc"]), name="bad.toml")
    proc = _cli("invert", str(bad), "--check")
    assert proc.returncode == 2
    _one_error_line(proc, "LWdown")


def test_help_points_to_the_config_reference():
    proc = _cli("invert", "--help")
    assert proc.returncode == 0 and "docs/config.md" in proc.stdout and "--check" in proc.stdout
    assert (Path(__file__).resolve().parents[1] / "docs" / "config.md").is_file()


@pytest.mark.parametrize("observable", ["sensible", "latent", "turbulent"])
def test_fitting_turbulent_fluxes_with_the_heat_only_closure_is_noted(tmp_path, observable):
    from jlsm.config import load_config, scope_notes

    data = {"sensible": "Qh", "latent": "Qle", "turbulent": "Qh+Qle"}[observable]
    text = CONFIG.replace('variables = {{ ts = "Ts",', f'variables = {{{{ {observable} = "{data}", ts = "Ts",')
    notes = scope_notes(load_config(setup_case(tmp_path, text=text)))
    assert len(notes) == 1 and "\n" not in notes[0]
    assert observable in notes[0] and "LE/H" in notes[0] and "1/beta = 0.667" in notes[0]  # base beta 1.5
    assert "jlsm.land" in notes[0] and "jlsm calibrate" in notes[0] and "docs/scope.md" in notes[0]
    assert scope_notes(load_config(setup_case(tmp_path, name="plain.toml"))) == []  # turbulent only evaluated
    if observable == "turbulent":
        proc = _cli("invert", str(setup_case(tmp_path, text=text, name="t.toml")), "--check")
        assert proc.returncode == 0 and sum("LE/H" in line for line in proc.stderr.splitlines()) == 1
    assert (Path(__file__).resolve().parents[1] / "docs" / "scope.md").is_file()
