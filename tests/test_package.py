"""The package's face: subpackages as lazy attributes of jlsm, the layout in the docstring, the old names."""

import subprocess
import sys
from pathlib import Path

import pytest

import jlsm

PACKAGE = Path(jlsm.__file__).resolve().parent


def _fresh(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


def test_subpackages_are_attributes_in_a_fresh_process():
    proc = _fresh(
        "import sys, jlsm\n"
        "early = [m for m in ('xarray', 'jlsm.io', 'jlsm.identify', 'jlsm.config', 'jlsm.cli') if m in sys.modules]\n"
        "jlsm.io, jlsm.identify, jlsm.config\n"
        "print(early, jlsm.io.read_plumber2.__name__, jlsm.identify.local_analysis.__name__,"
        " jlsm.config.run_problem.__name__)"
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    # importing jlsm imports none of them (nor xarray); the attribute access does
    assert proc.stdout.split() == ["[]", "read_plumber2", "local_analysis", "run_problem"]


def test_unknown_attribute_raises_attribute_error():
    assert not hasattr(jlsm, "no_such_module")
    with pytest.raises(AttributeError, match="no_such_module"):
        jlsm.no_such_module  # noqa: B018


@pytest.mark.parametrize("name", ["identify", "config", "cli"])
def test_public_names_of_the_split_packages(name):
    module = getattr(jlsm, name)
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert not missing
    # every module of the package stays under about 600 lines
    long = [p.name for p in (PACKAGE / name).glob("*.py") if len(p.read_text().splitlines()) > 600]
    assert not long


def test_commands_reachable_under_their_old_names():
    from jlsm.cli import identify as identify_command
    from jlsm.cli import invert as invert_command

    assert jlsm.identify.run is identify_command.run and jlsm.identify.add_parser is identify_command.add_parser
    assert jlsm.config.run_config is invert_command.run_config
    assert callable(jlsm.cli.main)


def test_docstring_names_every_room():
    """Each module and subpackage of jlsm has a line in the package docstring's layout, and is an attribute."""
    names = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    names |= {p.stem for p in PACKAGE.glob("*.py") if not p.name.startswith("_")}
    layout = jlsm.__doc__.split("Layout", 1)[1]
    # a module may become a package of the same name (io.py -> io/): either line counts
    missing = [n for n in names if f"    {n}/" not in layout and f"    {n}.py" not in layout]
    assert not missing, missing
    assert names <= jlsm._SUBMODULES


def test_module_runs_as_the_command():
    proc = subprocess.run([sys.executable, "-m", "jlsm.cli", "--help"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for command in ("demo", "invert", "identify"):
        assert command in proc.stdout


def test_python_dash_m_runs_the_command():
    done = subprocess.run([sys.executable, "-m", "jlsm", "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: jlsm") and "calibrate" in done.stdout
