"""Temporal positional encoding of a time axis (day-of-year and time-of-day phases).

For a time axis t (datetime64) two phases in radians are formed:

* the year phase  phi_y = 2 pi (t - 2000-01-01T00:00) / Y,  Y = 365.2425 d (mean Gregorian year),
* the day phase   phi_d = 2 pi (t - midnight of t's date) / 86400 s,

and for k = 0 .. L-1 the features ``sin(2^k phi_y), cos(2^k phi_y), sin(2^k phi_d), cos(2^k phi_d)``.
The encoding therefore holds exactly the periods Y / 2^k and 1 d / 2^k, i.e. the
frequencies 2^k cycles per year and 2^k cycles per day, k = 0 .. L-1
(L = 4: periods 365.24, 182.62, 91.31, 45.66 d and 24, 12, 6, 3 h).
This is the sinusoidal encoding of Vaswani et al. (2017, Sect. 3.5) with
octave-spaced frequencies (Mildenhall et al. 2020, NeRF, Eq. 4) applied to the
two natural phases of land-surface forcing, as MdPL (Xie et al. 2025,
egusphere-2025-3301) uses a positional encoding of L frequencies.

The year phase is continuous across years (no jump at 1 January); it drifts
from the calendar day of year by less than one day over a century. The day
phase is taken in the clock of the time stamps given (local standard time for
most flux files; pass UTC stamps for a UTC phase).
"""

from __future__ import annotations

import numpy as np

from jlsm.errors import InputError

__all__ = ["MEAN_YEAR_DAYS", "EPOCH", "encoding_size", "encoding_periods", "positional_encoding"]

MEAN_YEAR_DAYS = 365.2425
"""Length of the mean Gregorian year [d], the period of the year phase."""

EPOCH = np.datetime64("2000-01-01T00:00:00", "s")
"""Origin of the year phase."""


def encoding_size(n_frequencies: int) -> int:
    """Number of features of :func:`positional_encoding` with L frequencies: 4 L."""
    return 4 * int(n_frequencies)


def encoding_periods(n_frequencies: int) -> dict[str, np.ndarray]:
    """Periods [d] the encoding contains: ``{"year": Y / 2^k, "day": 1 / 2^k}``, k = 0 .. L-1."""
    k = np.arange(int(n_frequencies))
    return {"year": MEAN_YEAR_DAYS / 2.0**k, "day": 1.0 / 2.0**k}


def positional_encoding(time, n_frequencies: int = 4, dtype=np.float32) -> np.ndarray:
    """Encoding (T, 4 L) of a time axis (T,) of datetime64 (NumPy, outside jit).

    Columns, for k = 0 .. L-1 in order: sin(2^k phi_y), cos(2^k phi_y),
    sin(2^k phi_d), cos(2^k phi_d) (see the module docstring). Values in [-1, 1].
    """
    t = np.asarray(time)
    if not np.issubdtype(t.dtype, np.datetime64):
        raise InputError(f"positional_encoding: time must be datetime64, got dtype {t.dtype}")
    if t.ndim != 1:
        raise InputError(f"positional_encoding: time must be 1-D (T,), got shape {t.shape}")
    if np.any(np.isnat(t)):
        raise InputError(f"positional_encoding: time has NaT at index {int(np.flatnonzero(np.isnat(t))[0])}")
    L = int(n_frequencies)
    if L < 1:
        raise InputError(f"positional_encoding: n_frequencies must be >= 1, got {n_frequencies}")
    seconds = (t.astype("datetime64[ms]") - EPOCH.astype("datetime64[ms]")).astype(np.int64) / 1000.0
    phase_year = 2.0 * np.pi * seconds / (MEAN_YEAR_DAYS * 86400.0)
    day_seconds = np.mod(seconds, 86400.0)  # EPOCH is a midnight
    phase_day = 2.0 * np.pi * day_seconds / 86400.0
    harm = 2.0 ** np.arange(L)
    ay = phase_year[:, None] * harm[None, :]
    ad = phase_day[:, None] * harm[None, :]
    feats = np.stack([np.sin(ay), np.cos(ay), np.sin(ad), np.cos(ad)], axis=-1)  # (T, L, 4)
    return feats.reshape(t.shape[0], 4 * L).astype(dtype)
