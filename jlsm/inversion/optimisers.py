"""Optimisers of the multi-start inversion: Adam (default first order), L-BFGS and Gauss-Newton.

Each works on one start's unconstrained parameters; :func:`jlsm.inverse.invert`
vmaps them over the starts.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import TYPE_CHECKING

import equinox as eqx
import jax
import jax.numpy as jnp

from .._linalg import spd_solve

if TYPE_CHECKING:
    import optax


@functools.lru_cache(maxsize=32)
def default_optimizer(steps: int, learning_rate: float = 0.05) -> optax.GradientTransformation:
    """Adam with a cosine-decayed learning rate (to 1 % over ``steps``) and gradient clipping."""
    import optax

    schedule = optax.cosine_decay_schedule(learning_rate, max(steps, 1), alpha=0.01)
    return optax.chain(optax.clip_by_global_norm(10.0), optax.adam(schedule))


@functools.lru_cache(maxsize=8)
def _lbfgs():
    import optax

    return optax.lbfgs()


class _GaussNewtonState(eqx.Module):
    residual: jnp.ndarray
    jacobian: jnp.ndarray
    damping: jnp.ndarray
    fresh: jnp.ndarray  # True until the first step has linearised at the starting point
    predicted: jnp.ndarray  # relative decrease of sum(r**2) the last proposed step's linear model promised


@dataclasses.dataclass(frozen=True)
class _GaussNewton:
    """Levenberg-Marquardt steps on r(u): (J^T J + mu diag(J^T J)) d = -J^T r.

    A step is taken when it lowers sum(r**2) (then mu /= 3), otherwise the
    point stays and mu *= 4. The Jacobian comes from forward mode
    (``jax.jacfwd``), one pass per step carrying P tangents. Each step also
    records the relative decrease its linear model promised, which tells a
    rejected step at a minimum (promise below ``ftol``) from one the damping
    still has to shorten (see :class:`Tolerances`).
    """

    objective: Objective

    def _linearise(self, u, problem):
        return _linearise(self.objective, u, problem)

    def init(self, u, problem):
        """A fresh state: no model run. The first step linearises at ``u`` instead of
        stepping, so the set-up and the steps share one compiled Jacobian."""
        m = problem[2].values.size  # one residual per observed value (see Objective.residual)
        zero = jnp.zeros((), u.dtype)
        return _GaussNewtonState(
            jnp.zeros((m,), u.dtype), jnp.zeros((m, u.shape[0]), u.dtype), zero + 1e-3, jnp.asarray(True),
            zero + jnp.inf,
        )

    def step(self, u, st: _GaussNewtonState, problem):
        """Returns (loss at u, gradient at u, update, new state).

        From a fresh state, the step linearises at ``u`` (update zero) and the
        returned loss and gradient are those at ``u``.
        """
        r, jac, mu, fresh = st.residual, st.jacobian, st.damping, st.fresh
        jtj = jac.T @ jac
        scale = jnp.maximum(jnp.diag(jtj), jnp.finfo(u.dtype).eps * jnp.max(jnp.diag(jtj)))
        delta = spd_solve(jtj + mu * jnp.diag(scale), -jac.T @ r)
        usable = jnp.all(jnp.isfinite(delta)) & ~fresh
        delta = jnp.where(usable, delta, 0.0)
        r_try, jac_try = self._linearise(u + delta, problem)
        loss_at_u, loss_try = jnp.sum(r**2), jnp.sum(r_try**2)
        # sum(r**2) - sum((r + J delta)**2), relative: what the step's linear model promised
        j_delta = jac @ delta
        promised = -(2.0 * (r @ j_delta) + j_delta @ j_delta) / jnp.maximum(loss_at_u, jnp.finfo(u.dtype).tiny)
        accept = fresh | (jnp.isfinite(loss_try) & (loss_try < loss_at_u))
        new = _GaussNewtonState(
            residual=jnp.where(accept, r_try, r),
            jacobian=jnp.where(accept, jac_try, jac),
            damping=jnp.where(fresh, mu, jnp.clip(jnp.where(accept, mu / 3.0, mu * 4.0), 1e-12, 1e12)),
            fresh=jnp.asarray(False),
            predicted=jnp.where(usable, promised, jnp.inf),
        )
        loss = jnp.where(fresh, loss_try, loss_at_u)
        grad = 2.0 * jnp.where(fresh, jac_try.T @ r_try, jac.T @ r)
        return loss, grad, jnp.where(accept & ~fresh, delta, 0.0), new


@eqx.filter_jit
def _linearise(objective, u, problem):
    """Residual r(u) and its Jacobian (forward mode) for one start.

    Compiled as its own function: every use in a program shares one trace of it.
    """
    jac, r = jax.jacfwd(lambda v: (objective.residual(v, problem),) * 2, has_aux=True)(u)
    return r, jac
