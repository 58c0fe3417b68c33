"""Finite-volume soil grid.

Depth ``z`` is positive downward, the surface node sits at z = 0 and the
bottom node at z = D. Node ``i`` owns the slab between the mid-points to its
neighbours (half slabs at both ends), so on a uniform grid the scheme equals
the ghost-node finite-difference scheme.
"""

from __future__ import annotations

import equinox as eqx
import numpy as np

from .errors import GridError


class SoilGrid(eqx.Module):
    """Node depths of a 1-D soil column.

    The grid is configuration, not a parameter: it is static under ``jit``
    (changing it recompiles) and its derived arrays are NumPy float64.

    Attributes:
        depths: node depths z_i [m], N values, z_0 = 0, strictly increasing.
    """

    depths: tuple[float, ...] = eqx.field(static=True)

    def __init__(self, depths):
        z = np.asarray(depths, dtype=float)
        if z.ndim != 1 or z.size < 3:
            raise GridError(f"SoilGrid: depths must be a 1-D array of at least 3 node depths [m], got shape {z.shape}")
        if not np.all(np.isfinite(z)):
            raise GridError("SoilGrid: depths contain NaN or Inf")
        if z[0] != 0.0:
            raise GridError(f"SoilGrid: the first node must be at the surface (depth 0 m), got {z[0]} m")
        dz = np.diff(z)
        if np.any(dz <= 0):
            i = int(np.argmax(dz <= 0))
            raise GridError(
                f"SoilGrid: grid spacing must be positive; depths[{i + 1}] = {z[i + 1]} m "
                f"is not below depths[{i}] = {z[i]} m"
            )
        self.depths = tuple(float(v) for v in z)

    @classmethod
    def uniform(cls, depth: float = 1.0, n: int = 101) -> "SoilGrid":
        """Uniform grid of ``n`` nodes over ``depth`` [m]."""
        _check_depth_and_n(depth, n)
        return cls(np.linspace(0.0, depth, n))

    @classmethod
    def stretched(cls, depth: float = 1.0, n: int = 51, ratio: float = 1.05) -> "SoilGrid":
        """Geometrically stretched grid: each spacing is ``ratio`` times the one above.

        Finer near the surface for ``ratio > 1``.
        """
        _check_depth_and_n(depth, n)
        if not ratio > 0:
            raise GridError(f"SoilGrid.stretched: ratio must be positive, got {ratio}")
        steps = ratio ** np.arange(n - 1)
        z = np.concatenate([[0.0], np.cumsum(steps)])
        return cls(z * (depth / z[-1]))

    @property
    def n(self) -> int:
        """Number of nodes."""
        return len(self.depths)

    @property
    def z(self) -> np.ndarray:
        """Node depths [m], shape (N,)."""
        return np.asarray(self.depths)

    @property
    def depth(self) -> float:
        """Column depth D [m]."""
        return self.depths[-1]

    @property
    def spacing(self) -> np.ndarray:
        """Distances between neighbouring nodes z_{i+1} - z_i [m], shape (N-1,)."""
        return np.diff(self.z)

    @property
    def thickness(self) -> np.ndarray:
        """Finite-volume thickness of each node's slab V_i [m], shape (N,)."""
        half = 0.5 * self.spacing
        return np.concatenate([half[:1], half[:-1] + half[1:], half[-1:]])

    @property
    def is_uniform(self) -> bool:
        """True when all node spacings are equal (to 1e-12 relative)."""
        dz = self.spacing
        return bool(np.allclose(dz, dz[0], rtol=1e-12, atol=0.0))

    def interpolation(self, depths) -> tuple[np.ndarray, np.ndarray]:
        """Indices and weights for linear interpolation at ``depths`` [m].

        Returns ``(index, weight)`` such that T(z) = (1 - w) T[index] + w T[index + 1].
        """
        z = self.z
        d = np.atleast_1d(np.asarray(depths, dtype=float))
        bad = ~np.isfinite(d) | (d < 0) | (d > z[-1])
        if np.any(bad):
            raise GridError(
                f"observation depth {d[bad][0]} m is outside the soil column [0, {z[-1]}] m"
            )
        index = np.clip(np.searchsorted(z, d, side="right") - 1, 0, z.size - 2)
        weight = (d - z[index]) / (z[index + 1] - z[index])
        return index.astype(np.int32), weight


def _check_depth_and_n(depth, n):
    if not (np.isfinite(depth) and depth > 0):
        raise GridError(f"SoilGrid: column depth must be a positive number of metres, got {depth}")
    if int(n) != n or n < 3:
        raise GridError(f"SoilGrid: number of nodes must be an integer >= 3, got {n}")
