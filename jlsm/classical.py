"""Classical estimates of soil thermal diffusivity from temperature harmonics.

For a homogeneous half-space under a periodic surface temperature the
temperature at depth z is

    T(z, t) = T0 + A0 exp(-z / d) sin(omega t - z / d),   d = sqrt(2 kappa / omega),

so between two depths z1 < z2 the amplitude ratio and the phase lag each give
the thermal diffusivity kappa = lambda / C [m2 s-1]:

    kappa_amp   = omega (z2 - z1)^2 / (2 ln(A1 / A2)^2)
    kappa_phase = omega (z2 - z1)^2 / (2 (phi2 - phi1)^2)

The amplitude A and phase phi of one harmonic (period 24 h, or one year) are
fitted by least squares together with a polynomial trend (Horton et al. 1983;
Hillel, Environmental Soil Physics, ch. 12). Times are in seconds (or
datetime64), temperatures in K or deg C, depths in m.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from .errors import InputError

__all__ = [
    "DAY",
    "YEAR",
    "Harmonic",
    "harmonic_fit",
    "kappa_from_amplitude",
    "kappa_from_phase",
    "pair_diffusivity",
    "diffusivity_table",
    "block_diffusivity",
    "periodic_solution",
]

#: Diurnal period [s].
DAY = 86400.0
#: Annual period [s] (365.25 days).
YEAR = 365.25 * 86400.0


@dataclasses.dataclass(frozen=True)
class Harmonic:
    """One fitted harmonic ``A sin(omega t - phi)`` plus a trend.

    Attributes:
        amplitude: A [units of the data].
        phase: phi [rad] in [0, 2 pi), a lag relative to sin(omega t) at t = 0.
        mean: mean of the fitted trend over the window [units of the data].
        residual_std: standard deviation of the residuals [units of the data].
        n: number of values used.
    """

    amplitude: float
    phase: float
    mean: float
    residual_std: float
    n: int


def _seconds(time) -> np.ndarray:
    t = np.asarray(time)
    if np.issubdtype(t.dtype, np.datetime64):
        return (t - np.datetime64("1970-01-01T00:00:00", "ns")).astype("timedelta64[ns]").astype(np.int64) / 1e9
    return t.astype(float)


def harmonic_fit(time, values, period: float = DAY, *, trend: int = 1, overtones: int = 2) -> Harmonic:
    """Least-squares fit of one harmonic of ``period`` [s] to a series.

    The model is a polynomial in time of degree ``trend`` (-1: none) plus the
    harmonic and its first ``overtones`` overtones (k = 2, 3, ...: they absorb
    the non-sinusoidal shape of a diurnal cycle without changing the
    fundamental); the fundamental is returned. NaN values are dropped.

    Args:
        time: times [s] or datetime64, shape (T,).
        values: the series, shape (T,).
        period: period of the fundamental [s] (:data:`DAY` or :data:`YEAR`).
        trend: degree of the polynomial trend (-1: no mean either, 0: a mean).
        overtones: number of overtones fitted alongside.
    """
    t = _seconds(time)
    y = np.asarray(values, dtype=float)
    if t.shape != y.shape or y.ndim != 1:
        raise InputError(f"harmonic_fit: time {t.shape} and values {y.shape} must be 1-D of equal length")
    if not (np.isfinite(period) and period > 0):
        raise InputError(f"harmonic_fit: period must be a positive number of seconds, got {period!r}")
    ok = np.isfinite(t) & np.isfinite(y)
    t, y = t[ok], y[ok]
    omega = 2.0 * np.pi / period
    cols = []
    if trend >= 0:
        tc = (t - t.mean()) / max(np.ptp(t), 1.0) if t.size else t
        cols += [tc**k for k in range(trend + 1)]
    for k in range(1, overtones + 2):
        cols += [np.sin(k * omega * t), np.cos(k * omega * t)]
    a = np.stack(cols, axis=1) if cols else np.zeros((t.size, 0))
    if t.size < a.shape[1] + 2:
        raise InputError(
            f"harmonic_fit: {t.size} valid values are too few for {a.shape[1]} coefficients; "
            "use a longer window"
        )
    coef, *_ = np.linalg.lstsq(a, y, rcond=None)
    i = trend + 1 if trend >= 0 else 0
    s, c = coef[i], coef[i + 1]
    # s sin(wt) + c cos(wt) = A sin(wt - phi)
    amplitude = float(np.hypot(s, c))
    phase = float(np.mod(np.arctan2(-c, s), 2.0 * np.pi))
    mean = float(coef[0]) if trend >= 0 else 0.0
    resid = y - a @ coef
    return Harmonic(amplitude, phase, mean, float(np.std(resid)), int(t.size))


def kappa_from_amplitude(z1: float, z2: float, a1: float, a2: float, period: float = DAY) -> float:
    """kappa_amp = omega (z2 - z1)^2 / (2 ln(A1/A2)^2) [m2 s-1]; NaN unless A1 > A2 > 0."""
    if not (a1 > a2 > 0):
        return float("nan")
    omega = 2.0 * np.pi / period
    return float(omega * (z2 - z1) ** 2 / (2.0 * np.log(a1 / a2) ** 2))


def kappa_from_phase(z1: float, z2: float, phi1: float, phi2: float, period: float = DAY) -> float:
    """kappa_phase = omega (z2 - z1)^2 / (2 (phi2 - phi1)^2) [m2 s-1].

    The lag phi2 - phi1 is taken in [0, 2 pi) (the deeper sensor lags); a lag
    of more than one period cannot be told apart and would be under-estimated.
    """
    omega = 2.0 * np.pi / period
    lag = float(np.mod(phi2 - phi1, 2.0 * np.pi))
    if lag <= 0:
        return float("nan")
    return float(omega * (z2 - z1) ** 2 / (2.0 * lag**2))


def pair_diffusivity(time, t1, t2, z1: float, z2: float, period: float = DAY, *, trend: int = 1,
                     overtones: int = 2) -> dict:
    """Amplitude-ratio and phase-lag diffusivity [m2 s-1] between depths z1 < z2 [m].

    Returns a dict with ``z1, z2, amplitude1, amplitude2, phase1, phase2, lag_hours,
    kappa_amp, kappa_phase``.
    """
    if not z2 > z1:
        raise InputError(f"pair_diffusivity: need z1 < z2, got {z1} and {z2} m")
    h1 = harmonic_fit(time, t1, period, trend=trend, overtones=overtones)
    h2 = harmonic_fit(time, t2, period, trend=trend, overtones=overtones)
    lag = float(np.mod(h2.phase - h1.phase, 2.0 * np.pi))
    return {
        "z1": float(z1),
        "z2": float(z2),
        "amplitude1": h1.amplitude,
        "amplitude2": h2.amplitude,
        "phase1": h1.phase,
        "phase2": h2.phase,
        "lag_hours": lag / (2.0 * np.pi) * period / 3600.0,
        "kappa_amp": kappa_from_amplitude(z1, z2, h1.amplitude, h2.amplitude, period),
        "kappa_phase": kappa_from_phase(z1, z2, h1.phase, h2.phase, period),
    }


def diffusivity_table(time, temperature, depths: Sequence[float], pairs=None, period: float = DAY, *,
                      trend: int = 1, overtones: int = 2) -> list[dict]:
    """:func:`pair_diffusivity` for sensor pairs of a (T, D) temperature array at ``depths`` [m].

    ``pairs``: list of (i, j) column indices; default: neighbouring depths.
    """
    temp = np.asarray(temperature, dtype=float)
    z = np.asarray(depths, dtype=float)
    if temp.ndim != 2 or temp.shape[1] != z.size:
        raise InputError(f"diffusivity_table: temperature {temp.shape} must be (T, {z.size}) for depths {z.tolist()}")
    if pairs is None:
        pairs = [(i, i + 1) for i in range(z.size - 1)]
    return [
        pair_diffusivity(time, temp[:, i], temp[:, j], z[i], z[j], period, trend=trend, overtones=overtones)
        for i, j in pairs
    ]


def block_diffusivity(time, t1, t2, z1: float, z2: float, block_days: float = 5.0, period: float = DAY, *,
                      trend: int = 1, overtones: int = 2) -> dict:
    """Diurnal estimates on consecutive blocks of ``block_days`` (their spread measures the uncertainty).

    Returns ``{"kappa_amp": array, "kappa_phase": array, "start": array of block start times}``.
    """
    tsec = _seconds(time)
    edges = np.arange(tsec[0], tsec[-1] + 1.0, block_days * 86400.0)
    out = {"kappa_amp": [], "kappa_phase": [], "start": []}
    t_arr = np.asarray(time)
    for e in edges:
        sel = (tsec >= e) & (tsec < e + block_days * 86400.0)
        if sel.sum() < 0.9 * block_days * 86400.0 / max(np.median(np.diff(tsec)), 1.0):
            continue
        r = pair_diffusivity(t_arr[sel], np.asarray(t1)[sel], np.asarray(t2)[sel], z1, z2, period,
                             trend=trend, overtones=overtones)
        out["kappa_amp"].append(r["kappa_amp"])
        out["kappa_phase"].append(r["kappa_phase"])
        out["start"].append(t_arr[sel][0])
    return {k: np.asarray(v) for k, v in out.items()}


def periodic_solution(z, t, kappa: float, amplitude: float = 1.0, period: float = DAY, mean: float = 0.0):
    """T(z, t) = mean + A exp(-z/d) sin(omega t - z/d), d = sqrt(2 kappa / omega) [K], z [m], t [s]."""
    omega = 2.0 * np.pi / period
    d = np.sqrt(2.0 * kappa / omega)
    z = np.asarray(z, dtype=float)
    t = np.asarray(t, dtype=float)
    return mean + amplitude * np.exp(-z / d) * np.sin(omega * t - z / d)
