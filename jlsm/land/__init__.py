"""The version-2 land column: skin energy balance, soil heat and water, canopy and snow.

Public interface: :class:`LandForcing`, :class:`LandModel` (and its parameter
modules), :func:`simulate_land`, :class:`LandOutput`, :func:`default_model`,
:func:`default_space`, :data:`PFTS`.
"""

from .forcing import LandForcing, lai_series
from .model import (
    DEFAULT_THICKNESSES,
    Budget,
    LandModel,
    LandState,
    SiteConstants,
    SnowParameters,
    SoilSurface,
    SurfaceRadiation,
    Vegetation,
)
from .output import OUTPUTS, LandOutput
from .pft import PFTS, SOIL_TEXTURES, default_model, default_parameters, monthly_lai
from .simulate import simulate_batch, simulate_land
from .space import default_space

__all__ = [
    "DEFAULT_THICKNESSES",
    "OUTPUTS",
    "PFTS",
    "SOIL_TEXTURES",
    "Budget",
    "LandForcing",
    "LandModel",
    "LandOutput",
    "LandState",
    "SiteConstants",
    "SnowParameters",
    "SoilSurface",
    "SurfaceRadiation",
    "Vegetation",
    "default_model",
    "default_parameters",
    "default_space",
    "lai_series",
    "monthly_lai",
    "simulate_batch",
    "simulate_land",
]
