"""Wall time of the whole multi-site calibration protocol on the shared flux sites.

Runs ``jlsm calibrate`` (all methods: PFT defaults, Sobol-256, calibration from
Sobol' starts, OAT, PLUMBER 1lin / 3km27, leave-one-site-out) on the six sites
of ``examples/sites.toml`` (hourly steps, full records, one spin-up year) and
records the wall time of each method, the number of model runs each used and
the test-window skill, with the machine and its load.

Usage::

    python benchmarks/bench_protocol.py [--starts 16] [--steps 100] [--cpu-devices 1] [--out DIR] [extra jlsm calibrate options]

Writes ``benchmarks/results/protocol.json`` (the summary of ``jlsm calibrate``
plus ``machine``) and ``benchmarks/results/protocol.md`` (its report).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--collection", default=str(ROOT / "examples" / "sites.toml"))
    parser.add_argument("--starts", type=int, default=16)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "protocol")
    parser.add_argument("--cpu-devices", default="1", help="jlsm --cpu-devices (CPU devices to spread the columns over)")
    args, extra = parser.parse_known_args(argv)
    import jax

    from jlsm.cli.main import main as jlsm_main

    result = HERE / "results" / "protocol.json"
    result.parent.mkdir(exist_ok=True)
    cmd = ["--cpu-devices", str(args.cpu_devices), "calibrate", args.collection, "--starts", str(args.starts), "--steps", str(args.steps),
           "--out", str(args.out), "--json", str(result), "--checkpoint", str(args.out / "checkpoint"), *extra]
    print("jlsm " + " ".join(cmd), flush=True)
    t0 = time.perf_counter()
    code = jlsm_main(cmd)
    total = time.perf_counter() - t0
    if code:
        return code
    summary = json.loads(result.read_text())
    summary["machine"] = {"platform": platform.platform(), "cpus": os.cpu_count(), "load_average": os.getloadavg(),
                          "jax": jax.__version__, "devices": [str(d) for d in jax.devices()],
                          "command": "jlsm " + " ".join(cmd), "total_wall_s": total}
    from jlsm.calibration.report import write_json

    write_json(result, summary)
    shutil.copyfile(args.out / "report.md", HERE / "results" / "protocol.md")
    print(f"total {total:.0f} s; wrote {result} and protocol.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
