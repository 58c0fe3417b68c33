"""Shared test setup: float64 numerics and the shared data folder."""

import os
from pathlib import Path

import jax
import pytest

jax.config.update("jax_enable_x64", True)

PAPER_SOURCE = "paper-synthetic (from the Neural Physics study's repository, MIT licence)"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared data folder: ``$JLSM_DATA_DIR`` or ``shared/data`` beside the project."""
    env = os.environ.get("JLSM_DATA_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def paper_synthetic_dir(data_dir) -> Path:
    """The folder of the study's synthetic observations; skips if absent."""
    folder = data_dir / "paper-synthetic"
    for name in ("Target_T1_surface.txt", "Target_T2_5cm.txt"):
        if not (folder / name).is_file():
            pytest.skip(f"{folder / name} not found; it ships in the shared data folder as {PAPER_SOURCE}")
    return folder
