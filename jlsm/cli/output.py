"""Where a command writes: writability checked before computing, a fallback folder if writing fails after.

A finished computation is never lost: :func:`check_writable` refuses an
unwritable ``--out`` folder or ``--json`` file in one line before anything is
computed, and :func:`write_or_fallback` saves the results to
``./jlsm-results-<timestamp>`` (or the system's temporary folder) when writing
to the requested place still fails at the end.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ..errors import InputError


def _reason(err: OSError) -> str:
    return err.strerror or type(err).__name__


def check_writable(path, what: str, *, folder: bool) -> None:
    """Raise :class:`InputError` (one line naming ``what`` and the path) unless ``path`` can be written.

    ``folder``: ``path`` is an output folder (created if missing); otherwise a
    file whose parent folder is created if missing. Nothing but empty folders
    is left behind.
    """
    path = Path(path).expanduser()
    target = path if folder else path.parent
    if not folder and path.is_dir():
        raise InputError(f"{what} {path}: is a folder, expected a file name")
    try:
        target.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".jlsm-write-test-", dir=target)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise InputError(f"{what} {path}: cannot write there ({_reason(err)}); choose another path") from None


def fallback_dir() -> Path:
    """A new writable folder: ``./jlsm-results-<timestamp>``, else one in the system's temporary folder."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    try:
        d = Path.cwd() / f"jlsm-results-{stamp}"
        d.mkdir(parents=True, exist_ok=False)
        fd, probe = tempfile.mkstemp(dir=d)
        os.close(fd)
        os.unlink(probe)
        return d
    except OSError:
        return Path(tempfile.mkdtemp(prefix=f"jlsm-results-{stamp}-"))


def write_or_fallback(write: Callable[[Path], list], outdir: Path) -> tuple[list, bool]:
    """``write(outdir)`` (returns the paths written); on OSError, ``write(fallback_dir())`` and say so in one line.

    Returns (paths written, True if the fallback was used).
    """
    try:
        return write(Path(outdir)), False
    except OSError as err:
        alt = fallback_dir()
        paths = write(alt)
        print(f"jlsm: could not write to {outdir} ({_reason(err)}); results saved in {alt} instead", file=sys.stderr)
        return paths, True
