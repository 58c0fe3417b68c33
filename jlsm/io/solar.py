"""Solar geometry and clear-sky shortwave radiation at a site, from time, latitude and longitude.

Declination, equation of time and the Sun-Earth distance factor follow the
Fourier series of Spencer (1971), Search 2(5), 172 (as given by Iqbal 1983,
An Introduction to Solar Radiation, eqs. 1.2.1, 1.3.1, 1.4.1). Extraterrestrial
irradiance uses the solar constant 1361 W m-2 (Kopp & Lean 2011, GRL 38,
L01706). Clear-sky shortwave at the surface is the extraterrestrial value times
the transmissivity 0.75 + 2e-5 z of FAO-56 (Allen et al. 1998, eq. 37; hourly
use: eq. 28 and p. 75). Times are UTC.
"""

from __future__ import annotations

import numpy as np

#: Solar constant [W m-2] (Kopp & Lean 2011).
SOLAR_CONSTANT = 1361.0


def _day_angle(times_utc) -> np.ndarray:
    """Spencer's day angle Gamma [rad] at ``times_utc`` (fraction of the year, incl. hour)."""
    t = np.asarray(times_utc, dtype="datetime64[ns]")
    year_start = t.astype("datetime64[Y]").astype("datetime64[ns]")
    days = (t - year_start).astype("int64") / 86400e9  # days since 1 Jan 00:00 (= doy - 1 + hour/24)
    year = t.astype("datetime64[Y]").astype(int) + 1970
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    return 2.0 * np.pi * days / np.where(leap, 366.0, 365.0)


def declination(times_utc) -> np.ndarray:
    """Solar declination [rad] (Spencer 1971; Iqbal 1983 eq. 1.3.1)."""
    g = _day_angle(times_utc)
    return (0.006918 - 0.399912 * np.cos(g) + 0.070257 * np.sin(g)
            - 0.006758 * np.cos(2 * g) + 0.000907 * np.sin(2 * g)
            - 0.002697 * np.cos(3 * g) + 0.00148 * np.sin(3 * g))


def equation_of_time_minutes(times_utc) -> np.ndarray:
    """Equation of time [min]: apparent minus mean solar time (Spencer 1971; Iqbal eq. 1.4.1)."""
    g = _day_angle(times_utc)
    return 229.18 * (0.000075 + 0.001868 * np.cos(g) - 0.032077 * np.sin(g)
                     - 0.014615 * np.cos(2 * g) - 0.040849 * np.sin(2 * g))


def distance_factor(times_utc) -> np.ndarray:
    """(r0 / r)^2, the Sun-Earth distance correction [-] (Spencer 1971; Iqbal eq. 1.2.1)."""
    g = _day_angle(times_utc)
    return (1.000110 + 0.034221 * np.cos(g) + 0.001280 * np.sin(g)
            + 0.000719 * np.cos(2 * g) + 0.000077 * np.sin(2 * g))


def solar_noon_utc_hours(times_utc, longitude: float) -> np.ndarray:
    """UTC hour of local solar noon on the days of ``times_utc``: 12 - lon/15 - EoT/60."""
    return 12.0 - float(longitude) / 15.0 - equation_of_time_minutes(times_utc) / 60.0


def cos_zenith(times_utc, latitude: float, longitude: float) -> np.ndarray:
    """Cosine of the solar zenith angle [-] (negative below the horizon)."""
    t = np.asarray(times_utc, dtype="datetime64[ns]")
    day = t.astype("datetime64[D]").astype("datetime64[ns]")
    utc_min = (t - day).astype("int64") / 60e9
    solar_min = utc_min + 4.0 * float(longitude) + equation_of_time_minutes(t)
    omega = np.deg2rad(solar_min / 4.0 - 180.0)
    phi = np.deg2rad(float(latitude))
    dec = declination(t)
    return np.sin(phi) * np.sin(dec) + np.cos(phi) * np.cos(dec) * np.cos(omega)


def interval_cos_zenith(times_utc, step_seconds: float, latitude: float, longitude: float,
                        *, label: str = "start", n_sub: int = 12) -> np.ndarray:
    """Mean over each interval of max(cos zenith, 0), from ``n_sub`` sub-points.

    ``label`` says whether a stamp marks the ``"start"`` or ``"end"`` of its interval.
    """
    t = np.asarray(times_utc, dtype="datetime64[ns]")
    frac = (np.arange(n_sub) + 0.5) / n_sub - (1.0 if label == "end" else 0.0)
    off = (frac * step_seconds * 1e9).astype("int64").astype("timedelta64[ns]")
    sub = t[:, None] + off[None, :]
    cz = cos_zenith(sub.ravel(), latitude, longitude).reshape(sub.shape)
    return np.maximum(cz, 0.0).mean(axis=1)


def extraterrestrial_shortwave(times_utc, step_seconds, latitude, longitude, *, label="start"):
    """Top-of-atmosphere irradiance on a horizontal plane, interval mean [W m-2]."""
    return (SOLAR_CONSTANT * distance_factor(times_utc)
            * interval_cos_zenith(times_utc, step_seconds, latitude, longitude, label=label))


def clear_sky_shortwave(times_utc, step_seconds, latitude, longitude, elevation: float = 0.0,
                        *, label: str = "start") -> np.ndarray:
    """Clear-sky downward shortwave [W m-2], interval mean: (0.75 + 2e-5 z) S0 (r0/r)^2 cos Z.

    ``elevation`` [m] above sea level (FAO-56, Allen et al. 1998, eq. 37).
    """
    tau = 0.75 + 2e-5 * float(elevation)
    return tau * extraterrestrial_shortwave(times_utc, step_seconds, latitude, longitude, label=label)
