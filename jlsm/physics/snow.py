"""Snow: precipitation phase, a snow-water-equivalent bucket with degree-day melt, cover, albedo, insulation.

Choice: snow is a simple bucket (one store of snow water equivalent, SWE [kg m-2]) fed by the
solid part of precipitation and emptied by degree-day melt; its cover fraction blends the
surface albedo toward that of fresh snow and adds a thermal resistance between the surface and
the soil. There is no snowpack energy balance, refreezing, liquid water holding or
sublimation, so fluxes over snow are the weakest part of the model: snow-covered periods can
also be masked from flux objectives (an option of the calibration).

Formulas (T_F = 273.15 K):

* Phase (Jordan 1991, as in Noah-MP's OPT_SNF = 1: all snow at or below T_F + 0.5 K, all
  rain above T_F + 2.5 K): snow fraction 1 / (1 + exp((T - T_mid) / s)) with T_mid = T_F + 1.5 K
  and s = 1 / ln 9 K, so that 90 % and 10 % fall at T_F + 0.5 K and T_F + 2.5 K.
* Melt (degree-day; Hock 2003, J. Hydrol. 282, 104-115, Table 1: 2-7 mm d-1 K-1 for snow):
  potential melt M_p = f_m softplus_w(T_air - T_F), w = 0.25 K, limited smoothly by the snow
  available in the step A = swe / dt + snowfall: melt = M_p / (1 + (M_p / A)^p)^(1/p), p = 4,
  which is below both, so SWE never becomes negative and
  swe_new - swe = dt (snowfall - melt) exactly.
* Cover (Noah SNFRAC, Chen & Dudhia 2001; Anderson 1973's depletion curve):
  f = 1 - exp(-a r) + r exp(-a), r = swe / swe_up <= 1, a = 2.6 (Noah GENPARM SALP),
  swe_up (Noah SNUP) = 0.04 m of water = 40 kg m-2 by default (grassland/cropland in Noah's
  VEGPARM.TBL); f = 1 for r >= 1 (continuous; the slope drops to zero there).
* Albedo (Noah ALCALC): alpha = alpha_0 + f (alpha_snow - alpha_0), alpha_snow = 0.75 (Noah's
  maximum snow albedo is 0.55-0.85 by land cover, Robinson & Kukla 1985).
* Insulation: snow depth h = swe / rho_snow (rho_snow = 250 kg m-3, a settled seasonal pack),
  conductivity k_snow = 0.138 - 1.01 rho + 3.233 rho^2 W m-1 K-1 with rho in g cm-3
  (Sturm et al. 1997, J. Glaciol. 43, eq. 4; fitted for 0.156-0.6 g cm-3),
  thermal resistance R = h / k_snow [m2 K W-1].
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

T_FREEZE = 273.15
"""Freezing point of water [K]."""
MELT_FACTOR = 3.0 / 86400.0
"""Default degree-day factor [kg m-2 s-1 K-1]: 3 mm d-1 K-1 (Hock 2003, Table 1, snow 2-7)."""
SNOW_COVER_SHAPE = 2.6
"""Shape of the snow depletion curve a [-] (Noah GENPARM.TBL SALP, from Anderson's HYDRO-17 data)."""
SWE_FULL_COVER = 40.0
"""SWE for full snow cover [kg m-2] (Noah VEGPARM.TBL SNUP = 0.04 m, grassland and cropland)."""
ALBEDO_SNOW = 0.75
"""Albedo of fresh snow cover [-] (Noah maximum snow albedo, Robinson & Kukla 1985: 0.55-0.85)."""
SNOW_DENSITY = 250.0
"""Bulk density of the snowpack [kg m-3] (a settled seasonal pack; this module's choice)."""


def precipitation_phase(precip, t_air, *, t_mid=T_FREEZE + 1.5, spread=float(1.0 / np.log(9.0))):
    """(rain, snow) [kg m-2 s-1] from total precipitation [kg m-2 s-1] and air temperature [K].

    Snow fraction 1 / (1 + exp((t_air - t_mid) / spread)) (Jordan 1991 range, see module
    docstring); rain + snow = precip exactly.
    """
    snow = precip * jax.nn.sigmoid((t_mid - t_air) / spread)
    return precip - snow, snow


def potential_melt(t_air, melt_factor=MELT_FACTOR, *, t_width=0.25):
    """Degree-day melt rate M_p = f_m softplus_w(T_air - T_F) [kg m-2 s-1] (Hock 2003).

    ``melt_factor`` f_m [kg m-2 s-1 K-1], ``t_width`` w [K] the smooth corner at T_F.
    """
    return melt_factor * t_width * jax.nn.softplus((t_air - T_FREEZE) / t_width)


def snow_step(swe, snowfall, t_air, dt, melt_factor=MELT_FACTOR, *, sharpness=4.0, t_width=0.25):
    """Advance the snow bucket by one step.

    Args:
        swe: snow water equivalent [kg m-2] at the start of the step.
        snowfall: solid precipitation [kg m-2 s-1].
        t_air: air temperature [K].
        dt: time step [s].
        melt_factor: degree-day factor [kg m-2 s-1 K-1] (default 3 mm d-1 K-1).
        sharpness: p of the smooth min of potential and available melt.
        t_width: width of the smooth onset of melt at T_F [K].

    Returns:
        (swe_new [kg m-2], melt [kg m-2 s-1]) with swe_new - swe = dt (snowfall - melt) and
        0 <= melt < swe / dt + snowfall.
    """
    m_p = potential_melt(t_air, melt_factor, t_width=t_width)
    available = swe / dt + snowfall
    has_snow = available > 0.0
    safe = jnp.where(has_snow, available, 1.0)  # double-where: finite gradient without snow
    melt = jnp.where(has_snow, m_p / (1.0 + (m_p / safe) ** sharpness) ** (1.0 / sharpness), 0.0)
    melt = jnp.minimum(melt, available)  # acts on round-off only: melt <= available in floating point
    swe_new = dt * (available - melt)  # = swe + dt (snowfall - melt), never negative
    return swe_new, melt


def snow_cover_fraction(swe, swe_full=SWE_FULL_COVER, *, shape=SNOW_COVER_SHAPE):
    """Snow-covered fraction [-] of the surface from SWE [kg m-2] (Noah SNFRAC; see module docstring)."""
    r = jnp.minimum(jnp.maximum(swe, 0.0) / swe_full, 1.0)
    return 1.0 - jnp.exp(-shape * r) + r * jnp.exp(-shape)


def snow_albedo(albedo, cover, albedo_snow=ALBEDO_SNOW):
    """Surface albedo [-] blended toward snow by the cover fraction (Noah ALCALC)."""
    return albedo + cover * (albedo_snow - albedo)


def snow_conductivity(density=SNOW_DENSITY):
    """Effective thermal conductivity of snow [W m-1 K-1] (Sturm et al. 1997, eq. 4), density [kg m-3]."""
    rho = density / 1000.0
    return 0.138 - 1.01 * rho + 3.233 * rho**2


def snow_thermal_resistance(swe, density=SNOW_DENSITY):
    """Thermal resistance R = depth / k_snow [m2 K W-1] of a snowpack of ``swe`` [kg m-2].

    Put in series with the soil's top half layer, G = (T_s - T_1) / (R_soil + R), where the
    surface is snow covered.
    """
    depth = jnp.maximum(swe, 0.0) / density
    return depth / snow_conductivity(density)
