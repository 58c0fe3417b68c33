"""Python's cyclic garbage collector paused while jlsm imports big libraries or traces a program.

A process with JAX, SciPy's statistics and xarray loaded holds about 200 000
objects that the collector tracks, nearly all of them alive until exit.
Imports and tracing allocate enough to set off several full collections,
each of which scans all of them (0.05-0.1 s apiece) and frees next to
nothing. :func:`paused_gc` holds the collector off for such a block and
restores it after.
"""

from __future__ import annotations

import contextlib
import gc


@contextlib.contextmanager
def paused_gc():
    """Python's cyclic garbage collector paused for the block (restored after, if it was on)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
