"""The ``jlsm`` command.

    jlsm demo [--starts N] [--configuration NAME] [--out DIR] [--json FILE]   the published synthetic twin experiment
    jlsm invert CONFIG.toml [--out DIR] [--json FILE]   an inversion described by a config file
    jlsm identify [--depths CM ..] [--noise K ..] [--out DIR]   observation-design sweep (Fisher analysis)

Float64 is switched on here, the persistent compilation cache
(``$JLSM_CACHE_DIR``, default ``~/.cache/jlsm/xla``, empty: off; see
:func:`jlsm.enable_compilation_cache`) and XLA's single-kernel CPU loops
(:func:`jlsm.enable_loop_kernels`): the command's choices, importing jlsm
changes no JAX setting. Errors in the user's input print one line and exit
with status 2.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path

import numpy as np

DEMO_CONFIGURATIONS = ("5cm", "surface+5cm")
"""The demo's configurations (``jlsm.synthetic.TWIN_CONFIGURATIONS``), in order."""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="jlsm", description="Differentiable land-surface model: inversion tools.")
    parser.add_argument("--float32", action="store_true", help="run in float32 (default float64)")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="the published synthetic twin experiment (multi-start inversion)")
    demo.add_argument("--starts", type=int, default=50, help="random starts per configuration (default 50)")
    demo.add_argument("--out", type=Path, default=Path("results/demo"), help="output folder (default results/demo)")
    demo.add_argument("--json", type=Path, default=None, help="write a JSON summary here")
    demo.add_argument("--noise", type=float, default=0.0, help="Gaussian observation noise [K] (default 0)")
    demo.add_argument("--seed", type=int, default=0, help="seed of the starts and the noise (default 0)")
    demo.add_argument(
        "--configuration",
        action="append",
        choices=DEMO_CONFIGURATIONS,
        default=None,
        help="run only this configuration (repeat for several; default: all of them)",
    )
    demo.add_argument(
        "--observations",
        choices=("model", "published"),
        default="model",
        help="synthetic observations made by jlsm's exact solver (default) or the study's published files",
    )
    demo.add_argument("--steps", type=int, default=0, help="Adam iterations before the polish (default 0)")
    demo.add_argument("--polish", type=int, default=40, help="Gauss-Newton iterations (default 40)")
    demo.add_argument("--no-progress", action="store_true", help="no progress bar")

    inv = sub.add_parser("invert", help="run an inversion described by a TOML config file")
    inv.add_argument("config", type=Path, help="the TOML config (see examples/)")
    inv.add_argument("--out", type=Path, default=None, help="output folder (overrides the config)")
    inv.add_argument("--json", type=Path, default=None, help="write a JSON summary here")
    inv.add_argument("--starts", type=int, default=None, help="number of starts (overrides the config)")
    inv.add_argument("--checkpoint", type=Path, default=None, help="save the optimiser state in this folder as it goes")
    inv.add_argument("--resume", action="store_true", help="continue from --checkpoint (same config and seed)")
    inv.add_argument("--no-progress", action="store_true", help="no progress bar")

    from .identify import add_parser as add_identify_parser

    add_identify_parser(sub)

    args = parser.parse_args(argv)

    from .loop_kernels import enable_loop_kernels

    enable_loop_kernels()  # before JAX starts its backends (see jlsm.loop_kernels)
    import jax

    if not args.float32:
        jax.config.update("jax_enable_x64", True)
    from .cache import enable_compilation_cache

    enable_compilation_cache()

    from .errors import JlsmError

    # Run as a program (argv from the command line), what is loaded by now
    # lives until exit: keep it out of the garbage collector's full passes,
    # during the run and at interpreter exit.
    as_program = argv is None
    if as_program:
        gc.freeze()
    try:
        if args.command == "demo":
            return _demo(args)
        if args.command == "identify":
            from .identify import run as run_identify

            return run_identify(args)
        if args.command == "invert":
            from .config import run_config

            return run_config(
                args.config,
                out=args.out,
                json_path=args.json,
                progress=not args.no_progress,
                starts=args.starts,
                checkpoint=args.checkpoint,
                resume=args.resume,
            )
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
    return 0


def _demo(args) -> int:
    from .inverse import invert, status_counts
    from .synthetic import TRUE_PARAMETERS, TWIN_CONFIGURATIONS, twin_case

    t0 = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    lam, cap = TRUE_PARAMETERS["conductivity"], TRUE_PARAMETERS["heat_capacity"]
    truth = {
        **TRUE_PARAMETERS,
        "h_eff": TRUE_PARAMETERS["h"] * (1 + 1 / TRUE_PARAMETERS["beta"]),
        "diffusivity": lam / cap,
        "thermal_inertia": (lam * cap) ** 0.5,
    }
    summary = {
        "noise_K": args.noise,
        "starts": args.starts,
        "seed": args.seed,
        "observations": args.observations,
        "configurations": {},
    }
    chosen = args.configuration or list(TWIN_CONFIGURATIONS)
    for name, cfg in TWIN_CONFIGURATIONS.items():
        if name not in chosen:
            continue
        t1 = time.perf_counter()
        model, forcing, observations, space, initial = twin_case(
            name, noise=args.noise, seed=args.seed, source=args.observations
        )
        result = invert(
            model,
            forcing,
            observations,
            space,
            starts=args.starts,
            seed=args.seed,
            initial=initial,
            steps=args.steps,
            polish=args.polish,
            progress=not args.no_progress,
        )
        seconds = time.perf_counter() - t1
        result.attrs["configuration"] = name
        result.attrs["description"] = cfg["description"]
        path = args.out / f"demo_{name.replace('+', '_')}.nc"
        _write_netcdf(result, path)
        print(f"\n{name}: {cfg['description']}")
        print(_table(result, truth))
        counts = status_counts(result)
        print(f"starts: {counts}; {seconds:.1f} s including compilation; results: {path}")
        summary["configurations"][name] = _summary(result, truth, seconds)
        _figures(result, truth, args.out / f"demo_{name.replace('+', '_')}")
    total = time.perf_counter() - t0
    summary["wall_seconds_total"] = total
    print(f"\ntotal {total:.1f} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2))
        print(f"summary: {args.json}")
    return 0


def _table(result, truth) -> str:
    good = result["status"].values == 1
    if not good.any():
        good = result["status"].values != 2
    lines = [f"{'parameter':<20}{'true':>12}{'median':>14}{'p05':>14}{'p95':>14}{'rel. spread':>13}  verdict"]
    for p in result["parameter"].values:
        final = result["final"].sel(parameter=p).values[good]
        med, lo, hi = np.median(final), np.percentile(final, 5), np.percentile(final, 95)
        spread = (hi - lo) / abs(med) if med else np.inf
        verdict = "identified" if spread < 0.01 else "NOT identified (spread across starts)"
        lines.append(f"{p:<20}{truth.get(p, np.nan):>12.6g}{med:>14.6g}{lo:>14.6g}{hi:>14.6g}{spread:>13.2e}  {verdict}")
    return "\n".join(lines)


def _summary(result, truth, seconds) -> dict:
    good = result["status"].values == 1
    out = {"n_starts": int(result.sizes["start"]), "n_converged": int(good.sum()), "wall_seconds": seconds, "parameters": {}}
    for p in result["parameter"].values:
        final = result["final"].sel(parameter=p).values[good] if good.any() else np.array([np.nan])
        out["parameters"][str(p)] = {
            "true": truth.get(str(p)),
            "median": float(np.median(final)),
            "p05": float(np.percentile(final, 5)),
            "p95": float(np.percentile(final, 95)),
        }
    return out


def _write_netcdf(result, path):
    try:
        result.to_netcdf(path)
    except (ImportError, ValueError) as err:  # no netCDF engine installed
        alt = path.with_suffix(".json")
        alt.write_text(json.dumps(result.to_dict(data="list"), default=str))
        print(f"(NetCDF not written: {err}; wrote {alt})")


def _figures(result, truth, stem):
    try:
        from .plot import estimates_figure
    except ImportError:
        return
    try:
        fig = estimates_figure(result, truth)
    except ImportError:
        return
    fig.savefig(f"{stem}.png", dpi=120)


if __name__ == "__main__":
    sys.exit(main())
