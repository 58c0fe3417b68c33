"""Solving the small symmetric positive definite systems of a Levenberg-Marquardt step.

:func:`spd_solve` is a Cholesky factorisation and two triangular solves
written as two short loops over the P columns (P = number of free
parameters, a handful). It needs no LAPACK: lowering ``jnp.linalg.solve``
on the CPU loads JAX's LAPACK bindings, which import ``scipy.linalg``
(about 0.1 s on the critical path of a new process's first inversion).
The loops stay rolled, so the program does not grow with P.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def spd_solve(a, b):
    """x with a @ x = b for a symmetric positive definite ``a`` (P, P) and ``b`` (P,).

    Reads the lower triangle of ``a`` only. A matrix that is not positive
    definite (to round-off) gives a non-finite x; callers test ``isfinite``.
    """
    p = a.shape[-1]
    index = jnp.arange(p)

    def factor_and_forward(k, carry):
        # column k of the Cholesky factor L from the Schur complement left in
        # ``work``, then the complement updated; row k of L is then complete,
        # so y_k of L y = b follows at once
        work, y = carry
        column = jax.lax.dynamic_index_in_dim(work, k, axis=1, keepdims=False)
        pivot = jnp.sqrt(jax.lax.dynamic_index_in_dim(column, k, keepdims=False))
        below = jnp.where(index > k, column / pivot, 0.0)
        work = work - below[:, None] * below[None, :]
        work = jnp.where(index[None, :] == k, jnp.where(index == k, pivot, below)[:, None], work)
        row = jax.lax.dynamic_index_in_dim(work, k, axis=0, keepdims=False)
        y_k = (jax.lax.dynamic_index_in_dim(b, k, keepdims=False) - row @ y) / pivot
        return work, jnp.where(index == k, y_k, y)

    def backward(i, x):
        # L^T x = y from the last row up; unknowns not yet solved are zero
        k = p - 1 - i
        column = jax.lax.dynamic_index_in_dim(factor, k, axis=1, keepdims=False)
        pivot = jax.lax.dynamic_index_in_dim(column, k, keepdims=False)
        x_k = (jax.lax.dynamic_index_in_dim(y, k, keepdims=False) - jnp.where(index > k, column, 0.0) @ x) / pivot
        return jnp.where(index == k, x_k, x)

    factor, y = jax.lax.fori_loop(0, p, factor_and_forward, (jnp.tril(a), jnp.zeros_like(b)))
    return jax.lax.fori_loop(0, p, backward, jnp.zeros_like(b))
