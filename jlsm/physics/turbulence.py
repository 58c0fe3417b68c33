"""Turbulent exchange of sensible and latent heat between surface and air.

Fluxes in W m-2, positive upward (away from the surface); temperatures in K.
"""

from __future__ import annotations

import abc

import equinox as eqx
import jax.numpy as jnp


class AbstractTurbulentExchange(eqx.Module):
    """A closure for the sensible (H) and latent (LE) heat fluxes.

    A closure is linear in the surface temperature over one time step:
    H + LE = conductance * (Ts - Ta) + offset, which the implicit soil step
    folds into its surface row.
    """

    @abc.abstractmethod
    def conductance(self):
        """d(H + LE)/dTs [W m-2 K-1]."""

    @abc.abstractmethod
    def fluxes(self, ts, t_air):
        """(H, LE) [W m-2] for surface temperature ``ts`` and air temperature ``t_air`` [K]."""


class BowenRatioExchange(AbstractTurbulentExchange):
    """The Neural Physics closure: H = h (Ts - Ta), LE = H / beta.

    So H + LE = h (1 + 1/beta) (Ts - Ta); only h_eff = h (1 + 1/beta) enters the
    surface energy balance, so h and beta are not separately identifiable from
    temperatures alone.

    Attributes:
        h: sensible-heat exchange coefficient [W m-2 K-1].
        beta: Bowen ratio H / LE [-].
    """

    h: jnp.ndarray
    beta: jnp.ndarray

    def __init__(self, h=15.0, beta=1.5):
        self.h = jnp.asarray(h)
        self.beta = jnp.asarray(beta)

    @property
    def effective(self):
        """h_eff = h (1 + 1/beta) [W m-2 K-1]."""
        return self.h * (1.0 + 1.0 / self.beta)

    def conductance(self):
        return self.effective

    def fluxes(self, ts, t_air):
        sensible = self.h * (ts - t_air)
        return sensible, sensible / self.beta
