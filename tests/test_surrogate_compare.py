"""The comparison driver (jlsm.surrogate.compare) on two real sites over a few days, tiny networks.

Structure and sanity, not skill: every path gives finite parameters inside the
bounds and a score per site, window, scale and flux; the direct calibration
(whose start 0 is the default) is never worse than the default on the fit
window; costs count what was run; the reports are written.
"""

import json

import numpy as np
import pytest
from land_sites import EVERGREEN_FILES, EXAMPLE_COLLECTION, require_evergreen_pair

pytest.importorskip("jlsm.land", reason="jlsm.land (the version-2 land model) is not available")

# Three programs through the land model's gradient are compiled (direct calibration, generator
# through the model, gradient check): about 3 min on an idle 2-core CPU, much longer when shared.
pytestmark = pytest.mark.slow

FILES = EVERGREEN_FILES
EXAMPLE = EXAMPLE_COLLECTION


@pytest.fixture(scope="module")
def result():
    require_evergreen_pair()
    from jlsm.surrogate.compare import CompareSettings, compare, compare_data

    st = CompareSettings(lead_days=1, fit_days=3, test_days=2, spinup_years=0, starts=2, steps=8, sobol=8,
                         designs=("oat",), hidden=8, head_width=8, window=48, burn_in=12, batch_size=8,
                         max_steps=10, eval_every=5, sur_starts=2, sur_steps=5, gen_width=4, gen_steps=3,
                         fidelity_runs=2, gradient_runs=1)
    data, _ = compare_data(EXAMPLE, st, sites=list(FILES))
    return data, st, compare(data, st)


def test_windows_are_the_settings(result):
    data, st, _ = result
    steps_per_day = 86400 / 3600  # the example collection's common step is 1 h
    assert data.sites == list(FILES)
    np.testing.assert_array_equal(data.fit.sum(axis=1), st.fit_days * steps_per_day)
    np.testing.assert_array_equal(data.test.sum(axis=1), st.test_days * steps_per_day)
    assert not np.any(data.fit & data.test)
    lead = np.argmax(data.fit, axis=1)
    np.testing.assert_array_equal(lead, st.lead_days * steps_per_day)  # the lead-in is in neither window


def test_every_path_scored(result):
    data, _, r = result
    methods = ["default", "sobol256", "a_oat", "b_oat", "c", "d"]
    assert list(r.skill["method"].values) == methods
    assert set(r.skill["scale"].values) == {"halfhourly", "daily", "monthly"}
    test = r.skill["skill"].sel(window="test", scale="halfhourly", metric="rmse")
    assert np.all(np.isfinite(test.values)), "every method has a test RMSE of Qh and Qle at every site"
    for m in methods:
        x = r.parameters[m]
        assert x.shape == (2, len(data.names)) and np.all(np.isfinite(x))
        assert np.all(x >= data.lower - 1e-9) and np.all(x <= data.upper + 1e-9), m


def test_direct_not_worse_than_default_on_fit(result):
    _, _, r = result
    assert np.all(r.objective["d"] <= r.objective["default"] * (1 + 1e-9))
    # the Sobol' baseline picks the best of its sets on the same objective
    assert np.all(np.isfinite(r.objective["sobol256"]))


def test_costs_count_the_runs(result):
    data, st, r = result
    S, P = data.n_sites, len(data.names)
    assert r.costs["default"]["model_runs"] == S
    assert r.costs["sobol256"]["model_runs"] == S * st.sobol
    assert r.costs["a_oat"]["model_runs"] == S * 4 * P + S  # OAT training runs + one run of the result
    assert r.costs["d"]["model_runs"] >= S * st.steps
    for m, c in r.costs.items():
        assert c["total_s"] >= c["calibration_s"] + c["surrogate_training_s"] - 1e-9, m
    f = r.fidelity["oat"]
    assert set(f["sites"]) == set(FILES)
    for v in ("Qh", "Qle"):
        assert -1.0 <= f["pooled"]["half_hourly"][v]["r"] <= 1.0
    assert f["training"]["runs"] == S * 4 * P


def test_reports_are_written(result, tmp_path):
    from jlsm.surrogate.compare_report import write_outputs

    _, _, r = result
    js, md = write_outputs(r, tmp_path)
    summary = json.loads(js.read_text())
    assert set(summary["sites"]) == set(FILES)
    assert summary["sites"]["DE-Tha"]["test"]["d"]["qh"]["rmse"] > 0
    text = md.read_text()
    for m in r.costs:
        assert f"`{m}`" in text


def test_cli_refuses_bad_window(capsys):
    from jlsm.cli.main import main

    assert main(["surrogate", "compare", str(EXAMPLE), "--days", "-1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--days" in err[0]
