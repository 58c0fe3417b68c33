"""``jlsm identify``: the observation-design sweep of the synthetic case (see :mod:`jlsm.identify.designs`)."""

from __future__ import annotations

import json
import time as _time
from pathlib import Path

from ..errors import InputError


def add_parser(subparsers):
    """Add the ``identify`` subcommand to an argparse subparsers object."""
    from ..identify.designs import CRITERIA, DEFAULT_DEPTHS_CM, DEFAULT_NOISE_K

    p = subparsers.add_parser(
        "identify", help="observation-design sweep of the synthetic case: which depths identify the parameters"
    )
    p.add_argument("--depths", type=float, nargs="+", default=list(DEFAULT_DEPTHS_CM), help="candidate depths [cm]")
    p.add_argument("--noise", type=float, nargs="+", default=list(DEFAULT_NOISE_K), help="temperature noise levels [K]")
    p.add_argument("--sizes", type=int, nargs="+", default=[1, 2], help="numbers of depths per design (default 1 2)")
    p.add_argument("--hours", type=int, default=None, help="record length [h] (default: the whole 100 h)")
    p.add_argument(
        "--rank-by", default="max_target_std", help=f"ranking: one of {CRITERIA} or a quantity (default max_target_std)"
    )
    p.add_argument("--top", type=int, default=15, help="designs shown (default 15)")
    p.add_argument(
        "--out", type=Path, default=Path("results/identify"), help="output folder (default results/identify)"
    )
    p.add_argument("--no-figure", action="store_true", help="do not draw the figure")
    return p


def run(args) -> int:
    """Run ``jlsm identify``: sweep, print the ranked table, write NetCDF and a figure to ``--out``."""
    from ..identify import design_figure, design_table, rank_designs, synthetic_sweep

    t0 = _time.perf_counter()
    if args.top < 1:
        raise InputError(f"identify: --top must be >= 1, got {args.top}")
    sweep = synthetic_sweep(args.depths, args.noise, sizes=tuple(args.sizes), hours=args.hours)
    ranked = rank_designs(sweep, by=args.rank_by)
    print(
        f"{sweep.sizes['design']} designs of the synthetic case (true parameters), one batched computation: "
        f"{sweep.attrs['wall_seconds']:.2f} s including compilation (Jacobian {sweep.attrs['jacobian_seconds']:.2f} s)"
    )
    print("Cramer-Rao relative standard deviations (h and beta alone: inf, only h_eff = h (1 + 1/beta) is seen)")
    print(design_table(ranked, args.top))
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "design_sweep.nc"
    try:
        ranked.to_netcdf(path)
        print(f"results: {path}")
    except (ImportError, ValueError) as err:
        alt = path.with_suffix(".json")
        alt.write_text(json.dumps(ranked.to_dict(data="list"), default=str))
        print(f"(NetCDF not written: {err}; wrote {alt})")
    if not args.no_figure:
        try:
            fig = design_figure(sweep)
            fig.savefig(args.out / "design_sweep.png", dpi=120)
            print(f"figure: {args.out / 'design_sweep.png'}")
        except (ImportError, InputError) as err:
            print(f"(figure not drawn: {err})")
    print(f"total {_time.perf_counter() - t0:.1f} s")
    return 0
