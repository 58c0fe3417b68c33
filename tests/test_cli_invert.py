"""The ``jlsm invert`` command (jlsm.cli.invert): a bad config prints one line and exits with status 2."""

import subprocess
import sys

import pytest

from config_cases import CONFIG, setup_case, up_dataset


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
