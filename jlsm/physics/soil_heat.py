"""Soil heat conduction: finite-volume operator and implicit step solvers.

One module on purpose: the four solvers share the column operator, the theta-method
assembly and the surface Newton solve with its implicit-function derivative, and
are tested against each other; splitting them would scatter that shared core.

Finite volumes on a :class:`~jlsm.grid.SoilGrid` (temperatures T_i in K,
fluxes in W m-2):

    C_i V_i dT_i/dt = k_{i-1/2} (T_{i-1} - T_i) - k_{i+1/2} (T_i - T_{i+1}) + [i = 0] G_0
    k_{i+1/2} = lambda_{i+1/2} / (z_{i+1} - z_i)

with lambda_{i+1/2} the harmonic mean of the two nodes' conductivities (two
half slabs in series). The theta-method turns one step into a tridiagonal
system ``M x' = rhs - e_0 g(x'_0)`` where g is the surface emission
theta eps sigma (T_ref + x'_0)^4 (zero when the top temperature is
prescribed). Solvers:

* :class:`SpectralSolver` (the model's default): for homogeneous soil the
  conduction operator is lambda times a matrix fixed by the grid, so its
  eigenbasis is computed once per grid and shared by every parameter set; a
  step is then a few O(N) vector operations plus a scalar Newton solve for
  the surface temperature, exact to round-off. The whole time loop carries a
  derivative rule that stores scalars, not profiles
  (:mod:`jlsm.physics.spectral`). Per-node properties fall back to the
  tridiagonal solve.
* :class:`TridiagonalSolver`: direct O(N) solve of the linear part,
  then a scalar Newton solve for the surface temperature, exact to round-off.
* :class:`ModalSolver`: the eigenbasis of each parameter set's operator (``eigh``).
* :class:`JacobiSolver`: the "neural physics" formulation: the off-diagonal
  stencil applied as a fixed-weight convolution, iterated Jacobi-style with
  the T^4 term lagged, until the largest change is below a tolerance.
"""

from __future__ import annotations

import abc
import functools

import equinox as eqx
import equinox.internal as eqxi
import jax
import jax.numpy as jnp
import numpy as np

from ..errors import GridError
from .spectral import GridModes, LoopKey, grid_modes, spectral_loop, surface_root


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


class ColumnOperator(eqx.Module):
    """The time-invariant pieces of the implicit step for one parameter set.

    With anomalies x = T - t_ref [K] and the boundary forcing b(t) [W m-2]
    (energy-balance top: absorbed radiation + h_eff (Ta - t_ref); prescribed
    top: the top node's anomaly [K]), one theta-method step solves

        (D + theta K) x' = (D - (1 - theta) K) x + theta e_0 (b' - E(x'_0))
                           + (1 - theta) e_0 (b - E(x_0)) + Dirichlet terms

    where D = C V / dt, K is the conduction operator plus h_eff at the surface,
    and E(x_0) = eps sigma (t_ref + x_0)^4 the surface emission.

    Attributes:
        k: interface conductances k_{i+1/2} [W m-2 K-1], (N-1,).
        capacity: C_i V_i / dt [W m-2 K-1], (N,).
        surface_conductance: h_eff [W m-2 K-1] (energy-balance top) or 0.
        emissivity_sigma: eps sigma [W m-2 K-4] (energy-balance top) or 0.
        bottom_value: Tb - t_ref [K] for a fixed bottom.
        theta, t_ref, top_fixed, bottom_fixed: static configuration.
        conductivity: lambda [W m-1 K-1] (scalar) when the soil is homogeneous, else None.
        capacity_rate: C / dt [J m-3 K-1 s-1] (scalar) when the soil is homogeneous, else None.
        grid_depths: the node depths [m] (static), needed with ``conductivity``.

    With homogeneous soil (``conductivity`` and ``capacity_rate`` given) the
    conduction operator is lambda times a matrix fixed by the grid, so its
    eigenbasis is shared by every parameter set (see :class:`SpectralSolver`).
    """

    @property
    def homogeneous(self) -> bool:
        """True when lambda and C are single values (the grid's eigenbasis applies)."""
        return self.conductivity is not None and self.capacity_rate is not None and self.grid_depths is not None

    k: jnp.ndarray
    capacity: jnp.ndarray
    surface_conductance: jnp.ndarray
    emissivity_sigma: jnp.ndarray
    bottom_value: jnp.ndarray
    theta: float = eqx.field(static=True)
    t_ref: float = eqx.field(static=True)
    top_fixed: bool = eqx.field(static=True)
    bottom_fixed: bool = eqx.field(static=True)
    conductivity: jnp.ndarray | None = None
    capacity_rate: jnp.ndarray | None = None
    grid_depths: tuple[float, ...] | None = eqx.field(static=True, default=None)

    @property
    def n(self) -> int:
        return self.capacity.shape[0]

    def emission(self, x0):
        """E(x_0) = eps sigma (t_ref + x_0)^4 [W m-2]."""
        return self.emissivity_sigma * (self.t_ref + x0) ** 4

    def bands(self) -> "Bands":
        """M = D + theta K with Dirichlet rows replaced by identity rows."""
        th, k = self.theta, self.k
        zero = jnp.zeros_like(k[:1])
        lower = jnp.concatenate([zero, -th * k])
        upper = jnp.concatenate([-th * k, zero])
        diag = self.capacity + th * (jnp.concatenate([zero, k]) + jnp.concatenate([k, zero]))
        if self.top_fixed:
            diag, upper = diag.at[0].set(1.0), upper.at[0].set(0.0)
        else:
            diag = diag.at[0].add(th * self.surface_conductance)
        if self.bottom_fixed:
            diag, lower = diag.at[-1].set(1.0), lower.at[-1].set(0.0)
        return Bands(lower, diag, upper)

    def right_hand_side(self, x, b_now, b_next):
        """Right-hand side of the step without the implicit emission term [W m-2], (N,)."""
        th = self.theta
        rhs = self.capacity * x
        if th != 1.0:
            explicit = conduction(self.k, x)
            if not self.top_fixed:
                g_now = b_now - self.surface_conductance * x[0] - self.emission(x[0])
                explicit = explicit.at[0].add(g_now)
            rhs = rhs + (1.0 - th) * explicit
        rhs = rhs.at[0].set(b_next) if self.top_fixed else rhs.at[0].add(th * b_next)
        if self.bottom_fixed:
            rhs = rhs.at[-1].set(self.bottom_value)
        return rhs

    @property
    def active(self) -> np.ndarray:
        """Indices of the nodes solved for (not held by a Dirichlet boundary)."""
        return np.arange(int(self.top_fixed), self.n - int(self.bottom_fixed))


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
    """Advances the column by implicit steps of a :class:`ColumnOperator`.

    A solver chooses how the state is carried through the time loop (nodal
    temperatures or another basis): ``init`` turns the nodal anomaly profile
    into the carry, ``step`` advances it, ``nodes`` reads nodal anomalies back.

    Attributes:
        theta: implicitness of the theta-method: 1 is backward Euler, 0.5 Crank-Nicolson.
    """

    theta: eqx.AbstractVar[float]

    @abc.abstractmethod
    def prepare(self, op: ColumnOperator):
        """Work done once per parameter set, outside the time loop."""

    def init(self, op: ColumnOperator, prepared, x):
        """The carry for the nodal anomaly profile ``x`` [K] (N,)."""
        return x

    @abc.abstractmethod
    def step(self, op: ColumnOperator, prepared, carry, b_now, b_next):
        """The carry one step later, given the boundary forcing at both ends of the step."""

    def nodes(self, op: ColumnOperator, prepared, carry, index: np.ndarray, top_value):
        """Nodal anomalies x[index] [K]; ``top_value`` is the prescribed top anomaly, if any."""
        return carry[index]

    def prepare_sampling(self, op: ColumnOperator, prepared, index: np.ndarray):
        """``prepared`` extended for :meth:`step_sample` at the nodes ``index`` (once, outside the time loop)."""
        return prepared

    def step_sample(self, op: ColumnOperator, prepared, carry, b_now, b_next, index: np.ndarray, top_value):
        """``step`` and then ``nodes`` at ``index`` of the new carry (solvers may fuse the two).

        ``prepared`` comes from :meth:`prepare_sampling` with the same ``index``.

        ``top_value`` is the prescribed top anomaly at the end of the step, if any.
        """
        carry = self.step(op, prepared, carry, b_now, b_next)
        return carry, self.nodes(op, prepared, carry, index, top_value)

    def run(self, op: ColumnOperator, prepared, x, terms, index: np.ndarray, checkpoint_every=None):
        """The whole time loop at once, or None to let the caller scan :meth:`step_sample`.

        Args:
            op, prepared: from :meth:`prepare`.
            x: initial nodal anomaly profile [K] (N,).
            terms: (weights (J,), series (J, T)): the boundary forcing at every
                time is b = weights @ series.
            index: nodes to read after every step (static).
            checkpoint_every: if given, run in chunks of this many steps and
                recompute each chunk in reverse mode (``jax.checkpoint``).

        Returns:
            A dict from each node of ``index`` to its anomaly after each step
            [K], shape (T-1,), or None (the default) when the solver has no
            time loop of its own.
        """
        return None


class _NodalSolver(AbstractSoilHeatSolver):
    """Solvers that carry nodal temperatures and solve ``M x = rhs - theta e_0 E(x_0)``."""

    def step(self, op, prepared, carry, b_now, b_next):
        rhs = op.right_hand_side(carry, b_now, b_next)
        return self.solve(op, prepared, rhs, carry)

    @abc.abstractmethod
    def solve(self, op, prepared, rhs, x_old):
        """New anomaly profile [K] from the right-hand side, starting from ``x_old``."""


class TridiagonalSolver(_NodalSolver):
    """Direct O(N) tridiagonal solve with an exact surface Newton solve.

    Without the T^4 term M is constant, so w = M^-1 e_0 is computed once; each
    step solves u = M^-1 rhs and then the scalar equation
    s + theta eps sigma w_0 (t_ref + s)^4 = u_0 for the surface anomaly s by
    Newton's method, and x = u - theta E(s) w. Derivatives are those of the
    exact solution (implicit function theorem,
    :func:`~jlsm.physics.spectral.surface_root`), not of the iteration.

    Attributes:
        theta: 1 (backward Euler, default) or 0.5 (Crank-Nicolson).
        newton_iterations: Newton iterations for the surface temperature (4
            reach round-off in float64 at hourly steps).
    """

    theta: float = eqx.field(static=True, default=1.0)
    newton_iterations: int = eqx.field(static=True, default=4)

    def prepare(self, op):
        bands = op.bands()
        e0 = jnp.zeros_like(bands.diag).at[0].set(1.0)
        return bands, _tridiagonal_solve(bands, e0)

    def solve(self, op, prepared, rhs, x_old):
        bands, w = prepared
        u = _tridiagonal_solve(bands, rhs)
        if op.top_fixed:
            return u
        c = self.theta * op.emissivity_sigma * w[0]
        s = surface_root(u[0], c, op.t_ref, x_old[0], self.newton_iterations + 1)
        return u - self.theta * op.emission(s) * w


class JacobiSolver(_NodalSolver):
    """The Neural Physics solver: Jacobi iteration with a convolution stencil.

    Each sweep computes the neighbour term of every node with a fixed-weight
    convolution ([1, 0, 1] on a uniform homogeneous grid), divides by the
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

    def prepare(self, op):
        return op.bands()

    def solve(self, op, prepared, rhs, x_old):
        bands = prepared
        dtype = x_old.dtype
        t_ref = op.t_ref
        emission = self.theta * op.emissivity_sigma
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


class ModalSolver(AbstractSoilHeatSolver):
    """Exact theta-method steps in the eigenbasis of the conduction operator.

    With D = C V / dt and K the (symmetric) conduction operator on the solved
    nodes, A = D^-1/2 K D^-1/2 = Q diag(mu) Q^T is diagonalised once per
    parameter set (``eigh``, O(N^3)). In the coordinates y = Q^T D^1/2 x a step
    is elementwise, O(N):

        y' = g * y + q * (v_0 beta + v_f phi),  g = (1 - (1 - theta) mu) / (1 + theta mu),
        q = 1 / (1 + theta mu),  v_j = Q[j, :] / sqrt(D_j)

    where beta collects the surface forcing and emission and phi the Dirichlet
    terms; the surface temperature x_0 = v_0 . y' solves a scalar equation by
    Newton's method, as in :class:`TridiagonalSolver`. The same backward-Euler
    or Crank-Nicolson solution to round-off, several times faster per step,
    and it vectorises perfectly across starts.

    Attributes:
        theta: 1 (backward Euler, default) or 0.5 (Crank-Nicolson).
        newton_iterations: Newton iterations for the surface temperature.
    """

    theta: float = eqx.field(static=True, default=1.0)
    newton_iterations: int = eqx.field(static=True, default=4)

    def prepare(self, op):
        active = op.active
        first, last = int(active[0]), int(active[-1])
        k = op.k
        d = op.capacity[first : last + 1]
        # conduction operator on the active nodes; the conductance to a Dirichlet
        # neighbour stays on the diagonal
        diag = jnp.concatenate([jnp.zeros_like(k[:1]), k]) + jnp.concatenate([k, jnp.zeros_like(k[:1])])
        diag = diag[first : last + 1]
        if not op.top_fixed:
            diag = diag.at[0].add(op.surface_conductance)
        off = -k[first:last]
        scale = 1.0 / jnp.sqrt(d)
        a = jnp.diag(diag * scale**2) + jnp.diag(off * scale[:-1] * scale[1:], 1) + jnp.diag(off * scale[:-1] * scale[1:], -1)
        mu, q = jnp.linalg.eigh(a)
        th = self.theta
        gain = (1.0 - (1.0 - th) * mu) / (1.0 + th * mu)
        response = 1.0 / (1.0 + th * mu)
        v = q * scale[:, None]  # row j: D_j^-1/2 Q[j, :]; x = v @ y
        sqrt_d = jnp.sqrt(d)
        # Dirichlet neighbours feed the first/last active node with k (value)
        k_top = k[0] if op.top_fixed else jnp.zeros_like(k[0])
        k_bottom = k[-1] if op.bottom_fixed else jnp.zeros_like(k[0])
        return dict(
            q=q,
            v=v,
            gain=gain,
            response=response,
            sqrt_d=sqrt_d,
            first=first,
            last=last,
            k_top=k_top,
            k_bottom=k_bottom,
        )

    def init(self, op, prepared, x):
        p = prepared
        xa = x[p["first"] : p["last"] + 1]
        return p["q"].T @ (p["sqrt_d"] * xa)

    def step(self, op, prepared, carry, b_now, b_next):
        p = prepared
        th = self.theta
        v = p["v"]
        v_first, v_last = v[0], v[-1]
        y = carry
        explicit = p["gain"] * y
        forcing = jnp.zeros_like(y)
        if op.bottom_fixed:
            forcing = forcing + p["k_bottom"] * op.bottom_value * v_last
        if op.top_fixed:
            forcing = forcing + p["k_top"] * (th * b_next + (1.0 - th) * b_now) * v_first
            return explicit + p["response"] * forcing
        surface = th * b_next
        if th != 1.0:
            x0 = v_first @ y
            surface = surface + (1.0 - th) * (b_now - op.emission(x0))
        z = explicit + p["response"] * (forcing + v_first * surface)
        w = p["response"] * v_first
        c = th * op.emissivity_sigma * (v_first @ w)
        u0 = v_first @ z
        x0_old = v_first @ y
        s = surface_root(u0, c, op.t_ref, x0_old, self.newton_iterations + 1)
        return z - th * op.emission(s) * w

    def nodes(self, op, prepared, carry, index, top_value):
        p = prepared
        index = np.asarray(index)
        first, last = p["first"], p["last"]
        inside = np.clip(index - first, 0, last - first)
        values = p["v"][inside] @ carry
        if op.top_fixed:
            values = jnp.where(index < first, top_value, values)
        if op.bottom_fixed:
            values = jnp.where(index > last, op.bottom_value, values)
        return values


def _modes_for(op: "ColumnOperator") -> GridModes:
    return grid_modes(op.grid_depths, op.top_fixed, op.bottom_fixed)


class _SharedModes:
    """Theta-method steps in the grid's eigenbasis for homogeneous soil (lambda, C scalars).

    With D = (C/dt) V and K = lambda K_1 on the solved nodes, write the anomaly
    as x = x_b + basis @ y, where x_b = (Tb - t_ref) p_b is the steady profile
    that the fixed bottom alone would hold (uniform Tb under an energy-balance
    top). In the coordinates y one step is elementwise:

        y' = g * y + r * (v_top beta + v_first k_top phi),
        g = (C/dt - (1 - theta) lambda mu) / (C/dt + theta lambda mu),  r = 1 / (C/dt + theta lambda mu)

    with v_j the row j of the basis, beta the theta-weighted surface flux and phi
    the prescribed top anomaly (theta-weighted). The surface exchange h_eff Ts
    and the emission eps sigma Ts^4 act on the top node only: Ts' solves
    s (1 + c h) + c E(s) = u0, c = theta sum(r v_top^2), by Newton's method with
    derivatives by the implicit function theorem. The basis depends on the grid
    only: it is computed once (numpy) and shared by every parameter set, so
    nothing is factorised per parameter set and a step is a few O(N) vector
    operations and one product with a constant (N, k) matrix for the k nodes read.
    The steps themselves are :func:`~jlsm.physics.spectral.spectral_loop`; this
    class maps nodal anomalies to and from its coordinates.
    """

    @staticmethod
    def _rows(op, index):
        """Solved nodes among ``index`` whose value comes from the basis (static)."""
        m = _modes_for(op)
        index = np.asarray(index, dtype=int)
        from_basis = (index >= m.first) & (index <= m.last) & ~((index == 0) & (not op.top_fixed))
        return np.unique(index[from_basis])

    @staticmethod
    def _bottom_part(op, m, local_rows, dtype):
        """Nodal anomaly of the bottom's steady profile at the solved-node positions ``local_rows``."""
        if m.bottom_profile is None:
            return 0.0
        return jnp.asarray(m.bottom_profile[local_rows], dtype) * op.bottom_value

    @staticmethod
    def init(op, prepared, x):
        m = _modes_for(op)
        dtype = jnp.result_type(x)
        xa = x[m.first : m.last + 1] - _SharedModes._bottom_part(op, m, np.arange(m.last - m.first + 1), dtype)
        y = jnp.asarray(m.to_modes, dtype) @ xa
        return y if op.top_fixed else (y, x[0])

    @staticmethod
    def _loop(op, rows, theta, iterations, dtype):
        """``f(weights, series, yh0, s0)``: :func:`spectral_loop` reading the solved nodes ``rows``."""
        m = _modes_for(op)
        if m.bottom_profile is not None:
            bottom = _SharedModes._bottom_part(op, m, np.arange(m.last - m.first + 1), dtype)
            xb0, xb_rows = bottom[0], bottom[rows - m.first]
        else:
            xb0, xb_rows = jnp.zeros((), dtype), jnp.zeros((rows.size,), dtype)
        key = LoopKey(
            depths=op.grid_depths,
            top_fixed=op.top_fixed,
            bottom_fixed=op.bottom_fixed,
            rows=tuple(int(r) for r in rows - m.first),
            theta=float(theta),
            t_ref=float(op.t_ref),
            iterations=int(iterations),
        )
        rate = jnp.asarray(op.capacity_rate, dtype)
        kappa = jnp.asarray(op.conductivity, dtype) / rate
        h, es = jnp.asarray(op.surface_conductance, dtype), jnp.asarray(op.emissivity_sigma, dtype)
        return functools.partial(spectral_loop, key, kappa, rate, h, es, xb0, xb_rows)

    @staticmethod
    def run(op, x, terms, index, theta, iterations, checkpoint_every=None):
        """{node: anomaly after every step (T-1,)} for the nodes ``index``, by :func:`spectral_loop`."""
        m = _modes_for(op)
        index = np.asarray(index, dtype=int)
        rows = _SharedModes._rows(op, index)
        dtype = jnp.result_type(x, *terms)
        weights, series = (jnp.asarray(t, dtype) for t in terms)
        loop = _SharedModes._loop(op, rows, theta, iterations, dtype)
        rate = jnp.asarray(op.capacity_rate, dtype)

        def segment(state, f):
            s, values, yh_end, s_end = loop(weights, f, *state)
            return (yh_end, s_end), (s, values)

        carry = _SharedModes.init(op, None, x)
        y0, s0 = (carry, jnp.zeros((), dtype)) if op.top_fixed else carry
        steps = series.shape[1] - 1
        state = (rate * y0, s0)
        if not checkpoint_every or checkpoint_every >= steps:
            _, (s, values) = segment(state, series)
        else:  # chunks of ``chunk`` steps, recomputed in reverse mode; then the remaining steps
            chunk = int(checkpoint_every)
            n_chunks = steps // chunk

            def window(state, start):  # the chunk's chunk + 1 forcing values, sliced inside the loop
                return segment(state, jax.lax.dynamic_slice_in_dim(series, start, chunk + 1, axis=1))

            starts = jnp.arange(n_chunks) * chunk
            state, (s, values) = jax.lax.scan(jax.checkpoint(window), state, starts)
            s, values = s.reshape(-1), values.reshape((-1,) + values.shape[2:])
            if n_chunks * chunk < steps:
                _, (s_tail, values_tail) = segment(state, series[:, n_chunks * chunk :])
                s, values = jnp.concatenate([s, s_tail]), jnp.concatenate([values, values_tail])
        column = {int(j): c for c, j in enumerate(rows)}
        out = {}
        for j in (int(j) for j in index):
            if j < m.first:
                out[j] = weights @ series[:, 1:]
            elif j > m.last:
                out[j] = jnp.broadcast_to(jnp.asarray(op.bottom_value, dtype), (steps,))
            elif j == 0 and not op.top_fixed:
                out[j] = s
            else:
                out[j] = values[:, column[j]]
        return out

    @staticmethod
    def step(op, carry, b_now, b_next, theta, iterations):
        """One step of the carry (y, or (y, Ts anomaly) under an energy-balance top): the loop over two times."""
        dtype = jnp.result_type(carry[0] if isinstance(carry, tuple) else carry, b_now, b_next)
        y, s = (carry, jnp.zeros((), dtype)) if op.top_fixed else carry
        rate = jnp.asarray(op.capacity_rate, dtype)
        loop = _SharedModes._loop(op, np.zeros(0, int), theta, iterations, dtype)
        series = jnp.stack([jnp.asarray(b_now, dtype), jnp.asarray(b_next, dtype)])[None]
        _, _, yh_end, s_end = loop(jnp.ones((1,), dtype), series, rate * y, s)
        return yh_end / rate if op.top_fixed else (yh_end / rate, s_end)

    @staticmethod
    def nodes(op, prepared, carry, index, top_value):
        m = _modes_for(op)
        y = carry if op.top_fixed else carry[0]
        dtype = jnp.result_type(y)
        index = np.asarray(index)
        inside = np.clip(index - m.first, 0, m.last - m.first)
        values = y @ jnp.asarray(m.basis[inside].T, dtype) + _SharedModes._bottom_part(op, m, inside, dtype)
        if not op.top_fixed:
            values = jnp.where(index == 0, carry[1], values)
        if op.top_fixed:
            values = jnp.where(index < m.first, top_value, values)
        if op.bottom_fixed:
            values = jnp.where(index > m.last, op.bottom_value, values)
        return values


class SpectralSolver(AbstractSoilHeatSolver):
    """Exact theta-method steps in the grid's eigenbasis (homogeneous soil), else direct.

    For a homogeneous column (scalar conductivity and heat capacity) the
    conduction operator is lambda times a matrix fixed by the grid, so its
    eigenbasis is computed once per grid (numpy, at trace time) and shared by
    every parameter set and every start. Each step is then a few O(N) vector
    operations (no factorisation, no per-step linear solve), the surface
    exchange and emission being handled exactly by a scalar Newton solve on
    the top node, as in :class:`TridiagonalSolver`. The solution is the same
    backward-Euler (or Crank-Nicolson) solution to round-off, and derivatives
    are exact. With per-node properties it uses :class:`TridiagonalSolver`.

    Attributes:
        theta: 1 (backward Euler, default) or 0.5 (Crank-Nicolson).
        newton_iterations: Newton iterations for the surface temperature.
    """

    theta: float = eqx.field(static=True, default=1.0)
    newton_iterations: int = eqx.field(static=True, default=4)

    def _direct(self):
        return TridiagonalSolver(theta=self.theta, newton_iterations=self.newton_iterations)

    def prepare(self, op):
        if op.homogeneous:
            return None  # the grid's basis is static; nothing depends on the parameters alone
        return self._direct().prepare(op)

    def init(self, op, prepared, x):
        if op.homogeneous:
            return _SharedModes.init(op, prepared, x)
        return x

    def step(self, op, prepared, carry, b_now, b_next):
        if op.homogeneous:
            return _SharedModes.step(op, carry, b_now, b_next, self.theta, self.newton_iterations)
        return self._direct().step(op, prepared, carry, b_now, b_next)

    def nodes(self, op, prepared, carry, index, top_value):
        if op.homogeneous:
            return _SharedModes.nodes(op, prepared, carry, index, top_value)
        return carry[index]

    def run(self, op, prepared, x, terms, index, checkpoint_every=None):
        """The time loop in the grid's eigenbasis with a derivative rule that stores no profiles
        (:func:`~jlsm.physics.spectral.spectral_loop`); None for per-node properties."""
        if not op.homogeneous:
            return None
        return _SharedModes.run(op, x, terms, index, self.theta, self.newton_iterations, checkpoint_every)


def _tridiagonal_solve(bands: Bands, b):
    """Solve M x = b for one right-hand side of shape (N,)."""
    x = jax.lax.linalg.tridiagonal_solve(bands.lower, bands.diag, bands.upper, b[:, None])
    return x[:, 0]
