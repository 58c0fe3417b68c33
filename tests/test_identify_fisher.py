"""Local identifiability (jlsm.identify.fisher): Fisher information, Cramer-Rao bounds, weak directions."""

import numpy as np
import pytest
import xarray as xr

import identify_cases as cases
from identify_cases import IDENTIFIABLE, NOISE, with_noise_scale
from jlsm import identify as idf
from jlsm.errors import ObservationError, ParameterError
from jlsm.inverse import invert
from jlsm.synthetic import TRUE_PARAMETERS, twin_case


@pytest.fixture(scope="module")
def two_depths_analysis():
    return cases.two_depths_analysis()


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
        obs = with_noise_scale(obs0.with_noise(NOISE, seed=100 + k), NOISE)
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
