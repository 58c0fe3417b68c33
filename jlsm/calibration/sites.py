"""From a site collection (:class:`jlsm.sites.SiteBatch`) to a :class:`CalibrationData` of the land model.

Per site: the version-2 land model with the published defaults of its IGBP
type (:func:`jlsm.land.default_model`), the site's measurement and canopy
heights where known, and a deep soil temperature fixed at the mean air
temperature of the site's own record (so padding never enters it); the
default calibration space of its type (:func:`jlsm.land.default_space`); LAI
from the collection, else the type's monthly climatology (Noah-MP MPTABLE
LAIM, :func:`jlsm.land.monthly_lai`). Spin-up: ``spinup_years`` cycles of the
first year of each record (:func:`jlsm.land.simulate_land`), inside the
differentiated computation. Observations: measured Qh and Qle (Rnet and Qg
for skill where observed); ``corrected=True`` uses the energy-balance
corrected Qh_cor/Qle_cor of the collection instead.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from jlsm.errors import InputError, ObservationError

from .calibrate import CalibrationData, stack_models

__all__ = ["LandSimulator", "calibration_data"]


@dataclasses.dataclass(frozen=True)
class LandSimulator:
    """``simulate(model, forcing)`` for the calibration: :func:`jlsm.land.simulate_land` with fixed
    options (hashable by value, so equal settings reuse compiled programs)."""

    spinup_years: int = 1
    checkpoint_every: int | str | None = "auto"
    outputs: tuple[str, ...] = ("qh", "qle", "rnet", "qg")

    def __call__(self, model, forcing):
        from jlsm.land import simulate_land

        return simulate_land(model, forcing, spinup_years=self.spinup_years,
                             checkpoint_every=self.checkpoint_every, outputs=self.outputs)


def _type(batch, i):
    for attr in ("igbp", "pft"):
        v = getattr(batch, attr)[i]
        if v:
            return str(v)
    raise InputError(f"calibration_data: site {batch.names[i]} has neither an IGBP type nor a PFT")


def calibration_data(batch, *, spaces: Sequence | None = None, models: Sequence | None = None,
                     simulate=None, soil: str = "LOAM", spinup_years: int = 1, checkpoint_every="auto",
                     corrected: bool = False, variables: Sequence[str] = ("Qh", "Qle", "Rnet", "Qg"),
                     dtype=None) -> CalibrationData:
    """The land-model calibration problem of a :class:`jlsm.sites.SiteBatch`.

    Args:
        batch: the site collection (``jlsm.sites.load_collection(...)``).
        spaces: per-site parameter spaces (default ``default_space(igbp)``).
        models: per-site base models (default ``default_model(igbp, ...)``, see module).
        simulate: replaces :class:`LandSimulator` (``spinup_years``, ``checkpoint_every``).
        soil: Noah soil texture of the default models.
        corrected: use Qh_cor/Qle_cor (energy-balance corrected) as Qh/Qle.
        variables: observations kept (those never observed at any site are dropped).
        dtype: floating dtype of the forcing and models (default float64 if enabled, else float32).
    """
    from jlsm.land import default_model, default_space, lai_series, monthly_lai

    n_s, n_t = batch.shape
    dtype = dtype or jnp.result_type(float)
    types = [_type(batch, i) for i in range(n_s)]
    lai = np.array(batch.forcing["LAI"], dtype=float)
    for i in range(n_s):
        if np.isnan(lai[i]).any():
            t = batch.time[i].copy()
            valid = ~np.isnat(t)
            t[~valid] = t[valid][-1]
            lai[i] = lai_series(monthly_lai(types[i]), t, source=f"LAI of {batch.names[i]}")
    forcing = batch.land_forcing(lai=lai)
    forcing = _cast(forcing, dtype)
    if models is None:
        models = []
        for i in range(n_s):
            z = batch.constants["z_ref"][i]
            h = batch.constants["canopy_height"][i]
            t_deep = float(np.mean(batch.forcing["Tair"][i][batch.mask[i]]))
            models.append(default_model(types[i], soil=soil, z_ref=None if np.isnan(z) else float(z),
                                        canopy_height=None if np.isnan(h) else float(h),
                                        deep_temperature=t_deep))
    if spaces is None:
        spaces = [default_space(types[i]) for i in range(n_s)]
    models = [sp.apply_fixed(m) for sp, m in zip(spaces, models)]
    for sp, m in zip(spaces, models):
        sp.check_model(m)
    stacked = _cast(stack_models(models), dtype)
    obs = {}
    for v in variables:
        key = f"{v}_cor" if corrected and v in ("Qh", "Qle") else v
        if key not in batch.obs:
            continue
        a = np.where(batch.mask, np.asarray(batch.obs[key], dtype=float), np.nan)
        if np.any(np.isfinite(a)):
            obs[v] = a
    for v in ("Qh", "Qle"):
        if v not in obs:
            raise ObservationError(f"calibration_data: no site of the collection has measured {v}"
                                   + (" (energy-balance corrected)" if corrected else ""))
    met = {k: np.asarray(batch.forcing[k], dtype=float) for k in ("SWdown", "Tair", "Qair", "PSurf")}
    groups = [g or t for g, t in zip(batch.pft_group, types)]
    # simulate_land spins up over the first year of the record it is given (min(T, one year)) and
    # reads the deep temperature from the forcing's mean only where the model leaves it NaN
    fixed_deep = bool(np.all(np.isfinite(np.asarray(jax.tree_util.tree_leaves(stacked.deep_temperature), float))))
    year = int(round(365.0 * 86400.0 / batch.dt))
    causal = None
    if fixed_deep and simulate is None:
        causal = 0 if spinup_years == 0 else year
    return CalibrationData(
        sites=list(batch.names), pft=groups, forcing=forcing, models=stacked, spaces=list(spaces),
        simulate=simulate or LandSimulator(spinup_years, checkpoint_every), obs=obs,
        fit=batch.fit_mask & batch.mask, test=batch.test_mask & batch.mask, time=batch.time, met=met,
        offset_hours=np.asarray(batch.constants["utc_offset_hours"], dtype=float), site_ids=list(batch.sites),
        causal_steps=causal)


def _cast(tree, dtype):
    """Every inexact array of ``tree`` as ``dtype``."""
    return jax.tree_util.tree_map(lambda x: jnp.asarray(x, dtype) if eqx.is_inexact_array(x) else x, tree)
