"""Shared setup of the identifiability tests: the synthetic case's constants and noisy observations."""

import numpy as np

from jlsm import identify as idf
from jlsm.observe import Observations
from jlsm.synthetic import TRUE_PARAMETERS, twin_case

H_EFF = TRUE_PARAMETERS["h"] * (1 + 1 / TRUE_PARAMETERS["beta"])
IDENTIFIABLE = ("albedo", "conductivity", "heat_capacity", "h_eff", "bottom_temperature")
NOISE = 0.1  # K
DEPTHS_CM = (0, 1, 2, 5, 10, 15, 20, 30, 50)
NOISE_LEVELS = (0.05, 0.1, 0.5)


def with_noise_scale(obs, noise):
    """The same observations, weighted by the noise std (so the misfit is the likelihood)."""
    return Observations(np.asarray(obs.values), obs.observables, np.full(len(obs.names), noise))


def two_depths_analysis():
    """The local analysis of the surface + 5 cm case at the true parameters."""
    model, forcing, obs, space, initial = twin_case("surface+5cm")
    return idf.local_analysis(model, forcing, space, TRUE_PARAMETERS, obs.names, noise=NOISE, initial=initial)
