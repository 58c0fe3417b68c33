"""Multi-start inversion on the published synthetic twin experiment."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from jlsm.errors import InputError, ObservationError, ParameterError
from jlsm.inverse import invert, status_counts
from jlsm.observe import Observations
from jlsm.params import ParameterSpace
from jlsm.synthetic import TRUE_PARAMETERS, twin_case

H_EFF = TRUE_PARAMETERS["h"] * (1 + 1 / TRUE_PARAMETERS["beta"])


def _within_tolerance(final):
    """Per start: the published identifiable parameters within the required tolerances."""
    rel = lambda p, v: np.abs(final.sel(parameter=p).values / v - 1)  # noqa: E731
    return (
        (rel("conductivity", 0.8) < 0.005)
        & (rel("heat_capacity", 2.2e6) < 0.005)
        & (rel("h_eff", H_EFF) < 0.005)
        & (np.abs(final.sel(parameter="albedo").values - 0.2) < 0.005)
        & (np.abs(final.sel(parameter="bottom_temperature").values - 293.0) < 0.05)
    )


@pytest.fixture(scope="module")
def two_depths():
    model, forcing, obs, space, initial = twin_case("surface+5cm")
    result = invert(model, forcing, obs, space, starts=50, seed=0, initial=initial, steps=0, polish=40)
    return result


def test_two_depths_noise_free_recovers_the_truth(two_depths):
    r = two_depths
    ok = _within_tolerance(r["final"])
    print("starts within tolerance:", int(ok.sum()), "of 50;", status_counts(r))
    assert ok.sum() >= 48
    med = r["median"]
    assert abs(float(med.sel(parameter="conductivity")) / 0.8 - 1) < 0.005
    assert abs(float(med.sel(parameter="heat_capacity")) / 2.2e6 - 1) < 0.005
    assert abs(float(med.sel(parameter="h_eff")) / H_EFF - 1) < 0.005
    # h and beta only enter through h_eff: the starts scatter along that ridge
    assert float(r["relative_spread"].sel(parameter="h")) > 0.2
    assert float(r["relative_spread"].sel(parameter="beta")) > 0.2
    assert float(r["relative_spread"].sel(parameter="h_eff")) < 1e-3
    assert r["role"].sel(parameter="h_eff").item() == "derived"


def test_results_dataset_layout(two_depths, tmp_path):
    r = two_depths
    assert set(r.dims) >= {"start", "parameter", "iteration"}
    assert r["loss"].shape[0] == 50
    assert r["units"].sel(parameter="heat_capacity").item() == "J m-3 K-1"
    assert int(r["n_converged"]) + int(r["n_diverged"]) <= 50
    best = int(r["best_start"])
    assert float(r["final_loss"][best]) == pytest.approx(float(r["final_loss"].min()))
    # losses never increase for the recorded best
    assert np.all(np.isfinite(r["loss"].values))
    assert float(r["metric_value"].sel(start=best, window="fit", metric="rmse").max()) < 1e-6
    path = tmp_path / "r.nc"
    r.to_netcdf(path)
    import xarray as xr

    back = xr.load_dataset(path)
    np.testing.assert_array_equal(back["final"].values, r["final"].values)


def test_one_depth_reports_its_spread():
    model, forcing, obs, space, initial = twin_case("5cm")
    r = invert(model, forcing, obs, space, starts=12, seed=1, initial=initial, steps=0, polish=40)
    spread = r["relative_spread"]
    # the combination h (1 + 1/beta) is all the data can see of h and beta
    assert float(spread.sel(parameter="h")) > 0.2
    assert float(spread.sel(parameter="beta")) > 0.2
    for p in ("conductivity", "heat_capacity", "h_eff"):
        assert np.isfinite(float(spread.sel(parameter=p)))


def test_noisy_two_depths_keeps_lambda_and_c_within_three_percent():
    model, forcing, obs, space, initial = twin_case("surface+5cm", noise=0.1, seed=7)
    r = invert(model, forcing, obs, space, starts=12, seed=0, initial=initial, steps=0, polish=40)
    assert abs(float(r["median"].sel(parameter="conductivity")) / 0.8 - 1) < 0.03
    assert abs(float(r["median"].sel(parameter="heat_capacity")) / 2.2e6 - 1) < 0.03


def test_same_seed_same_result_and_other_seed_other_starts():
    model, forcing, obs, space, initial = twin_case("surface+5cm")
    kw = dict(starts=4, initial=initial, steps=10, polish=3)
    a = invert(model, forcing, obs, space, seed=5, **kw)
    b = invert(model, forcing, obs, space, seed=5, **kw)
    c = invert(model, forcing, obs, space, seed=6, **kw)
    np.testing.assert_array_equal(a["final"].values, b["final"].values)
    np.testing.assert_array_equal(a["loss"].values, b["loss"].values)
    assert not np.array_equal(a["initial"].values, c["initial"].values)


def test_a_diverging_start_is_isolated():
    # an unbounded emissivity (log transform) from an absurd start overflows the model
    from jlsm.params import Parameter

    model, forcing, obs, _, initial = twin_case("surface+5cm")
    emissivity = Parameter("emissivity", None, "log", "1", "radiation.emissivity")
    space = ParameterSpace({"emissivity": emissivity, "conductivity": (0.1, 3.0)}, transform="log-sigmoid")
    starts = np.array([[0.9, 0.6], [1e249, 0.6], [0.93, 1.2]])
    with_bad = invert(model, forcing, obs, space, starts=starts, initial=initial, steps=5, polish=10)
    without = invert(model, forcing, obs, space, starts=starts[[0, 2]], initial=initial, steps=5, polish=10)
    assert with_bad["status"].values[1] == 2  # diverged
    assert with_bad["verdict"].values[1] == 3  # diverged
    assert list(with_bad["status"].values[[0, 2]]) != [2, 2]
    # the same inputs pass through no computation: exactly equal
    np.testing.assert_array_equal(with_bad["initial"].values[[0, 2]], without["initial"].values)
    # the other starts are unaffected: a batch of 3 and one of 2 may round differently (vectorised
    # lanes), so the estimates agree to round-off, not bit for bit
    np.testing.assert_allclose(with_bad["final"].values[[0, 2]], without["final"].values, rtol=1e-12, atol=0)
    np.testing.assert_allclose(with_bad["final_loss"].values[[0, 2]], without["final_loss"].values, rtol=1e-12)


def test_missing_observations_are_masked():
    model, forcing, obs, space, initial = twin_case("surface+5cm")
    values = np.array(obs.values)
    values[10:30, 0] = np.nan
    values[50:55, 1] = np.nan
    gappy = Observations(values, obs.observables, obs.scale)
    r = invert(model, forcing, gappy, space, starts=6, seed=0, initial=initial, steps=0, polish=40)
    assert np.all(np.isfinite(r["loss"].values))
    assert _within_tolerance(r["final"]).sum() >= 5


def test_first_order_and_lbfgs_paths_lower_the_loss():
    model, forcing, obs, space, initial = twin_case("surface+5cm")
    calls = []
    r = invert(model, forcing, obs, space, starts=3, initial=initial, steps=20, polish=5, polish_method="lbfgs",
               chunk=10, callback=calls.append)
    loss = r["loss"].values
    assert np.all(loss[:, -1] < loss[:, 0])
    assert [c["iteration"] for c in calls] == [10, 20, 25]


def test_validation_window_metrics():
    model, forcing, obs, space, initial = twin_case("surface+5cm")
    r = invert(model, forcing, obs, space, starts=2, initial=initial, steps=0, polish=20, fit=(0, 70), validate=(70, 101))
    assert list(r["window"].values) == ["fit", "validation"]
    best = int(r["best_start"])
    assert float(r["metric_value"].sel(start=best, window="validation", metric="rmse").max()) < 1e-4


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(fit=(50, 50)), InputError, "fit window"),
        (dict(fit=(0, 500)), InputError, "fit window"),
        (dict(validate=(90, 200)), InputError, "validation window"),
        (dict(starts=np.array([[0.2, 15, 1.5, 0.8, 293, 9e9]])), ParameterError, "outside its bounds"),
        (dict(starts=0), ParameterError, "number of starts"),
        (dict(steps=0, polish=0), InputError, "at least one iteration"),
    ],
)
def test_bad_arguments_fail_before_compiling(kwargs, error, match):
    model, forcing, obs, space, initial = twin_case("surface+5cm")
    with pytest.raises(error, match=match):
        invert(model, forcing, obs, space, initial=initial, **kwargs)


def test_observations_on_another_time_axis():
    model, forcing, obs, space, initial = twin_case("surface+5cm")
    short = Observations(np.asarray(obs.values)[:80], obs.observables, obs.scale)
    with pytest.raises(ObservationError, match="80 times but the forcing has 101"):
        invert(model, forcing, short, space, initial=initial)


def test_sharded_starts_match_one_device(tmp_path):
    script = textwrap.dedent(
        """
        import json, sys
        import jax
        jax.config.update("jax_enable_x64", True)
        from jlsm.inverse import invert
        from jlsm.synthetic import twin_case
        model, forcing, obs, space, initial = twin_case("surface+5cm")
        r = invert(model, forcing, obs, space, starts=6, seed=2, initial=initial, steps=5, polish=5)
        print(json.dumps({"devices": len(jax.devices()), "final": r["final"].values.tolist()}))
        """
    )
    outs = []
    for flags in ("", "--xla_force_host_platform_device_count=4"):
        env = {**os.environ, "XLA_FLAGS": flags}
        proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-2000:]
        outs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    assert [o["devices"] for o in outs] == [1, 4]
    np.testing.assert_allclose(outs[0]["final"], outs[1]["final"], rtol=1e-9)


@pytest.mark.parametrize("stop_at", [10, 25])
def test_interrupt_and_resume_is_bit_identical(tmp_path, stop_at):
    from jlsm.inverse import InversionInterrupted

    model, forcing, obs, space, initial = twin_case("surface+5cm")
    kw = dict(starts=4, seed=1, initial=initial, steps=20, polish=10, chunk=5)
    full = invert(model, forcing, obs, space, **kw)

    def interrupt(info):
        if info["iteration"] == stop_at:
            raise KeyboardInterrupt

    folder = tmp_path / "ckpt"
    with pytest.raises(InversionInterrupted) as info:
        invert(model, forcing, obs, space, checkpoint=folder, callback=interrupt, **kw)
    assert info.value.partial.sizes["iteration"] == stop_at
    assert (folder / "partial.nc").is_file() and (folder / "state.eqx").is_file()
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["seed"] == 1 and "jax" in meta["versions"]
    resumed = invert(model, forcing, obs, space, checkpoint=folder, resume=True, **kw)
    np.testing.assert_array_equal(resumed["final"].values, full["final"].values)
    np.testing.assert_array_equal(resumed["loss"].values, full["loss"].values)
    np.testing.assert_array_equal(resumed["status"].values, full["status"].values)


def test_resume_refuses_a_different_run(tmp_path):
    model, forcing, obs, space, initial = twin_case("surface+5cm")
    folder = tmp_path / "ckpt"
    invert(model, forcing, obs, space, starts=2, seed=1, initial=initial, steps=5, polish=0, checkpoint=folder)
    with pytest.raises(InputError, match="seed"):
        invert(model, forcing, obs, space, starts=2, seed=2, initial=initial, steps=5, polish=0, checkpoint=folder, resume=True)
    # a state file of another layout (another version's optimiser state): a clear error, not a traceback
    state = folder / "state.eqx"
    state.write_bytes(state.read_bytes()[: state.stat().st_size // 2])
    with pytest.raises(InputError, match="state.eqx does not match"):
        invert(model, forcing, obs, space, starts=2, seed=1, initial=initial, steps=5, polish=0, checkpoint=folder, resume=True)


def test_chunk_size_does_not_change_the_result():
    # one compiled chunk serves every length, and a chunk stops once every start
    # is done: the histories are the same step for step whatever the chunking
    model, forcing, obs, space, initial = twin_case("surface+5cm")
    kw = dict(starts=5, seed=3, initial=initial, steps=12, polish=30)
    whole = invert(model, forcing, obs, space, chunk=50, **kw)
    pieces = invert(model, forcing, obs, space, chunk=7, **kw)
    assert (whole["status"].values == 1).all()  # all converged before the polish budget ran out
    n = pieces.sizes["iteration"]  # no chunk is started once every start is done
    assert n < whole.sizes["iteration"] == 42
    for name in ("final", "status", "iterations"):
        np.testing.assert_array_equal(pieces[name].values, whole[name].values)
    np.testing.assert_array_equal(pieces["loss"].values, whole["loss"].values[:, :n])
    # after the last step of the last start, a chunk records the frozen losses
    frozen = whole["loss"].values[:, n - 1 : n]
    np.testing.assert_array_equal(whole["loss"].values[:, n:], np.broadcast_to(frozen, (5, 42 - n)))


def test_gauss_newton_steps_are_counted_from_the_starting_point():
    # the set-up's linearisation runs inside the step loop (one compiled
    # Jacobian): it is no iteration, and the first recorded loss is the
    # misfit at the starting point, followed by Levenberg-Marquardt steps
    # that never raise it
    import jax.numpy as jnp

    from jlsm.inverse import Objective

    model, forcing, obs, space, initial = twin_case("surface+5cm")
    r = invert(model, forcing, obs, space, starts=3, seed=4, initial=initial, steps=0, polish=3)
    assert r.sizes["iteration"] == 3
    np.testing.assert_array_equal(r["iterations"].values, [3, 3, 3])
    objective = Objective(space)
    u0 = space.to_unconstrained(r["initial"].values[:, : space.size])
    at_start = [float(objective(jnp.asarray(u), (model, forcing, obs, initial))) for u in u0]
    np.testing.assert_allclose(r["loss"].values[:, 0], at_start, rtol=1e-12)
    loss = r["loss"].values
    assert np.all(np.diff(loss, axis=1) <= 0) and np.all(loss[:, -1] < loss[:, 0])
    # the estimate is the last accepted point, with its own loss, even when the budget ends right after it
    one = invert(model, forcing, obs, space, starts=3, seed=4, initial=initial, steps=0, polish=1)
    u1 = space.to_unconstrained(one["final"].values[:, : space.size])
    at_final = [float(objective(jnp.asarray(u), (model, forcing, obs, initial))) for u in u1]
    np.testing.assert_allclose(one["final_loss"].values, at_final, rtol=1e-8)
    assert np.all(one["final_loss"].values < one["loss"].values[:, 0])
    assert not np.allclose(one["final"].values, one["initial"].values)


def test_gauss_newton_stops_soon_after_reaching_a_minimum_in_a_flat_valley():
    # with noisy observations the misfit at the minimum is not zero, and h and beta
    # are not identified separately (only h_eff is): every step from the minimum is
    # rejected. A rejected step whose linear model promised less than ftol counts
    # towards convergence, so a start stops within `patience` steps of the minimum
    # instead of rejecting until its damping reaches its bound
    from jlsm.inverse import Tolerances

    model, forcing, obs, space, initial = twin_case("surface+5cm", noise=0.05, seed=1)
    tol = Tolerances()
    r = invert(model, forcing, obs, space, starts=12, seed=0, initial=initial, steps=0, polish=60, tolerances=tol)
    assert status_counts(r)["converged"] == 12
    loss = r["loss"].values
    final = r["final_loss"].values
    assert np.all(final > 1e-6)  # a noisy fit: the minimum is not zero
    np.testing.assert_allclose(final, np.min(final), rtol=1e-6)  # the starts found the same minimum
    # first iteration whose recorded loss is the final one to ftol
    reached = np.argmax(np.abs(loss - final[:, None]) <= tol.ftol * final[:, None], axis=1)
    assert np.all(r["iterations"].values <= reached + tol.patience + 2), (r["iterations"].values, reached)


def test_gauss_newton_run_loads_optax_and_xarray_only_when_needed():
    code = textwrap.dedent(
        """
        import sys
        import jax
        jax.config.update("jax_enable_x64", True)
        from jlsm.inverse import invert
        from jlsm.synthetic import twin_case
        assert "optax" not in sys.modules and "xarray" not in sys.modules, "imported at import time"
        model, forcing, obs, space, initial = twin_case("surface+5cm")
        r = invert(model, forcing, obs, space, starts=2, initial=initial, steps=0, polish=2)
        assert "optax" not in sys.modules
        print(type(r).__name__)
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "Dataset"


def test_ctrl_c_after_the_last_chunk_is_not_ignored(tmp_path):
    import os
    import signal

    from sigint_helpers import default_sigint

    from jlsm.inverse import InversionInterrupted

    model, forcing, obs, space, initial = twin_case("surface+5cm")
    kw = dict(starts=2, seed=1, initial=initial, steps=10, polish=0, chunk=5)

    def ctrl_c_at_the_end(info):  # a real SIGINT, delivered while the last chunk's callback runs
        if info["iteration"] == 10:
            os.kill(os.getpid(), signal.SIGINT)

    with default_sigint(), pytest.raises(InversionInterrupted) as caught:
        invert(model, forcing, obs, space, checkpoint=tmp_path / "ckpt", callback=ctrl_c_at_the_end, **kw)
    assert caught.value.partial.sizes["iteration"] == 10  # everything done is kept
    assert (tmp_path / "ckpt" / "partial.nc").is_file()
