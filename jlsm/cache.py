"""Keeping compiled programs on disk between Python processes.

A fresh process spends most of its first inversion compiling; JAX's
persistent compilation cache keeps the compiled programs on disk, so the
next process only traces and loads them. Importing jlsm changes no JAX
setting; :func:`enable_compilation_cache` is the explicit switch (the ``jlsm``
command calls it).
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_FOLDER = Path.home() / ".cache" / "jlsm" / "xla"
"""Default cache folder (``$JLSM_CACHE_DIR`` overrides it)."""


def enable_compilation_cache(folder: str | os.PathLike | None = None, *, min_compile_seconds: float = 0.0) -> Path | None:
    """Switch on JAX's persistent compilation cache in ``folder``.

    Call it before the first computation of the process (JAX decides whether
    to use the cache when it first compiles).

    Args:
        folder: cache folder; default ``$JLSM_CACHE_DIR`` or
            ``~/.cache/jlsm/xla``. An empty ``$JLSM_CACHE_DIR`` switches the
            cache off.
        min_compile_seconds: keep only programs that took at least this long
            to compile (default 0: all of them; loading a small program from
            disk is still cheaper than compiling it).

    Returns:
        The folder in use, or None if the cache is off (empty
        ``$JLSM_CACHE_DIR``, or the folder cannot be created).
    """
    import jax

    if folder is None:
        folder = os.environ.get("JLSM_CACHE_DIR", str(DEFAULT_FOLDER))
    if not str(folder):
        return None
    path = Path(folder).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", float(min_compile_seconds))
    return path


__all__ = ["enable_compilation_cache", "DEFAULT_FOLDER"]
