"""Compiling jlsm's own programs: ``eqx.filter_jit`` semantics, no waiting, CPU compiler options.

:func:`jit` traces every array argument (JAX or NumPy) and holds everything
else static, like ``eqx.filter_jit``, but returns as soon as the computation
is dispatched (``eqx.filter_jit`` waits for the result), so the host can go on
while it runs. It is for functions that raise no runtime errors.

Programs are compiled with :data:`COMPILER_OPTIONS`. On the CPU, XLA's
element-wise fusion emitters of the default pipeline take about twice as long
to compile the model's programs as the classic emitters, for the same run
time (the inversion's set-up and step programs: 1.7 and 3.6 s of compilation
against 0.8 and 1.7 s on a 2-core machine); results agree to round-off
(estimates within 1e-11 relative). An XLA that does not know an option
compiles without the options.

Python's cyclic garbage collector is paused during a call
(:func:`jlsm._gc.paused_gc`): otherwise tracing and lowering set off a full
collection or two, about 0.1 s of a new process's first inversion (warm cache).
"""

from __future__ import annotations

import functools

import equinox as eqx
import jax

from ._gc import paused_gc

COMPILER_OPTIONS: dict[str, object] = {"xla_cpu_use_fusion_emitters": False}
"""XLA options for jlsm's compiled programs (empty: XLA's defaults)."""

_supported = [True]


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

    @functools.wraps(fun)
    def call(*args):
        with paused_gc():
            return dispatch(*args)

    def dispatch(*args):
        dynamic, static = eqx.partition(args, eqx.is_array)
        static = _Hashable(static)
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
