"""Studies over several windows (e.g. one per month): moving, screening and running windows of a config."""

from __future__ import annotations

import copy

import numpy as np

from ..errors import ConfigError, JlsmError
from .data import read_data
from .problem import build_problem
from .report import summarise
from .run import run_problem
from .schema import load_config


def with_window(cfg: dict, start: str, **window) -> dict:
    """A copy of a loaded config with another window ``start`` (and optionally other [window] keys)."""
    new = copy.deepcopy(cfg)
    new["window"]["start"] = str(start)
    new["window"].update(window)
    try:
        np.datetime64(str(start), "ns")
    except ValueError:
        raise ConfigError(f"{cfg['_path']}: window start {start!r} is not an ISO date-time") from None
    return new


def first_complete_start(cfg, first, last, *, step_hours: float = 24.0, min_coverage: float = 0.9) -> str | None:
    """The first window start (local time, every ``step_hours`` from ``first`` to ``last``) whose forcing is
    complete (after the allowed gap filling) and whose fitted variables are observed at least
    ``min_coverage`` of the time in both the fit and the test window; None if there is none."""
    t = np.datetime64(str(first), "m")
    stop = np.datetime64(str(last), "m")
    while t <= stop:
        c = with_window(cfg, str(t))
        try:
            forcing_ds, obs_ds = read_data(c)
            model, forcing, observations, space, initial, fit, validate = build_problem(c, forcing_ds, obs_ds)
        except JlsmError:
            t = t + np.timedelta64(int(step_hours * 60), "m")
            continue
        values = np.asarray(observations.values)
        ok = all(
            np.isfinite(values[a:b]).mean(axis=0).min() >= min_coverage for a, b in [fit] + ([validate] if validate else [])
        )
        if ok:
            return str(t)
        t = t + np.timedelta64(int(step_hours * 60), "m")
    return None


def run_windows(cfg, starts, *, n_starts=None, polish=None, progress=False) -> list[dict]:
    """Run a config (path or loaded dict) for several window starts (local time); one :func:`summarise` dict each."""
    if not isinstance(cfg, dict):
        cfg = load_config(cfg)
    rows = []
    for s in starts:
        run = run_problem(with_window(cfg, s), starts=n_starts, polish=polish, progress=progress)
        rows.append(summarise(run))
    return rows
