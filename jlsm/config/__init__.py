"""Inversions described by a TOML file: ``jlsm invert CONFIG.toml``.

The sections and keys of a config are documented in :mod:`jlsm.config.schema`
(and ``examples/*.toml``). Modules, in the order a run uses them:

* :mod:`~jlsm.config.schema`: the keys, :func:`load_config` (with ``extends``), validation;
* :mod:`~jlsm.config.data`: :func:`data_path`, :func:`read_data` (readers, window, gap filling, ``Ts``);
* :mod:`~jlsm.config.problem`: :func:`build_problem`, :func:`observed_albedo`;
* :mod:`~jlsm.config.run`: :func:`run_problem` and its :class:`Run`;
* :mod:`~jlsm.config.evaluation`: :func:`evaluate`, :func:`simulate_points`;
* :mod:`~jlsm.config.offsets`: :func:`offset_profile` (offsets per variable as nuisance);
* :mod:`~jlsm.config.report`: :func:`summarise` (JSON), :func:`report` (text table);
* :mod:`~jlsm.config.figures`: :func:`figures` (optional matplotlib);
* :mod:`~jlsm.config.fisher`: :func:`~jlsm.config.fisher.fisher_at` (the Fisher analysis of ``jlsm identify CONFIG``);
* :mod:`~jlsm.config.scope`: :func:`scope_notes` (what the model cannot give a config);
* :mod:`~jlsm.config.windows`: :func:`with_window`, :func:`first_complete_start`, :func:`run_windows`;
* the ``jlsm invert`` command, :func:`run_config`: :mod:`jlsm.cli.invert`.
"""

from __future__ import annotations

from .data import data_path, read_data
from .evaluation import evaluate, evaluation_observations, reference_vector, simulate_points
from .figures import figures
from .offsets import offset_profile
from .problem import build_problem, observed_albedo
from .report import report, summarise
from .run import Run, run_problem
from .scope import scope_notes
from .schema import FORMATS, REQUIRED, SCHEMA, TOP_LEVEL, config_text, load_config
from .windows import first_complete_start, run_windows, with_window


def __getattr__(name):
    # run_config writes files and prints: it is the ``jlsm invert`` command's
    # (jlsm.cli.invert), reachable here as before (imported on first use)
    if name == "run_config":
        from ..cli.invert import run_config

        return run_config
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "SCHEMA",
    "REQUIRED",
    "FORMATS",
    "load_config",
    "read_data",
    "build_problem",
    "observed_albedo",
    "data_path",
    "simulate_points",
    "evaluation_observations",
    "evaluate",
    "Run",
    "run_problem",
    "summarise",
    "run_config",
    "with_window",
    "run_windows",
    "first_complete_start",
    "TOP_LEVEL",
    "config_text",
    "figures",
    "offset_profile",
    "reference_vector",
    "report",
    "scope_notes",
]
