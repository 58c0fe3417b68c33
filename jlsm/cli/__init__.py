"""The ``jlsm`` command, one module per subcommand.

    jlsm demo [--starts N] [--configuration NAME] [--out DIR] [--json FILE]   the published synthetic twin experiment
    jlsm invert CONFIG.toml [--out DIR] [--json FILE]   an inversion described by a config file
    jlsm identify [--depths CM ..] [--noise K ..] [--out DIR]   observation-design sweep (Fisher analysis)
    jlsm simulate COLLECTION.toml [--site NAME ..] [--out DIR]   version-2 land model at flux sites, PFT defaults
    jlsm data report COLLECTION.toml [--out DIR]   coverage, gaps, estimates, energy-balance closure per site
    jlsm calibrate COLLECTION.toml [--sites ..] [--starts N] [--steps N] [--methods ..] [--out DIR]
        multi-site Qh/Qle calibration against the baselines (default, Sobol', PLUMBER benchmarks, leave-one-out)

Modules: :mod:`~jlsm.cli.main` (argument parsing, process settings, errors),
:mod:`~jlsm.cli.demo` (with :mod:`~jlsm.cli.flux_demo`, its flux-site part),
:mod:`~jlsm.cli.invert`, :mod:`~jlsm.cli.identify`, :mod:`~jlsm.cli.simulate`,
:mod:`~jlsm.cli.data`, :mod:`~jlsm.cli.calibrate` (each with
``add_parser(subparsers)`` and ``run(args) -> exit status``) and
:mod:`~jlsm.cli.sites` (what the flux-site commands share);
``python -m jlsm.cli`` runs the command.

Float64 is switched on by the command, the persistent compilation cache
(``$JLSM_CACHE_DIR``, default ``~/.cache/jlsm/xla``, empty: off; see
:func:`jlsm.enable_compilation_cache`) and XLA's single-kernel CPU loops
(:func:`jlsm.enable_loop_kernels`): the command's choices, importing jlsm
changes no JAX setting. Errors in the user's input print one line and exit
with status 2.
"""

from .demo import DEMO_CONFIGURATIONS
from .main import main

__all__ = ["DEMO_CONFIGURATIONS", "main"]
