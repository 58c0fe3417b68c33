"""``jlsm identify``: the observation-design sweep of the synthetic case (see :mod:`jlsm.identify.designs`),
or, with a config, the Fisher analysis of that site's observations at a point (see :mod:`jlsm.config.fisher`)."""

from __future__ import annotations

import json
import sys
import time as _time
from pathlib import Path

from ..errors import InputError


def add_parser(subparsers):
    """Add the ``identify`` subcommand to an argparse subparsers object."""
    from ..identify.designs import CRITERIA, DEFAULT_DEPTHS_CM, DEFAULT_NOISE_K

    p = subparsers.add_parser(
        "identify",
        help="which parameters the observations identify: Fisher analysis of a config at its best estimate "
        "(or given values); without a config, the observation-design sweep of the synthetic case",
    )
    p.add_argument("config", type=Path, nargs="?", default=None,
                   help="a TOML config (as for jlsm invert): analyse its site's observations; without it, the sweep")
    p.add_argument("--result", type=Path, default=None,
                   help="with a config: a result NetCDF of jlsm invert; its best start is the analysis point "
                   "(default: run the inversion)")
    p.add_argument("--at", nargs="+", metavar="NAME=VALUE", default=None,
                   help="with a config: analyse at these physical values of the free parameters (override --result)")
    p.add_argument("--error", nargs="+", metavar="[NAME=]STD", default=None,
                   help="with a config: observation error std in each variable's units, one for all or NAME=STD "
                   "(default: the config's errors, else the RMS residual at the point)")
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
    """Run ``jlsm identify``: with a config, :func:`run_config_analysis`; else the synthetic design sweep."""
    if args.config is not None:
        return run_config_analysis(args)
    for option in ("result", "at", "error"):
        if getattr(args, option) is not None:
            raise InputError(f"identify: --{option} needs a config (jlsm identify CONFIG.toml --{option} ...)")
    return run_sweep(args)


def run_sweep(args) -> int:
    """The synthetic design sweep: print the ranked table, write NetCDF and a figure to ``--out``."""
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


def _errors(items):
    """``--error`` values: one number for all variables, or name -> std."""
    if not items:
        return None
    if len(items) == 1 and "=" not in items[0]:
        try:
            value = float(items[0])
        except ValueError:
            raise InputError(f"identify: --error {items[0]!r}: expected a number or NAME=STD") from None
        if not (value > 0 and value < float("inf")):
            raise InputError(f"identify: --error {items[0]!r}: expected a positive standard deviation")
        return value
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise InputError(f"identify: --error {item!r}: expected NAME=STD with a number") from None
        if not sep or not (out[name.strip()] > 0):
            raise InputError(f"identify: --error {item!r}: expected NAME=STD with a positive STD")
    return out


def run_config_analysis(args) -> int:
    """``jlsm identify CONFIG``: Fisher analysis at the best estimate (run, or ``--result``) or at ``--at`` values."""
    import xarray as xr

    from ..config import load_config, read_data, run_problem
    from ..config.fisher import best_estimate, fisher_at, parse_values
    from ..config.problem import build_problem
    from ..identify import describe_directions
    from .output import check_writable, write_or_fallback

    t0 = _time.perf_counter()
    cfg = load_config(args.config)
    check_writable(args.out, "--out", folder=True)
    data = read_data(cfg)
    names = list(build_problem(cfg, *data)[3].names)
    values, where = {}, ""
    if args.result is not None:
        if not args.result.is_file():
            raise InputError(f"identify: --result {args.result}: no such file")
        try:
            result = xr.load_dataset(args.result)
        except (OSError, ValueError) as err:
            raise InputError(f"identify: --result {args.result}: not a result NetCDF ({err})") from None
        values, where = best_estimate(result, names, str(args.result)), f"the best start of {args.result}"
    at = parse_values(args.at, names, "identify: --at")
    if at:
        values = {**values, **at}
        where = "the given values" if len(at) == len(names) else f"{where}, with {', '.join(at)} given"
    if not values:
        print(f"running the inversion of {args.config} for the best estimate", file=sys.stderr)
        run = run_problem(cfg, data=data)
        values = dict(zip(names, map(float, run.best)))
        where = "the best estimate of the inversion"
    analysis, info = fisher_at(cfg, values, errors=_errors(args.error), data=data)
    print(f"Fisher analysis of {args.config} at {where}; fit window {info['fit_window']}, "
          f"{info['n_observations']} observed values")
    print("observation error (" + info["noise_source"] + "): "
          + ", ".join(f"{v} {s:.3g} {info['units'].get(v, '')}".rstrip() for v, s in info["noise"].items()))
    print(_bounds_table(analysis))
    p = analysis.sizes["direction"]
    print(f"parameter combinations, weakest first (q = log p; std along each in q; rank {int(analysis['rank'])} of {p}, "
          f"condition number {float(analysis['condition_number']):.3g}):")
    for k, text in enumerate(describe_directions(analysis, count=p, with_eigenvalue=True), 1):
        print(f"  {k}. {text}")

    def write(folder):
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"identify_{cfg.get('output', {}).get('name', Path(args.config).stem)}.nc"
        out = analysis.copy()
        out.attrs["point"] = json.dumps(values)
        out.to_netcdf(path)
        return [path]

    paths, fell_back = write_or_fallback(write, args.out)
    print(f"results: {paths[0]}; total {_time.perf_counter() - t0:.1f} s")
    return 1 if fell_back else 0


def _bounds_table(analysis) -> str:
    """Aligned table: parameter, role, units, value, Cramer-Rao std (relative and absolute), identified."""
    import numpy as np

    rows = []
    for i, name in enumerate(analysis["parameter"].values):
        cr = float(analysis["cr_std"].values[i])
        scale = str(analysis["scale"].values[i])
        units = str(analysis["units"].values[i]) or "1"
        rel = ("inf" if not np.isfinite(cr) else f"{100 * cr:.3g} %") if scale == "log" else "-"
        absolute = float(analysis["cr_std_absolute"].values[i])
        rows.append((str(name), str(analysis["role"].values[i]), units, f"{float(analysis['value'].values[i]):.6g}",
                     rel, "inf" if not np.isfinite(absolute) else f"{absolute:.3g}",
                     "identifiable" if bool(analysis["identifiable"].values[i]) else "NOT identifiable"))
    header = ("parameter", "role", "units", "value", "CR std (rel.)", "CR std [units]", "locally")
    widths = [max(len(c) for c in col) for col in zip(header, *rows)]
    align = "<<<>>><"
    fmt = lambda cells: "  ".join(f"{c:{a}{w}}" for c, a, w in zip(cells, align, widths)).rstrip()  # noqa: E731
    return "\n".join(["Cramer-Rao bounds (the smallest standard deviation any unbiased estimate can have):",
                      fmt(header), *map(fmt, rows)])
