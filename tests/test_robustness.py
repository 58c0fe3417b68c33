"""Robustness of the inversion: verdicts per start, unphysical input refused, complete results."""

import numpy as np
import pytest

import jlsm
from jlsm.errors import ObservationError, ParameterError
from jlsm.inverse import Objective, invert, status_counts, verdict_counts
from jlsm.inversion.results import AT_BOUND, BEST_BASIN, DIVERGED_VERDICT, OTHER_BASIN, basin_tolerance, verdicts
from jlsm.observe import Observations
from jlsm.params import ParameterSpace
from jlsm.synthetic import paper_forcing, twin_case


def _readme_problem():
    """The README's Python example: 3 free parameters, 2 depths, noise-free."""
    forcing = paper_forcing()
    model = jlsm.LandSurfaceModel(
        grid=jlsm.SoilGrid.uniform(depth=1.0, n=101),
        soil=jlsm.SoilThermal(conductivity=0.8, heat_capacity=2.2e6),
        radiation=jlsm.Radiation(albedo=0.2, emissivity=0.95),
        turbulence=jlsm.BowenRatioExchange(h=15.0, beta=1.5),
        bottom_temperature=293.0,
    )
    out = jlsm.simulate(model, forcing, initial=293.0, depths=(0.0, 0.05))
    obs = Observations.from_dict(
        {"soil_temperature@0": out.temperature[:, 0], "soil_temperature@0.05": out.temperature[:, 1]}
    )
    space = ParameterSpace(
        {"h_eff": (2.0, 80.0), "conductivity": (0.1, 3.0), "heat_capacity": (5e5, 5e6)},
        fixed={"albedo": 0.2, "beta": 1.5},
    )
    return model, forcing, obs, space


@pytest.fixture(scope="module")
def readme_result():
    model, forcing, obs, space = _readme_problem()
    return invert(model, forcing, obs, space, starts=8, initial=293.0)


def test_a_start_stuck_at_a_bound_is_left_out_of_the_summary(readme_result):
    r = readme_result
    loss = r["final_loss"].values
    stuck = np.flatnonzero(r["at_bound"].sel(parameter="conductivity").values == 1)
    # the case: one start ends at the conductivity bound 3.0 with a misfit far above the others'
    assert stuck.size >= 1
    assert np.all(loss[stuck] > 1e6 * np.min(loss))
    assert np.all(r["verdict"].values[stuck] == AT_BOUND)
    others = np.setdiff1d(np.arange(8), stuck)
    assert np.all(r["verdict"].values[others] == BEST_BASIN)
    # the optimiser status is kept apart from the verdict
    assert status_counts(r)["converged"] == 8
    counts = verdict_counts(r)
    assert counts == {"best_basin": others.size, "other_basin": 0, "at_bound": stuck.size, "diverged": 0}
    assert int(r["n_at_bound"]) == stuck.size and int(r["n_best_basin"]) == others.size
    # summaries over the best basin: the three parameters are identified
    for p, truth in (("h_eff", 25.0), ("conductivity", 0.8), ("heat_capacity", 2.2e6)):
        assert float(r["relative_spread"].sel(parameter=p)) < 1e-6
        assert float(r["median"].sel(parameter=p)) == pytest.approx(truth, rel=1e-6)
        assert float(r["p95"].sel(parameter=p)) == pytest.approx(truth, rel=1e-6)


def test_the_verdict_rule():
    n = 200
    no_bound = np.zeros((5, 2), bool)
    status = np.ones(5, int)
    # noise-free: round-off-level misfits share the best basin, 0.03 does not
    v, tol = verdicts(np.array([1e-25, 1e-14, 3e-2, 2e-20, np.nan]), status, no_bound, n)
    assert tol == pytest.approx(1e-3 / n)
    assert list(v) == [BEST_BASIN, BEST_BASIN, OTHER_BASIN, BEST_BASIN, DIVERGED_VERDICT]
    # noisy: relative 1e-3 of the best misfit
    best = 1.3
    v, tol = verdicts(np.array([best, best * (1 + 5e-4), best * (1 + 5e-3), best, best]), status, no_bound, n)
    assert tol == pytest.approx(1e-3 * (best + 1 / n))
    assert list(v[:3]) == [BEST_BASIN, BEST_BASIN, OTHER_BASIN]
    # at a bound only matters outside the best basin; diverged status wins
    bound = no_bound.copy()
    bound[[0, 2], 1] = True
    status[4] = 2
    v, _ = verdicts(np.array([best, best, 2 * best, best, best]), status, bound, n)
    assert list(v) == [BEST_BASIN, BEST_BASIN, AT_BOUND, BEST_BASIN, DIVERGED_VERDICT]
    assert basin_tolerance(np.inf, None) == 0.0


@pytest.mark.parametrize(
    "free, fixed, match",
    [
        ({"conductivity": (-1.0, 4.0)}, None, r"bounds \(-1.0, 4.0\) of conductivity: conductivity must be > 0"),
        ({"lambda": (0.0, 4.0)}, None, r"\(0.0, 4.0\) of conductivity: conductivity must be > 0"),
        ({"heat_capacity": (-5e5, 5e6)}, None, "heat_capacity must be > 0"),
        ({"h_eff": (-2.0, 80.0)}, None, "h_eff must be > 0"),
        ({"beta": (-0.5, 5.0)}, None, "beta must be > 0"),
        ({"diffusivity": (-1e-7, 1e-6)}, None, "diffusivity must be > 0"),
        ({"bottom_temperature": (-10.0, 30.0)}, None, "bottom_temperature must be > 0"),
        ({"albedo": (0.1, 1.2)}, None, r"albedo must be within \[0, 1\]"),
        ({"emissivity": (-0.1, 1.0)}, None, r"emissivity must be within \[0, 1\]"),
        ({"soil.conductivity": (-1.0, 4.0)}, None, "conductivity must be > 0"),
        ({"h": (5.0, 20.0)}, {"emissivity": 95.0}, r"fixed value 95.0 of emissivity"),
    ],
)
def test_unphysical_bounds_are_refused(free, fixed, match):
    with pytest.raises(ParameterError, match=match) as info:
        ParameterSpace(free, fixed=fixed)
    assert "\n" not in str(info.value)


def test_physical_bounds_are_accepted():
    space = ParameterSpace({"albedo": (0.0, 1.0), "conductivity": (1e-3, 4.0), "h": (0.5, 80.0)})
    assert space.size == 3


@pytest.mark.parametrize("name", ["ts", "soil_temperature@0.05"])
def test_temperatures_in_deg_c_are_refused(name):
    model, forcing, obs, space, initial = twin_case("surface+5cm")
    celsius = np.asarray(obs.values)[:, 0] - 273.15
    with pytest.raises(ObservationError, match=r"looks like deg C: convert to K \(\+273.15\)") as info:
        Observations.from_dict({name: celsius})
    assert name in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(ObservationError, match="deg C"):
        Observations(celsius[:, None], [jlsm.Observable.parse(name)], np.ones(1))
    with pytest.raises(ObservationError, match="expected temperatures in K"):
        Observations.from_dict({name: celsius + 1000.0})


def test_fluxes_and_plausible_temperatures_are_accepted():
    series = np.linspace(-50.0, 400.0, 30)
    assert Observations.from_dict({"sensible": series}).names == ("sensible",)
    assert Observations.from_dict({"ts": np.linspace(250.0, 330.0, 30)}).n_times == 30
    gappy = np.full(30, np.nan)
    gappy[3] = 290.0
    assert Observations.from_dict({"ts": gappy}).n_times == 30


@pytest.mark.parametrize("noise", [-1.0, np.nan, {"soil_temperature@0": -0.1}])
def test_negative_noise_is_refused(noise):
    _, _, obs, _, _ = twin_case("surface+5cm")
    with pytest.raises(ObservationError, match="noise standard deviation must be >= 0"):
        obs.with_noise(noise)
    assert np.array_equal(np.asarray(obs.with_noise(0.0).values), np.asarray(obs.values))


def test_results_carry_series_bound_flags_verdicts_and_units(readme_result, tmp_path):
    import jax.numpy as jnp
    import xarray as xr

    model, forcing, obs, space = _readme_problem()
    reference = {"h_eff": 20.0, "conductivity": 1.0, "heat_capacity": 2e6}
    r = invert(model, forcing, obs, space, starts=4, initial=293.0, polish=10, reference=reference,
               fit=(0, 70), validate=(70, 101))
    assert r.sizes["time"] == 101
    assert r["time"].attrs["units"] == "s"
    np.testing.assert_allclose(r["time"].values, np.arange(101) * forcing.dt, rtol=0, atol=0)
    assert list(r["variable_units"].values) == ["K", "K"]
    np.testing.assert_array_equal(r["observed"].values, np.asarray(obs.values))
    problem = (model, forcing, obs, jnp.asarray(293.0))
    best = int(r["best_start"])
    x_best = jnp.asarray(r["final"].values[best, : space.size])
    expected = np.asarray(Objective(space).simulated(x_best, problem, physical=True))
    np.testing.assert_allclose(r["simulated"].values, expected, rtol=1e-10)
    x_ref = jnp.asarray([reference[n] for n in space.names])
    expected_ref = np.asarray(Objective(space).simulated(x_ref, problem, physical=True))
    np.testing.assert_allclose(r["simulated_reference"].values, expected_ref, rtol=1e-10)
    assert list(np.unique(r["time_window"].values[:70])) == [1] and list(np.unique(r["time_window"].values[70:])) == [2]
    units = r["metric_units"]
    assert units.sel(variable="soil_temperature@0", metric="rmse").item() == "K"
    assert units.sel(variable="soil_temperature@0", metric="kge").item() == "1"
    assert r["at_bound"].dims == ("start", "parameter") and r["verdict"].attrs["flag_meanings"].split()[0] == "best_basin"
    path = tmp_path / "r.nc"
    r.to_netcdf(path)
    back = xr.load_dataset(path)
    np.testing.assert_array_equal(back["simulated"].values, r["simulated"].values)
    np.testing.assert_array_equal(back["verdict"].values, r["verdict"].values)
    assert back["time"].attrs["units"] == "s"


def test_results_series_on_a_given_time_axis():
    model, forcing, obs, space = _readme_problem()
    time = np.datetime64("2012-05-01T00:00") + np.arange(101) * np.timedelta64(1, "h")
    r = invert(model, forcing, obs, space, starts=2, initial=293.0, polish=3, time=time)
    np.testing.assert_array_equal(r["time"].values, time)
    assert "simulated_reference" not in r


def test_reference_values_are_checked():
    model, forcing, obs, space = _readme_problem()
    with pytest.raises(ParameterError, match="reference values lack"):
        invert(model, forcing, obs, space, starts=2, initial=293.0, polish=2, reference={"h_eff": 20.0})
    with pytest.raises(ParameterError, match="reference must have 3 values"):
        invert(model, forcing, obs, space, starts=2, initial=293.0, polish=2, reference=[1.0, 2.0])
