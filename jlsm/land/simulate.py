"""Running the version-2 land column over a forcing record: spin-up, scan, checkpointing.

``simulate_land`` is one ``lax.scan`` of :func:`jlsm.land.step.land_step` over
the forcing. For one column the inputs are (T,) series; batches are run with
``jax.vmap`` over models and/or forcings (see :func:`simulate_batch`).
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp

from ..errors import ForcingError, ParameterError
from ..model import _scan
from .forcing import FIELDS, LandForcing
from .model import Budget, LandModel, LandState, deep_temperature
from .output import OUTPUTS, LandOutput
from .step import land_step, prepare

SECONDS_PER_YEAR = 365.0 * 86400.0

AUTO_PLAIN_STEPS = 40_000
"""Longest record that ``checkpoint_every="auto"`` runs as a plain scan (no chunk recomputation)."""

# Reverse mode: each step is recomputed from its inputs, so the backward pass keeps the state and
# forcing of each step instead of its ~1000 scalar intermediates (less memory, faster compilation).
_step = jax.checkpoint(land_step, static_argnums=(4,), prevent_cse=False)


def simulate_land(
    model: LandModel,
    forcing: LandForcing,
    *,
    initial: LandState | None = None,
    spinup_years: int = 1,
    checkpoint_every: int | str | None = "auto",
    outputs=None,
) -> LandOutput:
    """Run one column over the forcing.

    Args:
        model: a :class:`LandModel`.
        forcing: a :class:`LandForcing` of one site, fields of shape (T,).
        initial: the start state (:class:`LandState`), or None for
            :meth:`LandModel.initial_state` (soil at the deep temperature,
            moisture at the critical point, empty stores).
        spinup_years: cycles of spin-up before the recorded run: the first
            365 days of the forcing (or the whole record if shorter) are run
            ``spinup_years`` times from ``initial``, and the record starts
            from the state reached. The spin-up is part of the differentiated
            computation (gradients see the parameters' effect on the initial
            state). 0: no spin-up.
        checkpoint_every: reverse-mode memory. Every step is recomputed in the
            backward pass from its inputs (``jax.checkpoint``), so a plain scan
            keeps only the state and forcing of each step (about 250 bytes per
            step per column in float64). With an integer, the time loop runs in
            chunks of this many steps, each itself recomputed in the backward
            pass: memory O(T / chunk + chunk) steps instead of O(T), at the
            cost of one more forward pass. ``"auto"``: a plain scan up to
            :data:`AUTO_PLAIN_STEPS` steps (about 10 MB per column), chunks of
            ceil(sqrt(T)) steps beyond; None: a plain scan. Forward runs are
            unaffected.
        outputs: names of the time series to keep (default: all of
            :data:`jlsm.land.output.OUTPUTS`); fewer names, less memory.

    Returns:
        :class:`LandOutput`: series of shape (T, ...) at every forcing time
        (value n: the step driven by the forcing at n), the initial and final
        states, and the time integrals over the recorded run.
    """
    if not isinstance(model, LandModel):
        raise ParameterError(f"simulate_land: model must be a LandModel, got {type(model).__name__}")
    if not isinstance(forcing, LandForcing):
        raise ForcingError(f"simulate_land: forcing must be a LandForcing, got {type(forcing).__name__}")
    if forcing.sw_down.ndim != 1:
        raise ForcingError(
            f"simulate_land: forcing fields must be (T,) for one site, got {forcing.sw_down.shape}; "
            "use jax.vmap or simulate_batch for batches"
        )
    names = tuple(OUTPUTS) if outputs is None else tuple(outputs)
    unknown = [n for n in names if n not in OUTPUTS]
    if unknown:
        raise ParameterError(f"simulate_land: unknown output(s) {unknown}; choose from {list(OUTPUTS)}")
    if int(spinup_years) != spinup_years or spinup_years < 0:
        raise ParameterError(f"simulate_land: spinup_years must be a non-negative integer, got {spinup_years!r}")

    return _run(model, forcing, initial, int(spinup_years), _chunk(checkpoint_every, forcing.n_times), names)


@eqx.filter_jit
def _run(model, forcing, initial, spinup_years, chunk, names):
    leaves = [x for x in jax.tree_util.tree_leaves((model, forcing)) if eqx.is_inexact_array(x)]
    dtype = jnp.result_type(*leaves)
    model = jax.tree_util.tree_map(lambda x: jnp.asarray(x, dtype) if eqx.is_inexact_array(x) else x, model)
    dt = forcing.dt
    n = forcing.n_times
    t_bottom = jnp.asarray(deep_temperature(model, forcing), dtype)
    state = initial if initial is not None else model.initial_state(forcing, dtype)
    state = LandState(*(jnp.asarray(x, dtype) for x in state))
    xs = {name: jnp.asarray(getattr(forcing, name), dtype) for name in FIELDS}
    pre = prepare(model, dtype)

    def body(carry, f, keep):
        s, b = carry
        s, b, diag = _step(model, s, b, f, dt, t_bottom, pre)
        return (s, b), {k: diag[k] for k in keep}

    zero = Budget.zeros(dtype)
    if spinup_years:
        cycle = min(n, int(round(SECONDS_PER_YEAR / dt)))
        spin = {k: v[:cycle] for k, v in xs.items()}
        spin_chunk = None if chunk is None else min(chunk, cycle)

        def one_cycle(c, _):
            c, _ = scan_checkpointed(lambda c2, f: body(c2, f, ()), c, spin, cycle, spin_chunk)
            return c, None

        (state, _), _ = jax.lax.scan(one_cycle, (state, zero), None, length=spinup_years)
    initial_state = state
    (final, budget), series = scan_checkpointed(lambda c, f: body(c, f, names), (state, zero), xs, n, chunk)
    return LandOutput.build(series, initial_state, final, budget, dt=dt, thicknesses=model.thicknesses)


def simulate_batch(model, forcing: LandForcing, *, model_axis=0, forcing_axis=0, **kwargs) -> LandOutput:
    """``simulate_land`` vmapped over a batch of columns.

    ``model_axis``/``forcing_axis``: the leading axis of the model's arrays
    and of the forcing fields that indexes the columns, or None for one
    model (one forcing) shared by every column.
    """
    run = lambda m, f: simulate_land(m, f, **kwargs)  # noqa: E731
    return jax.vmap(run, in_axes=(model_axis, forcing_axis))(model, forcing)


def _chunk(checkpoint_every, length):
    if checkpoint_every is None:
        return None
    if checkpoint_every == "auto":
        return None if length <= AUTO_PLAIN_STEPS else max(1, int(math.ceil(math.sqrt(length))))
    if int(checkpoint_every) != checkpoint_every or checkpoint_every < 1:
        raise ParameterError(f"simulate_land: checkpoint_every must be a positive integer, 'auto' or None, got {checkpoint_every!r}")
    return int(checkpoint_every)


def scan_checkpointed(body, carry, xs, length, chunk):
    """``lax.scan(body, carry, xs)``; with ``chunk``, nested: an outer scan over chunks of
    ``chunk`` steps, each ``jax.checkpoint``-ed (recomputed in reverse mode), then the
    remaining steps (:func:`jlsm.model._scan`, shared with version 1)."""
    return _scan(body, carry, xs, length, chunk)


__all__ = ["simulate_land", "simulate_batch", "scan_checkpointed"]
