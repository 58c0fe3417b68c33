"""Column cases shared by the solver tests: grids, forcing with either top, a model, parameter getters."""

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from jlsm.grid import SoilGrid
from jlsm.model import LandSurfaceModel
from jlsm.physics import BowenRatioExchange, Radiation, SoilThermal
from jlsm.synthetic import paper_forcing

OMEGA = 2 * np.pi / 86400.0  # diurnal angular frequency [s-1]
GRIDS = {"uniform": SoilGrid.uniform(1.0, 41), "stretched": SoilGrid.stretched(1.5, 31, 1.1)}
# every differentiable input of the column: soil, surface exchange, radiation, bottom
GETTERS = {
    "albedo": lambda m: m.radiation.albedo,
    "emissivity": lambda m: m.radiation.emissivity,
    "h": lambda m: m.turbulence.h,
    "beta": lambda m: m.turbulence.beta,
    "conductivity": lambda m: m.soil.conductivity,
    "heat_capacity": lambda m: m.soil.heat_capacity,
    "bottom_temperature": lambda m: m.bottom_temperature,
}


def column_forcing(top, hours):
    """The study's forcing over ``hours``; with ``top="prescribed"`` also a diurnal top temperature [K]."""
    forcing = paper_forcing(hours=hours)
    if top == "prescribed":
        t = np.arange(forcing.n_times) * forcing.dt
        forcing = eqx.tree_at(
            lambda f: f.top_temperature, forcing, jnp.asarray(293.0 + 8.0 * np.sin(OMEGA * t)),
            is_leaf=lambda x: x is None,
        )
    return forcing


def column_model(solver, grid, top, bottom, soil=None):
    """A column on ``grid`` with fixed surface parameters, the given boundaries and solver."""
    return LandSurfaceModel(
        grid, soil or SoilThermal(0.8, 2.2e6), Radiation(0.2, 0.95), BowenRatioExchange(15.0, 1.5),
        bottom_temperature=290.0, top=top, bottom=bottom, solver=solver,
    )
