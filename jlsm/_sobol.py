"""Scrambled Sobol' points without importing ``scipy.stats``.

Importing any part of ``scipy.stats`` runs its package initialisation
(0.5-1 s of a new process's start, in every process that samples starting
points). For up to :data:`MAX_DIMENSION` dimensions this module draws the
points SciPy's ``scipy.stats.qmc.Sobol(d, scramble=True, seed=seed).random(n)``
draws, with NumPy alone: Joe and Kuo's direction numbers (search criterion
D(6), the set SciPy uses), a left linear matrix scramble and a digital shift
from the same random stream, Gray-code order. A test checks the two agree
bit for bit; beyond :data:`MAX_DIMENSION` SciPy's sampler is used.
"""

from __future__ import annotations

import numpy as np

BITS = 30
"""Bits of every coordinate (at most 2**30 points)."""

# Joe and Kuo (2008), new-joe-kuo-6.21201: per dimension the primitive
# polynomial (coefficients as bits, leading and constant term included) and
# the initial direction numbers m_1..m_s. The first dimension is the
# van der Corput sequence.
_POLY = (1, 3, 7, 11, 13, 19, 25, 37, 41, 47, 55, 59, 61, 67, 91, 97,
         103, 109, 115, 131, 137, 143, 145, 157, 167, 171, 185, 191, 193, 203, 211, 213)
_M_INIT = (
    (1,), (1,), (1, 3), (1, 3, 1), (1, 1, 1), (1, 1, 3, 3), (1, 3, 5, 13), (1, 1, 5, 5, 17),
    (1, 1, 5, 5, 5), (1, 1, 7, 11, 19), (1, 1, 5, 1, 1), (1, 1, 1, 3, 11), (1, 3, 5, 5, 31),
    (1, 3, 3, 9, 7, 49), (1, 1, 1, 15, 21, 21), (1, 3, 1, 13, 27, 49), (1, 1, 1, 15, 7, 5),
    (1, 3, 1, 15, 13, 25), (1, 1, 5, 5, 19, 61), (1, 3, 7, 11, 23, 15, 103), (1, 3, 7, 13, 13, 15, 69),
    (1, 1, 3, 13, 7, 35, 63), (1, 3, 5, 9, 1, 25, 53), (1, 3, 1, 13, 9, 35, 107), (1, 3, 1, 5, 27, 61, 31),
    (1, 1, 5, 11, 19, 41, 61), (1, 3, 5, 3, 3, 13, 69), (1, 1, 7, 13, 1, 19, 1), (1, 3, 7, 5, 13, 19, 59),
    (1, 1, 3, 9, 25, 29, 41), (1, 3, 5, 13, 23, 1, 55), (1, 3, 7, 3, 13, 59, 17),
)
MAX_DIMENSION = len(_POLY)
"""Dimensions drawn without SciPy."""


def _direction_numbers(d: int) -> np.ndarray:
    """v (d, BITS) uint64: direction number j of dimension k, scaled to BITS bits (Bratley and Fox)."""
    v = np.zeros((d, BITS), dtype=np.uint64)
    v[0, :] = 1
    for k in range(1, d):
        poly, m = _POLY[k], _M_INIT[k]
        s = poly.bit_length() - 1  # degree
        row = list(m[:s])
        for j in range(s, BITS):
            new = row[j - s]
            for i in range(s):
                if (poly >> (s - 1 - i)) & 1:
                    new ^= row[j - i - 1] << (i + 1)
            row.append(new)
        v[k] = row
    return v << np.arange(BITS - 1, -1, -1, dtype=np.uint64)[None, :]


def _scramble(v: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """Left linear matrix scramble: bit b of every direction number becomes the
    parity of (row BITS-1-b of the unit lower-triangular matrix) . (its bits)."""
    lower = lower.astype(np.uint64)
    lower[:, np.arange(BITS), np.arange(BITS)] = 1
    bits_of_v = (v[:, :, None] >> np.arange(BITS, dtype=np.uint64)) & 1  # (d, j, k): bit k of v[d, j]
    # row p of the matrix read with its column c as bit BITS-1-c
    rows = lower[:, :, ::-1]  # (d, p, k)
    parity = np.einsum("dpk,djk->djp", rows, bits_of_v) & 1  # (d, j, p)
    weights = np.uint64(1) << np.arange(BITS - 1, -1, -1, dtype=np.uint64)  # row p -> bit BITS-1-p
    return (parity * weights[None, None, :]).sum(axis=2).astype(np.uint64)


def scrambled_sobol(n: int, d: int, seed: int) -> np.ndarray:
    """The first ``n`` points (n, d) in [0, 1) of the scrambled Sobol' sequence of ``seed``.

    Equal to ``scipy.stats.qmc.Sobol(d, scramble=True, seed=seed).random(n)``.
    """
    if not 1 <= n <= 2**BITS:
        raise ValueError(f"scrambled_sobol: n must be in 1..2**{BITS}, got {n}")
    if d > MAX_DIMENSION:
        import warnings

        from scipy.stats import qmc

        with warnings.catch_warnings():  # balance is best at powers of 2; the ``seed`` keyword's future
            warnings.simplefilter("ignore")
            try:
                engine = qmc.Sobol(d=d, scramble=True, seed=seed)
            except TypeError:  # a SciPy without the ``seed`` keyword
                engine = qmc.Sobol(d=d, scramble=True, rng=np.random.default_rng(seed))
            return engine.random(n)
    rng = np.random.default_rng(seed)
    shift = rng.integers(0, 2, size=(d, BITS), dtype=np.uint32).astype(np.uint64) @ (
        np.uint64(1) << np.arange(BITS, dtype=np.uint64)
    )
    lower = np.tril(rng.integers(0, 2, size=(d, BITS, BITS), dtype=np.uint32))
    v = _scramble(_direction_numbers(d), lower)
    index = np.arange(n, dtype=np.uint64)
    gray = index ^ (index >> np.uint64(1))
    points = np.broadcast_to(shift, (n, d)).copy()
    for b in range(BITS):
        used = ((gray >> np.uint64(b)) & np.uint64(1)).astype(bool)
        points[used] ^= v[:, b]
    return points * (1.0 / 2**BITS)
