"""``jlsm demo``: the published synthetic twin experiment (multi-start inversion of every configuration)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from . import flux_demo

DEMO_CONFIGURATIONS = ("5cm", "surface+5cm")
"""The demo's configurations (``jlsm.synthetic.TWIN_CONFIGURATIONS``), in order."""


def add_parser(subparsers):
    """Add the ``demo`` subcommand to an argparse subparsers object."""
    demo = subparsers.add_parser("demo", help="the published synthetic twin experiment (multi-start inversion)")
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
    flux_demo.add_arguments(demo)  # --flux-site/--no-flux-site and its settings
    return demo


def run(args) -> int:
    """Run ``jlsm demo``: invert each configuration, print the table, write NetCDF, figures and JSON."""
    from ..inverse import invert, status_counts, verdict_counts
    from ..synthetic import TRUE_PARAMETERS, TWIN_CONFIGURATIONS, twin_case

    from ..errors import InputError
    from .output import check_writable, write_or_fallback

    t0 = time.perf_counter()
    if not (np.isfinite(args.noise) and args.noise >= 0):
        raise InputError(f"demo: --noise {args.noise:g}: expected a noise standard deviation >= 0 in K")
    for option, value in (("--starts", args.starts), ("--polish", args.polish + 1), ("--steps", args.steps + 1)):
        if value < 1:
            raise InputError(f"demo: {option} {getattr(args, option[2:])}: expected a " + ("positive integer" if option == "--starts" else "integer >= 0"))
    check_writable(args.out, "--out", folder=True)
    if args.json:
        check_writable(args.json, "--json", folder=False)
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
    out, failed = args.out, False
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
        stem = f"demo_{name.replace('+', '_')}"

        def write(folder, result=result, stem=stem, space=space):
            folder.mkdir(parents=True, exist_ok=True)
            bounds = {n: (lo, hi) for n, lo, hi in zip(space.names, space.lower, space.upper)}
            return [_write_netcdf(result, folder / f"{stem}.nc"), *_figures(result, truth, folder / stem, bounds)]

        paths, fell_back = write_or_fallback(write, out)
        if fell_back:
            out = paths[0].parent  # the rest goes there too
            failed = True
        print(f"\n{name}: {cfg['description']}")
        print(_table(result, truth))
        counts = verdict_counts(result)
        print("starts: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items())
              + f" (optimiser: {', '.join(f'{k} {v}' for k, v in status_counts(result).items())}); "
              f"{seconds:.1f} s including compilation; results: {paths[0]}")
        summary["configurations"][name] = _summary(result, truth, seconds)
    if args.flux_site and not args.configuration:  # version 2: a flux-site calibration
        summary["flux_site"] = flux_demo.run(args)
    total = time.perf_counter() - t0
    summary["wall_seconds_total"] = total
    print(f"\ntotal {total:.1f} s")
    if args.json:
        def write_json(folder):
            target = args.json if folder == args.out and not failed else folder / args.json.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(summary, indent=2))
            return [target]

        paths, fell_back = write_or_fallback(write_json, out)
        failed = failed or fell_back
        print(f"summary: {paths[0]}")
    return 1 if failed else 0


def _best_basin(result) -> np.ndarray:
    """Starts in the best basin (verdict 0), the basis of the summaries; all non-diverged if none."""
    good = result["verdict"].values == 0
    if not good.any():
        good = result["status"].values != 2
    return good


def _table(result, truth) -> str:
    good = _best_basin(result)
    lines = [f"median and 5-95 % over the {int(good.sum())} of {result.sizes['start']} starts in the best basin",
             f"{'parameter':<20}{'true':>12}{'median':>14}{'p05':>14}{'p95':>14}{'rel. spread':>13}  verdict"]
    for p in result["parameter"].values:
        final = result["final"].sel(parameter=p).values[good]
        med, lo, hi = np.median(final), np.percentile(final, 5), np.percentile(final, 95)
        spread = (hi - lo) / abs(med) if med else np.inf
        verdict = "identified" if spread < 0.01 else "NOT identified (spread across starts)"
        lines.append(f"{p:<20}{truth.get(p, np.nan):>12.6g}{med:>14.6g}{lo:>14.6g}{hi:>14.6g}{spread:>13.2e}  {verdict}")
    return "\n".join(lines)


def _summary(result, truth, seconds) -> dict:
    good = _best_basin(result)
    out = {
        "n_starts": int(result.sizes["start"]),
        "n_converged": int(np.sum(result["status"].values == 1)),
        "n_best_basin": int(np.sum(result["verdict"].values == 0)),
        "n_other_basin": int(np.sum(result["verdict"].values == 1)),
        "n_at_bound": int(np.sum(result["verdict"].values == 2)),
        "summary_basis": "best-basin",
        "wall_seconds": seconds,
        "parameters": {},
    }
    for p in result["parameter"].values:
        final = result["final"].sel(parameter=p).values[good] if good.any() else np.array([np.nan])
        out["parameters"][str(p)] = {
            "true": truth.get(str(p)),
            "median": float(np.median(final)),
            "p05": float(np.percentile(final, 5)),
            "p95": float(np.percentile(final, 95)),
        }
    return out


def _write_netcdf(result, path) -> Path:
    """``path`` (NetCDF), or a JSON beside it without a netCDF engine; the path written."""
    try:
        result.to_netcdf(path)
        return path
    except (ImportError, ValueError) as err:  # no netCDF engine installed
        alt = path.with_suffix(".json")
        alt.write_text(json.dumps(result.to_dict(data="list"), default=str))
        print(f"(NetCDF not written: {err}; wrote {alt})")
        return alt


def _figures(result, truth, stem, bounds=None) -> list:
    try:
        from ..plot import estimates_figure
        fig = estimates_figure(result, truth, bounds)
    except ImportError:
        return []
    import matplotlib.pyplot as plt

    fig.savefig(f"{stem}.png", dpi=120)
    plt.close(fig)
    return [Path(f"{stem}.png")]
