"""Identifiability: Fisher analysis, profile likelihood, design sweep, Sobol indices, sampling baseline."""

import argparse

import numpy as np
import pytest
import xarray as xr

from jlsm import identify as idf
from jlsm.errors import InputError, ObservationError, ParameterError
from jlsm.inverse import invert
from jlsm.observe import Observations
from jlsm.synthetic import INITIAL_TEMPERATURE, TRUE_PARAMETERS, paper_forcing, paper_model, twin_case, twin_space

H_EFF = TRUE_PARAMETERS["h"] * (1 + 1 / TRUE_PARAMETERS["beta"])
IDENTIFIABLE = ("albedo", "conductivity", "heat_capacity", "h_eff", "bottom_temperature")
NOISE = 0.1  # K
DEPTHS_CM = (0, 1, 2, 5, 10, 15, 20, 30, 50)
NOISE_LEVELS = (0.05, 0.1, 0.5)


def _with_noise_scale(obs, noise):
    """The same observations, weighted by the noise std (so the misfit is the likelihood)."""
    return Observations(np.asarray(obs.values), obs.observables, np.full(len(obs.names), noise))


@pytest.fixture(scope="module")
def two_depths_analysis():
    model, forcing, obs, space, initial = twin_case("surface+5cm")
    return idf.local_analysis(model, forcing, space, TRUE_PARAMETERS, obs.names, noise=NOISE, initial=initial)


# ------------------------------------------------------------ local analysis


def test_one_depth_fisher_is_singular_along_h_and_beta():
    model, forcing, obs, space, initial = twin_case("5cm")
    a = idf.local_analysis(model, forcing, space, TRUE_PARAMETERS, obs.names, noise=NOISE, initial=initial)
    assert float(a["condition_number"]) > 1e12
    weakest = a["eigenvector"].isel(direction=0)
    assert float(weakest.sel(row="h") ** 2 + weakest.sel(row="beta") ** 2) > 0.99
    # the null direction keeps h (1 + 1/beta) fixed: d log h_eff = d log h - d log beta / (1 + beta)
    ratio = float(weakest.sel(row="beta") / weakest.sel(row="h"))
    assert ratio == pytest.approx(1 + TRUE_PARAMETERS["beta"], rel=1e-4)
    text = idf.describe_directions(a, 2)
    assert text[0] == "0.93 log beta + 0.37 log h"
    assert "log conductivity" in text[1] and "log heat_capacity" in text[1]
    # lambda and C are nearly collinear with one depth
    assert abs(float(a["correlation"].sel(row="conductivity", column="heat_capacity"))) > 0.99
    assert float(a["cr_std"].sel(parameter="conductivity")) > 0.2
    assert not bool(a["identifiable"].sel(parameter="h"))
    assert np.isinf(float(a["cr_std"].sel(parameter="beta")))


def test_two_depths_identify_lambda_c_and_h_eff(two_depths_analysis):
    a = two_depths_analysis
    cr = a["cr_std"]
    assert float(cr.sel(parameter="conductivity")) < 0.05
    assert float(cr.sel(parameter="heat_capacity")) < 0.05
    assert float(cr.sel(parameter="h")) > 1.0
    assert float(cr.sel(parameter="beta")) > 1.0
    assert float(cr.sel(parameter="h_eff")) < 0.01
    assert a["role"].sel(parameter="h_eff").item() == "derived"
    assert bool(a["identifiable"].sel(parameter=list(IDENTIFIABLE)).all())
    assert int(a["rank"]) == 5
    # absolute CR std of Tb in kelvin: relative std in log-kelvin times the value
    tb = a.sel(parameter="bottom_temperature")
    assert float(tb["cr_std_absolute"]) == pytest.approx(float(tb["cr_std"]) * 293.0)
    # h and beta move together along the ridge; the collinearity index flags the pair
    assert float(a["correlation"].sel(row="h", column="beta")) == pytest.approx(1.0, abs=1e-6)
    assert float(a["collinearity"].sel(subset="h,beta")) > 1e6
    assert float(a["collinearity"].sel(subset="conductivity,heat_capacity")) < 10
    assert a.sizes["subset"] == 57  # all subsets of size 2..6


def test_cramer_rao_matches_empirical_spread(two_depths_analysis):
    """Estimates from 16 noise realisations scatter as the Cramer-Rao bound predicts (within x2)."""
    model, forcing, obs0, space, initial = twin_case("surface+5cm")
    truth = np.array([TRUE_PARAMETERS[n] for n in space.names])
    estimates = []
    for k in range(16):
        obs = _with_noise_scale(obs0.with_noise(NOISE, seed=100 + k), NOISE)
        starts = np.vstack([truth, space.sample(3, seed=k)])
        r = invert(model, forcing, obs, space, starts=starts, initial=initial, steps=0, polish=40)
        estimates.append(r["final"].isel(start=int(r["best_start"])))
    est = xr.concat(estimates, "realisation")
    cr = two_depths_analysis["cr_std"]
    ratios = {}
    for name in IDENTIFIABLE:
        spread = float(np.std(np.log(est.sel(parameter=name).values), ddof=1))
        ratios[name] = spread / float(cr.sel(parameter=name))
    print("empirical / Cramer-Rao std:", {k: round(v, 2) for k, v in ratios.items()})
    for name, ratio in ratios.items():
        assert 0.5 < ratio < 2.0, (name, ratio)


def test_local_analysis_arguments():
    model, forcing, obs, space, initial = twin_case("surface+5cm")
    with pytest.raises(ObservationError, match="noise"):
        idf.local_analysis(model, forcing, space, TRUE_PARAMETERS, obs.names, noise=-1.0)
    with pytest.raises(ObservationError, match="no noise level"):
        idf.local_analysis(model, forcing, space, TRUE_PARAMETERS, obs.names, noise={"soil_temperature@0": 0.1})
    with pytest.raises(ObservationError, match="unknown observable"):
        idf.local_analysis(model, forcing, space, TRUE_PARAMETERS, ["soil_moisture"], noise=0.1)
    with pytest.raises(ParameterError, match="no value given"):
        idf.local_analysis(model, forcing, space, {"albedo": 0.2}, obs.names, noise=0.1)
    with pytest.raises(ParameterError, match="expected 6"):
        idf.local_analysis(model, forcing, space, [0.2, 15.0], obs.names, noise=0.1)


def test_collinearity_index_of_known_columns():
    s = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
    c = idf.collinearity(s, ["a", "b", "c"])
    assert float(c["collinearity"].sel(subset="a,b")) == pytest.approx(1.0)
    # c = a + b: the three columns are linearly dependent
    assert float(c["collinearity"].sel(subset="a,b,c")) > 1e6
    # unit columns at 45 degrees: gamma = 1 / sqrt(1 - cos 45)
    assert float(c["collinearity"].sel(subset="a,c")) == pytest.approx(1 / np.sqrt(1 - np.sqrt(0.5)))


# ------------------------------------------------------------- design sweep


@pytest.fixture(scope="module")
def sweep():
    designs = idf.design_grid(np.array(DEPTHS_CM) / 100, NOISE_LEVELS, sizes=(1, 2))
    return idf.design_sweep(
        paper_model(), paper_forcing(), twin_space(), TRUE_PARAMETERS, designs, initial=INITIAL_TEMPERATURE
    )


def _select(sw, depths_cm, noise):
    d = np.sort(np.array(depths_cm, float) / 100)
    first, second = d[0], d[-1]
    hit = (
        np.isclose(sw["first_depth"], first)
        & np.isclose(sw["second_depth"], second)
        & (sw["n_depths"] == len(depths_cm))
        & np.isclose(sw["noise_level"], noise)
    )
    (index,) = np.flatnonzero(hit.values)
    return sw.isel(design=index)


def test_design_sweep_is_one_batch_over_all_pairs(sweep):
    assert sweep.sizes["design"] == (36 + 9) * 3
    assert sweep["cr_std"].dims == ("design", "parameter")
    assert int((sweep["n_depths"] == 2).sum()) == 36 * 3
    assert set(IDENTIFIABLE) <= set(sweep["parameter"].values)
    assert sweep.attrs["wall_seconds"] > 0
    # the paper's design reproduces the single local analysis
    paper = _select(sweep, (0, 5), NOISE)
    assert float(paper["cr_std"].sel(parameter="conductivity")) == pytest.approx(0.0111, rel=0.02)


def test_design_sweep_physics(sweep):
    cr = sweep["cr_std"]
    # CR std is proportional to the noise: less noise never hurts
    for depths in [(0, 5), (10,), (2, 30)]:
        stds = [float(_select(sweep, depths, s)["cr_std"].sel(parameter="h_eff")) for s in NOISE_LEVELS]
        assert stds[0] < stds[1] < stds[2]
        assert stds[2] / stds[1] == pytest.approx(5.0, rel=1e-6)
    # adding the surface temperature to any single depth sharpens h_eff and albedo
    for d in DEPTHS_CM[1:]:
        alone = _select(sweep, (d,), NOISE)["cr_std"]
        with_surface = _select(sweep, (0, d), NOISE)["cr_std"]
        for q in ("h_eff", "albedo"):
            assert float(with_surface.sel(parameter=q)) < float(alone.sel(parameter=q))
    # a single sensor identifies h_eff worse the deeper it is (the surface flux is damped with depth)
    singles = [float(_select(sweep, (d,), NOISE)["cr_std"].sel(parameter="h_eff")) for d in DEPTHS_CM]
    assert all(a < b for a, b in zip(singles[1:], singles[2:]))
    # h and beta are never separately identifiable from temperatures
    assert np.all(np.isinf(cr.sel(parameter=["h", "beta"]).values))
    # at every noise level the best design pairs the surface with a deeper sensor and beats any single depth
    ranked = idf.rank_designs(sweep, "max_target_std")
    for s in NOISE_LEVELS:
        at = ranked.isel(design=np.flatnonzero(np.isclose(ranked["noise_level"], s)))
        top = at.isel(design=0)
        assert float(top["first_depth"]) == 0.0 and int(top["n_depths"]) == 2
        best_single = float(at["score"].where(at["n_depths"] == 1).min())
        assert float(top["score"]) < 0.5 * best_single
    # lambda and C below 1 % at 0.05 K with the best pair
    assert float(ranked.isel(design=0)["score"]) < 0.01
    table = idf.design_table(ranked, 5)
    assert "0+" in table.splitlines()[2]


def test_design_ranking_options_and_figure(sweep, tmp_path):
    for by in ("target_information", "trace", "conductivity", "lambda"):
        r = idf.rank_designs(sweep, by)
        assert int(r["rank"][0]) == 1
        assert np.isfinite(float(r["score"][0]))
    with pytest.raises(InputError, match="by"):
        idf.rank_designs(sweep, "nonsense")
    pytest.importorskip("matplotlib")
    fig = idf.design_figure(sweep)
    fig.savefig(tmp_path / "sweep.png")
    assert (tmp_path / "sweep.png").stat().st_size > 1000


def test_design_arguments():
    with pytest.raises(InputError, match="depths"):
        idf.design_grid([0.05, -0.1], [0.1])
    with pytest.raises(ObservationError, match="noise"):
        idf.design_grid([0.05], [0.0])
    d = idf.Design(("soil_temperature@0", "lw_up"), {"soil_temperature@0": 0.1, "lw_up": 5.0}, n_times=50)
    assert d.noise_of("lw_up") == 5.0
    assert "50 times" in d.label
    with pytest.raises(ObservationError, match="no noise level"):
        idf.Design(("ts",), {"lw_up": 5.0}).noise_of("ts")


def test_identify_command(sweep, tmp_path, capsys):
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    idf.add_parser(sub)
    args = parser.parse_args(["identify", "--out", str(tmp_path), "--top", "5"])
    assert idf.run(args) == 0
    out = capsys.readouterr().out
    assert "rank" in out and "0+" in out
    back = xr.load_dataset(tmp_path / "design_sweep.nc")
    assert back.sizes["design"] == sweep.sizes["design"]
    assert int(back["rank"][0]) == 1


# ----------------------------------------------------------- profile likelihood


def test_profile_likelihood_interval_contains_truth(two_depths_analysis):
    model, forcing, obs, space, initial = twin_case("surface+5cm", noise=NOISE, seed=3)
    obs = _with_noise_scale(obs, NOISE)
    truth = np.array([TRUE_PARAMETERS[n] for n in space.names])
    grid = 0.8 * np.linspace(0.95, 1.05, 11)
    p = idf.profile_likelihood(model, forcing, obs, space, "lambda", grid, initial=initial, starts=truth, polish=20)
    lo, hi = float(p["ci_lower"]), float(p["ci_upper"])
    assert np.isfinite(lo) and np.isfinite(hi)
    assert lo < 0.8 < hi
    # the 95 % profile interval matches +-1.96 Cramer-Rao std (the problem is nearly linear)
    half = 0.5 * (np.log(hi) - np.log(lo))
    assert half == pytest.approx(1.96 * float(two_depths_analysis["cr_std"].sel(parameter="conductivity")), rel=0.25)
    # chi2 at the minimum ~ number of data minus parameters
    assert 150 < float(p["chi2_min"]) < 260
    assert float(p["delta_chi2"].min()) >= -1e-9
    assert list(p["other"].values) == ["albedo", "h", "beta", "bottom_temperature", "heat_capacity"]


def test_profile_arguments():
    model, forcing, obs, space, initial = twin_case("surface+5cm")
    with pytest.raises(ParameterError, match="not a free parameter"):
        idf.profile_likelihood(model, forcing, obs, space, "emissivity", [0.9, 0.95, 0.97])
    with pytest.raises(ParameterError, match="inside its bounds"):
        idf.profile_likelihood(model, forcing, obs, space, "conductivity", [0.01, 0.8, 1.0])
    with pytest.raises(InputError, match="at least 3"):
        idf.profile_likelihood(model, forcing, obs, space, "conductivity", [0.7, 0.8])
    with pytest.raises(ParameterError, match="columns"):
        idf.profile_likelihood(model, forcing, obs, space, "conductivity", [0.7, 0.8, 0.9], starts=np.ones((2, 3)))


# ------------------------------------------------------- sampling vs gradient


def test_gradient_beats_sampling_at_equal_cost(tmp_path):
    model, forcing, obs, space, initial = twin_case("surface+5cm", noise=NOISE, seed=0)
    obs = _with_noise_scale(obs, NOISE)
    c = idf.compare_with_gradient(
        model,
        forcing,
        obs,
        space,
        n_samples=256,
        starts=4,
        polish=40,
        initial=initial,
        truth=TRUE_PARAMETERS,
        repeats=5,
    )
    print(idf.comparison_table(c))
    s, g = c.sel(approach="sampling"), c.sel(approach="gradient")
    assert c.attrs["jacobian_ratio"] > 1 and np.isnan(c.attrs["gradient_ratio"])  # no Adam phase: not timed
    # within the sampling's budget of 256 forward runs the gradient method is already lower ...
    assert float(g["objective_at_sampling_budget"]) < float(s["final_objective"])
    assert float(g["evaluations_to_sampling_best"]) < 256
    # ... and it ends at the noise floor: chi2 / n_obs ~ 1 (J is chi2 per observation here)
    assert float(g["final_objective"]) < 0.2 * float(s["final_objective"])
    assert float(g["final_objective"]) == pytest.approx(1.0, abs=0.25)
    err = c["relative_error"]
    # the best sampled set is off by ~10 % in lambda and alpha; the gradient estimate by noise only
    for name in ("conductivity", "albedo"):
        assert float(err.sel(approach="gradient", parameter=name)) < 0.02
        assert float(err.sel(approach="sampling", parameter=name)) > 0.05
    assert np.all(np.diff(c["sampling_best"].values) <= 0)
    assert np.all(np.diff(c["gradient_evaluations"].values) > 0)
    pytest.importorskip("matplotlib")
    idf.comparison_figure(c).savefig(tmp_path / "cmp.png")
    assert (tmp_path / "cmp.png").stat().st_size > 1000


def test_sampling_baseline_layout():
    model, forcing, obs, space, initial = twin_case("surface+5cm")
    b = idf.sampling_baseline(model, forcing, obs, space, n=16, seed=1, initial=initial, chunk=8)
    assert b.sizes["evaluation"] == 16
    j = b["objective"].values
    assert float(b["best_objective"]) == pytest.approx(j.min())
    np.testing.assert_allclose(b["best_so_far"].values, np.minimum.accumulate(j))
    with pytest.raises(InputError, match="n must be"):
        idf.sampling_baseline(model, forcing, obs, space, n=0)


# ------------------------------------------------------------ Sobol indices


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
