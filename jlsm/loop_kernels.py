"""Letting XLA's CPU compiler compile each time loop as one kernel.

XLA on the CPU runs a loop (``lax.scan``, ``lax.while_loop``) step by step,
launching the compiled kernels of its body one after the other at every
step. A loop whose buffers total less than a byte threshold (1 KiB by
default) is instead compiled into a single function, with no launch per
operation. jlsm's time loops do tens to hundreds of small operations per
step; the buffers a loop touches include the stacked per-step outputs and
the residuals a gradient keeps, so they grow with steps x columns. At XLA's
default these loops run as a sequence of launches that costs more than
their arithmetic. :func:`enable_loop_kernels` raises the threshold (XLA's
option ``xla_cpu_small_while_loop_byte_threshold``) to 1 TiB, so that every
loop without a library call becomes one kernel:

* soil heat (version 1), one start: forward runs 3-5 times faster, their
  gradients 2-3.5 times; the published 50-start experiment is unchanged;
* the land column (version 2), a site-year of 17,520 steps, 64 columns:
  forward 1.6x, gradient 2.3x faster (``benchmarks/bench_land.py``).

Results agree to round-off. Loops whose body calls a library kernel (the
matrix products and reductions of the batched soil-heat runs, the LSTM
surrogates) are not affected. A loop compiled as one kernel runs on one
core; spread a batch over the cores with one CPU device per core
(``XLA_FLAGS=--xla_force_host_platform_device_count=N``, see
``docs/performance.md``).

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

DEFAULT_MAX_BYTES = 2**40
"""Bytes a loop's buffers may total to be compiled as one kernel (1 TiB: every loop without a library call)."""

_OPTION = "xla_cpu_small_while_loop_byte_threshold"
_DEVICES = "xla_force_host_platform_device_count"


def enable_loop_kernels(max_bytes: int = DEFAULT_MAX_BYTES) -> bool:
    """Have XLA compile every CPU loop whose buffers total < ``max_bytes`` bytes as one kernel.

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


def set_cpu_devices(count: int) -> bool:
    """Give JAX ``count`` CPU devices, so that batched runs spread over ``count`` cores.

    A loop compiled as one kernel (:func:`enable_loop_kernels`) runs on one
    core. ``jlsm.calibrate`` and ``jlsm.invert`` spread their site x start axis
    over every device JAX sees, so one CPU device per core uses them all.
    Call it before the first JAX computation of the process. It adds
    ``--xla_force_host_platform_device_count=<count>`` to ``XLA_FLAGS``. It
    changes nothing if ``XLA_FLAGS`` already sets a device count (your own
    value wins) or if JAX has already started its backends.

    Args:
        count: number of CPU devices, a positive integer (1 is JAX's default).

    Returns:
        True if ``XLA_FLAGS`` carries ``count`` devices (set now or before; True for 1
        without a flag), False if it does not.
    """
    if isinstance(count, bool) or not isinstance(count, int) or count <= 0:
        raise ValueError(f"set_cpu_devices: count must be a positive integer number of devices, got {count!r}")
    flags = os.environ.get("XLA_FLAGS", "")
    if _DEVICES in flags:
        return f"--{_DEVICES}={count}" in flags.split()
    if count == 1:
        return True  # JAX's default: one CPU device
    if _backends_started():
        return False
    os.environ["XLA_FLAGS"] = f"{flags} --{_DEVICES}={count}".strip()
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


__all__ = ["enable_loop_kernels", "set_cpu_devices", "DEFAULT_MAX_BYTES"]
