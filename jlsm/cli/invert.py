"""``jlsm invert CONFIG.toml``: an inversion described by a config file (see :mod:`jlsm.config`)."""

from __future__ import annotations

import json
import time
from pathlib import Path


def add_parser(subparsers):
    """Add the ``invert`` subcommand to an argparse subparsers object."""
    inv = subparsers.add_parser("invert", help="run an inversion described by a TOML config file")
    inv.add_argument("config", type=Path, help="the TOML config (see examples/)")
    inv.add_argument("--out", type=Path, default=None, help="output folder (overrides the config)")
    inv.add_argument("--json", type=Path, default=None, help="write a JSON summary here")
    inv.add_argument("--starts", type=int, default=None, help="number of starts (overrides the config)")
    inv.add_argument("--checkpoint", type=Path, default=None, help="save the optimiser state in this folder as it goes")
    inv.add_argument("--resume", action="store_true", help="continue from --checkpoint (same config and seed)")
    inv.add_argument("--no-progress", action="store_true", help="no progress bar")
    return inv


def run(args) -> int:
    """Run ``jlsm invert``: :func:`run_config` with the command's arguments."""
    return run_config(
        args.config,
        out=args.out,
        json_path=args.json,
        progress=not args.no_progress,
        starts=args.starts,
        checkpoint=args.checkpoint,
        resume=args.resume,
    )


def run_config(path, *, out=None, json_path=None, progress=True, starts=None, checkpoint=None, resume=False) -> int:
    """Run the inversion of a config file; write NetCDF, a metrics table, figures and a JSON summary.

    ``starts`` overrides the config's number of starts; ``checkpoint`` is a
    folder to save the optimiser state in, ``resume`` continues from it.
    """
    from ..config import config_text, figures, load_config, report, run_problem, summarise
    from ..inverse import status_counts

    t0 = time.perf_counter()
    cfg = load_config(path)
    run = run_problem(cfg, progress=progress, starts=starts, checkpoint=checkpoint, resume=resume)
    result = run.result
    outdir = Path(out or cfg.get("output", {}).get("dir", "results"))
    outdir.mkdir(parents=True, exist_ok=True)
    name = cfg.get("output", {}).get("name", Path(path).stem)
    result.attrs["config"] = config_text(cfg)
    nc = outdir / f"{name}.nc"
    result.to_netcdf(nc)
    print(report(run))
    print(f"starts: {status_counts(result)}; {result.attrs['wall_seconds']:.1f} s; results: {nc}")
    figures(run, outdir / name)
    if json_path:
        summary = summarise(run)
        summary["wall_seconds"] = time.perf_counter() - t0
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps(summary, indent=2))
    return 0
