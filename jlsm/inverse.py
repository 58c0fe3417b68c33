"""Multi-start parameter inversion with Optax, ``jit`` and ``vmap``.

Longer than the house limit: what remains here is the ``invert`` driver, one control
flow of phases, chunks, interrupts, checkpoints and progress; its results,
checkpoint files and optimisers live in :mod:`jlsm.inversion`.

All starts advance together: one optimisation step of every start is a
``vmap`` of value-and-gradient plus an Optax update, and a chunk of steps is a
jitted ``lax.scan``. Between chunks the driver reports progress (tqdm), calls
the user's callback and may save a checkpoint. Each start carries a status:

* ``running`` (0): still optimising;
* ``converged`` (1): the relative change of the loss and the change of the
  unconstrained parameters stayed below tolerance for ``patience`` steps, or
  the gradient vanished; the start is frozen (masked) from then on;
* ``diverged`` (2): the loss or gradient became NaN/Inf; the start is frozen
  at its last finite point, the others go on;
* ``max_steps`` (3): still running when the iteration budget ran out.

Each start also gets a verdict from the misfit it reached (``best_basin``,
``other_basin``, ``at_bound``, ``diverged``; see :mod:`jlsm.inversion.results`);
the summaries use the best-basin starts.

An optional L-BFGS polish (``optax.lbfgs`` with its zoom line search) follows
the first-order phase.

Optax and xarray are imported when first needed (a Gauss-Newton-only run
never loads Optax; xarray is loaded while the first chunk runs), so that a
fresh process gets to its first compiled step sooner.
"""

from __future__ import annotations

import dataclasses
import json

import time as _time
from pathlib import Path
from collections.abc import Callable
from typing import TYPE_CHECKING

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ._compile import jit as _jit
from ._gc import paused_gc
from .errors import InputError, ObservationError, ParameterError
from .forcing import Forcing
from .model import LandSurfaceModel, simulate
from .objective import misfit, residuals
from .observe import Observations
from .inversion.checkpoint import InversionInterrupted, Pacer, fetch, load_checkpoint, save_checkpoint, sigint_as_flag
from .inversion.optimisers import _GaussNewton, _lbfgs, default_optimizer
from .inversion.results import (
    CONVERGED,
    DIVERGED,
    MAX_STEPS,
    RUNNING,
    STATUS_NAMES,
    VERDICT_NAMES,
    metric_units,
    results_dataset,
    series_dataset,
    status_counts,
    verdict_counts,
)
from .params import ALIASES, ParameterSpace

if TYPE_CHECKING:
    import optax
    import xarray as xr


@dataclasses.dataclass(frozen=True)
class Tolerances:
    """Per-start convergence tests (in the unconstrained space).

    Attributes:
        ftol: relative change of the loss between steps.
        xtol: largest change of an unconstrained parameter between steps.
        gtol: largest gradient component; below it the start has converged.
        patience: consecutive steps that must pass ``ftol`` and ``xtol``. In the
            Gauss-Newton polish a rejected step passes when its linear model
            promised a relative decrease below ``ftol`` (at a minimum, or along a
            valley of parameters the data do not identify, every step is rejected
            so), and fails otherwise.
    """

    ftol: float = 1e-10
    xtol: float = 1e-7
    gtol: float = 1e-12
    patience: int = 5


class _StartState(eqx.Module):
    u: jnp.ndarray
    opt_state: object
    loss: jnp.ndarray
    best_u: jnp.ndarray
    best_loss: jnp.ndarray
    status: jnp.ndarray
    quiet: jnp.ndarray
    iterations: jnp.ndarray


@dataclasses.dataclass(frozen=True)
class Objective:
    """The misfit J(u) of unconstrained parameters ``u`` (P,), a pure, hashable function.

    Called as ``objective(u, problem)`` with ``problem = (model, forcing,
    observations, initial)``: the model (its free parameters set from ``u``)
    runs over the whole forcing from the initial temperature (None: the bottom
    temperature), and the misfit uses every observed (non-NaN) value. Being
    hashable by value, the same objective reuses compiled code across calls.
    """

    space: ParameterSpace
    checkpoint_every: int | None = None

    def simulated(self, u, problem, *, physical: bool = False):
        """Model counterparts of the observations (T, V) at ``u`` (or physical values)."""
        base, f, obs, initial = problem
        m = self.space.physical_to_model(u, base) if physical else self.space.to_model(u, base)
        out = simulate(m, f, initial=initial, depths=obs.depths, checkpoint_every=self.checkpoint_every, bottom_flux=False)
        return obs.simulated(out)

    def __call__(self, u, problem):
        obs = problem[2]
        return misfit(self.simulated(u, problem), obs.values, obs.scale)

    def residual(self, u, problem):
        """Residual vector r with sum(r**2) = J (for Gauss-Newton)."""
        obs = problem[2]
        r, mask = residuals(self.simulated(u, problem), obs.values, obs.scale)
        count = jnp.maximum(jnp.sum(mask, axis=0), 1)
        return (r / jnp.sqrt(count * r.shape[1])).ravel()


def invert(
    model: LandSurfaceModel,
    forcing: Forcing,
    observations: Observations,
    space: ParameterSpace,
    *,
    starts: int | np.ndarray = 50,
    seed: int = 0,
    sampler: str = "sobol",
    initial=None,
    fit: tuple[int, int] | None = None,
    validate: tuple[int, int] | None = None,
    steps: int = 0,
    optimizer: optax.GradientTransformation | None = None,
    learning_rate: float = 0.05,
    polish: int = 50,
    polish_method: str = "gauss-newton",
    tolerances: Tolerances = Tolerances(),
    chunk: int = 50,
    checkpoint_every: int | None = None,
    progress: bool = False,
    callback: Callable[[dict], None] | None = None,
    time=None,
    checkpoint=None,
    checkpoint_interval: int = 1,
    resume: bool = False,
    reference=None,
) -> xr.Dataset:
    """Estimate the free parameters of ``space`` from ``observations`` by multi-start optimisation.

    Args:
        model: base model; its non-free parameters stay as they are (after the
            space's fixed values are written in).
        forcing: forcing over the whole period used (fit and validation windows).
        observations: on the forcing's time axis (same T), NaN = missing.
        space: the :class:`~jlsm.params.ParameterSpace`.
        starts: number of random starts, or an array (S, P) of physical starting values.
        seed: seed of the start sampler; same seed, same result.
        sampler: ``"sobol"`` or ``"uniform"``.
        initial: initial temperature for :func:`~jlsm.model.simulate`
            (None: the bottom temperature, so it moves with a free Tb).
        fit: time indices [start, stop) whose observations enter the loss; the
            model is run from index 0 to ``stop`` (earlier indices are spin-up).
            Default: all.
        validate: time indices [start, stop) of a held-out window for metrics.
        steps: iterations of the first-order optimiser (default 0: for a
            handful of parameters the Gauss-Newton polish alone converges
            fastest; give Adam steps for many parameters or rough objectives).
        optimizer: any Optax transformation; default :func:`default_optimizer`.
        learning_rate: for the default optimiser.
        polish: iterations of a second-order polish after the first-order
            phase (default 50; 0: none).
        polish_method: ``"gauss-newton"`` (Levenberg-Marquardt on the
            residual vector, Jacobian by forward mode: fast for a handful of
            parameters) or ``"lbfgs"`` (``optax.lbfgs`` with line search).
        tolerances: convergence tests.
        chunk: iterations per compiled chunk (progress, callback granularity).
        checkpoint_every: scan checkpointing of the model run (long records).
        progress: show a tqdm progress bar.
        callback: called after each chunk with a dict (iteration, loss (S,), status (S,)).
        time: optional time coordinate (T,) of the forcing, stored in the results.
        checkpoint: a folder; the optimiser state is saved there every
            ``checkpoint_interval`` chunks, at the end of each phase and on
            Ctrl-C (``state.eqx``, ``history.npz``, ``meta.json``).
        checkpoint_interval: chunks between checkpoints.
        resume: continue from the checkpoint in ``checkpoint`` (same problem,
            seed and settings); the result is bit-identical to an
            uninterrupted run on the same machine (see
            :mod:`jlsm.inversion.checkpoint`).
        reference: optional reference parameter values (a mapping by name
            or P values): the model is also run at them for the stored series.

    Raises:
        InversionInterrupted: on Ctrl-C (within about a second), carrying the
            partial results of the last completed steps (also written to
            ``checkpoint/partial.nc`` when checkpointing).

    Returns:
        An ``xarray.Dataset``; see :func:`~jlsm.inversion.results.results_dataset`
        for the estimates and verdicts. It also holds ``metric_value`` (start,
        window, variable, metric) with ``metric_units``, and the series
        ``observed``, ``simulated`` (best start) and ``simulated_reference``
        (time, variable) with ``variable_units`` and ``time_window``, on
        ``time`` (the ``time`` argument, else seconds from the first step).
    """
    t_start = _time.perf_counter()
    fit, validate = _check_problem(model, forcing, observations, space, fit, validate, steps, polish, chunk, time)
    if not isinstance(starts, (int, np.integer)):
        starts = _check_starts(space, starts)
    ref = _reference_vector(space, reference)

    fit_forcing = _window(forcing, fit[1])
    fit_obs = observations.window(*fit)
    fit_obs = Observations(np.asarray(fit_obs.values)[: fit[1]], fit_obs.observables, fit_obs.scale)
    n_observed = int(np.sum(np.isfinite(np.asarray(fit_obs.values))))
    initial_array = _initial_array(initial, fit_forcing)
    problem = (model, fit_forcing, fit_obs, initial_array)
    objective = Objective(space, checkpoint_every)
    dtype = _float_dtype(problem)

    phases = [("first_order", optimizer or default_optimizer(steps, learning_rate), steps)] if steps else []
    if polish:
        if polish_method == "lbfgs":
            phases.append(("lbfgs", _lbfgs(), polish))
        elif polish_method == "gauss-newton":
            phases.append(("gauss-newton", _GaussNewton(objective), polish))
        else:
            raise InputError(f"invert: polish_method must be 'gauss-newton' or 'lbfgs', got {polish_method!r}")
    if not resume:  # compile while the starting points are drawn and the result modules load
        n = int(starts) if isinstance(starts, (int, np.integer)) else starts.shape[0]
        _compile_ahead(phases, problem, objective, tolerances, chunk, n, space.size, dtype,
                       _metrics_problem(model, forcing, observations, initial, fit, validate), ref is not None)
        _import_result_modules()

    u0, x0 = _starting_points(space, starts, seed, sampler)
    n_starts = u0.shape[0]
    # host-side set-up stays in NumPy: every eager jnp operation is a separate
    # compilation (or cache look-up) in a fresh process
    u0 = jax.device_put(np.asarray(_pad_to_devices(np.asarray(u0)), dtype=dtype))
    meta = {
        "parameters": list(space.names),
        "starts": int(n_starts),
        "seed": int(seed),
        "sampler": sampler,
        "steps": int(steps),
        "polish": int(polish),
        "polish_method": polish_method,
        "chunk": int(chunk),
        "observed": list(observations.names),
        "fit": list(fit),
    }
    checkpoint = Path(checkpoint) if checkpoint is not None else None
    u0_host = np.asarray(u0)
    histories, state, start_phase, start_done, state_phase = [], None, 0, 0, 0
    if resume:
        if checkpoint is None:
            raise InputError("invert: resume=True needs checkpoint=PATH")

        def template(state_phase, saved_dtype):
            return _init_state(phases[state_phase][1], problem, jnp.asarray(u0_host, dtype=saved_dtype))

        state, histories, start_phase, start_done, state_phase = load_checkpoint(checkpoint, meta, u0_host, template)
        if start_phase >= len(phases):
            start_done = 0
    # the last completed point: (state, history rows, phase, steps done in it, phase of the state's layout);
    # Ctrl-C keeps it and a checkpoint saves it, never a chunk in flight
    committed = (state, list(histories), start_phase, start_done, state_phase)
    bar = _progress_bar(progress, sum(p[2] for p in phases), n_starts)
    done = sum(h.shape[0] for h in histories)
    pacer = Pacer(0.5 if checkpoint is not None else None)  # short calls: a prompt Ctrl-C
    chunks_run = 0
    with sigint_as_flag() as flag:
        try:
            for i, (phase, opt, n_steps) in enumerate(phases):
                if i < start_phase:
                    continue
                if i > start_phase or state is None or start_done == 0:
                    state = _init_state(opt, problem, u0 if state is None else state)
                state = _shard(state)
                spec = _ChunkSpec(opt, objective, tolerances, phase)
                pos = start_done if i == start_phase else 0
                # one compiled chunk per phase: the number of steps is an argument, not a constant
                length = min(chunk, n_steps)
                status = np.asarray(state.status)
                while pos < n_steps and np.any(status == RUNNING):
                    if flag.raised:
                        raise KeyboardInterrupt
                    # the chunk grid is counted from the start of the phase, whatever was
                    # interrupted; each call runs part of a chunk, sized to take ~0.5 s
                    grid_end = min((pos // chunk + 1) * chunk, n_steps)
                    k = pacer.steps(grid_end - pos)
                    t_call = _time.perf_counter()
                    new_state, losses = _run_chunk(state, problem, np.asarray(k, np.int32), length, spec)
                    if chunks_run == 0 and pos == 0:
                        _import_result_modules()  # while the first chunk runs (asynchronous dispatch)
                    rows = fetch(losses, flag)[:k]
                    pacer.record(k, _time.perf_counter() - t_call)
                    status = np.asarray(new_state.status)
                    if not np.any(status == RUNNING) and pos + k < grid_end:
                        # as a whole chunk would: the frozen losses fill the rest of it
                        frozen = np.where(status == DIVERGED, np.nan, np.asarray(new_state.loss))
                        rows = np.concatenate([rows, np.broadcast_to(frozen, (grid_end - pos - k, frozen.size))])
                    state, pos = new_state, pos + rows.shape[0]
                    histories.append(rows)
                    done += rows.shape[0]
                    committed = (state, list(histories), i, pos, i)
                    if bar is not None:
                        bar.update(rows.shape[0])
                    if pos < grid_end:
                        continue
                    chunks_run += 1
                    if checkpoint is not None and chunks_run % checkpoint_interval == 0:
                        save_checkpoint(checkpoint, meta, state, histories, i, pos, u0_host, i)
                    if bar is not None:
                        bar.set_postfix(best=f"{float(np.nanmin(np.asarray(state.best_loss))):.3g}",
                                        converged=int(np.sum(status == CONVERGED)),
                                        diverged=int(np.sum(status == DIVERGED)))
                    if callback is not None:
                        callback({"iteration": done, "phase": phase, "loss": np.asarray(state.loss), "status": status})
                # starts that converged in the first-order phase may improve with the polish
                if phase == "first_order" and polish:
                    reset = np.where(np.asarray(state.status) == DIVERGED, DIVERGED, RUNNING).astype(np.int32)
                    state = eqx.tree_at(lambda s: s.status, state, jax.device_put(reset))
                committed = (state, list(histories), i + 1, 0, i)
                if checkpoint is not None:
                    save_checkpoint(checkpoint, meta, state, histories, i + 1, 0, u0_host, i)
            if flag.raised:  # Ctrl-C after the last chunk's check: still an interruption, never ignored
                raise KeyboardInterrupt
        except KeyboardInterrupt:
            state, histories, phase_at, done_at, state_phase = committed
            partial, partial_path = None, None
            if state is not None:
                partial = _assemble(space, x0, state, histories, n_starts, n_observed, partial=True)
                partial.attrs["interrupted_after_iteration"] = sum(h.shape[0] for h in histories)
            if checkpoint is not None and state is not None:
                save_checkpoint(checkpoint, meta, state, histories, phase_at, done_at, u0_host, state_phase)
                if partial is not None:
                    partial_path = checkpoint / "partial.nc"
                    partial.to_netcdf(partial_path)
            raise InversionInterrupted(partial, checkpoint, partial_path) from None
        finally:
            if bar is not None:
                bar.close()

    result = _assemble(space, x0, state, histories, n_starts, n_observed)
    final = result["final"].values[:, : space.size]
    best = int(result["best_start"])
    result = result.merge(
        _evaluate(model, forcing, observations, space, final, best, ref, initial, fit, validate, time), join="exact"
    )
    result.attrs.update(
        {
            "wall_seconds": _time.perf_counter() - t_start,
            "seed": seed,
            "sampler": sampler,
            "starts": n_starts,
            "steps": steps,
            "polish": polish,
            "fit_window": list(fit),
            "validation_window": list(validate) if validate else [],
            "devices": len(jax.devices()),
            "dtype": str(dtype),
            "observed": json.dumps(list(observations.names)),
            "fixed": json.dumps({k: float(np.asarray(v)) for k, v in space.fixed.items()}),
        }
    )
    if time is not None:
        result.attrs["fit_start_time"] = str(np.asarray(time)[fit[0]])
        result.attrs["fit_end_time"] = str(np.asarray(time)[fit[1] - 1])
    if ref is not None:
        result.attrs["reference"] = json.dumps(dict(zip(space.names, ref.tolist())))
    return result


# ----------------------------------------------------------------- checking


def _assemble(space, x0, state, histories, n_starts, n_observed, partial=False) -> xr.Dataset:
    status = np.asarray(state.status)
    final_status = status if partial else np.where(status == RUNNING, MAX_STEPS, status)
    history = np.concatenate(histories, axis=0).T[:n_starts] if histories else np.zeros((n_starts, 0))
    final = np.asarray(_to_physical(space, state.best_u))[:n_starts]
    return results_dataset(
        space,
        initial=x0,
        final=final,
        loss_history=history,
        final_loss=np.asarray(state.best_loss)[:n_starts],
        status=final_status[:n_starts],
        iterations=np.asarray(state.iterations)[:n_starts],
        n_observed=n_observed,
    )


def _reference_vector(space, reference):
    """Reference parameter values (P,) from a mapping by name or a sequence, checked; None stays None."""
    if reference is None:
        return None
    if isinstance(reference, dict):
        canonical = {ALIASES.get(k, k): v for k, v in reference.items()}
        missing = [n for n in space.names if n not in canonical]
        if missing:
            raise ParameterError(f"invert: reference values lack {missing} (free: {list(space.names)})")
        values = np.array([float(canonical[n]) for n in space.names])
    else:
        values = np.asarray(reference, dtype=float).ravel()
        if values.shape != (space.size,):
            raise ParameterError(
                f"invert: reference must have {space.size} values ({', '.join(space.names)}), got shape {values.shape}"
            )
    if not np.all(np.isfinite(values)):
        raise ParameterError(f"invert: reference values must be finite, got {values.tolist()}")
    return values


def _window(forcing, stop):
    """The forcing up to ``stop`` (the same object when that is all of it: no slicing op)."""
    return forcing if stop == forcing.n_times else forcing.window(0, stop)


def _initial_array(initial, forcing):
    """The initial temperature as a device array of the forcing's dtype (None stays None)."""
    if initial is None:
        return None
    return jax.device_put(np.asarray(initial, dtype=forcing.t_air.dtype))


def _import_result_modules():
    """Import what assembling the results needs (xarray, metrics); called while a chunk runs."""
    with paused_gc():
        import xarray  # noqa: F401

        from . import metrics  # noqa: F401


def _check_problem(model, forcing, observations, space, fit, validate, steps, polish, chunk, time=None):
    if not isinstance(observations, Observations):
        raise ObservationError(f"invert: observations must be jlsm.Observations, got {type(observations).__name__}")
    if observations.n_times != forcing.n_times:
        raise ObservationError(
            f"invert: observations have {observations.n_times} times but the forcing has {forcing.n_times}; "
            "put the observations on the forcing's time axis"
        )
    space.check_model(model)
    n = forcing.n_times
    fit = (0, n) if fit is None else tuple(int(i) for i in fit)
    if not (0 <= fit[0] < fit[1] <= n) or fit[1] < 2:
        raise InputError(f"invert: fit window {fit} is empty or outside the forcing's 0..{n} time indices")
    if not np.any(np.isfinite(np.asarray(observations.values)[fit[0] : fit[1]])):
        raise ObservationError(f"invert: no observation in the fit window {fit}")
    if validate is not None:
        validate = tuple(int(i) for i in validate)
        if not (0 <= validate[0] < validate[1] <= n):
            raise InputError(f"invert: validation window {validate} is empty or outside the forcing's 0..{n} time indices")
    if steps < 0 or polish < 0 or (steps + polish) < 1:
        raise InputError(f"invert: steps ({steps}) and polish ({polish}) must be >= 0 with at least one iteration")
    if chunk < 1:
        raise InputError(f"invert: chunk must be >= 1, got {chunk}")
    if time is not None and np.shape(time) != (n,):
        raise InputError(f"invert: time must have one value per forcing step ({n}), got shape {np.shape(time)}")
    return fit, validate


def _check_starts(space, starts) -> np.ndarray:
    """Starting values given as an array: (S, P) physical values."""
    x0 = np.atleast_2d(np.asarray(starts, dtype=float))
    if x0.ndim != 2 or x0.shape[-1] != space.size:
        raise ParameterError(
            f"invert: starting values must have shape (S, {space.size}) for {', '.join(space.names)}, got {x0.shape}"
        )
    return x0


def _starting_points(space, starts, seed, sampler):
    """(unconstrained, physical) starting values: ``starts`` drawn, or given as a checked (S, P) array."""
    if isinstance(starts, (int, np.integer)):
        if starts < 1:
            raise ParameterError(f"invert: number of starts must be >= 1, got {starts}")
        x0 = space.sample(int(starts), seed=seed, method=sampler)
    else:
        x0 = starts
    return space.to_unconstrained(x0), x0


def _compile_ahead(phases, problem, objective, tolerances, chunk, n_starts, n_params, dtype, metrics_problem,
                   with_reference=False):
    """Start compiling the programs of an inversion of ``n_starts`` starts (see :mod:`jlsm._compile`).

    The arguments are placeholders with the shapes and dtypes of the real
    calls below, so those calls find the programs compiled (or compiling).
    """
    if n_starts < 1 or len(jax.devices()) > 1:
        return
    state = jax.ShapeDtypeStruct((n_starts, n_params), dtype)
    for phase, opt, n_steps in phases:
        state = _init_state.ahead(opt, problem, state)
        spec = _ChunkSpec(opt, objective, tolerances, phase)
        state, _ = _run_chunk.ahead(state, problem, np.asarray(0, np.int32), min(chunk, n_steps), spec)
    _to_physical.ahead(objective.space, state.best_u)
    n_runs = n_starts + int(with_reference)  # the reference runs with the starts
    _simulate_starts.ahead(Objective(objective.space), jax.ShapeDtypeStruct((n_runs, n_params), dtype), metrics_problem)


# ------------------------------------------------------------------- engine


@_jit
def _init_state(opt, problem, u_or_state):
    """The state of every start at the beginning of a phase (one compiled call)."""
    if isinstance(u_or_state, _StartState):
        u = u_or_state.best_u
        previous = u_or_state
    else:
        u, previous = u_or_state, None
    if isinstance(opt, _GaussNewton):
        opt_state = jax.vmap(lambda v: opt.init(v, problem))(u)  # no model run: see _GaussNewton
    else:
        opt_state = jax.vmap(opt.init)(u)
    inf = jnp.full((u.shape[0],), jnp.inf, u.dtype)
    if previous is None:
        return _StartState(
            u=u,
            opt_state=opt_state,
            loss=inf,
            best_u=u,
            best_loss=inf,
            status=jnp.zeros(u.shape[0], jnp.int32),
            quiet=jnp.zeros(u.shape[0], jnp.int32),
            iterations=jnp.zeros(u.shape[0], jnp.int32),
        )
    return _StartState(
        u=u,
        opt_state=opt_state,
        loss=previous.best_loss,
        best_u=previous.best_u,
        best_loss=previous.best_loss,
        status=previous.status,
        quiet=jnp.zeros_like(previous.quiet),
        iterations=previous.iterations,
    )


@dataclasses.dataclass(frozen=True)
class _ChunkSpec:
    """Static description of a chunk of optimisation steps (hashable: compiled code is reused)."""

    optimizer: object
    objective: Objective
    tolerances: Tolerances
    kind: str


def _one_start(s: _StartState, problem, spec: _ChunkSpec):
    """One optimisation step of one start, with convergence and divergence bookkeeping."""
    opt, objective, tol, kind = spec.optimizer, spec.objective, spec.tolerances, spec.kind
    if kind == "gauss-newton":
        loss, grad, updates, opt_state = opt.step(s.u, s.opt_state, problem)
    elif kind == "lbfgs":
        import optax

        fn = lambda u: objective(u, problem)  # noqa: E731
        loss, grad = optax.value_and_grad_from_state(fn)(s.u, state=s.opt_state)
        updates, opt_state = opt.update(grad, s.opt_state, s.u, value=loss, grad=grad, value_fn=fn)
    else:
        loss, grad = jax.value_and_grad(objective)(s.u, problem)
        updates, opt_state = opt.update(grad, s.opt_state, s.u)
    u_new = s.u + updates
    running = s.status == RUNNING
    finite = jnp.isfinite(loss) & jnp.all(jnp.isfinite(grad)) & jnp.all(jnp.isfinite(u_new))
    rel = jnp.abs(loss - s.loss) / jnp.maximum(jnp.abs(s.loss), jnp.finfo(loss.dtype).tiny)
    rel = jnp.where(jnp.isfinite(s.loss), rel, jnp.inf)
    small = (rel < tol.ftol) & (jnp.max(jnp.abs(u_new - s.u)) < tol.xtol)
    stalled = jnp.asarray(False)
    if kind == "gauss-newton":
        # a rejected step is no evidence of convergence, unless its linear model
        # promised a relative decrease below ftol (at a minimum, or in a flat
        # valley of parameters the data do not identify, every step is rejected
        # with such a promise); nor is a damping that had to grow without bound
        accepted = jnp.any(updates != 0)
        small = jnp.where(accepted, small, opt_state.predicted < tol.ftol)
        stalled = opt_state.damping >= 1e10
    quiet = jnp.where(small, s.quiet + 1, 0)
    converged = (quiet >= tol.patience) | (jnp.max(jnp.abs(grad)) < tol.gtol) | stalled
    new_status = jnp.where(~finite, DIVERGED, jnp.where(converged, CONVERGED, RUNNING))
    status = jnp.where(running, new_status, s.status)
    advance = running & finite & ~converged
    better = running & finite & (loss < s.best_loss)

    def pick(new, old):
        return jnp.where(advance, new, old)

    new = _StartState(
        u=pick(u_new, s.u),
        opt_state=jax.tree_util.tree_map(pick, opt_state, s.opt_state),
        loss=jnp.where(running & finite, loss, s.loss),
        best_u=jnp.where(better, s.u, s.best_u),
        best_loss=jnp.where(better, loss, s.best_loss),
        status=status.astype(jnp.int32),
        quiet=jnp.where(running, quiet, s.quiet).astype(jnp.int32),
        iterations=s.iterations + running.astype(jnp.int32),
    )
    recorded = jnp.where(running & finite, loss, jnp.where(status == DIVERGED, jnp.nan, s.loss))
    if kind == "gauss-newton":
        # an accepted step's point comes with its loss (that of the new linearisation), so it
        # counts as the best point now, not only once a later step evaluates it (the budget's last)
        loss_new = jnp.sum(opt_state.residual**2)
        better_new = advance & accepted & (loss_new < new.best_loss)
        new = eqx.tree_at(
            lambda t: (t.best_u, t.best_loss), new,
            (jnp.where(better_new, u_new, new.best_u), jnp.where(better_new, loss_new, new.best_loss)),
        )
        # a fresh state's step only linearises at the start: not an iteration
        fresh = s.opt_state.fresh
        kept = eqx.tree_at(lambda t: t.opt_state, s, opt_state)
        new = jax.tree_util.tree_map(lambda a, b: jnp.where(fresh, a, b), kept, new)
        recorded = jnp.where(fresh, s.loss, recorded)
    return new, recorded


@_jit
def _run_chunk(state, problem, n, length: int, spec: _ChunkSpec):
    """Up to ``n`` steps of every start (vmap over starts, a loop over steps); losses (length, S).

    ``n`` (<= ``length``) is traced, so chunks of any size share one compiled
    program. The loop stops once no start is running: every later step would
    leave the state as it is and record the same losses, which fill the rest.
    """
    step = jax.vmap(_one_start, in_axes=(0, None, None))
    losses = jnp.zeros((length, state.loss.shape[0]), state.loss.dtype)
    # a fresh Gauss-Newton state takes one extra pass through the loop, which
    # linearises at the starting points and records nothing (see _GaussNewton)
    extra = jnp.any(state.opt_state.fresh).astype(jnp.int32) if spec.kind == "gauss-newton" else 0

    def cond(carry):
        i, s, _ = carry
        return (i < n + extra) & jnp.any(s.status == RUNNING)

    def body(carry):
        i, s, rows = carry
        s, recorded = step(s, problem, spec)
        return i + 1, s, rows.at[jnp.maximum(i - extra, 0)].set(recorded)

    done, state, losses = jax.lax.while_loop(cond, body, (jnp.asarray(0, jnp.int32), state, losses))
    done = done - extra
    frozen = jnp.where(state.status == DIVERGED, jnp.nan, state.loss)
    losses = jnp.where((jnp.arange(length) < done)[:, None], losses, frozen[None, :])
    return state, losses


def _pad_to_devices(u0):
    """Repeat the last start so the start axis divides evenly over the devices (dropped in the results)."""
    n_dev = len(jax.devices())
    extra = (-u0.shape[0]) % n_dev
    return np.concatenate([u0, np.repeat(u0[-1:], extra, axis=0)]) if extra else u0


def _shard(state):
    """Shard the start axis over the available devices (no-op on one device)."""
    devices = jax.devices()
    n_dev = len(devices)
    n = state.u.shape[0]
    if n_dev == 1 or n % n_dev:
        return state
    mesh = jax.sharding.Mesh(np.array(devices), ("start",))
    spec = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("start"))
    return jax.tree_util.tree_map(lambda a: jax.device_put(a, spec) if eqx.is_array(a) and a.ndim else a, state)


def _progress_bar(progress, total, n_starts):
    if not progress:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=f"inverting {n_starts} starts", unit="it")


# ------------------------------------------------------------------ results


def window_metrics(model, forcing, observations, space, final, *, initial=None, fit, validate=None) -> xr.Dataset:
    """Skill of every start's estimate on the fit and validation windows.

    Returns variables ``metric_value`` (start, window, variable, metric), with
    the coordinate ``metric_units`` (variable, metric).
    """
    problem = _metrics_problem(model, forcing, observations, initial, fit, validate)
    x = jax.device_put(np.asarray(final[:, : space.size], dtype=_float_dtype(problem)))
    sims = np.asarray(_simulate_starts(Objective(space), x, problem))
    return _metrics_dataset(sims, np.asarray(problem[2].values), observations, fit, validate)


def _metrics_dataset(sims, obs, observations, fit, validate) -> xr.Dataset:
    import xarray as xr

    from .metrics import all_metrics

    windows = {"fit": fit}
    if validate:
        windows["validation"] = validate
    metric_names = None
    values = []
    # a diverged start may overflow: its metrics are then Inf/NaN, not an error
    with np.errstate(over="ignore", invalid="ignore"):
        for sim in sims:
            per_window = []
            for w in windows.values():
                per_var = []
                for v in range(obs.shape[1]):
                    m = all_metrics(sim[w[0] : w[1], v], obs[w[0] : w[1], v])
                    metric_names = list(m)
                    per_var.append([float(m[k]) for k in metric_names])
                per_window.append(per_var)
            values.append(per_window)
    units = [o.units for o in observations.observables]
    return xr.Dataset(
        {"metric_value": (("start", "window", "variable", "metric"), np.asarray(values))},
        coords={"window": list(windows), "variable": list(observations.names), "metric": metric_names,
                "metric_units": (("variable", "metric"), metric_units(metric_names, units))},
    )


def _evaluate(model, forcing, observations, space, final, best, ref, initial, fit, validate, time) -> xr.Dataset:
    """Metrics of every start, and the series (observed, best start, reference) over the run."""
    problem = _metrics_problem(model, forcing, observations, initial, fit, validate)
    x = final[:, : space.size] if ref is None else np.concatenate([final[:, : space.size], ref[None]], axis=0)
    x = jax.device_put(np.asarray(x, dtype=_float_dtype(problem)))
    sims = np.asarray(_simulate_starts(Objective(space), x, problem))
    obs = np.asarray(problem[2].values)
    n = final.shape[0]
    metrics = _metrics_dataset(sims[:n], obs, observations, fit, validate)
    series = series_dataset(
        time, forcing.dt, obs, sims[best], observations.names, [o.units for o in observations.observables],
        reference=sims[n] if ref is not None else None, fit=fit, validate=validate,
    )
    return metrics.merge(series, join="exact")


def _float_dtype(problem):
    """The floating-point dtype of a problem's arrays (the precision of the run)."""
    return jnp.result_type(*[x for x in jax.tree_util.tree_leaves(problem) if eqx.is_inexact_array(x)])


def _metrics_problem(model, forcing, observations, initial, fit, validate):
    """(model, forcing, observations, initial) up to the end of the later window."""
    stop = max(fit[1], validate[1] if validate else 0)
    f = _window(forcing, stop)
    obs_all = Observations(np.asarray(observations.values)[:stop], observations.observables, observations.scale)
    return (model, f, obs_all, _initial_array(initial, f))


@_jit
def _simulate_starts(objective, x, problem):
    return jax.vmap(lambda v: objective.simulated(v, problem, physical=True))(x)


@_jit
def _to_physical(space, u):
    return space.to_physical(u)


__all__ = [
    "invert",
    "InversionInterrupted",
    "Objective",
    "default_optimizer",
    "Tolerances",
    "results_dataset",
    "window_metrics",
    "status_counts",
    "verdict_counts",
    "STATUS_NAMES",
    "VERDICT_NAMES",
]
