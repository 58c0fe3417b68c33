"""Output of the version-2 land model and its conversion to xarray/NetCDF (CF units).

Sign conventions (ALMA): Qh, Qle, Qg positive away from the surface into the
air (H, LE) or into the soil (G); Rnet positive downward; water fluxes
positive out of the column (evaporation, runoff, drainage) or into it
(precipitation, infiltration).
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from ..errors import ObservationError
from .model import Budget, LandState

# name -> (ALMA/CF variable name, units, long name, layered)
OUTPUTS = {
    "qh": ("Qh", "W m-2", "sensible heat flux, upward", False),
    "qle": ("Qle", "W m-2", "latent heat flux, upward (actual evaporation)", False),
    "rnet": ("Rnet", "W m-2", "net radiation, downward", False),
    "qg": ("Qg", "W m-2", "ground heat flux into the soil", False),
    "ts": ("SurfTemp", "K", "skin temperature", False),
    "ustar": ("Ustar", "m s-1", "friction velocity", False),
    "sw_up": ("SWup", "W m-2", "reflected shortwave radiation", False),
    "lw_up": ("LWup", "W m-2", "upwelling longwave radiation", False),
    "soil_moisture": ("SoilMoist", "m3 m-3", "volumetric soil water content per layer", True),
    "soil_temperature": ("SoilTemp", "K", "soil temperature per layer", True),
    "transpiration": ("TVeg", "kg m-2 s-1", "transpiration", False),
    "soil_evaporation": ("ESoil", "kg m-2 s-1", "bare soil evaporation (dew negative)", False),
    "interception_evaporation": ("ECanop", "kg m-2 s-1", "evaporation of intercepted water (dew negative)", False),
    "runoff": ("Qs", "kg m-2 s-1", "surface runoff", False),
    "drainage": ("Qsb", "kg m-2 s-1", "drainage at the column bottom", False),
    "infiltration": ("Qinf", "kg m-2 s-1", "infiltration into the soil", False),
    "swe": ("SWE", "kg m-2", "snow water equivalent", False),
    "canopy_water": ("CanopInt", "kg m-2", "intercepted water on the canopy", False),
    "precip": ("Precip", "kg m-2 s-1", "precipitation (liquid + solid)", False),
    "qb": ("Qbottom", "W m-2", "heat flux out of the column bottom", False),
    "energy_deficit": ("Qdeficit", "W m-2", "latent heat of evaporation demand not met by water, passed to the soil", False),
    "r_ah": ("Rah", "s m-1", "aerodynamic resistance for heat and vapour", False),
    "r_c": ("Rc", "s m-1", "canopy (stomatal) resistance", False),
    "albedo": ("Albedo", "1", "surface shortwave albedo", False),
    "rnet_exact": ("RnetSkin", "W m-2", "net radiation at the final skin temperature (not linearised)", False),
    "qle_demand": ("QleDemand", "W m-2", "latent heat flux of the evaporation demand", False),
}
"""Time series :func:`jlsm.land.simulate_land` can return: name -> (NetCDF name, CF units,
long name, per layer)."""


class LandOutput(eqx.Module):
    """Series at every forcing time, (T,) or (T, M) for per-layer series (batched runs add
    leading axes); a series not asked for is None.

    Attributes:
        series: dict name -> array (see :data:`OUTPUTS` for units).
        initial: :class:`LandState` at the start of the recorded run (after spin-up).
        final: :class:`LandState` at the end.
        budget: :class:`Budget`, time integrals over the recorded run.
        dt: time step [s] (static).
        thicknesses: soil layer thicknesses [m] (static).
    """

    series: dict
    initial: LandState
    final: LandState
    budget: Budget
    dt: float = eqx.field(static=True)
    thicknesses: tuple[float, ...] = eqx.field(static=True)

    @classmethod
    def build(cls, series, initial, final, budget, *, dt, thicknesses):
        return cls(dict(series), initial, final, budget, float(dt), tuple(thicknesses))

    def __getattr__(self, name):
        if name in OUTPUTS:
            return self.series.get(name)
        raise AttributeError(name)

    def water_storage(self, state: LandState):
        """Water stored [kg m-2] (soil + canopy + snow) in ``state``."""
        dz = jnp.asarray(self.thicknesses, jnp.result_type(state.theta))
        return jnp.sum(state.theta * dz, axis=-1) * 1000.0 + state.canopy_water + state.swe

    def water_balance(self) -> dict:
        """Storage change and P - E - runoff - drainage over the recorded run [kg m-2]."""
        b = self.budget
        change = self.water_storage(self.final) - self.water_storage(self.initial)
        fluxes = b.precip - b.evaporation - b.runoff - b.drainage
        return {"storage_change": change, "net_input": fluxes, "residual": change - fluxes}

    def energy_balance(self) -> dict:
        """Soil heat storage change and integrated G - bottom flux over the run [J m-2]."""
        b = self.budget
        return {
            "storage_change": b.heat_storage,
            "net_input": b.ground_heat - b.bottom_heat,
            "residual": b.heat_storage - (b.ground_heat - b.bottom_heat),
        }

    def to_dataset(self, times, *, attrs=None):
        """An ``xarray.Dataset`` with dims time (and layer), ALMA names and CF units.

        Args:
            times: the forcing's time coordinate (T values).
            attrs: extra global attributes.
        """
        import xarray as xr

        times = np.asarray(times)
        data = {}
        depth = np.cumsum(self.thicknesses) - 0.5 * np.asarray(self.thicknesses)
        for name, values in self.series.items():
            var, units, long_name, layered = OUTPUTS[name]
            v = np.asarray(values)
            if v.shape[0] != times.shape[0]:
                raise ObservationError(
                    f"LandOutput.to_dataset: {name} has {v.shape[0]} times, but {times.shape[0]} times were given"
                )
            dims = ("time", "layer") if layered else ("time",)
            if v.ndim != len(dims):
                raise ObservationError(f"LandOutput.to_dataset: {name} has shape {v.shape}: one column only")
            data[var] = xr.DataArray(v, dims=dims, attrs={"units": units, "long_name": long_name})
        ds = xr.Dataset(data, coords={"time": times, "layer": np.arange(len(self.thicknesses))})
        ds["layer_depth"] = xr.DataArray(depth, dims=("layer",), attrs={"units": "m", "long_name": "depth of the layer centre"})
        ds["layer_thickness"] = xr.DataArray(
            np.asarray(self.thicknesses), dims=("layer",), attrs={"units": "m", "long_name": "layer thickness"}
        )
        wb, eb = self.water_balance(), self.energy_balance()
        for key, units, vals in (("water", "kg m-2", wb), ("heat", "J m-2", eb)):
            for part, value in vals.items():
                ds[f"{key}_{part}"] = xr.DataArray(float(np.asarray(value)), attrs={"units": units})
        for field in Budget._fields:
            units = "kg m-2" if field in ("precip", "evaporation", "runoff", "drainage") else "J m-2"
            ds[f"total_{field}"] = xr.DataArray(float(np.asarray(getattr(self.budget, field))), attrs={"units": units})
        ds.attrs.update({"Conventions": "CF-1.8", "title": "jlsm version-2 land column output", "timestep_seconds": self.dt})
        ds.attrs.update(attrs or {})
        return ds

    def to_netcdf(self, path, times, *, attrs=None):
        """Write :meth:`to_dataset` to a NetCDF file."""
        self.to_dataset(times, attrs=attrs).to_netcdf(path)
