"""Running a config (jlsm.config.run, .evaluation, .report): fitted, evaluated-only and reference skill."""

import numpy as np
import pytest

from config_cases import SIGMA, setup_case
from jlsm import config as C


def test_run_problem_evaluates_fitted_evaluated_and_reference(tmp_path):
    run = C.run_problem(setup_case(tmp_path))
    r = run.result
    assert list(r["evaluated"].values) == ["ts", "soil_temperature@0.02", "lw_up", "turbulent"]
    assert list(r["window"].values) == ["fit", "validation"]
    assert r["evaluation"].dims == ("start", "window", "evaluated", "metric")
    assert np.isfinite(r["evaluation"].sel(metric="rmse")).all()
    assert np.isfinite(r["reference_evaluation"].sel(metric="kge")).all()
    # the fitted variables' metrics agree with the inversion's own
    best = int(r["best_start"])
    for v in ("ts", "soil_temperature@0.02"):
        for w in ("fit", "validation"):
            assert float(r["evaluation"].sel(start=best, window=w, evaluated=v, metric="rmse")) == pytest.approx(
                float(r["metric_value"].sel(start=best, window=w, variable=v, metric="rmse")), rel=1e-6)
    # spin-up, fit and test windows: 24 + 48 + 24 hourly steps
    assert run.forcing.n_times == 96 and run.fit == (24, 72) and run.validate == (72, 96)
    # Ts is consistent with the model's LWup: eps sigma Ts^4 + (1 - eps) LWdown = LWup
    lw = 0.95 * SIGMA * run.obs_ds["Ts"].values ** 4 + 0.05 * run.forcing_ds["LWdown"].values
    np.testing.assert_allclose(lw, run.obs_ds["LWup"].values, rtol=1e-12)
    s = C.summarise(run)
    assert s["reference"]["name"] == "defaults" and "lw_up" in s["skill"]["validation"]
    assert "skill of the best start" in C.report(run)
