"""Compiling jlsm's own programs: ``eqx.filter_jit`` semantics, no waiting, CPU compiler options.

:func:`jit` traces every array argument (JAX or NumPy) and holds everything
else static, like ``eqx.filter_jit``, but returns as soon as the computation
is dispatched (``eqx.filter_jit`` waits for the result), so the host can go on
while it runs. It is for functions that raise no runtime errors.

Programs are compiled with :data:`COMPILER_OPTIONS`. On the CPU, XLA's
element-wise fusion emitters of the default pipeline take about twice as long
to compile the model's programs as the classic emitters (an inversion's step
program: 3.6 against 1.7 s on a 2-core machine) and run the batched time loop
about 1.5 times faster; the classic emitters win until a run lasts several
seconds (a year of hourly steps with 50 starts: about 10 s against 8 s per
Gauss-Newton polish), so they are the default. Results agree to round-off
(estimates within 1e-11 relative). An XLA that does not know an option
compiles without the options.

Python's cyclic garbage collector is paused during a call
(:func:`jlsm._gc.paused_gc`): otherwise tracing and lowering set off a full
collection or two, about 0.1 s of a new process's first inversion (warm cache).

``f.ahead(*args)`` traces and lowers ``f`` for arguments that may be
``jax.ShapeDtypeStruct`` placeholders, starts compiling it on a background
thread (XLA releases the GIL) and returns the abstract result. A later call
whose arrays have the same shapes and dtypes, with equal static parts, runs
that program; the caller meanwhile does other work (imports, sampling). On
more than one device it does nothing: sharded calls compile on first use.
"""

from __future__ import annotations

import concurrent.futures
import functools
import os

import equinox as eqx
import jax
import numpy as np

from ._gc import paused_gc

COMPILER_OPTIONS: dict[str, object] = {"xla_cpu_use_fusion_emitters": False}
"""XLA options for jlsm's compiled programs (empty: XLA's defaults)."""

_supported = [True]
_AHEAD_KEPT = 16  # programs compiled ahead that one function keeps


def jit(fun):
    """``fun`` compiled: arrays traced, everything else static; returns without waiting."""

    def traced(dynamic, static):
        out = fun(*eqx.combine(dynamic, static.tree()))
        out_dynamic, out_static = eqx.partition(out, eqx.is_array)
        return out_dynamic, _Static(out_static)

    traced.__name__ = traced.__qualname__ = fun.__name__
    compiled = {}

    def program():
        options = dict(COMPILER_OPTIONS) if _supported[0] else {}
        key = tuple(sorted(options.items()))
        if key not in compiled:
            compiled[key] = jax.jit(traced, static_argnums=1, compiler_options=options or None)
        return compiled[key]

    ahead = {}  # signature -> Future of a compiled program

    @functools.wraps(fun)
    def call(*args):
        with paused_gc():
            return dispatch(*args)

    def ahead_of_time(*args):
        """Start compiling for ``args`` (arrays or ShapeDtypeStructs); the abstract result."""
        with paused_gc():
            dynamic, static = eqx.partition(args, _is_array_or_abstract)
            static = _Hashable(static)
            lowered = program().lower(dynamic, static)
            out_dynamic, out_static = lowered.out_info
            if len(jax.devices()) == 1:
                key = _signature(dynamic, static)
                if key not in ahead:
                    if len(ahead) >= _AHEAD_KEPT:  # the oldest program goes (a later call compiles it again)
                        ahead.pop(next(iter(ahead)))
                    ahead[key] = _executor().submit(lowered.compile)
            return eqx.combine(out_dynamic, out_static.value)

    call.ahead = ahead_of_time

    def dispatch(*args):
        dynamic, static = eqx.partition(args, eqx.is_array)
        static = _Hashable(static)
        if ahead:
            future = ahead.get(_signature(dynamic, static))
            if future is not None and future.exception() is None:  # else: compile here, with its error
                out_dynamic, out_static = future.result()(dynamic)
                return eqx.combine(out_dynamic, out_static.value)
        try:
            out_dynamic, out_static = program()(dynamic, static)
        except jax.errors.JaxRuntimeError as err:
            if not (_supported[0] and COMPILER_OPTIONS and "No such compile option" in str(err)):
                raise
            _supported[0] = False
            out_dynamic, out_static = program()(dynamic, static)
        return eqx.combine(out_dynamic, out_static.value)

    return call


class _Static(eqx.Module):
    value: object = eqx.field(static=True)


class _Hashable:
    """A pytree of static (hashable) leaves, compared by structure and leaves."""

    __slots__ = ("leaves", "treedef")

    def __init__(self, tree):
        leaves, self.treedef = jax.tree_util.tree_flatten(tree)
        self.leaves = tuple(leaves)

    def tree(self):
        return jax.tree_util.tree_unflatten(self.treedef, self.leaves)

    def __hash__(self):
        return hash((self.treedef, self.leaves))

    def __eq__(self, other):
        return isinstance(other, _Hashable) and self.treedef == other.treedef and self.leaves == other.leaves


def _is_array_or_abstract(x) -> bool:
    return eqx.is_array(x) or isinstance(x, jax.ShapeDtypeStruct)


def _signature(dynamic, static):
    """What a compiled program depends on: the static part and every array's shape, dtype and weak type."""
    leaves, treedef = jax.tree_util.tree_flatten(dynamic)
    avals = tuple((tuple(x.shape), np.dtype(x.dtype), bool(getattr(x, "weak_type", False))) for x in leaves)
    return static, treedef, avals


@functools.lru_cache(maxsize=1)
def _executor() -> concurrent.futures.ThreadPoolExecutor:
    return concurrent.futures.ThreadPoolExecutor(max_workers=max(os.cpu_count() or 1, 1), thread_name_prefix="jlsm-compile")
