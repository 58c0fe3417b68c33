"""jlsm: a differentiable land-surface model in JAX.

Importing jlsm changes no global JAX setting (the ``jlsm`` command sets the
first three below, ``jlsm --cpu-devices`` the fourth). Enable float64 yourself
with ``jax.config.update("jax_enable_x64", True)``, keep compiled programs on
disk between processes with :func:`enable_compilation_cache`, let XLA compile
CPU time loops as single kernels with :func:`enable_loop_kernels`, and spread
batched runs over the cores with :func:`set_cpu_devices` (the last two before
the first JAX computation).

Layout, one line per room (``v2``: rooms of physics version 2, filled as it lands);
every module and subpackage is reachable as an attribute (``jlsm.io``,
``jlsm.identify``, ...), imported on first use::

    grid.py          SoilGrid: node depths, finite-volume thicknesses
    forcing.py       Forcing pytree, ALMA names, checks
    observe.py       observation operators, masked Observations
    errors.py        the error classes (one-line messages)
    physics/         one module per process: radiation, turbulence, soil_heat (+ spectral);
                     v2: thermo, aerodynamics, evapotranspiration, soil_water, snow, soil_thermal
    model.py         LandSurfaceModel and simulate (lax.scan), version 1
    land/            v2 column model: forcing, PFT defaults, parameter space, simulate
    params.py        ParameterSpace: bounds, transforms, fixed and derived parameters
    objective.py     NaN-aware misfit
    inverse.py       multi-start inversion (invert)
    inversion/       pieces of the inversion: results and per-start verdicts, checkpoints
    identify/        fisher, collinearity, profiles, designs, sensitivity (Sobol), sampling, cost, figures
    io/              one module per file format + units, humidity, time, gaps, estimates
    sites/           v2 site collections: padded batches with masks
    calibration/     v2 multi-site protocol and baselines
    surrogate/       v2 LSTM surrogates, parameter generators
    config/          TOML-described inversions: schema, data, problem, run, evaluation, report, windows
    metrics.py       RMSE, MAE, bias, r, NSE, KGE
    classical.py     amplitude-ratio and phase-lag diffusivity
    synthetic.py     the published synthetic case and twin experiment
    plot.py          figures of inversions (optional matplotlib)
    cli/             the jlsm command, one module per subcommand (demo, invert, identify)
    cache.py         persistent compilation cache switch
    loop_kernels.py  XLA's single-kernel CPU loops switch
"""

import importlib as _importlib

from ._gc import paused_gc as _paused_gc

with _paused_gc():  # importing Equinox and jlsm's modules (see jlsm._gc)
    from .cache import enable_compilation_cache
    from .errors import (
        ConfigError,
        DataFileError,
        ForcingError,
        GridError,
        InputError,
        JlsmError,
        ObservationError,
        ParameterError,
    )
    from .forcing import Forcing
    from .grid import SoilGrid
    from .inverse import Objective, Tolerances, invert
    from .loop_kernels import enable_loop_kernels, set_cpu_devices
    from .model import LandSurfaceModel, Output, simulate
    from .observe import Observable, Observations
    from .params import Parameter, ParameterSpace
    from .physics import (
        BowenRatioExchange,
        JacobiSolver,
        ModalSolver,
        Radiation,
        SoilThermal,
        SpectralSolver,
        TridiagonalSolver,
    )

__version__ = "0.1.0"

_SUBMODULES = frozenset(
    {
        "cache",
        "calibration",
        "classical",
        "cli",
        "config",
        "errors",
        "forcing",
        "grid",
        "identify",
        "inverse",
        "inversion",
        "io",
        "land",
        "loop_kernels",
        "metrics",
        "model",
        "objective",
        "observe",
        "params",
        "physics",
        "plot",
        "sites",
        "surrogate",
        "synthetic",
    }
)
"""Modules and subpackages reachable as attributes of jlsm, imported on first use."""


def __getattr__(name):
    """``jlsm.io``, ``jlsm.identify``, ...: import the module on first use (PEP 562)."""
    if name in _SUBMODULES:
        try:
            return _importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as err:
            if err.name != f"{__name__}.{name}":
                raise  # the module exists but needs something missing
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "BowenRatioExchange",
    "ConfigError",
    "DataFileError",
    "Forcing",
    "ForcingError",
    "GridError",
    "InputError",
    "JacobiSolver",
    "JlsmError",
    "LandSurfaceModel",
    "ModalSolver",
    "Objective",
    "ObservationError",
    "Observable",
    "Observations",
    "Output",
    "Parameter",
    "ParameterError",
    "ParameterSpace",
    "Radiation",
    "SoilGrid",
    "SoilThermal",
    "SpectralSolver",
    "Tolerances",
    "TridiagonalSolver",
    "enable_compilation_cache",
    "enable_loop_kernels",
    "set_cpu_devices",
    "invert",
    "simulate",
]
