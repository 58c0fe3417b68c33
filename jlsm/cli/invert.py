"""``jlsm invert CONFIG.toml``: an inversion described by a config file (see :mod:`jlsm.config`, docs/config.md)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from .output import check_writable, write_or_fallback

HELP = """Run the inversion described by a TOML config file: NetCDF results, a table of
the estimates with their verdict, figures and (with --json) a JSON summary.
Every config key (type, default, unit, example) is in docs/config.md;
examples/*.toml are worked examples. --check validates the config and its
data without computing."""


def add_parser(subparsers):
    """Add the ``invert`` subcommand to an argparse subparsers object."""
    import argparse

    inv = subparsers.add_parser(
        "invert",
        help="run an inversion described by a TOML config file (keys: docs/config.md)",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    inv.add_argument("config", type=Path, help="the TOML config (keys: docs/config.md; see examples/)")
    inv.add_argument("--check", action="store_true",
                     help="validate the config and its data (read the files, build the problem) without computing")
    inv.add_argument("--out", type=Path, default=None, help="output folder (overrides the config)")
    inv.add_argument("--json", type=Path, default=None, help="write a JSON summary here")
    inv.add_argument("--starts", type=int, default=None, help="number of starts (overrides the config)")
    inv.add_argument("--checkpoint", type=Path, default=None,
                     help="save the optimiser state in this folder as it goes (and partial.nc on Ctrl-C)")
    inv.add_argument("--resume", action="store_true", help="continue from --checkpoint (same config and seed)")
    inv.add_argument("--no-progress", action="store_true", help="no progress bar")
    return inv


def run(args) -> int:
    """Run ``jlsm invert``: :func:`check_config` with ``--check``, else :func:`run_config`."""
    if args.check:
        return check_config(args.config)
    return run_config(
        args.config,
        out=args.out,
        json_path=args.json,
        progress=not args.no_progress,
        starts=args.starts,
        checkpoint=args.checkpoint,
        resume=args.resume,
    )


def _notes(cfg, forcing_ds) -> list[str]:
    from ..config import scope_notes

    notes = list(scope_notes(cfg))
    if forcing_ds.attrs.get("resampled"):
        notes.append(forcing_ds.attrs["resampled"])
    return notes


def check_config(path) -> int:
    """``jlsm invert CONFIG --check``: read the config and its data, build the problem, print a summary."""
    from ..config import build_problem, load_config, read_data
    from ..config.data import _times

    cfg = load_config(path)
    forcing_ds, obs_ds = read_data(cfg)
    model, forcing, observations, space, initial, fit, validate = build_problem(cfg, forcing_ds, obs_ds)
    for note in _notes(cfg, forcing_ds):
        print(f"jlsm: note: {note}", file=sys.stderr)
    n_obs = int(observations.mask.sum()) if hasattr(observations, "mask") else None
    print(f"{path}: OK")
    print(f"  data: {cfg['data']['format']}, {forcing.n_times} steps of {forcing.dt / 3600:g} h")
    print(f"  fit window: {_times(obs_ds, fit)}" + (f"; test window: {_times(obs_ds, validate)}" if validate else ""))
    print(f"  fitted: {', '.join(observations.names)}" + (f" ({n_obs} observed values)" if n_obs is not None else ""))
    print("  free: " + ", ".join(f"{n} [{lo:g}, {hi:g}]" for n, lo, hi in zip(space.names, space.lower, space.upper)))
    print(f"  fixed: {json.dumps({k: float(v) for k, v in space.fixed.items()})}")
    print(f"  model: {model.grid.n} nodes to {float(model.grid.z[-1]):g} m; "
          f"{int(cfg.get('inversion', {}).get('starts', 20))} starts; nothing computed")
    return 0


def run_config(path, *, out=None, json_path=None, progress=True, starts=None, checkpoint=None, resume=False) -> int:
    """Run the inversion of a config file; write NetCDF, a metrics table, figures and a JSON summary.

    ``starts`` overrides the config's number of starts; ``checkpoint`` is a
    folder to save the optimiser state in, ``resume`` continues from it. The
    output folder and the JSON path are checked for writing before anything is
    computed; if writing still fails at the end, the results go to a fallback
    folder (see :mod:`jlsm.cli.output`) and the status is 1.
    """
    from ..config import config_text, load_config, read_data, run_problem
    from ..inverse import InversionInterrupted

    t0 = time.perf_counter()
    cfg = load_config(path)
    outdir = Path(out or cfg.get("output", {}).get("dir", "results"))
    name = cfg.get("output", {}).get("name", Path(path).stem)
    check_writable(outdir, "--out" if out else f"{path}: [output] dir", folder=True)
    if json_path:
        check_writable(json_path, "--json", folder=False)
    if checkpoint:
        check_writable(checkpoint, "--checkpoint", folder=True)
    data = read_data(cfg)
    for note in _notes(cfg, data[0]):
        print(f"jlsm: note: {note}", file=sys.stderr)
    try:
        run = run_problem(cfg, progress=progress, starts=starts, checkpoint=checkpoint, resume=resume, data=data)
    except InversionInterrupted as err:
        print(_interrupted_line(err, outdir, name, path), file=sys.stderr)
        return 130
    result = run.result
    result.attrs["config"] = config_text(cfg)

    def write(folder: Path) -> list:
        from ..config import figures, summarise

        folder.mkdir(parents=True, exist_ok=True)
        nc = folder / f"{name}.nc"
        result.to_netcdf(nc)
        paths = [nc, *figures(run, folder / name)]
        if json_path:
            summary = summarise(run)
            summary["wall_seconds"] = time.perf_counter() - t0
            target = Path(json_path) if folder == outdir else folder / Path(json_path).name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(summary, indent=2))
            paths.append(target)
        return paths

    from ..config import report

    print(report(run))
    paths, fell_back = write_or_fallback(write, outdir)
    print(f"{result.attrs['wall_seconds']:.1f} s; results: {paths[0]}" + (f", summary: {paths[-1]}" if json_path else ""))
    return 1 if fell_back else 0


def _interrupted_line(err, outdir, name, path) -> str:
    """One line: where the partial results and the checkpoint are (partial results written if not yet)."""
    partial_path = err.partial_path
    if partial_path is None and err.partial is not None:
        def write(folder):
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / f"{name}_partial.nc"
            err.partial.to_netcdf(target)
            return [target]

        partial_path = write_or_fallback(write, outdir)[0][0]
    where = f"partial results in {partial_path}" if partial_path else "interrupted before the first step, nothing to save"
    resume = (f"; checkpoint in {err.checkpoint}, continue with: jlsm invert {path} --checkpoint {err.checkpoint} --resume"
              if err.checkpoint else "")
    return f"jlsm: interrupted; {where}{resume}"
