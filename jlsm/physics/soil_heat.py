"""Soil heat conduction: finite-volume operator and implicit step solvers.

Finite volumes on a :class:`~jlsm.grid.SoilGrid` (temperatures T_i in K,
fluxes in W m-2):

    C_i V_i dT_i/dt = k_{i-1/2} (T_{i-1} - T_i) - k_{i+1/2} (T_i - T_{i+1}) + [i = 0] G_0
    k_{i+1/2} = lambda_{i+1/2} / (z_{i+1} - z_i)

with lambda_{i+1/2} the harmonic mean of the two nodes' conductivities (two
half slabs in series). The theta-method turns one step into a tridiagonal
system ``M x' = rhs - e_0 g(x'_0)`` where g is the surface emission
theta eps sigma (T_ref + x'_0)^4 (zero when the top temperature is
prescribed). Two solvers are provided:

* :class:`TridiagonalSolver` (default): direct O(N) solve of the linear part,
  then a scalar Newton solve for the surface temperature, exact to round-off.
* :class:`JacobiSolver`: the "neural physics" formulation: the off-diagonal
  stencil applied as a fixed-weight convolution, iterated Jacobi-style with
  the T^4 term lagged, until the largest change is below a tolerance.
"""

from __future__ import annotations

import abc

import equinox as eqx
import equinox.internal as eqxi
import jax
import jax.numpy as jnp
import numpy as np

from ..errors import GridError


class SoilThermal(eqx.Module):
    """Thermal properties of the soil column.

    Attributes:
        conductivity: thermal conductivity lambda [W m-1 K-1], scalar or one
            value per node, shape (N,).
        heat_capacity: volumetric heat capacity C [J m-3 K-1], scalar or one
            value per node, shape (N,).
    """

    conductivity: jnp.ndarray
    heat_capacity: jnp.ndarray

    def __init__(self, conductivity=0.8, heat_capacity=2.2e6):
        self.conductivity = jnp.asarray(conductivity)
        self.heat_capacity = jnp.asarray(heat_capacity)

    @classmethod
    def layered(cls, grid, boundaries, conductivity, heat_capacity) -> "SoilThermal":
        """Per-node properties from layers.

        Args:
            grid: the :class:`~jlsm.grid.SoilGrid`.
            boundaries: depths [m] of the L-1 interfaces between L layers, increasing.
            conductivity: L values [W m-1 K-1], top layer first.
            heat_capacity: L values [J m-3 K-1].

        A node exactly on a boundary belongs to the layer below it.
        """
        b = np.atleast_1d(np.asarray(boundaries, dtype=float))
        lam = np.atleast_1d(np.asarray(conductivity, dtype=float))
        cap = np.atleast_1d(np.asarray(heat_capacity, dtype=float))
        if lam.size != b.size + 1 or cap.size != b.size + 1:
            raise GridError(
                f"SoilThermal.layered: {b.size} boundaries need {b.size + 1} conductivity and heat "
                f"capacity values, got {lam.size} and {cap.size}"
            )
        if np.any(np.diff(b) <= 0) or (b.size and (b[0] <= 0 or b[-1] >= grid.depth)):
            raise GridError(
                f"SoilThermal.layered: boundaries must increase strictly inside (0, {grid.depth}) m, got {b.tolist()}"
            )
        layer = np.searchsorted(b, grid.z, side="right")
        return cls(conductivity=lam[layer], heat_capacity=cap[layer])

    def interface_conductance(self, grid, dtype):
        """k_{i+1/2} = lambda_{i+1/2} / (z_{i+1} - z_i) [W m-2 K-1], shape (N-1,)."""
        lam = jnp.broadcast_to(jnp.asarray(self.conductivity, dtype), (grid.n,))
        lam_face = 2.0 * lam[:-1] * lam[1:] / (lam[:-1] + lam[1:])
        return lam_face / jnp.asarray(grid.spacing, dtype)

    def node_capacity(self, grid, dtype):
        """C_i V_i [J m-2 K-1], shape (N,)."""
        cap = jnp.broadcast_to(jnp.asarray(self.heat_capacity, dtype), (grid.n,))
        return cap * jnp.asarray(grid.thickness, dtype)


class Bands(eqx.Module):
    """A tridiagonal matrix by its bands, each of shape (N,).

    ``lower[0]`` and ``upper[-1]`` are zero (the layout of
    ``jax.lax.linalg.tridiagonal_solve``).
    """

    lower: jnp.ndarray
    diag: jnp.ndarray
    upper: jnp.ndarray

    def matvec(self, x):
        """M @ x."""
        out = self.diag * x
        out = out.at[1:].add(self.lower[1:] * x[:-1])
        return out.at[:-1].add(self.upper[:-1] * x[1:])


def conduction(k, x):
    """Net conductive flux into each node [W m-2] for conductances ``k`` (N-1,) and temperatures ``x`` (N,)."""
    flux_down = k * (x[:-1] - x[1:])  # from node i to node i+1
    zero = jnp.zeros_like(x[:1])
    return jnp.concatenate([zero, flux_down]) - jnp.concatenate([flux_down, zero])


class AbstractSoilHeatSolver(eqx.Module):
    """Solves one implicit step ``M x = rhs - e_0 c (t_ref + x_0)^4``.

    Attributes:
        theta: implicitness of the theta-method: 1 is backward Euler, 0.5 Crank-Nicolson.
    """

    theta: eqx.AbstractVar[float]

    @abc.abstractmethod
    def prepare(self, bands: Bands):
        """Work done once per parameter set, outside the time loop."""

    @abc.abstractmethod
    def solve(self, bands: Bands, prepared, rhs, x_old, emission, t_ref):
        """New anomaly profile x [K], given the previous one ``x_old``.

        Args:
            bands: the time-invariant step matrix M.
            prepared: what :meth:`prepare` returned.
            rhs: right-hand side [W m-2], shape (N,).
            x_old: previous temperatures minus ``t_ref`` [K], shape (N,).
            emission: c = theta eps sigma [W m-2 K-4], or 0 (prescribed top).
            t_ref: reference temperature [K] of the anomalies.
        """


class TridiagonalSolver(AbstractSoilHeatSolver):
    """Direct O(N) tridiagonal solve with an exact surface Newton solve.

    Without the T^4 term M is constant, so w = M^-1 e_0 is computed once; each
    step solves u = M^-1 rhs and then the scalar equation
    s + c w_0 (t_ref + s)^4 = u_0 for the surface anomaly s by Newton's method,
    and x = u - c (t_ref + s)^4 w. The final Newton update is applied to the
    converged value with its dependence on u and w kept, so derivatives are
    those of the exact solution (implicit function theorem), not of the
    iteration.

    Attributes:
        theta: 1 (backward Euler, default) or 0.5 (Crank-Nicolson).
        newton_iterations: Newton iterations for the surface temperature (4
            reach round-off in float64 at hourly steps).
    """

    theta: float = eqx.field(static=True, default=1.0)
    newton_iterations: int = eqx.field(static=True, default=4)

    def prepare(self, bands):
        e0 = jnp.zeros_like(bands.diag).at[0].set(1.0)
        return _tridiagonal_solve(bands, e0)

    def solve(self, bands, prepared, rhs, x_old, emission, t_ref):
        w = prepared
        u = _tridiagonal_solve(bands, rhs)

        def residual(s, u0, w0, c):
            return s + c * w0 * (t_ref + s) ** 4 - u0

        def slope(s, w0, c):
            return 1.0 + 4.0 * c * w0 * (t_ref + s) ** 3

        u0, w0, c = (jax.lax.stop_gradient(v) for v in (u[0], w[0], emission))
        s = jax.lax.stop_gradient(x_old[0])
        for _ in range(self.newton_iterations):
            s = s - residual(s, u0, w0, c) / slope(s, w0, c)
        s = s - residual(s, u[0], w[0], emission) / slope(s, w[0], emission)
        return u - emission * (t_ref + s) ** 4 * w


class JacobiSolver(AbstractSoilHeatSolver):
    """The Neural Physics solver: Jacobi iteration with a convolution stencil.

    Each sweep computes the neighbour term of every node with a fixed-weight
    convolution ([1, 0, 1] on the conductance-weighted profile), divides by the
    diagonal, and lags the T^4 term (eps sigma T_k^3 T_{k+1}). Iteration stops
    when the largest change is below ``tolerance`` [K] or after
    ``max_iterations`` sweeps; reverse-mode derivatives go through every sweep
    (checkpointed). At r = lambda dt / (C dz^2) of about 13 it needs hundreds
    of sweeps per step and stops about tolerance / (1 - spectral radius) from
    the exact solution; use :class:`TridiagonalSolver` unless comparing.

    Attributes:
        theta: 1 (backward Euler, default) or 0.5 (Crank-Nicolson).
        tolerance: stop when max |x_{k+1} - x_k| < tolerance [K].
        max_iterations: upper bound on sweeps per step.
    """

    theta: float = eqx.field(static=True, default=1.0)
    tolerance: float = eqx.field(static=True, default=1e-4)
    max_iterations: int = eqx.field(static=True, default=20000)

    def prepare(self, bands):
        return None

    def solve(self, bands, prepared, rhs, x_old, emission, t_ref):
        dtype = x_old.dtype
        # The off-diagonal action lower_i x_{i-1} + upper_i x_{i+1} as a
        # fixed-weight convolution over two channels: a_j = lower_{j+1} x_j
        # feeds node j + 1, b_j = upper_{j-1} x_j feeds node j - 1. On a uniform
        # homogeneous grid both channels carry the same weight and this is the
        # [1, 0, 1] stencil of the Laplacian.
        kernel = jnp.asarray([[[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]], dtype)  # (out, in, width)
        lower_next = jnp.concatenate([bands.lower[1:], jnp.zeros_like(bands.lower[:1])])
        upper_prev = jnp.concatenate([jnp.zeros_like(bands.upper[:1]), bands.upper[:-1]])

        def neighbours(x):
            channels = jnp.stack([lower_next * x, upper_prev * x])[None]  # (batch, in, N)
            out = jax.lax.conv_general_dilated(channels, kernel, window_strides=(1,), padding=((1, 1),))
            return out[0, 0]

        def sweep(x):
            lag = emission * (t_ref + x[0]) ** 3
            diag = bands.diag.at[0].add(lag)
            b = rhs.at[0].add(-lag * t_ref)
            return (b - neighbours(x)) / diag

        def cond(carry):
            _, change, _ = carry
            return change >= self.tolerance

        def body(carry):
            x, _, k = carry
            x_new = sweep(x)
            return x_new, jnp.max(jnp.abs(x_new - x)), k + 1

        init = (x_old, jnp.asarray(jnp.inf, dtype), jnp.asarray(0))
        x, _, _ = eqxi.while_loop(cond, body, init, max_steps=self.max_iterations, kind="checkpointed")
        return x


def _tridiagonal_solve(bands: Bands, b):
    """Solve M x = b for one right-hand side of shape (N,)."""
    x = jax.lax.linalg.tridiagonal_solve(bands.lower, bands.diag, bands.upper, b[:, None])
    return x[:, 0]
