"""``jlsm surrogate compare``: the surrogate path against the direct path on a site collection
(see :mod:`jlsm.surrogate.compare`)."""

from __future__ import annotations

import time as _time
from pathlib import Path

from ..errors import InputError
from .sites import check_writable


def add_parser(subparsers):
    """Add the ``surrogate`` subcommand (with its ``compare`` action) to an argparse subparsers object."""
    p = subparsers.add_parser("surrogate", help="surrogates of the land model: compare the surrogate and direct paths")
    actions = p.add_subparsers(dest="action", required=True)
    c = actions.add_parser(
        "compare",
        help="default, Sobol-256, (a) calibration through a surrogate, (b) generator through the surrogate, "
             "(c) generator through the model, (d) direct calibration, on the same sites and windows",
    )
    c.add_argument("collection", type=Path, help="site collection TOML (e.g. examples/sites.toml)")
    c.add_argument("--sites", nargs="+", default=None, help="site names to use (default: all of the collection)")
    c.add_argument("--windows", choices=["growing_season", "records"], default="growing_season",
                   help="growing_season: lead-in, fit and test days from a growing-season date per site (default); "
                        "records: the collection's own periods and fit/test split, as jlsm calibrate uses them")
    c.add_argument("--days", type=float, default=30.0, help="fit window [d] per site (default 30)")
    c.add_argument("--test-days", type=float, default=15.0, help="test window [d] after the fit window (default 15)")
    c.add_argument("--lead-days", type=float, default=3.0, help="lead-in before the fit window, scored in neither [d] (default 3)")
    c.add_argument("--designs", nargs="+", default=["oat", "sobol_1x", "sobol_4x"],
                   choices=["oat", "sobol_1x", "sobol_4x"], help="surrogate training designs (default all three)")
    c.add_argument("--kind", choices=["multi", "single"], default="multi", help="multi-task or single-task LSTM")
    c.add_argument("--hidden", type=int, default=64, help="LSTM width (CPU default 64: about 30 k weights)")
    c.add_argument("--layers", type=int, default=1, help="LSTM layers (MdPL size on a GPU: --hidden 274 --layers 2 --head-width 64)")
    c.add_argument("--head-width", type=int, default=32, help="width of each flux head")
    c.add_argument("--starts", type=int, default=8, help="starts of the direct calibration (d)")
    c.add_argument("--steps", type=int, default=150, help="Adam steps of the direct calibration (d)")
    c.add_argument("--direct-from", type=Path, default=None,
                   help="calibration.nc of an earlier jlsm calibrate on the same sites and windows: path (d) and its "
                        "cost read from it instead of re-running it")
    c.add_argument("--gen-steps", type=int, default=100, help="training steps of the generators (b, c)")
    c.add_argument("--max-train-steps", type=int, default=300, help="surrogate training steps at most (early stopping)")
    c.add_argument("--eval-every", type=int, default=25, help="surrogate training steps between validation losses")
    c.add_argument("--patience", type=int, default=4, help="validation losses without improvement before stopping")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--out", type=Path, default=Path("results/surrogate_compare"),
                   help="output folder (default results/surrogate_compare)")
    return p


def run(args) -> int:
    """Run ``jlsm surrogate compare``: print the averaged test table and costs, write JSON and markdown to ``--out``."""
    from ..surrogate.compare import CompareSettings, compare, compare_data
    from ..surrogate.compare_report import markdown, write_outputs

    if args.action != "compare":
        raise InputError(f"surrogate: unknown action {args.action!r}; expected 'compare'")
    for name in ("days", "test_days"):
        if not getattr(args, name) > 0:
            raise InputError(f"surrogate compare: --{name.replace('_', '-')} must be > 0, got {getattr(args, name)}")
    if args.lead_days < 0:
        raise InputError(f"surrogate compare: --lead-days must be >= 0, got {args.lead_days}")
    for name in ("starts", "steps", "gen_steps", "max_train_steps", "hidden", "layers", "head_width", "eval_every",
                 "patience"):
        if getattr(args, name) < 1:
            raise InputError(f"surrogate compare: --{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    check_writable(args.out)
    st = CompareSettings(windows=args.windows, direct_from=None if args.direct_from is None else str(args.direct_from),
                         eval_every=args.eval_every, patience=args.patience, lead_days=args.lead_days, fit_days=args.days, test_days=args.test_days,
                         designs=tuple(args.designs), kind=args.kind, hidden=args.hidden, n_layers=args.layers,
                         head_width=args.head_width, starts=args.starts, steps=args.steps, gen_steps=args.gen_steps,
                         max_steps=args.max_train_steps, seed=args.seed,
                         generator_designs=tuple(d for d in ("oat",) if d in args.designs) or (args.designs[0],))
    t0 = _time.perf_counter()
    data, _ = compare_data(args.collection, st, sites=args.sites)
    if data.n_sites < 2:
        raise InputError(f"surrogate compare: leave-one-site-out needs at least 2 sites, {args.collection} gave {data.n_sites}")
    if st.windows == "records":
        print(f"{data.n_sites} sites ({', '.join(map(str, data.sites))}), up to {data.n_times} steps; "
              "the collection's periods and fit/test split")
    else:
        print(f"{data.n_sites} sites ({', '.join(map(str, data.sites))}), {data.n_times} steps each; "
              f"fit {st.fit_days:g} d, test {st.test_days:g} d")
    result = compare(data, st, progress=lambda msg: print(f"  {_time.perf_counter() - t0:6.0f} s  {msg}", flush=True))
    js, md = write_outputs(result, args.out)
    text = markdown(result)
    start = text.find("### halfhourly")
    print(text[start:text.find("\n### ", start + 5)] if start >= 0 else text)
    print(f"total {result.timing['total']:.0f} s; results: {js}, {md}")
    return 0
