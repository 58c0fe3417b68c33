"""The grid's shared eigenbasis and the spectral time loop, with its own derivative rule.

For homogeneous soil (scalar conductivity lambda and heat capacity C) the
theta-method step in the grid's eigenbasis is elementwise. With the scaled
modal coordinates yh = (C/dt) y [W m-2 m^1/2], kappa = lambda dt / C [m2]
and mu the grid's eigenvalues [m-2], one step is

    z = g * yh,   g = (1 - (1 - theta) kappa mu) / (1 + theta kappa mu)
    p = z @ R                   (R: the basis rows read each step)
    (f, s, values) = surface update of the scalars p        (Newton on Ts^4)
    yh' = z + f * q,             q = v_first / (1 + theta kappa mu)

where f [W m-2] is the theta-weighted net flux into the column (or, with a
prescribed top, the flux from the top node). Only g and q carry kappa, and
the profile enters the surface update through the few scalars p.

Reverse-mode differentiation of the plain loop stores the profile (N values)
at every step. :func:`spectral_loop` instead carries a derivative rule
(``jax.custom_jvp``) that splits the tangent in two:

* along kappa, a forward sensitivity computed with the primal run (one
  extra profile in the carry, nothing stored);
* along everything else (C/dt, h_eff, eps sigma, the boundary forcing, the
  bottom temperature, the initial state), a linear scan with constant
  vectors g, q, R and per-step scalar coefficients.

Forward mode (``jax.jvp``, ``jax.jacfwd``) uses the rule directly; reverse
mode transposes the linear scan, so a gradient stores O(T) scalars instead
of O(N T) profile values and costs a few O(N) vector operations per step.

Under ``jax.vmap`` the primal and sensitivity runs keep the profiles of all
starts as one (modes, starts) matrix (:func:`_trailing_batch`): the read-out
is then one matrix product with the constant basis rows per step, instead of
one small product per start. The linear scan, which reverse mode transposes,
is batched by JAX as usual.
"""

from __future__ import annotations

import functools
import typing

import jax
import jax.numpy as jnp
import numpy as np



class GridModes(typing.NamedTuple):
    """Eigenbasis of the unit-conductivity conduction operator of a grid (numpy, static).

    On the solved nodes (indices first..last), with V_i the slab thickness and
    K_1 the conduction operator for lambda = 1 (conductance to a Dirichlet
    neighbour on the diagonal, no surface exchange),
    A = V^-1/2 K_1 V^-1/2 = Q diag(mu) Q^T.
    """

    mu: np.ndarray  # (Na,) eigenvalues [m-2]
    basis: np.ndarray  # (Na, Na): x = basis @ y, basis = V^-1/2 Q
    to_modes: np.ndarray  # (Na, Na): y = to_modes @ x, to_modes = Q^T V^1/2
    first: int
    last: int
    top_conductance: float  # 1 / (z_1 - z_0) [m-1]
    bottom_profile: np.ndarray | None  # (Na,) steady profile for a unit bottom anomaly, zero top anomaly/flux


@functools.lru_cache(maxsize=64)
def grid_modes(depths: tuple, top_fixed: bool, bottom_fixed: bool) -> GridModes:
    """The :class:`GridModes` of the node depths ``depths`` [m] and boundary types (cached)."""
    z = np.asarray(depths, dtype=np.float64)
    n = z.size
    spacing = np.diff(z)
    half = 0.5 * spacing
    thickness = np.concatenate([half[:1], half[:-1] + half[1:], half[-1:]])
    k = 1.0 / spacing
    first, last = int(top_fixed), n - 1 - int(bottom_fixed)
    diag = (np.concatenate([[0.0], k]) + np.concatenate([k, [0.0]]))[first : last + 1]
    off = -k[first:last]
    unit = np.diag(diag) + np.diag(off, 1) + np.diag(off, -1)  # K_1 on the solved nodes
    scale = 1.0 / np.sqrt(thickness[first : last + 1])
    mu, q = np.linalg.eigh(unit * scale[:, None] * scale[None, :])
    mu = np.maximum(mu, 0.0)  # positive semi-definite; clip round-off below zero
    bottom_profile = None
    if bottom_fixed:
        # K_1 x = e_last k_bottom: uniform 1 under an energy-balance top, linear under a fixed top
        rhs = np.zeros(last - first + 1)
        rhs[-1] = k[-1]
        bottom_profile = np.linalg.solve(unit, rhs)
    return GridModes(
        mu=mu,
        basis=q * scale[:, None],
        to_modes=q.T / scale[None, :],
        first=first,
        last=last,
        top_conductance=float(k[0]),
        bottom_profile=bottom_profile,
    )


@functools.partial(jax.custom_jvp, nondiff_argnums=(2, 4))
def surface_root(u0, c, t_ref, guess, iterations):
    """s with s + c (t_ref + s)^4 = u0, by ``iterations`` Newton steps from ``guess``.

    Derivatives by the implicit function theorem, ds = (du0 - dc (t_ref + s)^4) /
    (1 + 4 c (t_ref + s)^3), independent of the guess (with ``iterations=0`` and a
    converged ``guess`` this gives the derivative at a known root).
    """
    u0_c, c_c = jax.lax.stop_gradient(u0), jax.lax.stop_gradient(c)
    s = jax.lax.stop_gradient(guess)
    for _ in range(iterations):
        t3 = (t_ref + s) ** 3
        s = s - (s + c_c * t3 * (t_ref + s) - u0_c) / (1.0 + 4.0 * c_c * t3)
    return s


@surface_root.defjvp
def _surface_root_jvp(t_ref, iterations, primals, tangents):
    u0, c, guess = primals
    du0, dc, _ = tangents
    root = surface_root(u0, c, t_ref, guess, iterations)
    # one more Newton update, zero at the root: it gives the returned value its
    # dependence on (u0, c), so derivatives of this rule (second order) are exact too
    s = root - (root + c * (t_ref + root) ** 4 - u0) / (1.0 + 4.0 * c * (t_ref + root) ** 3)
    t3 = (t_ref + s) ** 3
    return s, (du0 - dc * (t3 * (t_ref + s))) / (1.0 + 4.0 * c * t3)


class LoopKey(typing.NamedTuple):
    """Static description of a spectral time loop (hashable).

    Attributes:
        depths: node depths [m].
        top_fixed, bottom_fixed: Dirichlet top / bottom.
        rows: solved-node positions (0 = the first solved node) read every step,
            besides the surface.
        theta: theta-method implicitness.
        t_ref: reference temperature of the anomalies [K].
        iterations: Newton iterations for the surface temperature.
    """

    depths: tuple
    top_fixed: bool
    bottom_fixed: bool
    rows: tuple
    theta: float
    t_ref: float
    iterations: int


def spectral_loop(key: LoopKey, kappa, rate, h, es, xb0, xb_rows, weights, series, yh0, s0):
    """Run the spectral time loop over the T times of ``series``.

    Args:
        key: the static :class:`LoopKey`.
        kappa: lambda dt / C [m2].
        rate: C / dt [W m-3 K-1].
        h: surface conductance h_eff [W m-2 K-1] (0 with a prescribed top).
        es: emissivity times sigma [W m-2 K-4] (0 with a prescribed top).
        xb0, xb_rows: anomaly of the bottom's steady profile [K] at the surface
            and at ``key.rows``.
        weights, series: the boundary forcing b = weights @ series, with
            per-parameter-set weights (J,) and forcing series (J, T) that all
            starts share: absorbed radiation + h_eff (Ta - t_ref) [W m-2]
            (weights 1 - albedo, longwave absorptivity, h_eff on SWdown,
            LWdown, Ta - t_ref), or the prescribed top anomaly [K].
        yh0: initial scaled modal coordinates (C/dt) y (Na,).
        s0: initial surface anomaly [K] (energy-balance top; ignored otherwise).

    Returns (s, values, yh_end, s_end): ``s`` is the surface anomaly after
    each step (``s0`` repeated with a prescribed top), ``values`` the anomalies
    at ``key.rows``, and (yh_end, s_end) the final state, from which a
    following call continues.
    """
    rest = (rate, h, es, xb0, xb_rows)
    if jnp.shape(series)[-1] < 2:  # no step
        dtype = jnp.result_type(kappa, yh0, s0)
        return jnp.zeros((0,), dtype), jnp.zeros((0, len(key.rows)), dtype), jnp.asarray(yh0), jnp.asarray(s0)
    return _loop(key)(kappa, rest, weights, series, yh0, s0)


def _is_zero(tangent) -> bool:
    return isinstance(tangent, jax.custom_derivatives.SymbolicZero)


def _instantiate(tangents, primals):
    """Tangents with symbolic zeros replaced by zero arrays."""
    return jax.tree_util.tree_map(
        lambda t, p: jnp.zeros_like(p) if _is_zero(t) else t, tangents, primals, is_leaf=_is_zero
    )


def _trailing_batch(core):
    """``core`` run with the start axis last (minor in memory), whatever the batching.

    ``core(*args)`` takes arrays with a trailing batch axis of size B or 1
    (broadcast) and returns arrays with a trailing axis of size B. The returned
    function takes and returns arrays without that axis; under ``jax.vmap``
    (nested any number of times) the mapped axes are merged into the trailing
    one, so the loops' matrix products read the profile of all starts as one
    (nodes, starts) matrix instead of a stack of (nodes,) rows.
    """

    @jax.custom_batching.custom_vmap
    def inner(*args):
        return core(*args)

    @inner.def_vmap
    def _rule(axis_size, in_batched, *args):
        leaves, tree = jax.tree_util.tree_flatten(args)
        flags = jax.tree_util.tree_leaves(in_batched)
        width = max(x.shape[-1] for x in leaves)
        merged_width = width * axis_size

        def merge(x, batched):
            if batched:
                x = jnp.moveaxis(x, 0, -1)  # (..., b, axis_size)
            elif x.shape[-1] == 1:
                return x  # shared by every start: stays broadcast
            else:
                x = x[..., None]
            x = jnp.broadcast_to(x, x.shape[:-2] + (width, axis_size))
            return x.reshape(x.shape[:-2] + (merged_width,))

        out = inner(*jax.tree_util.tree_unflatten(tree, [merge(x, b) for x, b in zip(leaves, flags)]))

        def split(y):
            y = jnp.broadcast_to(y, y.shape[:-1] + (merged_width,))
            return jnp.moveaxis(y.reshape(y.shape[:-1] + (width, axis_size)), -1, 0)

        return jax.tree_util.tree_map(split, out), jax.tree_util.tree_map(lambda _: True, out)

    def call(*args):
        out = inner(*jax.tree_util.tree_map(lambda x: jnp.asarray(x)[..., None], args))
        return jax.tree_util.tree_map(lambda y: y[..., 0], out)

    def plain(*args):
        """The same without the batching rule (for derivatives of ``call``)."""
        out = core(*jax.tree_util.tree_map(lambda x: jnp.asarray(x)[..., None], args))
        return jax.tree_util.tree_map(lambda y: y[..., 0], out)

    return call, plain


class Basis(typing.NamedTuple):
    """The grid constants a spectral loop reads, as arrays (passed as arguments, not captured)."""

    mu: jax.Array  # (Na[, b]) eigenvalues [m-2]
    first_row: jax.Array  # (Na[, b]) v_first: the basis row of the first solved node
    table_t: jax.Array  # (ncols, Na[, b]) R^T: the basis rows read every step


def _dtype(*arrays):
    """The floating dtype of a loop's arithmetic."""
    dtype = jnp.result_type(*arrays)
    return dtype if jnp.issubdtype(dtype, jnp.floating) else jnp.result_type(float)


def _batch_width(*trees) -> int:
    """Size of the trailing batch axis shared by the arrays of ``trees`` (1 = none)."""
    return max(x.shape[-1] for x in jax.tree_util.tree_leaves(trees))


@functools.lru_cache(maxsize=64)
def _loop(key: LoopKey):
    m = grid_modes(key.depths, key.top_fixed, key.bottom_fixed)
    theta, t_ref, iterations = key.theta, key.t_ref, key.iterations
    coupled = not key.top_fixed
    columns = ([0] if coupled else []) + list(key.rows)  # the surface row first when coupled
    n_rows = len(key.rows)
    table_np = np.asarray(m.basis[columns].T)  # (Na, ncols)
    first_row_np = np.asarray(m.basis[0])
    mu_np = np.asarray(m.mu)
    top_conductance = m.top_conductance

    def basis(dtype):
        """The grid's constants as arrays of ``dtype`` (one start: no batch axis)."""
        return Basis(
            mu=jnp.asarray(mu_np, dtype), first_row=jnp.asarray(first_row_np, dtype),
            table_t=jnp.asarray(table_np.T, dtype),
        )

    # Vectors over the modes are (Na, *batch): (Na,) for one start; (Na, B) with
    # the start axis last in the batched runs, where the basis arrays carry a
    # trailing axis of size 1 (or B) and broadcast against kappa (B,).
    def read(table_t, v):
        """The read-out products R^T v (ncols, *batch), with ``table_t`` = R^T (ncols, Na[, b])."""
        if table_t.ndim == 2:
            return table_t @ v
        if table_t.shape[-1] == 1:
            return table_t[..., 0] @ v
        return jnp.einsum("cnb,nb->cb", table_t, v)

    def coefficients(bas, kappa):
        """(g, g * d, d * v_first @ R) with d = 1 / (1 + theta kappa mu): the loop's kappa-dependent vectors."""
        damp = 1.0 / (1.0 + theta * kappa * bas.mu)
        gain = (1.0 - (1.0 - theta) * kappa * bas.mu) * damp
        return gain, gain * damp, read(bas.table_t, bas.first_row * damp)

    def to_state(bas, kappa, yh):
        """w = yh / d: the carried state is w with yh = d * w, so the injection vector is constant."""
        return yh * (1.0 + theta * kappa * bas.mu)

    def from_state(bas, kappa, w):
        """yh = d * w."""
        return w / (1.0 + theta * kappa * bas.mu)

    def inject(f, first_row):
        """f * v_first as a product with a constant row (its transpose is a matrix-vector product)."""
        return jnp.dot(f[None], first_row[None, :])

    def scalars(bas, kappa, rest):
        """Per-start scalar constants of the surface update."""
        rate, h, es, xb0, xb_rows = rest
        st = coefficients(bas, kappa)[2]
        # per-start reciprocals: the step multiplies (a divide with several users
        # would split the step's fused kernels)
        k = dict(rate=rate, inv_rate=1.0 / rate, xb_rows=xb_rows, st=st)
        if coupled:
            c = theta * st[0] / rate
            a = 1.0 + c * h
            k.update(h=h, es=es, xb0=xb0, c=c, a=a, ce=c * es, inv_a=1.0 / a)
        else:
            k.update(lam_top=kappa * rate * top_conductance)
        return k

    def surface(p, s_old, b_now, b_next, k):
        """The scalar part of a step from the read-out products p.

        Returns (f, s, values): the net flux f into the column, the surface
        anomaly and the anomalies at the rows. Element-wise over a trailing
        batch axis.
        """
        inv_rate, st = k["inv_rate"], k["st"]
        if coupled:
            h, es = k["h"], k["es"]
            beta = theta * b_next
            if theta != 1.0:
                beta = beta + (1.0 - theta) * (b_now - h * s_old - es * (t_ref + s_old) ** 4)
            u0m = (p[0] + beta * st[0]) * inv_rate
            inv_a = k["inv_a"]
            s = surface_root((u0m + k["xb0"]) * inv_a, k["ce"] * inv_a, t_ref, s_old, iterations + 1)
            f = beta - theta * (h * s + es * (t_ref + s) ** 4)
            vm = (p[1:] + f * st[1:]) * inv_rate
        else:
            f = (theta * b_next + (1.0 - theta) * b_now) * k["lam_top"]
            s = s_old
            vm = (p + f * st) * inv_rate
        return f, s, vm + k["xb_rows"]

    def time_major(series):
        """(series at t, series at t + 1) for the T - 1 steps, time first: (T-1, J, *batch) each."""
        return jnp.moveaxis(series[:, :-1], 1, 0), jnp.moveaxis(series[:, 1:], 1, 0)

    # The batched runs carry (x, f) with c = g * x + f * (g * q) the state
    # multiplied ahead of time by the step's gain, q = v_first / (1 + theta
    # kappa mu): a step is one element-wise update whose scalar operand f (the
    # previous step's flux) is carried, one product with the constant read-out
    # matrix, and the surface update. Starting from (yh0, 0), the final state
    # is yh = x + f * q.
    def injection(bas, kappa):
        """q = d * v_first (Na, *batch)."""
        return bas.first_row / (1.0 + theta * kappa * bas.mu)

    def forcing(pair, weights):
        """(b at t, b at t + 1) of one step: weights @ series, per start."""
        return jnp.sum(pair[0] * weights, axis=0), jnp.sum(pair[1] * weights, axis=0)

    def run_core(bas, kappa, rest, weights, series, yh0, s0):
        """The primal loop, every array with a trailing batch axis (see :func:`_trailing_batch`)."""
        width = _batch_width(kappa, rest, weights, series, yh0, s0)
        kappa = jnp.broadcast_to(kappa, (width,))
        gain, _, _ = coefficients(bas, kappa)
        q = injection(bas, kappa)
        gq = gain * q
        table_t = bas.table_t
        k = scalars(bas, kappa, rest)

        def body(carry, pair):
            x, f_old, s_old = carry
            c = gain * x + f_old * gq
            b_now, b_next = forcing(pair, weights)
            f, s, values = surface(read(table_t, c), s_old, b_now, b_next, k)
            return (c, f, s), jnp.concatenate([s[None], values])  # one stacked output per step

        zero = jnp.zeros((width,), gain.dtype)
        carry = (jnp.broadcast_to(yh0, gain.shape), zero, jnp.broadcast_to(s0, (width,)))
        (x, f, s), out = jax.lax.scan(body, carry, time_major(series))
        return out[:, 0], out[:, 1:], x + f * q, s

    def sensitivity_core(bas, kappa, rest, weights, series, yh0, s0):
        """The primal loop and its derivative along kappa (trailing batch axis)."""
        width = _batch_width(kappa, rest, weights, series, yh0, s0)
        kappa = jnp.broadcast_to(kappa, (width,))
        one = jnp.ones_like(kappa)
        (gain, _, _), (gain_k, _, _) = jax.jvp(lambda kap: coefficients(bas, kap), (kappa,), (one,))
        q, q_k = jax.jvp(lambda kap: injection(bas, kap), (kappa,), (one,))
        gq, gq_k = gain * q, gain_k * q + gain * q_k
        table_t = bas.table_t
        k, k_kappa = jax.jvp(lambda kap: scalars(bas, kap, rest), (kappa,), (one,))

        def body(carry, pair):
            x, x_k, f_old, f_old_k, s_old, s_old_k = carry
            c = gain * x + f_old * gq
            if theta == 1.0:  # gain_k = -mu gain^2, gq_k = -2 mu gain gq: written with c, not x,
                # so the update of x can happen in place (no copy of the state per step)
                c_k = gain * (x_k - bas.mu * (c + f_old * gq)) + f_old_k * gq
            else:
                c_k = gain * x_k + gain_k * x + f_old_k * gq + f_old * gq_k
            b_now, b_next = forcing(pair, weights)
            (f, s, values), (f_k, s_k, values_k) = jax.jvp(
                lambda p_, so, k_: surface(p_, so, b_now, b_next, k_),
                (read(table_t, c), s_old, k), (read(table_t, c_k), s_old_k, k_kappa),
            )
            return (c, c_k, f, f_k, s, s_k), jnp.concatenate([s[None], values, s_k[None], values_k])

        zero = jnp.zeros((width,), gain.dtype)
        shape = gain.shape
        carry = (jnp.broadcast_to(yh0, shape), jnp.zeros(shape, gain.dtype), zero, zero,
                 jnp.broadcast_to(s0, (width,)), zero)
        (x, x_k, f, f_k, s, s_k), out = jax.lax.scan(body, carry, time_major(series))
        yh_end, yh_end_k = x + f * q, x_k + f_k * q + f * q_k
        n = 1 + n_rows
        return (out[:, 0], out[:, 1:n], yh_end, s), (out[:, n], out[:, n + 1 :], yh_end_k, s_k)

    run, _ = _trailing_batch(run_core)
    fast_sensitivity, plain_sensitivity = _trailing_batch(sensitivity_core)

    @jax.custom_jvp
    def run_with_sensitivity(bas, kappa, rest, weights, series, yh0, s0):
        """The primal run and its derivative along kappa (one start)."""
        return fast_sensitivity(bas, kappa, rest, weights, series, yh0, s0)

    @run_with_sensitivity.defjvp
    def _sensitivity_jvp(primals, tangents):  # second derivatives only: plain autodiff of the same loop
        return jax.jvp(plain_sensitivity, primals, tangents)

    def tangent(bas, kappa, rest, drest, weights, dweights, series, dseries, dyh0, ds0, s0, s, values):
        """Linear response of (s, values) to the tangents of everything but kappa.

        Every product in the loop is (a coefficient computed from the primal
        surface anomaly ``s`` and values, a forcing value or a constant) times
        a tangent, so reverse mode transposes it without
        storing anything new. ``dseries`` is None when the forcing series carry
        no tangent (the usual case: only the weights depend on parameters).

        What does not depend on the loop's own state (the tangents of the
        parameters and of the forcing) is gathered into per-step sources
        before the loop, all steps at once; the loop keeps only the recurrence
        (the profile, the surface anomaly and the few scalars between them), so
        its transpose accumulates nothing per parameter.
        """
        gain, gd, _ = coefficients(bas, kappa)
        table, first_row = bas.table_t.T, bas.first_row
        k, dk = jax.jvp(lambda r: scalars(bas, kappa, r), (rest,), (drest,))
        rate, st = k["rate"], k["st"]
        drate_rel = dk["rate"] / rate  # d(rate) / rate
        vm = values - k["xb_rows"]

        def forcing_tangent(f, df):
            """d(weights @ f) at every step (T-1,); df is the series' own tangent or None."""
            d = f.T @ dweights
            return d if df is None else d + df.T @ weights

        now, nxt = series[:, :-1], series[:, 1:]
        dnow, dnxt = (None, None) if dseries is None else (dseries[:, :-1], dseries[:, 1:])
        if coupled:
            t3 = (t_ref + s) ** 3
            t4 = t3 * (t_ref + s)
            w = 1.0 / (k["a"] + 4.0 * k["ce"] * t3)  # ds / du0 of the surface root
            q = k["h"] + 4.0 * k["es"] * t3  # d(turbulent + emitted) / ds
            u0m = k["a"] * s + k["ce"] * t4 - k["xb0"]  # the root's equation solved for u0
            source_beta = theta * forcing_tangent(nxt, dnxt)
            if theta != 1.0:
                s_prev = jnp.concatenate([jnp.reshape(s0, (1,)), s[:-1]])
                q_prev = k["h"] + 4.0 * k["es"] * (t_ref + s_prev) ** 3
                source_beta = source_beta + (1.0 - theta) * (
                    forcing_tangent(now, dnow) - s_prev * dk["h"] - (t_ref + s_prev) ** 4 * dk["es"]
                )
            source_u = dk["xb0"] - u0m * drate_rel - s * dk["a"] - t4 * dk["ce"]
            source_f = s * dk["h"] + t4 * dk["es"]
            # the linear sources stacked (one per-step slice); the coefficients as separate
            # series (slicing a stacked primal array would become a scan of its own)
            xs = (jnp.stack([source_beta, source_u, source_f], axis=1), w, q, None if theta == 1.0 else q_prev)
        else:  # the prescribed anomaly: the flux tangent needs no recurrence
            mixed = theta * nxt + (1.0 - theta) * now
            dmixed = None if dseries is None else theta * dnxt + (1.0 - theta) * dnow
            xs = k["lam_top"] * forcing_tangent(mixed, dmixed) + mixed.T @ (weights * dk["lam_top"])

        def body(carry, x):
            dw, ds_old = carry
            v = gain * (gain * dw) if theta == 1.0 else gd * dw  # gd = gain^2 when theta = 1: one array fewer to read
            # the read-out as one reduction per row: reverse mode transposes it into
            # element-wise products that fuse with the state update (a product with
            # the few-column table would become a separate, slower outer product)
            # (kept as separate scalars, not a stacked vector sliced afterwards: the
            # transpose of a slice is a padding, one more kernel per step)
            dp = [jnp.sum(v * table[:, j]) for j in range(len(columns))]
            if coupled:
                (source_beta, source_u, source_f), w_n, q_n, q_p = (x[0][i] for i in range(3)), x[1], x[2], x[3]
                dbeta = source_beta if theta == 1.0 else source_beta - (1.0 - theta) * q_p * ds_old
                ds = w_n * ((dp[0] + st[0] * dbeta) / rate + source_u)
                df = dbeta - theta * (source_f + q_n * ds)
                out = jnp.stack([ds, df, *dp[1:]])
            else:
                ds, df = ds_old, x
                out = jnp.stack(dp)
            return (gain * dw + inject(df, first_row), ds), out

        (dw, ds_end), out = jax.lax.scan(body, (to_state(bas, kappa, dyh0), ds0), xs)
        if coupled:
            ds_all, df_all, dp_rows = out[:, 0], out[:, 1], out[:, 2:]
        else:
            ds_all, df_all, dp_rows = jnp.broadcast_to(ds0, out.shape[:1]), xs, out
        dvalues = (dp_rows + df_all[:, None] * st[len(columns) - n_rows :]) / rate - vm * drate_rel + dk["xb_rows"]
        return ds_all, dvalues, from_state(bas, kappa, dw), ds_end

    @jax.custom_jvp
    def loop(kappa, rest, weights, series, yh0, s0):
        return run(basis(_dtype(kappa, yh0)), kappa, rest, weights, series, yh0, s0)

    def loop_jvp(primals, tangents):
        kappa, rest, weights, series, yh0, s0 = primals
        dkappa, drest, dweights, dseries, dyh0, ds0 = tangents
        drest, dweights, dyh0, ds0 = _instantiate((drest, dweights, dyh0, ds0), (rest, weights, yh0, s0))
        dseries = None if _is_zero(dseries) else dseries
        bas = basis(_dtype(kappa, yh0))
        primal, along_kappa = run_with_sensitivity(bas, kappa, rest, weights, series, yh0, s0)
        s, values = primal[0], primal[1]
        along_rest = tangent(bas, kappa, rest, drest, weights, dweights, series, dseries, dyh0, ds0, s0, s, values)
        if _is_zero(dkappa):
            return primal, along_rest
        return primal, tuple(k * dkappa + r for k, r in zip(along_kappa, along_rest))

    loop.defjvp(loop_jvp, symbolic_zeros=True)

    return loop
