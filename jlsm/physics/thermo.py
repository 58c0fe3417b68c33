"""Moist-air thermodynamics: saturation, humidity deficits, latent heat, air density.

Temperatures in K, pressures in Pa, specific humidity in kg kg-1. Every function is
pointwise, works on scalars or arrays of any shape, keeps the input precision
(float32 in, float32 out) and is smooth, so it can sit under ``jit``, ``vmap`` and ``grad``.

    e_s(T)   = 611.2 exp(17.67 Tc / (Tc + 243.5))                  Bolton (1980), eq. 10
    q_s(T,p) = eps e_s / (p - (1 - eps) e_s)                        exact for an ideal-gas mixture
    L(T)     = 2.501e6 - 2361 Tc                                    FAO-56, Annex 3, eq. 3-1
    gamma    = cp p / (eps L)                                       FAO-56, eq. 8
    rho      = p / (R_d T (1 + (1/eps - 1) q))                      virtual temperature

with Tc = T - 273.15 K and eps = R_d / R_v. Bolton's fit is within 0.1 % of the
saturation vapour pressure over liquid water for -35 C <= Tc <= 35 C (Bolton 1980);
it is used over ice too (the error there is a few per cent below -10 C).

References:
    Bolton, D. (1980). The computation of equivalent potential temperature. Mon. Wea. Rev.
    108, 1046-1053.
    Allen, R. G., Pereira, L. S., Raes, D., Smith, M. (1998). Crop evapotranspiration. FAO
    Irrigation and Drainage Paper 56 ("FAO-56").
    Tiesinga, E. et al. (2021). CODATA recommended values of the fundamental physical
    constants: 2018. Rev. Mod. Phys. 93, 025010.
    ICAO (1993). Manual of the ICAO Standard Atmosphere, Doc 7488/3.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

Array = Any

GAS_CONSTANT = 8.314462618
"""Molar gas constant R* [J mol-1 K-1] (CODATA 2018, Tiesinga et al. 2021)."""

MOLAR_MASS_DRY_AIR = 0.0289644
"""Molar mass of dry air [kg mol-1] (ICAO 1993 Standard Atmosphere, Table A)."""

MOLAR_MASS_WATER = 0.01801528
"""Molar mass of water [kg mol-1] (IUPAC standard atomic weights, H2O = 18.01528 g mol-1)."""

R_DRY = GAS_CONSTANT / MOLAR_MASS_DRY_AIR
"""Gas constant of dry air R_d = R*/M_d = 287.06 [J kg-1 K-1]."""

R_VAPOUR = GAS_CONSTANT / MOLAR_MASS_WATER
"""Gas constant of water vapour R_v = R*/M_w = 461.52 [J kg-1 K-1]."""

EPSILON = R_DRY / R_VAPOUR
"""Ratio of molar masses M_w / M_d = R_d / R_v = 0.622 [-]."""

CP_AIR = 3.5 * R_DRY
"""Specific heat of dry air at constant pressure, 7/2 R_d = 1004.7 [J kg-1 K-1]
(ideal diatomic gas; the value of the ECMWF IFS documentation, Cy47r3 Part IV, RCPD = 3.5 RD)."""

GRAVITY = 9.80665
"""Standard acceleration of gravity [m s-2] (3rd CGPM 1901; ICAO 1993)."""

VON_KARMAN = 0.40
"""Von Karman constant [-] (Hogstrom 1996, Boundary-Layer Meteorol. 78, 215-246: 0.40 +- 0.01)."""

LATENT_HEAT_VAPORISATION = 2.501e6
"""Latent heat of vaporisation at 0 C [J kg-1] (FAO-56, Annex 3, eq. 3-1)."""

LATENT_HEAT_FUSION = 3.337e5
"""Latent heat of fusion of ice at 0 C [J kg-1] (Rogers & Yau 1989, A Short Course in Cloud
Physics, 3rd ed., Table 2.1)."""

RHO_WATER = 1000.0
"""Density of liquid water [kg m-3] (the usual land-model convention; 999.84 at 0 C)."""

T_FREEZE = 273.15
"""Freezing point of water [K]."""

# Bolton (1980), eq. 10: e_s = 611.2 exp(17.67 Tc / (Tc + 243.5)) Pa, Tc in deg C.
_BOLTON_E0 = 611.2
_BOLTON_A = 17.67
_BOLTON_B = 243.5
# FAO-56, Annex 3, eq. 3-1: L = 2.501 - 2.361e-3 Tc MJ kg-1.
_LATENT_HEAT_SLOPE = 2361.0


def saturation_vapour_pressure(t: Array) -> Array:
    """Saturation vapour pressure e_s [Pa] over water at temperature ``t`` [K] (Bolton 1980, eq. 10)."""
    tc = t - T_FREEZE
    return _BOLTON_E0 * jnp.exp(_BOLTON_A * tc / (tc + _BOLTON_B))


def saturation_vapour_pressure_slope(t: Array) -> Array:
    """d e_s / dT [Pa K-1] at ``t`` [K]: e_s 17.67 x 243.5 / (Tc + 243.5)^2 (derivative of Bolton's eq. 10)."""
    tc = t - T_FREEZE
    return saturation_vapour_pressure(t) * (_BOLTON_A * _BOLTON_B) / (tc + _BOLTON_B) ** 2


def specific_humidity_from_vapour_pressure(e: Array, p: Array) -> Array:
    """Specific humidity q = eps e / (p - (1 - eps) e) [kg kg-1] from vapour pressure ``e`` [Pa] and pressure ``p`` [Pa]."""
    return EPSILON * e / (p - (1.0 - EPSILON) * e)


def vapour_pressure(q: Array, p: Array) -> Array:
    """Vapour pressure e = q p / (eps + (1 - eps) q) [Pa] from specific humidity ``q`` [kg kg-1] and ``p`` [Pa]."""
    return q * p / (EPSILON + (1.0 - EPSILON) * q)


def _bounded_vapour_pressure(es: Array, p: Array) -> tuple[Array, Array]:
    """e_s bounded smoothly below ``p``: e_b = e_s (1 + (e_s / p)^8)^(-1/8) [Pa], and d e_b / d e_s [-].

    q = eps e / (p - (1 - eps) e) has a pole at e = p / (1 - eps) and turns negative
    beyond it (a skin far above the boiling point would then draw condensation). The
    bound keeps q_s positive, increasing and below 1 at any temperature; it changes
    e_s by (e_s / p)^8 / 8 relative: below 1e-9 for e_s < 0.1 p (T < 320 K at 1000 hPa).
    The 1/8 power is three square roots.
    """
    r8 = (es / p) ** 8
    root = jnp.sqrt(jnp.sqrt(jnp.sqrt(1.0 + r8)))  # (1 + r^8)^(1/8)
    return es / root, 1.0 / (root * (1.0 + r8))


def saturation_specific_humidity(t: Array, p: Array) -> Array:
    """Saturation specific humidity q_s [kg kg-1] at temperature ``t`` [K] and pressure ``p`` [Pa].

    From Bolton's e_s bounded below ``p`` (see :func:`_bounded_vapour_pressure`).
    """
    return specific_humidity_from_vapour_pressure(_bounded_vapour_pressure(saturation_vapour_pressure(t), p)[0], p)


def saturation_specific_humidity_slope(t: Array, p: Array) -> Array:
    """d q_s / dT [kg kg-1 K-1] at ``t`` [K], ``p`` [Pa] (analytic):

    dq_s/dT = eps p / (p - (1 - eps) e_b)^2 x de_b/de_s x de_s/dT, e_b the bounded e_s.
    """
    eb, slope_b = _bounded_vapour_pressure(saturation_vapour_pressure(t), p)
    denominator = p - (1.0 - EPSILON) * eb
    return EPSILON * p / denominator**2 * slope_b * saturation_vapour_pressure_slope(t)


def latent_heat_vaporisation(t: Array) -> Array:
    """Latent heat of vaporisation L [J kg-1] at ``t`` [K]: 2.501e6 - 2361 (T - 273.15) (FAO-56, eq. 3-1)."""
    return LATENT_HEAT_VAPORISATION - _LATENT_HEAT_SLOPE * (t - T_FREEZE)


def psychrometric_constant(p: Array, t: Array) -> Array:
    """Psychrometric constant gamma = cp p / (eps L(T)) [Pa K-1] (FAO-56, eq. 8) at ``p`` [Pa], ``t`` [K]."""
    return CP_AIR * p / (EPSILON * latent_heat_vaporisation(t))


def virtual_temperature(t: Array, q: Array) -> Array:
    """Virtual temperature T_v = T (1 + (1/eps - 1) q) [K] (Wallace & Hobbs 2006, Atmospheric Science, Sect. 3.1.1)."""
    return t * (1.0 + (1.0 / EPSILON - 1.0) * q)


def air_density(p: Array, t: Array, q: Array) -> Array:
    """Density of moist air rho = p / (R_d T_v) [kg m-3] at ``p`` [Pa], ``t`` [K], specific humidity ``q`` [kg kg-1]."""
    return p / (R_DRY * virtual_temperature(t, q))


def vapour_pressure_deficit(t: Array, q: Array, p: Array) -> Array:
    """Vapour pressure deficit e_s(T) - e(q, p) [Pa]; negative when the air is supersaturated."""
    return saturation_vapour_pressure(t) - vapour_pressure(q, p)


def specific_humidity_deficit(t: Array, q: Array, p: Array) -> Array:
    """Specific humidity deficit q_s(T, p) - q [kg kg-1]; negative when the air is supersaturated."""
    return saturation_specific_humidity(t, p) - q
