"""Argument parsing, the command's process settings, and one-line errors (see :mod:`jlsm.cli`)."""

from __future__ import annotations

import argparse
import gc
import sys

from . import calibrate, data, demo, identify, invert, simulate

COMMANDS = {
    "demo": demo,
    "invert": invert,
    "identify": identify,
    "simulate": simulate,
    "data": data,
    "calibrate": calibrate,
    "surrogate": __import__("jlsm.cli.surrogate", fromlist=["run"]),  # jlsm surrogate compare
}
"""Subcommand name -> module with ``add_parser(subparsers)`` and ``run(args)``."""


def _device_count(text: str) -> int:
    """``--cpu-devices``: a positive integer or ``auto`` (the number of cores)."""
    import os

    if text == "auto":
        return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'auto', got {text!r}")
    return value


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="jlsm", description="Differentiable land-surface model: inversion, flux-site simulation and calibration."
    )
    parser.add_argument("--float32", action="store_true", help="run in float32 (default float64)")
    parser.add_argument("--cpu-devices", type=_device_count, default=1, metavar="N",
                        help="CPU devices for JAX: batched starts and sites spread over them, one core each "
                             "('auto': one per core; default 1)")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS.values():
        module.add_parser(sub)

    args = parser.parse_args(argv)

    from ..loop_kernels import enable_loop_kernels, set_cpu_devices

    set_cpu_devices(args.cpu_devices)  # before JAX starts its backends (see jlsm.loop_kernels)
    enable_loop_kernels()
    import jax

    if not args.float32:
        jax.config.update("jax_enable_x64", True)
    from ..cache import enable_compilation_cache

    enable_compilation_cache()

    from ..errors import JlsmError

    # Run as a program (argv from the command line), what is loaded by now
    # lives until exit: keep it out of the garbage collector's full passes,
    # during the run and at interpreter exit.
    as_program = argv is None
    if as_program:
        gc.freeze()
    try:
        return COMMANDS[args.command].run(args)
    except JlsmError as err:
        print(f"jlsm: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:
        where = getattr(err, "checkpoint", None)
        hint = f"; partial results and state in {where}, continue with --resume" if where else ""
        print(f"jlsm: interrupted{hint}", file=sys.stderr)
        return 130
    finally:
        if as_program:
            gc.freeze()  # the command is done: exit without collecting everything it loaded
