"""Cost accounting: a gradient and a Gauss-Newton Jacobian in forward-run equivalents (timed)."""

from __future__ import annotations

import dataclasses
import time as _time
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..errors import InputError
from ..forcing import Forcing
from ..inverse import Objective
from ..model import LandSurfaceModel
from ..observe import Observations
from ..params import ParameterSpace
from .coordinates import _problem


@dataclasses.dataclass(frozen=True)
class _Costs:
    objective: Objective

    def value(self, u, problem):
        return self.objective(u, problem)

    def value_and_grad(self, u, problem):
        return jax.value_and_grad(self.objective)(u, problem)

    def jacobian(self, u, problem):
        return jax.jacfwd(lambda v: self.objective.residual(v, problem))(u)


@eqx.filter_jit
def _cost_forward(spec: _Costs, u, problem):
    return jax.vmap(lambda v: spec.value(v, problem))(u)


@eqx.filter_jit
def _cost_gradient(spec: _Costs, u, problem):
    return jax.vmap(lambda v: spec.value_and_grad(v, problem))(u)


@eqx.filter_jit
def _cost_jacobian(spec: _Costs, u, problem):
    return jax.vmap(lambda v: spec.jacobian(v, problem))(u)


def forward_equivalents(
    model: LandSurfaceModel,
    forcing: Forcing,
    observations: Observations,
    space: ParameterSpace,
    *,
    batch: int = 8,
    repeats: int = 20,
    seed: int = 0,
    initial=None,
    kinds: Sequence[str] = ("gradient", "jacobian"),
) -> dict[str, float]:
    """Cost of a gradient and of a Gauss-Newton Jacobian in forward-run equivalents.

    Times one batched misfit evaluation of ``batch`` parameter sets, one
    batched value-and-gradient (reverse mode, as the first-order optimiser
    uses) and one batched residual Jacobian (forward mode with P tangents, as
    the Gauss-Newton polish uses), after compilation, the calls interleaved
    and the best of ``repeats`` kept (the least disturbed by other load).

    Args:
        kinds: which of ``"gradient"``, ``"jacobian"`` to time.

    Returns:
        dict with ``forward_seconds`` and ``gradient_seconds`` /
        ``jacobian_seconds`` (per batch), and the ratios ``gradient_ratio`` /
        ``jacobian_ratio`` (forward-run equivalents per gradient / Jacobian;
        NaN when not timed).
    """
    unknown = set(kinds) - {"gradient", "jacobian"}
    if unknown:
        raise InputError(f"forward_equivalents: unknown kind(s) {sorted(unknown)}; use 'gradient', 'jacobian'")
    problem = _problem(model, forcing, observations, initial)
    u = jnp.asarray(space.to_unconstrained(space.sample(int(batch), seed=seed)), jnp.float64)
    spec = _Costs(Objective(space))
    functions = {"forward": _cost_forward, "gradient": _cost_gradient, "jacobian": _cost_jacobian}
    keys = ["forward"] + [k for k in ("gradient", "jacobian") if k in kinds]
    times = {k: [] for k in keys}
    for k in keys:
        jax.block_until_ready(functions[k](spec, u, problem))
    for _ in range(max(1, repeats)):
        for k in keys:
            t0 = _time.perf_counter()
            jax.block_until_ready(functions[k](spec, u, problem))
            times[k].append(_time.perf_counter() - t0)
    out = {f"{k}_seconds": float(np.min(v)) for k, v in times.items()}
    for k in ("gradient", "jacobian"):
        out.setdefault(f"{k}_seconds", float("nan"))
        out[f"{k}_ratio"] = out[f"{k}_seconds"] / out["forward_seconds"]
    out["batch"] = int(batch)
    return out
