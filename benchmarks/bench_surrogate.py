"""Time per training step of the LSTM surrogates (jit, warm-up excluded, block_until_ready).

Usage: python benchmarks/bench_surrogate.py [--hidden H] [--layers N] [--batch B] [--window W]
       [--kind multi|single] [--steps K] [--dtype float32|float64] [--json OUT]

One step = forward + backward + Adam update on a batch of B sequences of W
steps; inputs F + P + 4 L = 8 + 12 + 16 features (forcing, parameters,
encoding with L = 4), two outputs. Compile time is reported on its own.
"""

from __future__ import annotations

import argparse
import json
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

from jlsm.surrogate import build_network, count_weights
from jlsm.surrogate.train import make_loss


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hidden", type=int, default=288)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--head-width", type=int, default=64)
    ap.add_argument("--kind", default="multi")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--window", type=int, default=336)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--json")
    a = ap.parse_args()
    if a.dtype == "float64":
        jax.config.update("jax_enable_x64", True)
    dtype = jnp.dtype(a.dtype)
    in_size = 8 + 12 + 16
    net = build_network(a.kind, key=jax.random.PRNGKey(0), dtype=dtype, in_size=in_size, hidden=a.hidden,
                        n_layers=a.layers, n_outputs=2, head_width=a.head_width)
    x = jax.random.normal(jax.random.PRNGKey(1), (a.batch, a.window, in_size), dtype)
    y = jax.random.normal(jax.random.PRNGKey(2), (a.batch, a.window, 2), dtype)
    opt = optax.adam(1e-3)
    params, static = eqx.partition(net, eqx.is_inexact_array)
    state = opt.init(params)
    loss_fn = make_loss(0)

    @jax.jit
    def step(params, state, x, y):
        value, g = jax.value_and_grad(lambda p: loss_fn(eqx.combine(p, static), x, y))(params)
        upd, state = opt.update(g, state, params)
        return optax.apply_updates(params, upd), state, value

    t0 = time.perf_counter()
    compiled = step.lower(params, state, x, y).compile()
    t_compile = time.perf_counter() - t0
    params, state, v = compiled(params, state, x, y)  # warm-up
    v.block_until_ready()
    times = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        params, state, v = compiled(params, state, x, y)
        v.block_until_ready()
        times.append(time.perf_counter() - t0)
    out = {"kind": a.kind, "hidden": a.hidden, "layers": a.layers, "head_width": a.head_width, "weights": count_weights(net),
           "batch": a.batch, "window": a.window, "dtype": a.dtype, "compile_s": t_compile,
           "step_s_min": min(times), "step_s_median": sorted(times)[len(times) // 2], "device": str(jax.devices()[0])}
    print(json.dumps(out, indent=1))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
