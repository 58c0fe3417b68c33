"""Where the real data sets are: a path lookup that needs none of the file readers' imports."""

from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path | None:
    """Folder of the real data sets, or None if it does not exist.

    ``$JLSM_DATA_DIR`` if set, else ``../shared/data`` relative to the
    repository root.
    """
    env = os.environ.get("JLSM_DATA_DIR")
    if env:
        p = Path(env).expanduser()
        return p if p.is_dir() else None
    p = (Path(__file__).resolve().parents[1] / ".." / "shared" / "data").resolve()
    return p if p.is_dir() else None
