"""Speed of ``simulate`` and of its gradient on the Neural Physics synthetic case.

100 hourly steps, 101 nodes, float64 on the default JAX device; solvers by
``paper_model`` name: direct (the default, :class:`SpectralSolver`), tridiagonal
(the previous default), modal (eigh per parameter set) and Jacobi (tolerance 1e-4); one start and
50 starts under ``vmap``. Compile time is timed separately from the run time
(median of repeated calls after a warm-up). Writes
``benchmarks/results/bench_simulate.json``.

Usage::

    python benchmarks/bench_simulate.py [--batches 1 50] [--solvers direct tridiagonal jacobi] [--repeats 5]

The full suite (throughput over N, T and starts, the published experiment
against the PyTorch reference, memory) is ``python benchmarks/run.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

from jlsm.loop_kernels import enable_loop_kernels

enable_loop_kernels()  # as the jlsm command does, before JAX starts

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import equinox as eqx  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from jlsm.model import simulate  # noqa: E402
from jlsm.synthetic import BOUNDS, INITIAL_TEMPERATURE, OBSERVED_DEPTHS, paper_forcing, paper_model  # noqa: E402

NAMES = ("albedo", "h", "beta", "conductivity", "bottom_temperature", "heat_capacity")
GETTERS = {
    "albedo": lambda m: m.radiation.albedo,
    "h": lambda m: m.turbulence.h,
    "beta": lambda m: m.turbulence.beta,
    "conductivity": lambda m: m.soil.conductivity,
    "bottom_temperature": lambda m: m.bottom_temperature,
    "heat_capacity": lambda m: m.soil.heat_capacity,
}
RESULTS = Path(__file__).resolve().parent / "results" / "bench_simulate.json"


def with_parameters(model, p):
    """``model`` with the parameters of NAMES set from the vector ``p``."""
    return eqx.tree_at(lambda m: [GETTERS[n](m) for n in NAMES], model, [p[i] for i in range(len(NAMES))])


def starts(batch, seed=0):
    """``batch`` parameter vectors drawn uniformly inside the study's bounds."""
    rng = np.random.default_rng(seed)
    lo = np.array([BOUNDS[n][0] for n in NAMES])
    hi = np.array([BOUNDS[n][1] for n in NAMES])
    return jnp.asarray(lo + (hi - lo) * rng.random((batch, len(NAMES))))


def timed(fn, args, repeats):
    """(compile seconds, median run seconds, min run seconds) of ``jax.jit(fn)``."""
    t0 = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    compile_s = time.perf_counter() - t0
    jax.block_until_ready(compiled(*args))  # warm-up
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        runs.append(time.perf_counter() - t0)
    return compile_s, statistics.median(runs), min(runs)


def bench(solver, batch, repeats):
    base = paper_model(solver=solver)
    forcing = paper_forcing()
    target = simulate(paper_model(), forcing, initial=INITIAL_TEMPERATURE, depths=OBSERVED_DEPTHS).temperature

    def forward(p):
        model = with_parameters(base, p)
        return simulate(model, forcing, initial=INITIAL_TEMPERATURE, depths=OBSERVED_DEPTHS).temperature

    def loss(p):
        return jnp.mean((forward(p) - target) ** 2)

    p = starts(batch)
    if batch == 1:
        p, run_forward, run_gradient = p[0], forward, jax.grad(loss)
    else:
        run_forward, run_gradient = jax.vmap(forward), jax.vmap(jax.grad(loss))
    work = base.grid.n * (forcing.n_times - 1) * batch  # node x step x start
    row = dict(solver=solver, batch=batch, nodes=base.grid.n, steps=forcing.n_times - 1)
    for name, fn in (("forward", run_forward), ("gradient", run_gradient)):
        compile_s, median_s, min_s = timed(fn, (p,), repeats)
        row[f"{name}_compile_s"] = compile_s
        row[f"{name}_s"] = median_s
        row[f"{name}_min_s"] = min_s
        row[f"{name}_ns_per_node_step_start"] = median_s / work * 1e9
    row["gradient_over_forward"] = row["gradient_s"] / row["forward_s"]
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 50])
    parser.add_argument(
        "--solvers", nargs="+", default=["direct", "tridiagonal", "jacobi"],
        choices=["direct", "tridiagonal", "modal", "jacobi"],
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    rows = [bench(s, b, args.repeats) for s in args.solvers for b in args.batches]
    header = (
        f"{'solver':<11} {'batch':>5} {'fwd ms':>9} {'grad ms':>9} {'fwd ns':>8} {'grad ns':>8} "
        f"{'grad/fwd':>8} {'compile fwd s':>13} {'compile grad s':>14}"
    )
    print("ns = nanoseconds per node x step x start (101 nodes, 100 steps)")
    print(header)
    for r in rows:
        print(
            f"{r['solver']:<11} {r['batch']:>5} {1e3 * r['forward_s']:>9.2f} {1e3 * r['gradient_s']:>9.2f} "
            f"{r['forward_ns_per_node_step_start']:>8.1f} {r['gradient_ns_per_node_step_start']:>8.1f} "
            f"{r['gradient_over_forward']:>8.2f} {r['forward_compile_s']:>13.2f} {r['gradient_compile_s']:>14.2f}"
        )
    device = jax.devices()[0]
    report = dict(
        case="Neural Physics synthetic case: 101 nodes over 1 m, 100 hourly steps, surface and 5 cm observed",
        dtype="float64",
        timing="median of repeated calls after compile and one warm-up call, block_until_ready",
        jax=jax.__version__,
        equinox=eqx.__version__,
        backend=jax.default_backend(),
        device=str(device.device_kind),
        cpu_count=os.cpu_count(),
        machine=platform.machine(),
        python=platform.python_version(),
        results=rows,
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
