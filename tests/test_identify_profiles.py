"""Profile likelihood (jlsm.identify.profiles): interval against truth and the Cramer-Rao bound, bad arguments."""

import numpy as np
import pytest

import identify_cases as cases
from identify_cases import NOISE, with_noise_scale
from jlsm import identify as idf
from jlsm.errors import InputError, ParameterError
from jlsm.synthetic import TRUE_PARAMETERS, twin_case


@pytest.fixture(scope="module")
def two_depths_analysis():
    return cases.two_depths_analysis()


def test_profile_likelihood_interval_contains_truth(two_depths_analysis):
    model, forcing, obs, space, initial = twin_case("surface+5cm", noise=NOISE, seed=3)
    obs = with_noise_scale(obs, NOISE)
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
