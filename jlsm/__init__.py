"""jlsm: a differentiable land-surface model in JAX.

Importing jlsm changes no global JAX setting (the ``jlsm`` command sets all
three below). Enable float64 yourself with
``jax.config.update("jax_enable_x64", True)``, keep compiled programs on disk
between processes with :func:`enable_compilation_cache`, and let XLA compile
small CPU time loops as single kernels with :func:`enable_loop_kernels`
(both before the first JAX computation).
"""

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
    from .loop_kernels import enable_loop_kernels
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
    "invert",
    "simulate",
]
