"""The ``jlsm`` command, one module per subcommand.

    jlsm demo [--starts N] [--configuration NAME] [--out DIR] [--json FILE]   the published synthetic twin experiment
    jlsm invert CONFIG.toml [--out DIR] [--json FILE]   an inversion described by a config file
    jlsm identify [--depths CM ..] [--noise K ..] [--out DIR]   observation-design sweep (Fisher analysis)

Modules: :mod:`~jlsm.cli.main` (argument parsing, process settings, errors),
:mod:`~jlsm.cli.demo`, :mod:`~jlsm.cli.invert`, :mod:`~jlsm.cli.identify`
(each with ``add_parser(subparsers)`` and ``run(args) -> exit status``);
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
