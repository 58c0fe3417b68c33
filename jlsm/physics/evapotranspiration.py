"""Resistances to water vapour for a single-source (big-leaf) skin, and Penman-Monteith.

Three parallel paths from the skin to the air (resistances in s m-1, conductances in m s-1):

    g = f_veg [f_wet / r_ah + (1 - f_wet) / (r_ah + r_c)] + (1 - f_veg) / (r_ah + r_soil)

with LE = rho L g (q_sat(T_s) - q_a); the three terms, divided by g, are the fractions of LE
that are interception evaporation, transpiration and soil evaporation.

* Canopy resistance, Jarvis-Stewart as in Noah's CANRES (Chen et al. 1996;
  Jacquemin & Noilhan 1990; Noilhan & Planton 1989):

      r_c = r_s,min / (LAI f1 f2 f3 f4), capped smoothly at r_s,max:
      1/r_c = LAI f1 f2 f3 f4 / r_s,min + 1/r_s,max
      f1 = (ff + r_s,min/r_s,max) / (1 + ff),  ff = 0.55 (2 / LAI) SW / R_gl
      f2 = 1 / (1 + h_s (q_s(T_a) - q_a))
      f3 = 1 - 0.0016 (T_opt - T_a)^2
      f4 = f_theta (soil-moisture stress, given)

  Noah floors f1, f3 at 1e-4 and f2 at 0.01 with ``max``; here the deficit's negative part
  and f3 are floored smoothly (below) and the cap at r_s,max is the harmonic sum above, so that
  r_c is finite and differentiable at LAI = 0, at night, in frost and at wilting.
* Soil surface resistance r_soil = factor exp(8.206 - 4.255 theta/theta_sat)
  (Sellers et al. 1992), 52 s m-1 at saturation, 3663 s m-1 when dry, times a
  calibratable factor.
* Vegetation cover f_veg = 1 - exp(-k LAI) (Beer's law; k = 0.5 for a spherical leaf angle
  distribution: Monsi & Saeki 1953; Campbell & Norman 1998).
* Canopy water capacity W_max = c LAI with c of 0.1-0.2 kg m-2 per unit LAI (Dickinson 1984;
  Noah-MP MPTABLE CH2OP = 0.1), wet fraction f_wet = (W / W_max)^(2/3) (Deardorff 1978).

References:
    Chen, F. et al. (1996). Modeling of land surface evaporation by four schemes and comparison
    with FIFE observations. J. Geophys. Res. 101(D3), 7251-7268.
    Jacquemin, B., Noilhan, J. (1990). Sensitivity study and validation of a land surface
    parameterization using the HAPEX-MOBILHY data set. Boundary-Layer Meteorol. 52, 93-134.
    Noilhan, J., Planton, S. (1989). A simple parameterization of land surface processes for
    meteorological models. Mon. Wea. Rev. 117, 536-549.
    Sellers, P. J. et al. (1992). Relations between surface conductance and spectral vegetation
    indices at intermediate (100 m2 to 15 km2) length scales. J. Geophys. Res. 97(D17), 19033-19059.
    Dickinson, R. E. (1984). Modeling evapotranspiration for three-dimensional global climate
    models. Geophys. Monogr. 29, 58-72.
    Deardorff, J. W. (1978). Efficient prediction of ground surface temperature and moisture,
    with inclusion of a layer of vegetation. J. Geophys. Res. 83(C4), 1889-1903.
    Monteith, J. L. (1965). Evaporation and environment. Symp. Soc. Exp. Biol. 19, 205-234.
    Allen, R. G. et al. (1998). Crop evapotranspiration. FAO Irrigation and Drainage Paper 56.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp

from ..errors import InputError
from .thermo import (
    CP_AIR,
    air_density,
    latent_heat_vaporisation,
    psychrometric_constant,
    saturation_specific_humidity,
    saturation_specific_humidity_slope,
    saturation_vapour_pressure,
    saturation_vapour_pressure_slope,
    vapour_pressure,
)

Array = Any

# Noah CANRES (Chen et al. 1996): ff = 0.55 (2 / LAI) SW / R_gl.
_VISIBLE_FRACTION_TIMES_TWO = 1.1
# Noilhan & Planton (1989); Noah CANRES: f3 = 1 - 0.0016 (298 - T_a)^2 [K-2].
TEMPERATURE_COEFFICIENT = 0.0016
# Smooth floors (this module's choice): f3 >= about 1e-4 (Noah's floor), width 0.01;
# the humidity deficit's negative part is removed over 1e-5 kg kg-1.
_F3_FLOOR = 1e-4
_F3_WIDTH = 0.01
_DEFICIT_WIDTH = 1e-5
# Sellers et al. (1992): r_soil = exp(8.206 - 4.255 W) s m-1.
_SELLERS_A = 8.206
_SELLERS_B = 4.255
# Canopy stores below this [kg m-2] (1 micrometre of water) count as empty: keeps W / W_max finite at LAI = 0.
_STORE_EPSILON = 1e-6


class Stomata(eqx.Module):
    """Jarvis-Stewart canopy-resistance parameters (Noah CANRES).

    Defaults: r_s,min = 100 s m-1, R_gl = 100 W m-2, h_s = 42 (kg kg-1)^-1 are mid-range
    values of Noah's VEGPARM.TBL (USGS table: RS 40-300, RGL 30-100, HS 36.25-54.53);
    r_s,max = 5000 s m-1 and T_opt = 298 K are Noah's RSMAX and TOPT (Chen et al. 1996).

    Attributes:
        rs_min: minimum stomatal resistance r_s,min [s m-1].
        rs_max: maximum (cuticular) resistance r_s,max [s m-1].
        rgl: radiation stress parameter R_gl [W m-2] (larger: light saturates later).
        hs: vapour-deficit sensitivity h_s [(kg kg-1)^-1], applied to the specific humidity
            deficit q_s(T_a) - q_a.
        t_opt: optimum air temperature T_opt [K].
    """

    rs_min: jnp.ndarray
    rs_max: jnp.ndarray
    rgl: jnp.ndarray
    hs: jnp.ndarray
    t_opt: jnp.ndarray

    def __init__(self, rs_min=100.0, rs_max=5000.0, rgl=100.0, hs=42.0, t_opt=298.0):
        self.rs_min = jnp.asarray(rs_min)
        self.rs_max = jnp.asarray(rs_max)
        self.rgl = jnp.asarray(rgl)
        self.hs = jnp.asarray(hs)
        self.t_opt = jnp.asarray(t_opt)


def _positive_part(x: Array, width: float) -> Array:
    """Smooth max(x, 0) = (x + sqrt(x^2 + w^2)) / 2: w/2 at 0, -> 0 for x << -w, -> x for x >> w."""
    return 0.5 * (x + jnp.sqrt(x * x + width * width))


def radiation_factor(sw_down: Array, lai: Array, stomata: Stomata) -> Array:
    """LAI f1 [-]: leaf area times the radiation factor (Noah CANRES), finite at LAI = 0 and SW = 0.

    LAI f1 = LAI (c + a LAI) / (c + LAI) with c = 1.1 SW / R_gl and a = r_s,min / r_s,max.
    """
    c = _VISIBLE_FRACTION_TIMES_TWO * jnp.maximum(sw_down, 0.0) / stomata.rgl
    a = stomata.rs_min / stomata.rs_max
    denominator = c + lai
    positive = denominator > 0.0
    safe = jnp.where(positive, denominator, 1.0)  # double where: no 0/0 when LAI = SW = 0
    return jnp.where(positive, lai * (c + a * lai) / safe, 0.0)


def humidity_factor(q_deficit: Array, stomata: Stomata) -> Array:
    """f2 = 1 / (1 + h_s max(q_deficit, 0)) [-], with a smooth max (width 1e-5 kg kg-1)."""
    return 1.0 / (1.0 + stomata.hs * _positive_part(q_deficit, _DEFICIT_WIDTH))


def temperature_factor(t_air: Array, stomata: Stomata, *, coefficient: float = TEMPERATURE_COEFFICIENT) -> Array:
    """f3 = 1 - 0.0016 (T_opt - T_a)^2 [-] (Noilhan & Planton 1989), floored smoothly near 1e-4.

    The floor is 1e-4 + 0.01 softplus((f3 - 1e-4) / 0.01): equal to f3 to within 1e-6 for
    f3 > 0.15, and about 7e-3 where the parabola reaches 0 (25 K from T_opt by default).
    """
    raw = 1.0 - coefficient * (stomata.t_opt - t_air) ** 2
    return _F3_FLOOR + _F3_WIDTH * jax.nn.softplus((raw - _F3_FLOOR) / _F3_WIDTH)


def canopy_resistance(
    sw_down: Array,
    q_deficit: Array,
    t_air: Array,
    f_theta: Array,
    lai: Array,
    stomata: Stomata,
    *,
    temperature_coefficient: float = TEMPERATURE_COEFFICIENT,
) -> Array:
    """Canopy (bulk stomatal) resistance r_c [s m-1], Jarvis-Stewart as in Noah CANRES.

    Args:
        sw_down: downwelling shortwave radiation [W m-2].
        q_deficit: specific humidity deficit of the air q_s(T_a) - q_a [kg kg-1].
        t_air: air temperature [K].
        f_theta: soil-moisture stress factor f4 in [0, 1] [-].
        lai: leaf area index [m2 m-2].
        stomata: the :class:`Stomata` parameters.
        temperature_coefficient: the 0.0016 K-2 of f3.

    Returns 1 / (LAI f1 f2 f3 f4 / r_s,min + 1 / r_s,max): r_s,min / (LAI f1 f2 f3 f4) while
    that is well below r_s,max, tending smoothly to r_s,max as any factor or LAI goes to 0.
    """
    conductance = (
        radiation_factor(sw_down, lai, stomata)
        * humidity_factor(q_deficit, stomata)
        * temperature_factor(t_air, stomata, coefficient=temperature_coefficient)
        * f_theta
        / stomata.rs_min
    )
    return 1.0 / (conductance + 1.0 / stomata.rs_max)


def soil_surface_resistance(theta_top: Array, theta_sat: Array, factor: Array = 1.0) -> Array:
    """Soil surface resistance to evaporation [s m-1]: factor exp(8.206 - 4.255 theta/theta_sat) (Sellers et al. 1992).

    Args:
        theta_top: volumetric water content of the top layer [m3 m-3].
        theta_sat: porosity [m3 m-3].
        factor: calibratable multiplier [-] (1 = Sellers).
    """
    return factor * jnp.exp(_SELLERS_A - _SELLERS_B * theta_top / theta_sat)


def vegetation_cover(lai: Array, k_extinction: Array = 0.5) -> Array:
    """Vegetation cover fraction f_veg = 1 - exp(-k LAI) [-] (Beer's law; k [-], LAI [m2 m-2])."""
    return -jnp.expm1(-k_extinction * lai)


def canopy_water_capacity(lai: Array, capacity_per_lai: Array = 0.1) -> Array:
    """Interception store capacity W_max = c LAI [kg m-2], c [kg m-2 per unit LAI] (Dickinson 1984)."""
    return capacity_per_lai * lai


def wet_fraction(w_can: Array, w_max: Array) -> Array:
    """Wet fraction of the canopy f_wet = min(W / W_max, 1)^(2/3) [-] (Deardorff 1978).

    W = ``w_can`` and W_max = ``w_max`` in kg m-2. W_max is taken as W_max + 1e-6 kg m-2 so
    that an empty store without leaves (W = W_max = 0) gives 0; the power is double-where
    guarded, so the value and gradient at W = 0 are 0 and finite (the exact derivative of
    x^(2/3) at 0 is infinite).
    """
    ratio = jnp.clip(w_can / (w_max + _STORE_EPSILON), 0.0, 1.0)
    wet = ratio > 0.0
    safe = jnp.where(wet, ratio, 1.0)
    return jnp.where(wet, safe ** (2.0 / 3.0), 0.0)


def vapour_conductance(r_ah: Array, r_c: Array, r_soil: Array, f_veg: Array, f_wet: Array) -> Array:
    """Total conductance to water vapour g [m s-1] of the big-leaf skin (three paths in parallel).

    g = f_veg [f_wet / r_ah + (1 - f_wet) / (r_ah + r_c)] + (1 - f_veg) / (r_ah + r_soil),
    all resistances in s m-1; LE = rho L g (q_sat(T_s) - q_a).
    """
    return _paths(r_ah, r_c, r_soil, f_veg, f_wet)[0]


class EvaporationFractions(NamedTuple):
    """Fractions of the latent heat flux by path [-]; they sum to 1.

    Attributes:
        interception: evaporation of intercepted water from the wet canopy.
        transpiration: transpiration through the stomata of the dry canopy.
        soil: evaporation from the bare-soil fraction.
    """

    interception: Array
    transpiration: Array
    soil: Array


def _paths(r_ah, r_c, r_soil, f_veg, f_wet):
    wet = f_veg * f_wet / r_ah
    dry = f_veg * (1.0 - f_wet) / (r_ah + r_c)
    soil = (1.0 - f_veg) / (r_ah + r_soil)
    return wet + dry + soil, wet, dry, soil


def evaporation_fractions(r_ah: Array, r_c: Array, r_soil: Array, f_veg: Array, f_wet: Array) -> EvaporationFractions:
    """Split of LE into interception evaporation, transpiration and soil evaporation [-].

    Each path's conductance over the total :func:`vapour_conductance` (same arguments, s m-1).
    """
    total, wet, dry, soil = _paths(r_ah, r_c, r_soil, f_veg, f_wet)
    return EvaporationFractions(interception=wet / total, transpiration=dry / total, soil=soil / total)


def penman_monteith_le(
    available_energy: Array,
    t_air: Array,
    q_air: Array,
    p_surf: Array,
    r_a: Array,
    r_s: Array,
    *,
    form: str = "vapour_pressure",
    vpd: Array | None = None,
) -> Array:
    """Penman-Monteith latent heat flux LE [W m-2] (Monteith 1965; FAO-56, eq. 3).

    Args:
        available_energy: Rn - G [W m-2].
        t_air: air temperature [K]; q_air: specific humidity [kg kg-1]; p_surf: pressure [Pa].
        r_a: aerodynamic resistance [s m-1]; r_s: surface resistance [s m-1].
        form: ``"vapour_pressure"``, the textbook
            LE = (Delta A + rho cp VPD / r_a) / (Delta + gamma (1 + r_s / r_a))
            with Delta = de_s/dT, gamma = cp p / (eps L); or ``"specific_humidity"``,
            LE = (L s A + rho cp L D / r_a) / (L s + cp (1 + r_s / r_a)) with s = dq_s/dT and
            D = q_s(T_a) - q_a: the exact solution of A = H + LE with
            H = rho cp (T_s - T_a) / r_a and LE = rho L [q_s(T_a) + s (T_s - T_a) - q_a] / (r_a + r_s),
            i.e. the skin balance with q_s linearised about T_a (the two forms differ by the
            approximation q = eps e / p, about 1 %).
        vpd: optional vapour pressure deficit [Pa] replacing e_s(T_a) - e(q_a) in the
            ``"vapour_pressure"`` form (e.g. FAO-56's mean of e_s(T_max) and e_s(T_min)).

    rho = air_density(p, T_a, q_a), L = L(T_a), cp = CP_AIR.
    """
    rho = air_density(p_surf, t_air, q_air)
    if form == "vapour_pressure":
        delta = saturation_vapour_pressure_slope(t_air)
        gamma = psychrometric_constant(p_surf, t_air)
        deficit = saturation_vapour_pressure(t_air) - vapour_pressure(q_air, p_surf) if vpd is None else vpd
        return (delta * available_energy + rho * CP_AIR * deficit / r_a) / (delta + gamma * (1.0 + r_s / r_a))
    if form == "specific_humidity":
        latent = latent_heat_vaporisation(t_air)
        slope = latent * saturation_specific_humidity_slope(t_air, p_surf)
        deficit = saturation_specific_humidity(t_air, p_surf) - q_air
        return (slope * available_energy + rho * CP_AIR * latent * deficit / r_a) / (slope + CP_AIR * (1.0 + r_s / r_a))
    raise InputError(f"penman_monteith_le: form={form!r}; expected 'vapour_pressure' or 'specific_humidity'")
