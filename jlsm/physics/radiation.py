"""Surface radiation: absorbed shortwave and longwave, emitted and reflected fluxes.

All fluxes in W m-2, temperatures in K.

    SWup   = alpha SWdown
    LWup   = eps sigma Ts^4 + (1 - a_lw) LWdown
    absorbed = (1 - alpha) SWdown + a_lw LWdown

with the longwave absorptivity a_lw = eps (Kirchhoff's law) by default, or
a_lw = 1 (all of LWdown absorbed, as in the Neural Physics study).
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp

STEFAN_BOLTZMANN = 5.670374419e-8
"""Stefan-Boltzmann constant sigma [W m-2 K-4]."""


class Radiation(eqx.Module):
    """Surface radiative properties.

    Attributes:
        albedo: broadband shortwave albedo alpha [-].
        emissivity: longwave emissivity eps [-].
        absorb_all_longwave: if True, a_lw = 1 instead of a_lw = eps (static).
        stefan_boltzmann: sigma [W m-2 K-4] (static); the Neural Physics study
            used the rounded 5.67e-8.
    """

    albedo: jnp.ndarray
    emissivity: jnp.ndarray
    absorb_all_longwave: bool = eqx.field(static=True, default=False)
    stefan_boltzmann: float = eqx.field(static=True, default=STEFAN_BOLTZMANN)

    def __init__(self, albedo=0.2, emissivity=0.95, absorb_all_longwave=False, stefan_boltzmann=STEFAN_BOLTZMANN):
        self.albedo = jnp.asarray(albedo)
        self.emissivity = jnp.asarray(emissivity)
        self.absorb_all_longwave = bool(absorb_all_longwave)
        self.stefan_boltzmann = float(stefan_boltzmann)

    @property
    def longwave_absorptivity(self):
        """a_lw [-]: 1 or the emissivity."""
        return jnp.ones_like(self.emissivity) if self.absorb_all_longwave else self.emissivity

    def absorbed(self, sw_down, lw_down):
        """Absorbed radiation (1 - alpha) SWdown + a_lw LWdown [W m-2]."""
        return (1.0 - self.albedo) * sw_down + self.longwave_absorptivity * lw_down

    def emitted(self, ts):
        """Emitted longwave eps sigma Ts^4 [W m-2] for surface temperature ``ts`` [K]."""
        return self.emissivity * self.stefan_boltzmann * ts**4

    def sw_up(self, sw_down):
        """Reflected shortwave alpha SWdown [W m-2]."""
        return self.albedo * sw_down

    def lw_up(self, ts, lw_down):
        """Upwelling longwave eps sigma Ts^4 + (1 - a_lw) LWdown [W m-2]."""
        return self.emitted(ts) + (1.0 - self.longwave_absorptivity) * lw_down

    def net(self, ts, sw_down, lw_down):
        """Net radiation Rn = absorbed - emitted [W m-2]."""
        return self.absorbed(sw_down, lw_down) - self.emitted(ts)
