"""Speed of the identifiability tools on the Neural Physics synthetic case.

1. The observation-design sweep: every single depth and pair of depths from
   {0, 1, 2, 5, 10, 15, 20, 30, 50} cm at 0.05, 0.1 and 0.5 K noise (135
   designs), all six parameters free, at the true parameters; one Jacobian and
   one batched eigen-analysis. Timed with compilation (first call) and
   without (best of repeated calls).
2. Sobol sampling (256 sets) against the Gauss-Newton multi-start inversion
   (8 starts, 40 iterations) on the 2-depth twin with 0.1 K noise, the cost in
   forward-run equivalents (:func:`jlsm.identify.compare_with_gradient`);
   the comparison is run twice and the second (compiled) run is reported.
3. The cost of one gradient (reverse mode) and one Gauss-Newton Jacobian
   (forward mode, 6 tangents) in forward runs, for batches of 8 and 256.

Writes ``benchmarks/results/bench_identify.json`` (the folder is created).

Usage::

    python benchmarks/bench_identify.py [--repeats 20] [--starts 8] [--samples 256]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

from jlsm.loop_kernels import enable_loop_kernels

enable_loop_kernels()  # as the jlsm command does, before JAX starts

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import equinox as eqx  # noqa: E402
import numpy as np  # noqa: E402

from jlsm import identify as idf  # noqa: E402
from jlsm.observe import Observations  # noqa: E402
from jlsm.synthetic import TRUE_PARAMETERS, twin_case  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "bench_identify.json"
NOISE = 0.1  # K


def bench_sweep(repeats):
    t0 = time.perf_counter()
    sweep = idf.synthetic_sweep()
    first = time.perf_counter() - t0
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        sweep = idf.synthetic_sweep()
        runs.append(time.perf_counter() - t0)
    ranked = idf.rank_designs(sweep, "max_target_std")
    top = []
    for i in range(5):
        row = ranked.isel(design=i)
        top.append(
            {
                "design": str(row["label"].values),
                "max_target_std": float(row["score"]),
                **{q: float(row["cr_std"].sel(parameter=q)) for q in idf.TARGETS},
            }
        )
    by_info = idf.rank_designs(sweep, "target_information")
    return {
        "n_designs": int(sweep.sizes["design"]),
        "first_call_s": first,
        "compiled_call_s": min(runs),
        "compiled_batch_s": float(sweep.attrs["wall_seconds"]),
        "compiled_jacobian_s": float(sweep.attrs["jacobian_seconds"]),
        "top_by_max_target_std": top,
        "top_by_target_information": [str(v) for v in by_info["label"].values[:5]],
        "paper_design_0_5cm_0.1K": {
            q: float(
                sweep["cr_std"]
                .sel(parameter=q)
                .isel(design=int(np.flatnonzero(sweep["label"].values == "0+5 cm, 0.1 K")[0]))
            )
            for q in idf.TARGETS
        },
    }, ranked


def bench_comparison(samples, starts, repeats):
    model, forcing, obs, space, initial = twin_case("surface+5cm", noise=NOISE, seed=0)
    obs = Observations(np.asarray(obs.values), obs.observables, np.full(2, NOISE))
    kwargs = dict(n_samples=samples, starts=starts, polish=40, initial=initial, truth=TRUE_PARAMETERS, repeats=repeats)
    t0 = time.perf_counter()
    idf.compare_with_gradient(model, forcing, obs, space, **kwargs)
    first = time.perf_counter() - t0
    comparison = idf.compare_with_gradient(model, forcing, obs, space, **kwargs)
    out = {"first_call_s": first, "table": idf.comparison_table(comparison), "attrs": dict(comparison.attrs)}
    for a in comparison["approach"].values:
        r = comparison.sel(approach=a)
        out[str(a)] = {
            k: float(r[k])
            for k in (
                "final_objective",
                "evaluations",
                "wall_seconds",
                "objective_at_sampling_budget",
                "evaluations_to_sampling_best",
                "evaluations_to_gradient_best",
            )
        }
        out[str(a)]["relative_error"] = {p: float(r["relative_error"].sel(parameter=p)) for p in space.names}
    costs = {}
    for batch in (starts, 256):
        costs[str(batch)] = idf.forward_equivalents(
            model, forcing, obs, space, batch=batch, repeats=repeats, initial=initial
        )
    out["forward_equivalents"] = costs
    return out, comparison


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--starts", type=int, default=8)
    parser.add_argument("--samples", type=int, default=256)
    parser.add_argument("--json", type=Path, default=RESULTS)
    parser.add_argument("--figures", type=Path, default=None, help="also save the figures in this folder")
    args = parser.parse_args(argv)

    sweep, ranked = bench_sweep(args.repeats)
    print(
        f"design sweep: {sweep['n_designs']} designs, first call {sweep['first_call_s']:.2f} s, "
        f"compiled {sweep['compiled_call_s']:.3f} s"
    )
    print(idf.design_table(ranked, 5))
    comparison, ds = bench_comparison(args.samples, args.starts, args.repeats)
    print(comparison["table"])
    for batch, c in comparison["forward_equivalents"].items():
        print(f"batch {batch}: gradient = {c['gradient_ratio']:.2f} forward runs, Jacobian = {c['jacobian_ratio']:.2f}")
    if args.figures:
        args.figures.mkdir(parents=True, exist_ok=True)
        idf.design_figure(idf.synthetic_sweep()).savefig(args.figures / "design_sweep.png", dpi=120)
        idf.comparison_figure(ds).savefig(args.figures / "sampling_vs_gradient.png", dpi=120)
    report = dict(
        case="Neural Physics synthetic case: 101 nodes over 1 m, 100 hourly steps; six free parameters",
        dtype="float64",
        timing="wall time; compiled calls: best of repeats; cost ratios: best of interleaved repeats",
        jax=jax.__version__,
        equinox=eqx.__version__,
        backend=jax.default_backend(),
        cpu_count=os.cpu_count(),
        load_average=list(os.getloadavg()),
        machine=platform.machine(),
        python=platform.python_version(),
        design_sweep=sweep,
        sampling_vs_gradient=comparison,
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2, default=float) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
