"""Estimates of missing forcing from other variables, each with its published source.

- Downward longwave from air temperature, humidity and a cloud index from
  shortwave against clear sky: clear-sky emissivity of Brutsaert (1975, Water
  Resour. Res. 11, 742): eps_clr = 1.24 (e / T)^(1/7), e in hPa, T in K;
  cloud correction of Crawford & Duchon (1999, J. Appl. Meteorol. 38, 474):
  LWdown = [clf + (1 - clf) eps_clr] sigma T^4, with the cloud fraction
  clf = 1 - SWdown / SWclear by day (their s ratio) and interpolated in time
  between the last and the first daytime values over night.
- Shortwave from PPFD: SWdown = PPFD / 2.1 [umol J-1], that is 0.46 of global
  radiation as PAR (Meek et al. 1984, Agron. J. 76, 939) at 4.57 umol J-1
  (McCree 1972, Agric. Meteorol. 10, 443): 0.46 x 4.57 = 2.1.
- Pressure from elevation: the U.S. Standard Atmosphere (1976) troposphere,
  p = 101325 (1 - 2.25577e-5 z)^5.25588 Pa (z in m); and its inverse.
- Specific humidity from VPD or RH: :mod:`jlsm.io.humidity`.

Typical accuracy of such all-sky schemes against measurements (Flerchinger et
al. 2009, Water Resour. Res. 45, W03423, 21 sites): RMSD about 24-25 W m-2 for
30 min or hourly values and 15-16 W m-2 for daily means with the best clear-sky
formula; Brutsaert's clear-sky formula did somewhat worse there.

These are numpy functions for data preparation (not differentiated).
"""

from __future__ import annotations

import numpy as np

from jlsm.errors import InputError

from .radiation import SIGMA
from .solar import clear_sky_shortwave, interval_cos_zenith

#: Photons per joule of global shortwave radiation [umol J-1]: 0.46 (Meek et al. 1984)
#: x 4.57 umol J-1 of PAR (McCree 1972).
PPFD_PER_SHORTWAVE = 2.1

#: Brutsaert (1975) clear-sky emissivity coefficient [hPa^(-1/7) K^(1/7)].
BRUTSAERT_COEFFICIENT = 1.24

#: Sun elevation [deg] above which SWdown / SWclear gives a cloud index (a choice:
#: Crawford & Duchon 1999 use daytime values only; at low sun the clear-sky model's
#: air-mass error and sensor cosine error dominate the ratio).
MIN_SUN_ELEVATION_DEG = 10.0


def vapour_pressure(q, p):
    """Vapour pressure [Pa] from specific humidity ``q`` [kg kg-1] and pressure ``p`` [Pa]."""
    q = np.asarray(q, dtype=float)
    return q * np.asarray(p, dtype=float) / (0.622 + 0.378 * q)


def brutsaert_emissivity(e_pa, t_k):
    """Clear-sky atmospheric emissivity [-]: 1.24 (e/T)^(1/7), e in hPa, T in K (Brutsaert 1975)."""
    e_hpa = np.maximum(np.asarray(e_pa, dtype=float), 0.0) / 100.0
    return BRUTSAERT_COEFFICIENT * (e_hpa / np.asarray(t_k, dtype=float)) ** (1.0 / 7.0)


def cloud_fraction(sw_down, sw_clear, cos_zen, times, *,
                   min_sun_elevation_deg: float = MIN_SUN_ELEVATION_DEG) -> tuple[np.ndarray, np.ndarray]:
    """Cloud fraction [0, 1] = 1 - SWdown / SWclear by day, interpolated in time over night.

    Returns ``(clf, daytime)`` with ``daytime`` marking the steps where the
    ratio was computed. Raises :class:`InputError` if no step has the sun high
    enough (polar night, or SWdown missing).
    """
    sw = np.asarray(sw_down, dtype=float)
    clr = np.asarray(sw_clear, dtype=float)
    day = (np.asarray(cos_zen) > np.sin(np.deg2rad(min_sun_elevation_deg))) & np.isfinite(sw) & (clr > 0)
    if not day.any():
        raise InputError("cloud_fraction: no daytime step with SWdown and the sun above "
                         f"{min_sun_elevation_deg:g} deg; cannot estimate a cloud index")
    clf_day = np.clip(1.0 - sw[day] / clr[day], 0.0, 1.0)
    tn = np.asarray(times, dtype="datetime64[ns]").astype("int64").astype(float)
    clf = np.interp(tn, tn[day], clf_day)
    clf[day] = clf_day
    return clf, day


def longwave_crawford_duchon(t_k, e_pa, clf):
    """Downward longwave [W m-2] = [clf + (1 - clf) eps_clr] sigma T^4 (Crawford & Duchon 1999)."""
    t = np.asarray(t_k, dtype=float)
    eps = brutsaert_emissivity(e_pa, t)
    c = np.asarray(clf, dtype=float)
    return (c + (1.0 - c) * eps) * SIGMA * t**4


def estimate_lwdown(times, t_k, q, p, sw_down, *, latitude: float, longitude: float,
                    elevation: float, step_seconds: float, label: str = "start") -> tuple[np.ndarray, np.ndarray]:
    """Downward longwave [W m-2] from Tair [K], Qair [kg kg-1], PSurf [Pa], SWdown [W m-2].

    ``times`` in UTC, labelled by ``label`` ("start" or "end" of the interval).
    Returns ``(lwdown, cloud_fraction)``.
    """
    cz = interval_cos_zenith(times, step_seconds, latitude, longitude, label=label)
    clr = clear_sky_shortwave(times, step_seconds, latitude, longitude, elevation, label=label)
    clf, _ = cloud_fraction(sw_down, clr, cz, times)
    return longwave_crawford_duchon(t_k, vapour_pressure(q, p), clf), clf


def shortwave_from_ppfd(ppfd, factor: float = PPFD_PER_SHORTWAVE):
    """Downward shortwave [W m-2] from PPFD [umol m-2 s-1]: PPFD / ``factor`` [umol J-1], >= 0."""
    if not factor > 0:
        raise InputError(f"shortwave_from_ppfd: factor must be > 0 umol J-1, got {factor!r}")
    return np.maximum(np.asarray(ppfd, dtype=float), 0.0) / float(factor)


def pressure_from_elevation(elevation):
    """Surface pressure [Pa] of the U.S. Standard Atmosphere (1976) at ``elevation`` [m]."""
    z = np.asarray(elevation, dtype=float)
    return 101325.0 * (1.0 - 2.25577e-5 * z) ** 5.25588


def elevation_from_pressure(p):
    """Elevation [m] at which the U.S. Standard Atmosphere (1976) has pressure ``p`` [Pa]."""
    p = np.asarray(p, dtype=float)
    return (1.0 - (p / 101325.0) ** (1.0 / 5.25588)) / 2.25577e-5
