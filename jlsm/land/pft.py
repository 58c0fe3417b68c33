"""Default parameters per plant functional type (IGBP classes) and soil texture.

Sources (read from the tables as distributed with WRF, ``run/VEGPARM.TBL``,
``run/MPTABLE.TBL``, ``run/SOILPARM.TBL``):

* Noah VEGPARM.TBL, "MODIFIED_IGBP_MODIS_NOAH" rows (Chen & Dudhia 2001, Mon.
  Wea. Rev. 129, 569-585; Jarvis-Stewart parameters after Noilhan & Planton 1989
  and Jacquemin & Noilhan 1990): RS (r_s,min), RGL, HS, NROOT, ALBEDOMIN/MAX,
  EMISSMAX, MAXALB (snow albedo, percent); RSMAX_DATA = 5000 s m-1,
  TOPT_DATA = 298 K.
* Noah-MP MPTABLE.TBL, "noah_mp_modis_parameters" (Niu et al. 2011, JGR 116,
  D12109): HVT (canopy top height), Z0MVT (momentum roughness length), LAIM
  (monthly LAI, January first), CH2OP (intercepted water per unit LAI, mm).
* Noah SOILPARM.TBL, "STAS" rows (Cosby et al. 1984 Clapp-Hornberger values as
  used by Noah): BB (b), DRYSMC (residual), MAXSMC (porosity), REFSMC
  (reference/critical point), SATPSI (psi_sat, m), SATDK (K_sat, m s-1),
  WLTSMC (wilting point), QTZ (quartz fraction).

Derived values: z0m / h_c = Z0MVT / HVT; root depth = the bottom of Noah's
NROOT-th layer (Noah layers 0.1, 0.3, 0.6, 1.0 m: bottoms 0.1, 0.4, 1.0, 2.0 m);
vegetation albedo = ALBEDOMIN (green canopy), soil/background albedo =
ALBEDOMAX. Extinction coefficient k = 0.5 for all types (spherical leaf angle
distribution, Campbell & Norman 1998, An Introduction to Environmental
Biophysics, ch. 15). Displacement d / h_c and kB^-1 keep the FAO-56 defaults of
:class:`jlsm.physics.aerodynamics.Roughness`.
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError
from ..physics.aerodynamics import Roughness
from ..physics.evapotranspiration import Stomata
from ..physics.soil_water import SoilHydraulics
from .model import LandModel, SiteConstants, SoilSurface, SurfaceRadiation, Vegetation

NOAH_ROOT_BOTTOMS = (0.1, 0.4, 1.0, 2.0)
"""Bottoms [m] of Noah's four soil layers (Chen & Dudhia 2001): NROOT -> root depth."""

RS_MAX = 5000.0  # VEGPARM.TBL RSMAX_DATA [s m-1]
T_OPT = 298.0  # VEGPARM.TBL TOPT_DATA [K]
CH2OP = 0.1  # MPTABLE.TBL CH2OP, maximum intercepted water per unit LAI [mm = kg m-2]
EXTINCTION = 0.5  # Campbell & Norman (1998), ch. 15: spherical leaf angle distribution

# VEGPARM.TBL MODIFIED_IGBP_MODIS_NOAH: (class, RS, RGL, HS, NROOT, ALBEDOMIN, ALBEDOMAX, EMISSMAX, MAXALB %)
_VEGPARM = {
    "ENF": (1, 125.0, 30.0, 47.35, 4, 0.12, 0.12, 0.950, 52.0),
    "EBF": (2, 150.0, 30.0, 41.69, 4, 0.12, 0.12, 0.950, 35.0),
    "DNF": (3, 150.0, 30.0, 47.35, 4, 0.14, 0.15, 0.940, 54.0),
    "DBF": (4, 100.0, 30.0, 54.53, 4, 0.16, 0.17, 0.930, 58.0),
    "MF": (5, 125.0, 30.0, 51.93, 4, 0.17, 0.25, 0.970, 53.0),
    "CSH": (6, 300.0, 100.0, 42.00, 3, 0.25, 0.30, 0.930, 60.0),
    "OSH": (7, 170.0, 100.0, 39.18, 3, 0.22, 0.30, 0.950, 65.0),
    "WSA": (8, 300.0, 100.0, 42.00, 3, 0.25, 0.30, 0.930, 60.0),
    "SAV": (9, 70.0, 65.0, 54.53, 3, 0.20, 0.20, 0.920, 50.0),
    "GRA": (10, 40.0, 100.0, 36.35, 3, 0.19, 0.23, 0.960, 70.0),
    "CRO": (12, 40.0, 100.0, 36.25, 3, 0.17, 0.23, 0.985, 66.0),
}

# MPTABLE.TBL noah_mp_modis_parameters: (HVT [m], Z0MVT [m])
_MPTABLE = {
    "ENF": (20.0, 1.09),
    "EBF": (20.0, 1.10),
    "DNF": (18.0, 0.85),
    "DBF": (16.0, 0.80),
    "MF": (16.0, 0.80),
    "CSH": (0.50, 0.06),
    "OSH": (0.50, 0.06),
    "WSA": (0.50, 0.06),
    "SAV": (16.0, 0.86),
    "GRA": (0.50, 0.06),
    "CRO": (0.50, 0.06),
}

# MPTABLE.TBL noah_mp_modis_parameters LAIM, January..December [m2 m-2]
_LAIM = {
    "ENF": (1.6, 1.6, 1.6, 1.6, 5.3, 5.5, 5.3, 5.3, 4.2, 2.2, 2.2, 2.2),
    "EBF": (4.5,) * 12,
    "DNF": (0.0, 0.0, 0.0, 0.6, 1.2, 2.0, 2.6, 1.7, 1.0, 0.5, 0.2, 0.0),
    "DBF": (0.0, 0.0, 0.3, 1.2, 3.0, 4.7, 4.5, 3.4, 1.2, 0.3, 0.0, 0.0),
    "MF": (1.0, 1.0, 1.0, 1.0, 2.3, 3.5, 4.3, 3.3, 2.2, 1.2, 1.2, 1.2),
    "CSH": (1.0,) * 12,
    "OSH": (1.0, 1.0, 1.0, 1.5, 2.0, 2.5, 3.0, 2.5, 1.5, 1.0, 1.0, 1.0),
    "WSA": (1.0,) * 12,
    "SAV": (1.0,) * 12,
    "GRA": (0.4, 0.5, 0.6, 0.7, 1.2, 3.0, 3.5, 1.5, 0.7, 0.6, 0.5, 0.4),
    "CRO": (0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 3.0, 3.0, 1.5, 0.0, 0.0, 0.0),
}

PFTS = tuple(_VEGPARM)
"""Plant functional types (IGBP codes) with defaults."""

ALIASES = {"SAV/WSA": "SAV", "GRASS": "GRA", "GRASSLAND": "GRA", "CROP": "CRO", "CROPLAND": "CRO"}

# SOILPARM.TBL STAS: (BB, DRYSMC, MAXSMC, REFSMC, SATPSI [m], SATDK [m s-1], WLTSMC, QTZ)
SOIL_TEXTURES = {
    "SAND": (2.79, 0.010, 0.339, 0.236, 0.069, 1.07e-6, 0.010, 0.92),
    "LOAMY SAND": (4.26, 0.028, 0.421, 0.383, 0.036, 1.41e-5, 0.028, 0.82),
    "SANDY LOAM": (4.74, 0.047, 0.434, 0.383, 0.141, 5.23e-6, 0.047, 0.60),
    "SILT LOAM": (5.33, 0.084, 0.476, 0.360, 0.759, 2.81e-6, 0.084, 0.25),
    "SILT": (5.33, 0.084, 0.476, 0.383, 0.759, 2.81e-6, 0.084, 0.10),
    "LOAM": (5.25, 0.066, 0.439, 0.329, 0.355, 3.38e-6, 0.066, 0.40),
    "SANDY CLAY LOAM": (6.66, 0.067, 0.404, 0.314, 0.135, 4.45e-6, 0.067, 0.60),
    "SILTY CLAY LOAM": (8.72, 0.120, 0.464, 0.387, 0.617, 2.04e-6, 0.120, 0.10),
    "CLAY LOAM": (8.17, 0.103, 0.465, 0.382, 0.263, 2.45e-6, 0.103, 0.35),
    "SANDY CLAY": (10.73, 0.100, 0.406, 0.338, 0.098, 7.22e-6, 0.100, 0.52),
    "SILTY CLAY": (10.39, 0.126, 0.468, 0.404, 0.324, 1.34e-6, 0.126, 0.10),
    "CLAY": (11.55, 0.138, 0.468, 0.412, 0.468, 9.74e-7, 0.138, 0.25),
}
DEFAULT_TEXTURE = "LOAM"
"""Soil texture used when none is given: a medium texture (no PFT-specific soil in the tables)."""


def canonical_pft(pft: str) -> str:
    """The IGBP code for ``pft`` (case-insensitive, a few aliases); ParameterError if unknown."""
    key = str(pft).strip().upper()
    key = ALIASES.get(key, key)
    if key not in _VEGPARM:
        raise ParameterError(f"unknown plant functional type {pft!r}; expected one of {', '.join(PFTS)}")
    return key


def monthly_lai(pft: str) -> np.ndarray:
    """Monthly LAI climatology [m2 m-2], January first (Noah-MP MPTABLE LAIM), shape (12,)."""
    return np.asarray(_LAIM[canonical_pft(pft)], dtype=float)


def canopy_height(pft: str) -> float:
    """Default canopy height [m] (Noah-MP MPTABLE HVT)."""
    return _MPTABLE[canonical_pft(pft)][0]


def soil_hydraulics(texture: str = DEFAULT_TEXTURE) -> tuple[SoilHydraulics, SoilSurface]:
    """Clapp-Hornberger hydraulics and stress points of a Noah STAS texture class."""
    key = str(texture).strip().upper()
    if key not in SOIL_TEXTURES:
        raise ParameterError(f"unknown soil texture {texture!r}; expected one of {', '.join(SOIL_TEXTURES)}")
    b, dry, sat, ref, psi, ksat, wilt, qtz = SOIL_TEXTURES[key]
    hyd = SoilHydraulics(theta_sat=sat, theta_res=dry, b=b, psi_sat=psi, k_sat=ksat)
    return hyd, SoilSurface(theta_wilt=wilt, theta_crit=ref, evaporation_factor=1.0, quartz=qtz)


def default_parameters(pft: str) -> dict:
    """The table values for ``pft`` as a flat dict (names, values; see the module docstring)."""
    key = canonical_pft(pft)
    _, rs, rgl, hs, nroot, alb_min, alb_max, emiss, maxalb = _VEGPARM[key]
    hvt, z0 = _MPTABLE[key]
    return {
        "rs_min": rs,
        "rgl": rgl,
        "hs": hs,
        "root_depth": NOAH_ROOT_BOTTOMS[nroot - 1],
        "albedo_vegetation": alb_min,
        "albedo_soil": alb_max,
        "albedo_snow": maxalb / 100.0,
        "emissivity": emiss,
        "canopy_height": hvt,
        "z0m_ratio": z0 / hvt,
        "interception_per_lai": CH2OP,
        "extinction": EXTINCTION,
    }


def default_model(pft: str, *, soil: str = DEFAULT_TEXTURE, z_ref=None, canopy_height=None, **options) -> LandModel:
    """A :class:`LandModel` with the published defaults of ``pft`` and a soil texture.

    Args:
        pft: IGBP code (ENF, EBF, DNF, DBF, MF, CSH, OSH, WSA, SAV, GRA, CRO).
        soil: Noah STAS texture class (default LOAM).
        z_ref: measurement height [m]; default max(2, canopy height + 2) m (a tower
            stands above the canopy; set the site's value).
        canopy_height: canopy height [m] (default: MPTABLE HVT).
        **options: other :class:`LandModel` keywords (thicknesses, bottom,
            deep_temperature, newton_passes).
    """
    p = default_parameters(pft)
    h = float(p["canopy_height"] if canopy_height is None else canopy_height)
    if not (np.isfinite(h) and h > 0):
        raise ParameterError(f"default_model: canopy_height must be a positive number of metres, got {canopy_height!r}")
    z = float(max(2.0, h + 2.0) if z_ref is None else z_ref)
    if not (np.isfinite(z) and z > 0):
        raise ParameterError(f"default_model: z_ref must be a positive number of metres, got {z_ref!r}")
    hyd, soil_surface = soil_hydraulics(soil)
    return LandModel(
        radiation=SurfaceRadiation(p["albedo_vegetation"], p["albedo_soil"], p["albedo_snow"], p["emissivity"]),
        roughness=Roughness(z0m_ratio=p["z0m_ratio"]),
        stomata=Stomata(rs_min=p["rs_min"], rs_max=RS_MAX, rgl=p["rgl"], hs=p["hs"], t_opt=T_OPT),
        hydraulics=hyd,
        soil=soil_surface,
        vegetation=Vegetation(lai_scale=1.0, extinction=p["extinction"], root_depth=p["root_depth"],
                              interception_per_lai=p["interception_per_lai"]),
        site=SiteConstants(z_ref=z, canopy_height=h),
        **options,
    )
