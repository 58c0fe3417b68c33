"""``jlsm calibrate COLLECTION.toml``: the multi-site Qh/Qle protocol (:func:`jlsm.calibration.run_protocol`).

Every chosen site is calibrated from ``--starts`` Sobol' starts in one batched
computation and compared, on the same test windows and metrics, with the
PFT defaults, the best of a Sobol' design, the PLUMBER empirical benchmarks
and leave-one-site-out transfer; one-factor-at-a-time sensitivities on the fit
window. Written to ``--out`` by :func:`jlsm.calibration.protocol.write_outputs`:
``calibration.nc``, ``series.nc``, ``skill.nc``, ``oat.nc``, ``summary.json``,
``report.md`` and figures. Ctrl-C at any point keeps what is done
(``partial_series.nc``: the methods finished; ``partial_calibration.nc``: the
calibration so far; with ``--checkpoint``, the optimiser state to
``--resume`` from).
"""

from __future__ import annotations

import dataclasses
import re
import time
from pathlib import Path

import numpy as np

from ..errors import InputError
from .sites import check_writable, citation, load_sites

ALL_METHODS = ("default", "sobol256", "calibrated", "1lin", "3km27", "loo", "oat")
BENCHMARKS = ("1lin", "2lin", "3km27")
"""Records up to this many steps are differentiated through a plain scan, longer ones with checkpointing."""


def add_parser(subparsers):
    """Add the ``calibrate`` subcommand to an argparse subparsers object."""
    p = subparsers.add_parser("calibrate", help="calibrate the land model on Qh and Qle at the sites of a collection "
                                                "and compare with the baselines (the MdPL protocol)")
    p.add_argument("collection", type=Path, help="the site collection TOML (see examples/sites.toml)")
    p.add_argument("--sites", nargs="+", default=None, metavar="NAME", help="only these sites (default: all)")
    p.add_argument("--starts", type=int, default=16, help="Sobol' starts per site (default 16)")
    p.add_argument("--steps", type=int, default=300, help="Adam iterations (default 300)")
    p.add_argument("--polish", type=int, default=0, help="L-BFGS iterations after Adam (default 0)")
    p.add_argument("--objective", choices=("mdpl", "normalised", "kge", "wls"), default="mdpl",
                   help="mdpl: RMSE(Qh) + RMSE(Qle) (default); normalised; kge; wls (needs --sigma)")
    p.add_argument("--sigma", type=float, nargs=2, default=None, metavar=("A", "B"),
                   help="flux uncertainty for --objective wls: sigma = A + B |observed flux| [W m-2]")
    p.add_argument("--methods", default=",".join(ALL_METHODS),
                   help="comma-separated methods (default: all of %(default)s; sobolN: a design of N sets; "
                        "default and calibrated always run)")
    p.add_argument("--seed", type=int, default=0, help="seed of the Sobol' designs (default 0)")
    p.add_argument("--spinup-years", type=int, default=1, help="spin-up cycles of each record's first year (default 1)")
    p.add_argument("--corrected", action="store_true", help="calibrate to the energy-balance corrected Qh_cor, Qle_cor")
    p.add_argument("--soil", default="LOAM", help="Noah soil texture class of the default models (default LOAM)")
    p.add_argument("--out", type=Path, default=Path("results/calibrate"), help="output folder (default results/calibrate)")
    p.add_argument("--json", type=Path, default=None, help="also write the JSON summary here")
    p.add_argument("--checkpoint", type=Path, default=None, help="save the optimiser state in this folder as it goes")
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint (same settings)")
    p.add_argument("--window-days", type=float, default=None,
                   help="only this many days of each record, the last third for testing (to try the command)")
    p.add_argument("--window-start", default=None, help="local start date of --window-days (YYYY-MM-DD; default: "
                                                        "two thirds of the window before each site's test start)")
    p.add_argument("--chunk", type=int, default=32,
                   help="parameter sets per compiled evaluation of the designs (memory; default 32)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-figures", action="store_true", help="do not draw figures")
    return p


def parse_methods(text: str) -> dict:
    """``--methods`` -> the :func:`run_protocol` switches ``{"sobol", "oat", "loo", "benchmarks"}``."""
    names = [m.strip() for m in text.split(",") if m.strip()]
    sobol, bench = 0, []
    for m in names:
        hit = re.fullmatch(r"sobol(\d+)", m)
        if hit:
            sobol = int(hit.group(1))
            if sobol < 1:
                raise InputError(f"--methods: {m} needs at least one parameter set")
        elif m in BENCHMARKS:
            bench.append(m)
        elif m not in ("default", "calibrated", "loo", "oat"):
            raise InputError(f"--methods: unknown method {m!r}; choose from default, sobolN (e.g. sobol256), "
                             f"calibrated, {', '.join(BENCHMARKS)}, loo, oat")
    return {"sobol": sobol, "oat": "oat" in names, "loo": "loo" in names, "benchmarks": tuple(bench)}


def run(args) -> int:
    """Run ``jlsm calibrate``: the protocol, its outputs, the test-window tables."""
    from ..calibration import run_protocol
    from ..calibration.protocol import ProtocolInterrupted, write_partial
    from ..calibration.protocol import write_outputs
    from ..calibration.sites import calibration_data

    t0 = time.perf_counter()
    switches = parse_methods(args.methods)
    if args.chunk < 1 or args.starts < 1:
        raise InputError(f"--chunk ({args.chunk}) and --starts ({args.starts}) must be >= 1")
    if args.resume and args.checkpoint is None:
        raise InputError("--resume needs --checkpoint DIR (the folder the interrupted run saved its state in)")
    if args.objective == "wls" and args.sigma is None:
        raise InputError("--objective wls needs --sigma A B (flux uncertainty A + B |flux| [W m-2])")
    out = check_writable(args.out)
    if args.json is not None:
        check_writable(Path(args.json).parent, "--json")
    if args.checkpoint is not None:
        check_writable(args.checkpoint, "--checkpoint")

    _, batch = load_sites(args.collection, args.sites, window_days=args.window_days, window_start=args.window_start)
    # reverse-mode memory: a plain scan up to jlsm.land.simulate.AUTO_PLAIN_STEPS, chunks beyond
    data = calibration_data(batch, soil=args.soil, spinup_years=args.spinup_years,
                            checkpoint_every="auto", corrected=args.corrected)
    if args.sigma is not None:
        a, b = args.sigma
        if not (a >= 0 and b >= 0 and a + b > 0):
            raise InputError(f"--sigma: A and B must be >= 0 and not both 0, got {a:g} {b:g}")
        sigma = {v: np.where(np.isfinite(o), a + b * np.abs(np.nan_to_num(o)), 1.0) for v, o in data.obs.items()}
        data = dataclasses.replace(data, sigma=sigma)
    cites = {name: citation(batch.site(i).attrs.get("source")) for i, name in enumerate(batch.names)}
    n_fit, n_test = data.fit.sum(axis=1), data.test.sum(axis=1)
    print(f"{data.n_sites} site(s) of {args.collection}, step {batch.dt / 60:g} min, {len(data.names)} parameters "
          f"({', '.join(data.names)}); objective {args.objective}; {args.starts} starts x {args.steps} Adam steps"
          + (f" + {args.polish} L-BFGS" if args.polish else ""))
    for i, name in enumerate(data.sites):
        print(f"  {name} ({data.pft[i]}): fit {n_fit[i]} steps, test {n_test[i]} steps")

    try:
        result = run_protocol(
            data, starts=args.starts, steps=args.steps, polish=args.polish, objective=args.objective,
            seed=args.seed, sobol=switches["sobol"], oat=switches["oat"], loo=switches["loo"],
            benchmarks=switches["benchmarks"], progress=_progress(args.no_progress),
            checkpoint=args.checkpoint, chunk=args.chunk, resume=args.resume,
        )
    except ProtocolInterrupted as err:
        written = write_partial(err, data, out)
        if written:
            print(f"\ninterrupted: finished methods ({', '.join(err.series) or 'none'}) and the calibration so far "
                  f"in {', '.join(str(p) for p in written)}")
        raise
    write_outputs(result, data, out, figures=not args.no_figures and _has_matplotlib())
    result.summary["citations"] = cites
    result.summary["settings"] = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
                                  if k not in ("command", "data_command")}
    from ..calibration.report import write_json

    write_json(out / "summary.json", result.summary)
    if args.json is not None:
        write_json(args.json, result.summary)

    print()
    print(test_tables(result.skill))
    print()
    print(parameter_table(result.calibration))
    timing = ", ".join(f"{k} {v:.1f} s" for k, v in result.timing.items())
    runs = ", ".join(f"{k} {v}" for k, v in result.model_runs.items())
    print(f"\nwall time: {timing}\nmodel runs: {runs}")
    print("Data: " + "; ".join(f"{k}: {v}" for k, v in cites.items()))
    print(f"results: {out} (calibration.nc, series.nc, skill.nc, summary.json, report.md"
          + (", oat.nc" if result.oat is not None else "") + "); total "
          f"{time.perf_counter() - t0:.1f} s")
    return 0


def _has_matplotlib() -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        return True
    except ImportError:
        return False


def _progress(off: bool):
    """True (a tqdm bar) if tqdm is installed, else a callable printing a line per chunk; None if off."""
    if off:
        return None
    try:
        import tqdm  # noqa: F401

        return True
    except ImportError:
        t0 = time.perf_counter()

        def line(info):
            best = np.asarray(info["best"], float)
            print(f"  {info['phase']} iteration {info['iteration']}: mean best loss "
                  f"{np.nanmean(np.where(np.isfinite(best), best, np.nan)):.4g} ({time.perf_counter() - t0:.0f} s)",
                  flush=True)

        return line


def _cell(x, digits):
    return "-" if not np.isfinite(x) else f"{x:.{digits}f}"


def test_tables(skill, window="test", scale="halfhourly") -> str:
    """Per site and averaged over sites: RMSE [W m-2] and KGE [-] of Qh and Qle per method."""
    sk = skill["skill"].sel(window=window, scale=scale)
    methods = [str(m) for m in sk["method"].values]
    head = (f"{'method':<12}{'RMSE Qh':>10}{'RMSE Qle':>10}{'sum':>9}{'change':>9}"
            f"{'KGE Qh':>9}{'KGE Qle':>9}")
    units = f"{'':<12}{'[W m-2]':>10}{'[W m-2]':>10}{'[W m-2]':>9}{'[%]':>9}{'[-]':>9}{'[-]':>9}"

    def block(sel, names=methods):
        lines = [head, units]
        base = None
        for m in names:
            v = sel.sel({"method": m})
            rh, rl = float(v.sel(variable="Qh", metric="rmse")), float(v.sel(variable="Qle", metric="rmse"))
            kh, kl = float(v.sel(variable="Qh", metric="kge")), float(v.sel(variable="Qle", metric="kge"))
            total = rh + rl
            if m == "default":
                base = total
            change = 100.0 * (total / base - 1.0) if base and np.isfinite(base) else np.nan
            lines.append(f"{m:<12}{_cell(rh, 1):>10}{_cell(rl, 1):>10}{_cell(total, 1):>9}{_cell(change, 1):>9}"
                         f"{_cell(kh, 2):>9}{_cell(kl, 2):>9}")
        return lines

    label = "native step" if scale == "halfhourly" else scale
    out = []
    for site in sk["site"].values:
        pft = str(sk["pft"].sel(site=site).values) if "pft" in sk.coords else ""
        out += [f"{site} ({pft}), {window} window, {label}:"] + block(sk.sel(site=site)) + [""]
    # sites with a test window; a method defined at fewer of them (leave-one-out) is averaged apart,
    # with the defaults over the same sites
    rmse = sk.sel(metric="rmse")
    ok = np.isfinite(rmse.sel(variable="Qh")) & np.isfinite(rmse.sel(variable="Qle"))
    full = ok.sel({"method": "default"}).values if "default" in methods else np.ones(sk.sizes["site"], bool)
    out += [f"Average over the {int(full.sum())} site(s) with a {window} window, {label}:"]
    count = {m: int((ok.sel({"method": m}).values & full).sum()) for m in methods}
    everywhere = [m for m in methods if count[m] == full.sum()]
    out += block(sk.isel(site=np.flatnonzero(full)).mean("site", skipna=True), everywhere)
    for m in methods:
        if 0 < count[m] < full.sum():
            has = ok.sel({"method": m}).values & full
            sites = ", ".join(str(x) for x in sk["site"].values[has])
            names = ["default", m] if "default" in methods else [m]
            out += ["", f"{m}: average over the {count[m]} site(s) where it is defined ({sites}):"]
            out += block(sk.isel(site=np.flatnonzero(has)).mean("site", skipna=True), names)
    return "\n".join(out)


def parameter_table(calibration) -> str:
    """Default and calibrated (best start) value of every parameter per site, with units."""
    names = [str(p) for p in calibration["parameter"].values]
    units = [str(u) for u in calibration["units"].values]
    sites = [str(s) for s in calibration["site"].values]
    head = f"{'parameter':<22}{'units':<12}" + "".join(f"{s + ' def':>13}{s + ' cal':>13}" for s in sites)
    lines = ["Parameters (default and calibrated, best start):", head]
    for j, (p, u) in enumerate(zip(names, units)):
        row = f"{p:<22}{u:<12}"
        for i in range(len(sites)):
            row += f"{float(calibration['default'].values[i, j]):>13.4g}{float(calibration['best'].values[i, j]):>13.4g}"
        lines.append(row)
    return "\n".join(lines)

