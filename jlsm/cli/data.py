"""``jlsm data report COLLECTION.toml``: what was measured, filled and estimated at each site
(:func:`jlsm.sites.data_report`), printed, written as Markdown and JSON, with a figure per site."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from .sites import check_writable, citation


def add_parser(subparsers):
    """Add the ``data`` subcommand (with its ``report`` subcommand) to an argparse subparsers object."""
    p = subparsers.add_parser("data", help="flux-site data of a collection: report coverage, gaps, estimates")
    sub = p.add_subparsers(dest="data_command", required=True)
    rep = sub.add_parser("report", help="per site and variable: coverage, measured fraction, gaps, estimated "
                                        "variables, energy-balance closure; a figure per site")
    rep.add_argument("collection", type=Path, help="the site collection TOML (see examples/sites.toml)")
    rep.add_argument("--out", type=Path, default=Path("results/data"), help="output folder (default results/data)")
    rep.add_argument("--no-figures", action="store_true", help="do not draw the figures")
    return p


def run(args) -> int:
    """Run ``jlsm data report``: print the report, write ``data_report.md``, ``data_report.json`` and figures."""
    t0 = time.perf_counter()
    out = check_writable(args.out)
    from ..sites import data_report, load_collection

    batch = load_collection(args.collection)
    text, info = data_report(args.collection, batch=batch, figures_dir=None if args.no_figures else out)
    cites = {name: citation(batch.site(i).attrs.get("source")) for i, name in enumerate(batch.names)}
    text += "\n## Data sources\n\n" + "\n".join(f"- {k}: {v}" for k, v in cites.items()) + "\n"
    print(text)
    md = out / "data_report.md"
    md.write_text(text)
    js = out / "data_report.json"
    js.write_text(json.dumps(_plain({"sites": info, "citations": cites}), indent=2, allow_nan=False))
    print(f"report: {md}; numbers: {js}; {time.perf_counter() - t0:.1f} s")
    return 0


def _plain(x):
    """``x`` with numpy values as Python ones, NaN/Inf as None, other objects as text (valid JSON)."""
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple, np.ndarray)):
        return [_plain(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float):
        return x if np.isfinite(x) else None
    if x is None or isinstance(x, (bool, int, str)):
        return x
    return str(x)
