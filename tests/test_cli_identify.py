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
