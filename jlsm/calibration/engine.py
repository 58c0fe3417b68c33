"""The compiled engine of the multi-site calibration: parameters to fluxes to losses, batched.

One (site, start) optimisation step with divergence and convergence
bookkeeping (:func:`_one`), chunks of steps over every site x start
(``vmap`` over sites outside, starts inside: a site's arrays are not copied
per start), and batched evaluation of parameter sets (:func:`evaluate_sets`,
:func:`simulate_sets`). Parameters are mapped from the unconstrained space of
each site's bounds, passed as (S, P) arrays (see :func:`_to_physical`).
Programs are compiled with :func:`jlsm._compile.jit` (arrays traced,
everything else static; XLA's classic CPU emitters).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from jlsm._compile import jit as _jit
from jlsm.params import ParameterSpace

from .objectives import get_objective

if TYPE_CHECKING:
    from .calibrate import CalibrationData

RUNNING, CONVERGED, DIVERGED, MAX_STEPS = 0, 1, 2, 3
STATUS_NAMES = ("running", "converged", "diverged", "max_steps")
DIVERGENCE_CAUSES = ("none", "loss", "gradient", "update")
"""Why a start diverged: its loss, its gradient (the loss finite) or the optimiser's update was NaN/Inf."""
OUTPUT_FIELDS = {"Qh": "qh", "Qle": "qle", "Rnet": "rnet", "Qg": "qg"}
"""Observation name (ALMA) -> field of the simulate function's output [W m-2]."""

__all__ = ["DIVERGENCE_CAUSES", "OUTPUT_FIELDS", "STATUS_NAMES", "evaluate_sets", "simulate_sets"]


def _to_physical(u, lower, upper, log):
    """x from u for one site: sigmoid or log-sigmoid in the bounds (double-where safe)."""
    s = jax.nn.sigmoid(u)
    logm = jnp.asarray(log)
    ratio = jnp.where(logm, upper / jnp.where(logm, lower, 1.0), 1.0)
    lo_safe = jnp.where(logm, lower, 1.0)
    lg = jnp.clip(lo_safe * jnp.exp(jnp.log(ratio) * s), lower, upper)
    return jnp.where(logm, lg, lower + (upper - lower) * s)


class _Site(eqx.Module):
    """Arrays of the sites (leading axis S), as the engine sees them."""

    model: Any
    forcing: Any
    obs: jnp.ndarray  # (S, T, V)
    fit: jnp.ndarray  # (S, T)
    sigma: Any  # (S, T, V) or None
    lower: jnp.ndarray  # (S, P)
    upper: jnp.ndarray  # (S, P)


@dataclasses.dataclass(frozen=True)
class _Problem:
    """Static description (hashable): how parameters become fluxes and a loss."""

    setter: ParameterSpace  # free parameters only (fixed values already in the base models)
    simulate: Callable
    fields: tuple[str, ...]
    objective: Callable
    log: tuple[bool, ...]

    def simulated(self, x, site: _Site):
        model = self.setter.physical_to_model(x, site.model)
        out = self.simulate(model, site.forcing)
        return jnp.stack([getattr(out, f) for f in self.fields], axis=-1)

    def loss(self, u, site: _Site):
        x = _to_physical(u, site.lower, site.upper, self.log)
        return self.objective(self.simulated(x, site), site.obs, site.fit, site.sigma)


class _State(eqx.Module):
    u: jnp.ndarray
    opt_state: Any
    loss: jnp.ndarray
    best_u: jnp.ndarray
    best_loss: jnp.ndarray
    status: jnp.ndarray
    quiet: jnp.ndarray
    iterations: jnp.ndarray
    cause: jnp.ndarray  # why a start diverged: DIVERGENCE_CAUSES index


@dataclasses.dataclass(frozen=True)
class _Spec:
    optimizer: Any
    problem: _Problem
    kind: str  # "adam" or "lbfgs"
    ftol: float
    patience: int


def _one(s: _State, site: _Site, spec: _Spec):
    """One step of one (site, start), with convergence and divergence bookkeeping."""
    import optax

    def f(u):
        return spec.problem.loss(u, site)

    if spec.kind == "lbfgs":
        loss, grad = optax.value_and_grad_from_state(f)(s.u, state=s.opt_state)
        updates, opt_state = spec.optimizer.update(grad, s.opt_state, s.u, value=loss, grad=grad, value_fn=f)
    else:
        loss, grad = jax.value_and_grad(f)(s.u)
        updates, opt_state = spec.optimizer.update(grad, s.opt_state, s.u)
    u_new = s.u + updates
    running = s.status == RUNNING
    finite = jnp.isfinite(loss) & jnp.all(jnp.isfinite(grad)) & jnp.all(jnp.isfinite(u_new))
    rel = jnp.abs(loss - s.loss) / jnp.maximum(jnp.abs(s.loss), jnp.finfo(loss.dtype).tiny)
    rel = jnp.where(jnp.isfinite(s.loss), rel, jnp.inf)
    quiet = jnp.where(rel < spec.ftol, s.quiet + 1, 0)
    converged = quiet >= spec.patience
    status = jnp.where(running, jnp.where(~finite, DIVERGED, jnp.where(converged, CONVERGED, RUNNING)), s.status)
    cause = jnp.where(~jnp.isfinite(loss), 1, jnp.where(~jnp.all(jnp.isfinite(grad)), 2, 3))
    cause = jnp.where(running & ~finite, cause, s.cause)
    advance = running & finite & ~converged
    # the loss at s.u is a valid candidate even when its gradient or the update is not finite
    better = running & jnp.isfinite(loss) & (loss < s.best_loss)

    def pick(new, old):
        return jnp.where(advance, new, old)

    new = _State(
        u=pick(u_new, s.u),
        opt_state=jax.tree_util.tree_map(pick, opt_state, s.opt_state),
        loss=jnp.where(running & finite, loss, s.loss),
        best_u=jnp.where(better, s.u, s.best_u),
        best_loss=jnp.where(better, loss, s.best_loss),
        status=status.astype(jnp.int32),
        quiet=jnp.where(running, quiet, s.quiet).astype(jnp.int32),
        iterations=s.iterations + running.astype(jnp.int32),
        cause=cause.astype(jnp.int32),
    )
    recorded = jnp.where(running & finite, loss, jnp.where(status == DIVERGED, jnp.nan, s.loss))
    return new, recorded


@_jit
def _init(opt, u_or_state):
    """The state of every (site, start) at the start of a phase."""
    if isinstance(u_or_state, _State):
        u, prev = u_or_state.best_u, u_or_state
    else:
        u, prev = u_or_state, None
    opt_state = jax.vmap(jax.vmap(opt.init))(u)
    shape = u.shape[:2]
    if prev is None:
        inf = jnp.full(shape, jnp.inf, u.dtype)
        zero = jnp.zeros(shape, jnp.int32)
        return _State(u, opt_state, inf, u, inf, zero, zero, zero, zero)
    return _State(u, opt_state, prev.best_loss, prev.best_u, prev.best_loss, prev.status,
                  jnp.zeros_like(prev.quiet), prev.iterations, prev.cause)


@_jit
def _chunk(state: _State, site: _Site, n, length: int, spec: _Spec):
    """Up to ``n`` (traced, <= ``length``) steps of every (site, start); losses (length, S, K)."""
    step = jax.vmap(jax.vmap(_one, in_axes=(0, None, None)), in_axes=(0, 0, None))
    losses = jnp.zeros((length,) + state.loss.shape, state.loss.dtype)

    def cond(c):
        i, s, _ = c
        return (i < n) & jnp.any(s.status == RUNNING)

    def body(c):
        i, s, rows = c
        s, rec = step(s, site, spec)
        return i + 1, s, rows.at[i].set(rec)

    done, state, losses = jax.lax.while_loop(cond, body, (jnp.asarray(0, jnp.int32), state, losses))
    frozen = jnp.where(state.status == DIVERGED, jnp.nan, state.loss)
    losses = jnp.where((jnp.arange(length) < done)[:, None, None], losses, frozen[None])
    return state, losses


@_jit
def _physical(u, lower, upper, log):
    return jax.vmap(jax.vmap(lambda v, lo, hi: _to_physical(v, lo, hi, log), in_axes=(0, None, None)))(u, lower, upper)


@_jit
def _simulate_sets(problem: _Problem, site: _Site, x):
    """Simulated fluxes (S, N, T, V) of parameter sets x (S, N, P)."""
    return jax.vmap(jax.vmap(problem.simulated, in_axes=(0, None)), in_axes=(0, 0))(x, site)


@_jit
def _evaluate_sets(problem: _Problem, site: _Site, x, windows):
    """Objective on the fit window (S, N) and per-variable RMSE (S, N, W, V) on ``windows`` (S, W, T)."""
    from .objectives import masked_rmse

    def one(xi, s, w):
        sim = problem.simulated(xi, s)
        loss = problem.objective(sim, s.obs, s.fit, s.sigma)
        rm = jax.vmap(lambda m: masked_rmse(sim, s.obs, m))(w)
        return loss, rm

    return jax.vmap(jax.vmap(one, in_axes=(0, None, None)), in_axes=(0, 0, 0))(x, site, windows)


# ---------------------------------------------------------------- set-up


def _dtype(tree):
    leaves = [x for x in jax.tree_util.tree_leaves(tree) if eqx.is_inexact_array(x)]
    return jnp.result_type(*leaves) if leaves else jnp.result_type(float)


def _free_space(space: ParameterSpace) -> ParameterSpace:
    return ParameterSpace({p.name: p for p in space.parameters})


def _problem(data: CalibrationData, objective, variables) -> _Problem:
    fields = tuple(OUTPUT_FIELDS.get(v, v.lower()) for v in variables)
    return _Problem(_free_space(data.spaces[0]), data.simulate, fields, get_objective(objective), data.log)


def _site_arrays(data: CalibrationData, variables, stop=None, fit=None) -> _Site:
    """Engine arrays; time-varying arrays cut to ``stop`` steps (spin-up + fit windows only)."""
    n_t = data.n_times
    dtype = _dtype(data.forcing)
    stop = n_t if stop is None else stop

    def cut(a):
        if eqx.is_array(a) and a.ndim >= 2 and a.shape[1] == n_t:
            return a[:, :stop]
        return a

    forcing = jax.tree_util.tree_map(cut, data.forcing)
    obs = np.stack([np.asarray(data.obs[v], float) for v in variables], axis=-1)[:, :stop]
    sigma = None
    if data.sigma is not None:
        sigma = np.stack([np.asarray(data.sigma[v], float) for v in variables], axis=-1)[:, :stop]
        sigma = jnp.asarray(sigma, dtype)
    mask = data.fit if fit is None else fit
    return _Site(data.models, forcing, jnp.asarray(obs, dtype), jnp.asarray(mask[:, :stop]), sigma,
                 jnp.asarray(data.lower, dtype), jnp.asarray(data.upper, dtype))


def _padded_chunks(x, chunk):
    """Slices of x (S, N, P) along N of one size (a power of two up to ``chunk``, the last
    padded by repeating its last set), so that all calls share one compiled shape; yields
    (block, valid count)."""
    n = x.shape[1]
    size = min(int(chunk), 1 << max(n - 1, 0).bit_length())
    for k in range(0, n, size):
        block = x[:, k:k + size]
        valid = block.shape[1]
        if valid < size:
            block = np.concatenate([block, np.repeat(block[:, -1:], size - valid, axis=1)], axis=1)
        yield block, valid


def simulate_sets(data: CalibrationData, x, *, variables: Sequence[str] | None = None, chunk: int = 32) -> np.ndarray:
    """Simulated fluxes (S, N, T, V) [W m-2] of physical parameter sets ``x`` (S, N, P) over the whole record."""
    variables = tuple(variables or [v for v in data.obs if v in OUTPUT_FIELDS])
    problem = dataclasses.replace(_problem(data, "mdpl", ("Qh", "Qle")),
                                  fields=tuple(OUTPUT_FIELDS.get(v, v.lower()) for v in variables))
    site = _site_arrays(data, ("Qh", "Qle"))
    dtype = _dtype(data.forcing)
    parts = [np.asarray(_simulate_sets(problem, site, jnp.asarray(b, dtype)))[:, :k]
             for b, k in _padded_chunks(np.asarray(x, dtype=float), chunk)]
    return np.concatenate(parts, axis=1)


def evaluate_sets(data: CalibrationData, x, *, objective="mdpl", variables=("Qh", "Qle"), chunk: int = 32):
    """Fit-window objective (S, N) and RMSE (S, N, window(fit, test), V) [W m-2] of parameter sets (S, N, P).

    Only losses leave the compiled computation (no series), in chunks of at
    most ``chunk`` sets: memory stays that of ``chunk`` runs per site.
    """
    problem = _problem(data, objective, variables)
    site = _site_arrays(data, variables)
    dtype = _dtype(data.forcing)
    windows = jnp.asarray(np.stack([data.fit, data.test], axis=1))
    losses, rmse = [], []
    for b, k in _padded_chunks(np.asarray(x, dtype=float), chunk):
        lo, rm = _evaluate_sets(problem, site, jnp.asarray(b, dtype), windows)
        losses.append(np.asarray(lo)[:, :k])
        rmse.append(np.asarray(rm)[:, :k])
    return np.concatenate(losses, axis=1), np.concatenate(rmse, axis=1)
