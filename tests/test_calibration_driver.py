"""The batched calibration driver on synthetic twins of a toy model at two sites."""

import numpy as np
import pytest

from calibration_toy import TRUTH, twin_data
from sigint_helpers import default_sigint
from jlsm.calibration.calibrate import CalibrationInterrupted, calibrate, evaluate_sets, simulate_sets
from jlsm.calibration import objectives

@pytest.fixture(scope="module")
def twins():
    data = twin_data()
    return data, calibrate(data, starts=4, steps=250, seed=0, chunk=50)


def test_recovers_known_parameters_at_two_sites(twins):
    data, res = twins
    assert res["final"].dims == ("site", "start", "parameter")
    assert res.sizes["site"] == 2 and res.sizes["start"] == 4 and res.sizes["parameter"] == 3
    for s in ("A", "B"):
        best = res["best"].sel(site=s).values
        np.testing.assert_allclose(best, TRUTH[s], rtol=2e-2)
        assert float(res["final_loss"].sel(site=s).min()) < 0.5  # W m-2, sum of two RMSEs
    # sites with other bounds stay inside their own bounds
    assert np.all(res["final"] > res["lower"]) and np.all(res["final"] < res["upper"])
    # the series at the best start reproduce the objective
    s = 1
    sim = np.stack([res["sim_Qh"].values[s], res["sim_Qle"].values[s]], -1)
    obs = np.stack([res["obs_Qh"].values[s], res["obs_Qle"].values[s]], -1)
    want = float(objectives.mdpl(sim, obs, res["fit_mask"].values[s]))
    assert float(res["final_loss"].values[s, int(res["best_start"][s])]) == pytest.approx(want, rel=1e-6)


def test_evaluate_sets_matches_calibration(twins):
    data, res = twins
    x = res["final"].values  # (S, K, P)
    loss, rmse = evaluate_sets(data, x)
    np.testing.assert_allclose(loss, res["final_loss"].values, rtol=1e-8)
    assert rmse.shape == (2, 4, 2, 2)
    sims = simulate_sets(data, x[:, :1])
    assert sims.shape == (2, 1, data.n_times, 2)  # the observed fluxes Qh, Qle
    sims3 = simulate_sets(data, res["best"].values[:, None], variables=("Qh", "Qle", "Rnet"))
    np.testing.assert_allclose(sims3[:, 0, :, 0], res["sim_Qh"].values, rtol=1e-10)


def test_same_seed_same_result(twins):
    data, res = twins
    again = calibrate(data, starts=4, steps=250, seed=0, chunk=50)
    np.testing.assert_array_equal(again["final"].values, res["final"].values)
    np.testing.assert_array_equal(again["loss"].values, res["loss"].values)
    other = calibrate(data, starts=4, steps=250, seed=1, chunk=50)
    assert not np.array_equal(other["initial"].values[:, 1:], res["initial"].values[:, 1:])
    np.testing.assert_allclose(other["initial"].values[:, 0], data.defaults())  # start 0: the defaults


def test_interrupt_and_resume_give_the_uninterrupted_result(twins, tmp_path):
    data, full = twins
    calls = []

    def stop_after_two(info):
        calls.append(info["iteration"])
        if len(calls) == 2:
            raise KeyboardInterrupt

    with pytest.raises(CalibrationInterrupted) as err:
        calibrate(data, starts=4, steps=250, seed=0, chunk=50, checkpoint=tmp_path, progress=stop_after_two)
    assert err.value.partial is not None and (tmp_path / "partial.nc").is_file()
    assert calls == [50, 100]
    resumed = calibrate(data, starts=4, steps=250, seed=0, chunk=50, checkpoint=tmp_path, resume=True)
    np.testing.assert_array_equal(resumed["final"].values, full["final"].values)
    np.testing.assert_array_equal(resumed["loss"].values, full["loss"].values)


def test_truncation_after_the_fit_window_gives_the_same_calibration():
    import dataclasses

    data = twin_data(days=10)
    last_fit = int(np.max(np.nonzero(data.fit.any(axis=0))[0])) + 1
    full = calibrate(data, starts=2, steps=30, seed=0, chunk=30)  # causal_steps unknown: never cut
    assert full.attrs["run_steps"] == data.n_times and full.attrs["truncate"] == 0
    causal = dataclasses.replace(data, causal_steps=96)  # the toy's spin-up reads the first 96 steps only
    cut = calibrate(causal, starts=2, steps=30, seed=0, chunk=30)
    assert cut.attrs["run_steps"] == last_fit < data.n_times and cut.attrs["truncate"] == 1
    np.testing.assert_allclose(cut["final"].values, full["final"].values, rtol=1e-9)
    np.testing.assert_allclose(cut["loss"].values, full["loss"].values, rtol=1e-9)
    # the series at the best start still cover the whole record, test window included
    np.testing.assert_allclose(cut["sim_Qle"].values, full["sim_Qle"].values, rtol=1e-9)
    assert np.isfinite(cut["sim_Qle"].values[:, -1]).all()
    # a fit window ending before the causal point is not cut
    late = dataclasses.replace(data, causal_steps=last_fit + 1)
    assert calibrate(late, starts=2, steps=2, seed=0, chunk=2).attrs["run_steps"] == data.n_times
    with pytest.raises(Exception, match="truncate"):
        calibrate(data, starts=2, steps=2, truncate="yes")


def test_real_ctrl_c_stops_between_chunks_and_resumes_exactly(twins, tmp_path):
    import os
    import signal

    data, full = twins
    calls = []

    def ctrl_c_on_second_chunk(info):  # a real SIGINT: the run finishes the chunk, then stops
        calls.append(info["iteration"])
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGINT)

    with default_sigint(), pytest.raises(CalibrationInterrupted) as err:
        calibrate(data, starts=4, steps=250, seed=0, chunk=50, checkpoint=tmp_path, progress=ctrl_c_on_second_chunk)
    assert calls == [50, 100] and err.value.partial.attrs["interrupted_after_iteration"] == 100
    resumed = calibrate(data, starts=4, steps=250, seed=0, chunk=50, checkpoint=tmp_path, resume=True)
    np.testing.assert_array_equal(resumed["final"].values, full["final"].values)
    np.testing.assert_array_equal(resumed["loss"].values, full["loss"].values)

    def ctrl_c_at_the_end(info):  # after the last chunk's check: an interruption all the same
        if info["iteration"] == 250:
            os.kill(os.getpid(), signal.SIGINT)

    with default_sigint(), pytest.raises(CalibrationInterrupted) as err:
        calibrate(data, starts=4, steps=250, seed=0, chunk=50, progress=ctrl_c_at_the_end)
    np.testing.assert_array_equal(err.value.partial["final"].values, full["final"].values)
