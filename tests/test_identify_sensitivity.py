"""Sobol indices (jlsm.identify.sensitivity) of the synthetic case over the search bounds."""

import pytest

from identify_cases import NOISE
from jlsm import identify as idf
from jlsm.synthetic import twin_case


def test_sobol_indices():
    pytest.importorskip("SALib")
    model, forcing, obs, space, initial = twin_case("surface+5cm", noise=NOISE, seed=0)
    outputs = {"mean_ts": idf.mean_output("ts"), "misfit": idf.misfit_output(obs), **idf.rmse_outputs(obs)}
    s = idf.sobol_indices(model, forcing, space, outputs, n=128, seed=0, initial=initial)
    assert s.attrs["n_evaluations"] == 128 * (space.size + 2)
    s1, st = s["first_order"], s["total"]
    margin = s["first_order_conf"] + s["total_conf"]
    assert bool((s1.sum("parameter") <= 1.0 + 0.1).all())
    assert bool((st >= s1 - margin).all())
    assert bool((st >= -0.02).all())
    ts = s.sel(output="mean_ts")
    assert float(ts["first_order"].sel(parameter="albedo")) > 0.3
    assert str(ts["first_order"].idxmax("parameter").values) == "albedo"
    # over these bounds the bottom temperature does not reach the surface within 100 h
    assert float(ts["total"].sel(parameter="bottom_temperature")) < 0.02
