"""Letting XLA's CPU compiler compile each small time loop as one kernel.

XLA on the CPU runs a loop (``lax.scan``, ``lax.while_loop``) step by step,
launching the compiled kernels of its body one after the other at every
step. A loop whose step touches less than a byte threshold (1 KiB by
default) is instead compiled into a single function, with no launch per
operation. jlsm's time loops with one or a few starts touch tens of KiB per
step, so they run at XLA's default as a sequence of launches that costs more
than their arithmetic. :func:`enable_loop_kernels` raises the threshold
(XLA's option ``xla_cpu_small_while_loop_byte_threshold``) to 256 KiB:
forward runs with one start become 3-5 times faster, their gradients 2-3.5
times; results agree to round-off. Loops whose body calls a library kernel
(the matrix products and reductions of the batched runs) are not affected.

The option belongs to the process: XLA reads it from the environment
variable ``XLA_FLAGS`` once, when JAX first starts its backends. Importing
jlsm sets nothing; the ``jlsm`` command calls :func:`enable_loop_kernels`,
and so can a script or notebook before its first JAX computation. The
option applies to every XLA program of the process; other platforms ignore
it (XLA passes no ``xla_``-prefixed option on to LLVM).
"""

from __future__ import annotations

import os
import sys

DEFAULT_MAX_BYTES = 262_144
"""Bytes a loop's step may touch to be compiled as one kernel (256 KiB)."""

_OPTION = "xla_cpu_small_while_loop_byte_threshold"


def enable_loop_kernels(max_bytes: int = DEFAULT_MAX_BYTES) -> bool:
    """Have XLA compile every CPU loop whose step touches < ``max_bytes`` bytes as one kernel.

    Call it before the first JAX computation of the process. It adds
    ``--xla_backend_extra_options=xla_cpu_small_while_loop_byte_threshold=<max_bytes>``
    to ``XLA_FLAGS``. It changes nothing if ``XLA_FLAGS`` already sets that
    threshold (an earlier call, or your own value) or other
    ``xla_backend_extra_options`` (your own setting wins), or if JAX has
    already started its backends (the option would not be read).

    Args:
        max_bytes: the threshold [bytes], a positive integer.

    Returns:
        True if ``XLA_FLAGS`` carries the threshold (set now or before),
        False if it does not.
    """
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes <= 0:
        raise ValueError(f"enable_loop_kernels: max_bytes must be a positive integer number of bytes, got {max_bytes!r}")
    flags = os.environ.get("XLA_FLAGS", "")
    if _OPTION in flags:
        return True
    if "xla_backend_extra_options" in flags or _backends_started():
        return False
    os.environ["XLA_FLAGS"] = f"{flags} --xla_backend_extra_options={_OPTION}={max_bytes}".strip()
    return True


def _backends_started() -> bool:
    """Whether JAX has started its backends (after which XLA_FLAGS is not read again)."""
    if "jax" not in sys.modules:
        return False
    try:
        from jax._src import xla_bridge
    except ImportError:  # pragma: no cover - a JAX without that module
        return False
    started = getattr(xla_bridge, "backends_are_initialized", None)
    return bool(started()) if started is not None else False


__all__ = ["enable_loop_kernels", "DEFAULT_MAX_BYTES"]
