"""``jlsm demo``: the published synthetic twin experiment (multi-start inversion of every configuration)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

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
    return demo


def run(args) -> int:
    """Run ``jlsm demo``: invert each configuration, print the table, write NetCDF, figures and JSON."""
    from ..inverse import invert, status_counts
    from ..synthetic import TRUE_PARAMETERS, TWIN_CONFIGURATIONS, twin_case

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
        from ..plot import estimates_figure
    except ImportError:
        return
    try:
        fig = estimates_figure(result, truth)
    except ImportError:
        return
    fig.savefig(f"{stem}.png", dpi=120)
