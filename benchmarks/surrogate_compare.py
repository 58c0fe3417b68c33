"""The surrogate path against the direct path on the shared flux sites, at the documented CPU setting.

Paths (see :mod:`jlsm.surrogate.compare`): default, Sobol-256, (a) calibration
through a surrogate (trained on OAT, Sobol' 1x and Sobol' 4x runs), (b) a
generator through the frozen OAT surrogate and (c) through the physical model
(both leave one site out), (d) direct calibration. Every result is scored by
running the physical model. CPU-size multi-task LSTM (1 x 64, heads 32: about
30 k weights; MdPL's 1 M-weight size is ``--hidden 274 --layers 2 --head-width 64``
on a GPU).

Writes ``benchmarks/results/surrogate_compare.json`` and ``.md`` (``--out``).

Usage::

    python benchmarks/surrogate_compare.py [--sites CN-Cng DE-Hai ...] [--fit-days 40] [--test-days 20]
    # whole records, the collection's own split (the windows of jlsm calibrate), (d) from that run:
    python benchmarks/surrogate_compare.py --windows records --direct-from results/protocol/calibration.nc \
        --max-train-steps 2500 --eval-every 100 --patience 4 --gen-steps 60 \
        --out benchmarks/results/surrogate_compare_records

Data (cite where results are shown): the six shared flux sites of
``examples/sites.toml`` under ``$JLSM_DATA_DIR`` (see its README).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

from jlsm.loop_kernels import enable_loop_kernels

enable_loop_kernels()  # as the jlsm command does, before JAX starts

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

from jlsm.cache import enable_compilation_cache  # noqa: E402
from jlsm.surrogate.compare import CompareSettings, compare, compare_data  # noqa: E402
from jlsm.surrogate.compare_report import markdown, summary  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--collection", default=str(ROOT / "examples" / "sites.toml"))
    ap.add_argument("--sites", nargs="+", default=None)
    ap.add_argument("--windows", choices=["growing_season", "records"], default="growing_season")
    ap.add_argument("--direct-from", default=None, help="calibration.nc of jlsm calibrate: path (d) read, not re-run")
    ap.add_argument("--lead-days", type=float, default=3.0)
    ap.add_argument("--fit-days", type=float, default=30.0)
    ap.add_argument("--test-days", type=float, default=15.0)
    ap.add_argument("--starts", type=int, default=8)
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--gen-steps", type=int, default=100)
    ap.add_argument("--max-train-steps", type=int, default=300)
    ap.add_argument("--eval-every", type=int, default=25)
    ap.add_argument("--patience", type=int, default=4)
    ap.add_argument("--val-fraction", type=float, default=0.15)
    ap.add_argument("--sur-steps", type=int, default=100)
    ap.add_argument("--sobol", type=int, default=256)
    ap.add_argument("--fidelity-runs", type=int, default=16)
    ap.add_argument("--designs", nargs="+", default=["oat", "sobol_1x", "sobol_4x"])
    ap.add_argument("--kind", default="multi")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "surrogate_compare"))
    args = ap.parse_args(argv)
    enable_compilation_cache()
    st = CompareSettings(windows=args.windows, direct_from=args.direct_from, lead_days=args.lead_days,
                         fit_days=args.fit_days, test_days=args.test_days, starts=args.starts, steps=args.steps,
                         gen_steps=args.gen_steps, max_steps=args.max_train_steps, eval_every=args.eval_every,
                         patience=args.patience, val_fraction=args.val_fraction, sur_steps=args.sur_steps,
                         sobol=args.sobol, fidelity_runs=args.fidelity_runs, designs=tuple(args.designs),
                         kind=args.kind)
    load_start = os.getloadavg()
    t0 = time.perf_counter()
    data, _ = compare_data(args.collection, st, sites=args.sites)
    load_s = time.perf_counter() - t0
    print(f"{data.n_sites} sites {list(map(str, data.sites))}, {data.n_times} steps; loaded in {load_s:.0f} s", flush=True)
    result = compare(data, st, progress=lambda m: print(f"{time.perf_counter() - t0:7.0f} s  {m}", flush=True))
    out = summary(result)
    out["machine"] = {"platform": platform.platform(), "cpus": os.cpu_count(), "load_average": os.getloadavg(),
                      "load_average_at_start": load_start, "command": " ".join(["python"] + sys.argv),
                      "jax": jax.__version__, "devices": [str(d) for d in jax.devices()]}
    out["timing"]["load_data"] = load_s
    out["windows"] = {"mode": st.windows, "fit_steps": {s: int(n) for s, n in zip(result.sites, data.fit.sum(1))},
                      "test_steps": {s: int(n) for s, n in zip(result.sites, data.test.sum(1))},
                      "record_steps": int(data.n_times)}
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.with_suffix(".json").write_text(json.dumps(out, indent=1, allow_nan=False))
    path.with_suffix(".md").write_text(markdown(result))
    print(f"wrote {path.with_suffix('.json')} and .md; total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
