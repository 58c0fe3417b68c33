"""Surrogates of the land model and differentiable parameter learning (MdPL and its direct counterpart).

MdPL (Xie, Li and Yoshimura 2025, egusphere-2025-3301) calibrates a
non-differentiable land model through an LSTM surrogate trained on
perturbation runs, and learns site parameters with a generator network
through the frozen surrogate. jlsm's model is differentiable, so the same
code trains the generator through the surrogate or through the model itself.

Rooms:

- :mod:`~jlsm.surrogate.encoding`: temporal positional encoding (year and day phases, 2^k harmonics).
- :mod:`~jlsm.surrogate.data`: run designs (one-at-a-time, Sobol'), batched runs, normalisation, windows.
- :mod:`~jlsm.surrogate.lstm`: multi-task and single-task LSTM networks (Equinox).
- :mod:`~jlsm.surrogate.model`: a trained surrogate (network + normalisation); save and load.
- :mod:`~jlsm.surrogate.train`: Optax training with mini-batches and early stopping.
- :mod:`~jlsm.surrogate.generator`: parameter generator MLP and its training through any simulator.
- :mod:`~jlsm.surrogate.calibrate`: per-site multi-start calibration through any simulator.
- :mod:`~jlsm.surrogate.fidelity`: surrogate against model, fluxes and gradients.
- :mod:`~jlsm.surrogate.land`: the version-2 land model (``jlsm.land``) behind the simulator interface.

The simulator interface everything here takes: ``simulate(theta (P,) physical,
inputs) -> (T, 2)`` fluxes Qh, Qle [W m-2], differentiable in ``theta``.
"""

from .calibrate import CalibrationResult, as_space, calibrate, calibrate_sites, rmse_objective
from .data import Design, Normalisation, RunSet, build_runset, comparison_designs, generate_runs, oat_design, sobol_design, window_index
from .encoding import encoding_periods, encoding_size, positional_encoding
from .fidelity import flux_fidelity, gradient_accuracy
from .generator import ParameterGenerator, forcing_statistics, site_features, train_generator
from .land import FORCING_FEATURES, LandInputs, forcing_features, land_simulator
from .lstm import MultiTaskLSTM, SingleTaskLSTM, build_network, count_weights, hidden_for_weights
from .model import SiteInputs, Surrogate, load, save, site_inputs
from .train import train, train_surrogate

__all__ = [
    "FORCING_FEATURES",
    "CalibrationResult",
    "LandInputs",
    "Design",
    "MultiTaskLSTM",
    "Normalisation",
    "ParameterGenerator",
    "RunSet",
    "SingleTaskLSTM",
    "SiteInputs",
    "Surrogate",
    "as_space",
    "build_network",
    "build_runset",
    "calibrate",
    "calibrate_sites",
    "comparison_designs",
    "count_weights",
    "encoding_periods",
    "encoding_size",
    "flux_fidelity",
    "forcing_features",
    "forcing_statistics",
    "generate_runs",
    "gradient_accuracy",
    "hidden_for_weights",
    "land_simulator",
    "load",
    "oat_design",
    "positional_encoding",
    "rmse_objective",
    "save",
    "site_features",
    "site_inputs",
    "sobol_design",
    "train",
    "train_generator",
    "train_surrogate",
    "window_index",
]
