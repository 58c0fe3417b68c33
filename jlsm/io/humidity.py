"""Humidity conversions: saturation vapour pressure and specific humidity from VPD or RH."""

from __future__ import annotations

import numpy as np

from jlsm.errors import InputError

from ._common import _FILL_VALUES
from .units import _UNIT_TABLE, _norm_units


def saturation_vapour_pressure(t_k):
    """Saturation vapour pressure over water [Pa] at temperature ``t_k`` [K].

    Tetens formula: 610.78 exp(17.27 T / (T + 237.3)), T in deg C.
    """
    t_c = t_k - 273.15
    return 610.78 * np.exp(17.27 * t_c / (t_c + 237.3))


def _check_humidity_inputs(t_k, p_pa, func):
    t = np.asarray(t_k, dtype=float)
    p = np.asarray(p_pa, dtype=float)
    if np.any(np.isfinite(t)) and np.nanmax(t) < 150.0:
        raise InputError(f"{func}: temperature looks like deg C (all < 150); pass kelvin")
    if np.any(np.isfinite(p)) and np.nanmedian(p) < 20000.0:
        raise InputError(f"{func}: pressure median {np.nanmedian(p):g} looks like hPa or kPa; pass Pa")


def _q_from_e(e, p_pa):
    eps = 0.622
    return eps * e / (p_pa - (1.0 - eps) * e)


def specific_humidity_from_vpd(vpd_pa, t_k, p_pa):
    """Specific humidity [kg kg-1] from vapour-pressure deficit [Pa].

    ``t_k`` air temperature [K], ``p_pa`` air pressure [Pa]. Vapour pressure
    e = e_s(T) - VPD (Tetens e_s, clipped at 0); q = 0.622 e / (p - 0.378 e).
    """
    _check_humidity_inputs(t_k, p_pa, "specific_humidity_from_vpd")
    e = np.maximum(saturation_vapour_pressure(t_k) - vpd_pa, 0.0)
    return _q_from_e(e, p_pa)


def specific_humidity_from_rh(rh_percent, t_k, p_pa):
    """Specific humidity [kg kg-1] from relative humidity [%].

    ``t_k`` [K], ``p_pa`` [Pa]; e = RH/100 e_s(T) with the Tetens e_s.
    """
    _check_humidity_inputs(t_k, p_pa, "specific_humidity_from_rh")
    rh = np.asarray(rh_percent, dtype=float)
    if np.any(np.isfinite(rh)) and np.nanmax(rh) <= 1.5:
        raise InputError("specific_humidity_from_rh: RH looks like a fraction (all <= 1.5); pass percent")
    e = np.clip(rh_percent, 0.0, 100.0) / 100.0 * saturation_vapour_pressure(t_k)
    return _q_from_e(e, p_pa)


def _humidity_from(values, units, src, t_k, p_pa, source):
    """Specific humidity from a VPD [Pa, hPa, kPa] or RH [%, fraction] variable."""
    v = np.asarray(values, dtype=float).copy()
    for fv in _FILL_VALUES:
        v[v == fv] = np.nan
    key = _norm_units(units) if units else None
    if src.upper().startswith("VPD"):
        if key is None:
            scale = 100.0 if np.nanmax(v) < 200.0 else 1.0  # hPa vs Pa
        elif key in _UNIT_TABLE["pressure"]:
            scale = _UNIT_TABLE["pressure"][key][0]
        else:
            raise InputError(f"{source}: variable {src!r} has units {units!r}; expected hPa, kPa or Pa")
        return specific_humidity_from_vpd(v * scale, t_k, p_pa), units or "hPa (assumed)"
    if key in ("1", "-") or (key is None and np.nanmax(v) <= 1.5):
        v = v * 100.0
    elif key not in (None, "%", "percent"):
        raise InputError(f"{source}: variable {src!r} has units {units!r}; expected % or 1")
    return specific_humidity_from_rh(v, t_k, p_pa), units or "% (assumed)"
