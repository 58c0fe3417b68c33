"""Longwave radiation helpers: the surface radiometric temperature from LWup and LWdown."""

from __future__ import annotations

import numpy as np
import xarray as xr

from jlsm.errors import InputError

from ._common import _LONG_NAMES


#: Stefan-Boltzmann constant [W m-2 K-4].
SIGMA = 5.670374419e-8


def surface_temperature_from_lwup(lwup, lwdown, emissivity: float = 0.95):
    """Surface radiometric temperature [K] from LWup and LWdown [W m-2].

    Ts = ((LWup - (1 - eps) LWdown) / (eps sigma))^(1/4); NaN where the
    numerator is not positive or an input is NaN.
    """
    if not (0.0 < emissivity <= 1.0):
        raise InputError(f"surface_temperature_from_lwup: emissivity {emissivity!r} must be in (0, 1]")
    num = lwup - (1.0 - emissivity) * lwdown
    if isinstance(num, xr.DataArray):
        num = num.where(num > 0)
        return (num / (emissivity * SIGMA)) ** 0.25
    num = np.asarray(num, dtype=float)
    num = np.where(num > 0, num, np.nan)
    return (num / (emissivity * SIGMA)) ** 0.25


def _add_ts(obs: xr.Dataset, forcing: xr.Dataset, emissivity: float) -> None:
    if "LWup" not in obs or "LWdown" not in forcing:
        return
    lwd = forcing["LWdown"].reindex(time=obs["time"])
    ts = surface_temperature_from_lwup(obs["LWup"].values, lwd.values, emissivity)
    obs["Ts"] = xr.DataArray(
        ts, dims=("time",), coords={"time": obs["time"]},
        attrs={
            "units": "K", "long_name": _LONG_NAMES["Ts"],
            "source_variable": "LWup, LWdown", "emissivity": float(emissivity),
            "comment": "((LWup - (1 - emissivity) LWdown) / (emissivity sigma))^(1/4)",
        },
    )
