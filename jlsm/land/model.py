"""The version-2 land column: parameters, state and the water/energy budgets carried.

A column has M soil layers (thicknesses ``thicknesses`` [m], default six layers
to 2 m) that carry both soil moisture and soil temperature (finite volumes,
one node at the centre of each layer), under a skin: a surface node without
heat capacity whose temperature Ts closes the surface energy balance
Rn(Ts) - H(Ts) - LE(Ts) - G(Ts) = 0 (Noah's skin, Chen & Dudhia 2001; the
big-leaf single source of Noilhan & Planton 1989). Heat and water share the
layers so moisture-dependent thermal properties map one to one; the top layer
(5 cm) is thin enough for the diurnal wave (damping depth about 10 cm for
lambda/C = 5e-7 m2 s-1) and the total depth (2 m) exceeds the annual damping
depth of most soils only partly, so the bottom boundary is a fixed deep
temperature by default (the annual mean air temperature, a standard choice,
e.g. Noah's TBOT at 8 m) or zero flux.

Parameters are Equinox sub-modules, each field documented with its units, so
that :class:`jlsm.ParameterSpace` reaches them by dotted paths
(``"stomata.rs_min"``, ``"hydraulics.k_sat"``, ``"soil.theta_wilt"``...).
"""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..errors import ParameterError
from ..physics.aerodynamics import Roughness
from ..physics.evapotranspiration import Stomata
from ..physics.soil_water import SoilHydraulics

DEFAULT_THICKNESSES = (0.05, 0.10, 0.15, 0.30, 0.60, 0.80)
"""Default soil layer thicknesses [m] (six layers, 2 m). Noah uses four (0.1, 0.3, 0.6, 1.0 m,
Chen & Dudhia 2001); the thinner top layers resolve the diurnal heat wave and the drying
of the surface that drives soil evaporation."""

BOTTOMS = ("fixed", "zero_flux")


def _arr(x):
    return jnp.asarray(x, dtype=float) if not isinstance(x, jax.Array) else x


class SurfaceRadiation(eqx.Module):
    """Shortwave albedo (vegetation, bare soil, snow blended by cover) and longwave emissivity.

    alpha = (1 - f_snow) (f_veg alpha_veg + (1 - f_veg) alpha_soil) + f_snow alpha_snow.

    Attributes:
        albedo_vegetation: albedo of a closed canopy [-].
        albedo_soil: albedo of bare soil [-].
        albedo_snow: albedo of snow-covered ground [-].
        emissivity: broadband longwave emissivity of the surface [-].
    """

    albedo_vegetation: jnp.ndarray
    albedo_soil: jnp.ndarray
    albedo_snow: jnp.ndarray
    emissivity: jnp.ndarray

    def __init__(self, albedo_vegetation=0.19, albedo_soil=0.25, albedo_snow=0.7, emissivity=0.95):
        self.albedo_vegetation = _arr(albedo_vegetation)
        self.albedo_soil = _arr(albedo_soil)
        self.albedo_snow = _arr(albedo_snow)
        self.emissivity = _arr(emissivity)


class Vegetation(eqx.Module):
    """Big-leaf vegetation.

    Attributes:
        lai_scale: factor on the forcing's leaf area index [-] (1 = as given).
        extinction: extinction coefficient k [-] of the cover fraction 1 - exp(-k LAI).
        root_depth: depth [m] above which the roots lie (profile from
            :func:`jlsm.physics.soil_water.root_fractions`).
        interception_per_lai: canopy water capacity per unit LAI [kg m-2].
    """

    lai_scale: jnp.ndarray
    extinction: jnp.ndarray
    root_depth: jnp.ndarray
    interception_per_lai: jnp.ndarray

    def __init__(self, lai_scale=1.0, extinction=0.5, root_depth=1.0, interception_per_lai=0.1):
        self.lai_scale = _arr(lai_scale)
        self.extinction = _arr(extinction)
        self.root_depth = _arr(root_depth)
        self.interception_per_lai = _arr(interception_per_lai)


class SoilSurface(eqx.Module):
    """Soil water stress points, soil evaporation and soil thermal parameters.

    Attributes:
        theta_wilt: wilting point [m3 m-3] (transpiration stops).
        theta_crit: critical point [m3 m-3] (transpiration unstressed above it).
        evaporation_factor: factor on the soil surface resistance [-].
        quartz: quartz fraction of the soil solids [-] (thermal conductivity).
    """

    theta_wilt: jnp.ndarray
    theta_crit: jnp.ndarray
    evaporation_factor: jnp.ndarray
    quartz: jnp.ndarray

    def __init__(self, theta_wilt=0.066, theta_crit=0.329, evaporation_factor=1.0, quartz=0.4):
        self.theta_wilt = _arr(theta_wilt)
        self.theta_crit = _arr(theta_crit)
        self.evaporation_factor = _arr(evaporation_factor)
        self.quartz = _arr(quartz)


class SnowParameters(eqx.Module):
    """Snow bucket parameters.

    Attributes:
        melt_factor: degree-day melt factor [kg m-2 s-1 K-1].
        density: bulk snow density [kg m-3] (snow depth = SWE / density, for insulation).
        conductivity: snow thermal conductivity [W m-1 K-1] (insulation of the soil).
    """

    melt_factor: jnp.ndarray
    density: jnp.ndarray
    conductivity: jnp.ndarray

    def __init__(self, melt_factor=3.0 / 86400.0, density=250.0, conductivity=0.22):
        # 3 mm day-1 K-1: the middle of the degree-day factors tabulated by Hock (2003,
        # J. Hydrol. 282, Table 1: 2.5-6 mm d-1 K-1 for snow). Density 250 kg m-3 and the
        # conductivity of that density from Jordan (1991), as in CLM5 (Lawrence et al. 2019):
        # k = k_air + (7.75e-5 rho + 1.105e-6 rho^2)(k_ice - k_air) = 0.22 W m-1 K-1.
        self.melt_factor = _arr(melt_factor)
        self.density = _arr(density)
        self.conductivity = _arr(conductivity)


class SiteConstants(eqx.Module):
    """Site constants.

    Attributes:
        z_ref: measurement (reference) height of wind, temperature and humidity [m].
        canopy_height: canopy height h_c [m].
    """

    z_ref: jnp.ndarray
    canopy_height: jnp.ndarray

    def __init__(self, z_ref=10.0, canopy_height=0.5):
        self.z_ref = _arr(z_ref)
        self.canopy_height = _arr(canopy_height)


class LandState(NamedTuple):
    """Prognostic state of a column (shapes for one column; batched runs add leading axes).

    Attributes:
        ts: skin temperature [K].
        t_soil: soil layer temperatures [K], (M,).
        theta: soil layer volumetric water contents [m3 m-3], (M,).
        canopy_water: intercepted water on the canopy [kg m-2].
        swe: snow water equivalent [kg m-2].
    """

    ts: jnp.ndarray
    t_soil: jnp.ndarray
    theta: jnp.ndarray
    canopy_water: jnp.ndarray
    swe: jnp.ndarray


class Budget(NamedTuple):
    """Time integrals carried through the run, so that conservation checks are exact.

    Water [kg m-2]: precipitation, evaporation (all components, dew negative),
    runoff, drainage. Energy [J m-2]: ground heat into the soil (including the
    latent heat of unmet evaporation demand, see :mod:`jlsm.land.step`), heat out
    of the bottom, and the soil heat storage change summed step by step at each
    step's heat capacity.
    """

    precip: jnp.ndarray
    evaporation: jnp.ndarray
    runoff: jnp.ndarray
    drainage: jnp.ndarray
    ground_heat: jnp.ndarray
    bottom_heat: jnp.ndarray
    heat_storage: jnp.ndarray

    @classmethod
    def zeros(cls, dtype, shape=()):
        z = jnp.zeros(shape, dtype)
        return cls(*(z for _ in cls._fields))


class LandModel(eqx.Module):
    """Version-2 land column: skin energy balance, soil heat and soil water, canopy and snow stores.

    Attributes:
        radiation: :class:`SurfaceRadiation`.
        roughness: :class:`jlsm.physics.aerodynamics.Roughness` (z0m/h_c, d/h_c, kB^-1).
        stomata: :class:`jlsm.physics.evapotranspiration.Stomata` (Jarvis-Stewart).
        hydraulics: :class:`jlsm.physics.soil_water.SoilHydraulics` (Clapp-Hornberger).
        soil: :class:`SoilSurface` (stress points, soil evaporation factor, quartz).
        vegetation: :class:`Vegetation` (LAI scale, extinction, roots, interception).
        snow: :class:`SnowParameters`.
        site: :class:`SiteConstants` (z_ref, canopy height).
        deep_temperature: fixed temperature [K] at the column bottom (``bottom="fixed"``);
            NaN (default) means the mean air temperature of the forcing.
        thicknesses: soil layer thicknesses [m], top first (static).
        bottom: ``"fixed"`` (default) or ``"zero_flux"`` heat boundary (static).
        newton_passes: Newton passes of the coupled skin/soil-heat solve (static, default 3).
    """

    radiation: SurfaceRadiation
    roughness: Roughness
    stomata: Stomata
    hydraulics: SoilHydraulics
    soil: SoilSurface
    vegetation: Vegetation
    snow: SnowParameters
    site: SiteConstants
    deep_temperature: jnp.ndarray
    thicknesses: tuple[float, ...] = eqx.field(static=True)
    bottom: str = eqx.field(static=True)
    newton_passes: int = eqx.field(static=True)

    def __init__(
        self,
        *,
        radiation=None,
        roughness=None,
        stomata=None,
        hydraulics=None,
        soil=None,
        vegetation=None,
        snow=None,
        site=None,
        deep_temperature=float("nan"),
        thicknesses=DEFAULT_THICKNESSES,
        bottom="fixed",
        newton_passes=3,
    ):
        self.radiation = radiation if radiation is not None else SurfaceRadiation()
        self.roughness = roughness if roughness is not None else Roughness()
        self.stomata = stomata if stomata is not None else Stomata()
        self.hydraulics = hydraulics if hydraulics is not None else SoilHydraulics()
        self.soil = soil if soil is not None else SoilSurface()
        self.vegetation = vegetation if vegetation is not None else Vegetation()
        self.snow = snow if snow is not None else SnowParameters()
        self.site = site if site is not None else SiteConstants()
        self.deep_temperature = _arr(deep_temperature)
        dz = np.asarray(thicknesses, dtype=float)
        if dz.ndim != 1 or dz.size < 2 or not np.all(np.isfinite(dz)) or np.any(dz <= 0):
            raise ParameterError(f"LandModel: thicknesses must be >= 2 positive layer thicknesses [m], got {thicknesses!r}")
        self.thicknesses = tuple(float(v) for v in dz)
        if bottom not in BOTTOMS:
            raise ParameterError(f"LandModel: bottom must be one of {BOTTOMS}, got {bottom!r}")
        self.bottom = bottom
        if int(newton_passes) != newton_passes or newton_passes < 1:
            raise ParameterError(f"LandModel: newton_passes must be a positive integer, got {newton_passes!r}")
        self.newton_passes = int(newton_passes)

    @property
    def n_layers(self) -> int:
        """Number of soil layers M."""
        return len(self.thicknesses)

    @property
    def layer_bottoms(self) -> np.ndarray:
        """Depth of each layer's bottom [m], (M,)."""
        return np.cumsum(self.thicknesses)

    @property
    def layer_depths(self) -> np.ndarray:
        """Depth of each layer's centre (its temperature node) [m], (M,)."""
        dz = np.asarray(self.thicknesses)
        return np.cumsum(dz) - 0.5 * dz

    def initial_state(self, forcing, dtype=None) -> LandState:
        """A start state: skin at the first air temperature, soil at the deep temperature,
        moisture at the critical point, empty canopy store and no snow."""
        dtype = dtype or jnp.result_type(forcing.t_air)
        m = self.n_layers
        tb = deep_temperature(self, forcing)
        theta0 = jnp.clip(jnp.asarray(self.soil.theta_crit, dtype), 0.0, 0.98 * self.hydraulics.theta_sat)
        return LandState(
            ts=jnp.asarray(forcing.t_air[..., 0], dtype),
            t_soil=jnp.broadcast_to(jnp.asarray(tb, dtype)[..., None], jnp.shape(tb) + (m,)),
            theta=jnp.broadcast_to(jnp.asarray(theta0, dtype)[..., None], jnp.shape(theta0) + (m,)),
            canopy_water=jnp.zeros((), dtype),
            swe=jnp.zeros((), dtype),
        )

    def storage(self, state: LandState):
        """Water stored [kg m-2]: soil + canopy + snow."""
        dz = jnp.asarray(self.thicknesses, jnp.result_type(state.theta))
        return jnp.sum(state.theta * dz, axis=-1) * 1000.0 + state.canopy_water + state.swe


def deep_temperature(model: LandModel, forcing):
    """The fixed bottom temperature [K]: ``model.deep_temperature``, or the mean air
    temperature of the forcing where it is NaN."""
    tb = model.deep_temperature
    return jnp.where(jnp.isnan(tb), jnp.mean(forcing.t_air, axis=-1), tb)
