"""Process kernels: pure functions and parameter modules, one module per process.

Nothing here imports from the rest of jlsm except :mod:`jlsm.grid` and
:mod:`jlsm.errors`.
"""

from .radiation import STEFAN_BOLTZMANN, Radiation
from .soil_heat import (
    AbstractSoilHeatSolver,
    ColumnOperator,
    JacobiSolver,
    ModalSolver,
    SpectralSolver,
    SoilThermal,
    TridiagonalSolver,
)
from .turbulence import AbstractTurbulentExchange, BowenRatioExchange

__all__ = [
    "STEFAN_BOLTZMANN",
    "Radiation",
    "AbstractSoilHeatSolver",
    "JacobiSolver",
    "ModalSolver",
    "SpectralSolver",
    "ColumnOperator",
    "TridiagonalSolver",
    "SoilThermal",
    "AbstractTurbulentExchange",
    "BowenRatioExchange",
]
