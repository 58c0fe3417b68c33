"""The version-2 land model behind the surrogate interface.

Everything in :mod:`jlsm.surrogate` takes a simulator
``sim(theta (P,) physical, inputs) -> (T, 2)`` [W m-2] (Qh, Qle).
:func:`land_simulator` builds one from ``jlsm.land.simulate_land`` and a
``jlsm.ParameterSpace`` (e.g. ``jlsm.land.default_space(pft)``), with
``inputs`` a :class:`LandInputs` (the site's base model, e.g. its PFT
defaults, and its forcing); batched over sites, ``inputs`` carries a leading
site axis (``jlsm.calibration.calibrate.stack_models`` stacks the models).
:func:`forcing_features` gives the (T, 8) forcing array the surrogate sees.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax.numpy as jnp

__all__ = ["FORCING_FEATURES", "LandInputs", "forcing_features", "land_simulator"]

FORCING_FEATURES = ("sw_down", "lw_down", "t_air", "q_air", "p_surf", "wind", "precip", "lai")
"""LandForcing fields the surrogate sees, in column order (units as in ``jlsm.land.LandForcing``)."""


class LandInputs(NamedTuple):
    """A site for the land simulator: ``model`` (jlsm.land.LandModel) and ``forcing`` (jlsm.land.LandForcing)."""

    model: Any
    forcing: Any


def forcing_features(forcing) -> jnp.ndarray:
    """(..., T, 8) array of the :data:`FORCING_FEATURES` of a ``LandForcing`` ((T,) or (S, T) fields)."""
    return jnp.stack([jnp.asarray(getattr(forcing, n)) for n in FORCING_FEATURES], axis=-1)


def land_simulator(space, *, spinup_years: int = 1, checkpoint_every="auto"):
    """``sim(theta, LandInputs) -> (T, 2)``: Qh and Qle [W m-2] of ``simulate_land`` with ``theta``
    (physical, in the order of ``space.names``) written into the site's base model.

    ``spinup_years`` and ``checkpoint_every`` go to ``simulate_land`` (see there).
    """
    from jlsm.land import simulate_land

    def sim(theta, inputs: LandInputs):
        model = space.physical_to_model(theta, inputs.model)
        out = simulate_land(model, inputs.forcing, outputs=("qh", "qle"), spinup_years=spinup_years,
                            checkpoint_every=checkpoint_every)
        return jnp.stack([out.qh, out.qle], axis=-1)

    return sim
