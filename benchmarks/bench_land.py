"""Speed and memory of the version-2 land column through a site-year.

CN-Cng 2008 (17,520 half-hourly steps), grassland defaults, float64; a batch of
B columns (B parameter sets from the default space's Sobol sample) under
``vmap``. For B in 1, 16, 64, 256, each in its own process (peak memory is the
process's maximum resident set, ``resource.getrusage``):

* forward: ``jit(vmap(loss))`` with loss = mean Qle + mean Qh (both series kept);
* gradient: ``jit(vmap(grad(loss)))`` through the checkpointed scan
  (``checkpoint_every="auto"``, chunks of ceil(sqrt(T)) steps);
* compile time of each (``lower().compile()``), run time the best of
  ``--repeats`` calls after the compile;
* ns per step per column, gradient / forward ratio.

The processes call :func:`jlsm.enable_loop_kernels` before JAX starts, as the
``jlsm`` command does (``--xla-default`` for XLA's default CPU loops).
``--devices N`` gives the process N CPU devices
(``--xla_force_host_platform_device_count``) and shards the columns over
them, one core each, as ``jlsm calibrate`` does with the devices it sees.

Targets (design notes): forward <= 150 ns/step/column at B >= 64, gradient <=
4x forward, 256-column site-year gradient < 2 GB, compile < 10 s.

Usage::

    python benchmarks/bench_land.py [--batches 1 16 64 256] [--repeats 2] [--devices 1] [--xla-default]

Writes ``benchmarks/results/land.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
STEPS = 17520


def child(batch: int, repeats: int, loop_kernels: bool, devices: int = 1) -> dict:
    from jlsm.loop_kernels import enable_loop_kernels, set_cpu_devices

    set_cpu_devices(devices)  # before JAX starts, as jlsm --cpu-devices does
    if loop_kernels:
        enable_loop_kernels()
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import xarray as xr

    from jlsm.land import LandForcing, default_model, default_space, monthly_lai, simulate_land

    data = Path(os.environ.get("JLSM_DATA_DIR", HERE.parents[1] / "shared" / "data"))
    ds = xr.open_dataset(data / "cn-changling" / "CN-Cng_2008-2009_FLUXNET2015_Met.nc").isel(time=slice(0, STEPS))
    forcing = LandForcing.from_xarray(ds, lai=monthly_lai("GRA"))
    model = default_model("GRA", z_ref=2.0, canopy_height=0.75)
    space = default_space("GRA")
    u = jnp.asarray(space.to_unconstrained(space.sample(batch, seed=0)))
    if devices > 1:
        if batch % devices:
            raise SystemExit(f"bench_land: batch {batch} is not a multiple of --devices {devices}")
        mesh = jax.sharding.Mesh(jax.devices()[:devices], ("columns",))
        u = jax.device_put(u, jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("columns")))

    def loss(ui):
        out = simulate_land(space.to_model(ui, model), forcing, spinup_years=0, outputs=("qle", "qh"))
        return jnp.mean(out.series["qle"]) + jnp.mean(out.series["qh"])

    result = {"batch": batch, "steps": STEPS, "loop_kernels": loop_kernels, "devices": devices,
              "xla_flags": os.environ.get("XLA_FLAGS", "")}
    for name, fn in (("forward", jax.vmap(loss)), ("gradient", jax.vmap(jax.grad(loss)))):
        t0 = time.perf_counter()
        compiled = jax.jit(fn).lower(u).compile()
        result[f"{name}_compile_s"] = time.perf_counter() - t0
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            jax.block_until_ready(compiled(u))
            best = min(best, time.perf_counter() - t0)
        result[f"{name}_s"] = best
        result[f"{name}_ns_per_step_column"] = best / STEPS / batch * 1e9
    result["gradient_over_forward"] = result["gradient_s"] / result["forward_s"]
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 16, 64, 256])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--xla-default", action="store_true",
                        help="XLA's default CPU loops (without jlsm.enable_loop_kernels, which the jlsm command uses)")
    parser.add_argument("--devices", type=int, default=1, help="CPU devices to shard the columns over")
    parser.add_argument("--out", default=str(HERE / "results" / "land.json"))
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child, args.repeats, not args.xla_default, args.devices)))
        return
    rows = []
    out = Path(args.out)
    out.parent.mkdir(exist_ok=True)
    meta = {"machine": platform.platform(), "cpus": os.cpu_count()}
    for b in args.batches:
        cmd = [sys.executable, __file__, "--child", str(b), "--repeats", str(args.repeats), "--devices", str(args.devices)]
        cmd += ["--xla-default"] if args.xla_default else []
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        r = rows[-1]
        print(
            f"B={r['batch']:4d} x{r['devices']} dev  forward {r['forward_ns_per_step_column']:9.0f} ns/step/col "
            f"(compile {r['forward_compile_s']:5.1f} s)  gradient {r['gradient_ns_per_step_column']:9.0f} ns/step/col "
            f"(compile {r['gradient_compile_s']:5.1f} s)  grad/fwd {r['gradient_over_forward']:4.1f}  "
            f"peak {r['peak_rss_mb']:7.0f} MB",
            flush=True,
        )
        meta["load_average"] = os.getloadavg()  # the machine's load, which these times include
        out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")  # after every batch
    print(f"written {out}")


if __name__ == "__main__":
    main()
