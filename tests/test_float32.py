"""Single precision: float32 in gives float32 out, close to float64."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jlsm.model import simulate
from jlsm.synthetic import INITIAL_TEMPERATURE, OBSERVED_DEPTHS, paper_forcing, paper_model


def cast(tree, dtype):
    return jax.tree_util.tree_map(lambda a: a.astype(dtype) if eqx.is_inexact_array(a) else a, tree)


_run = eqx.filter_jit(
    lambda m, f: simulate(m, f, initial=INITIAL_TEMPERATURE, depths=OBSERVED_DEPTHS, profile=True)
)
FIELDS = ("ts", "temperature", "profile", "lw_up", "sw_up", "sensible", "latent", "ground", "bottom")


@pytest.fixture(scope="module")
def reference():
    return _run(cast(paper_model(), jnp.float64), cast(paper_forcing(), jnp.float64))


def test_float64_in_float64_out(reference):
    assert jax.config.jax_enable_x64
    for name in FIELDS:
        assert getattr(reference, name).dtype == jnp.float64, name


def test_float32_close_to_float64(reference):
    model, forcing = paper_model(), paper_forcing()
    single = _run(cast(model, jnp.float32), cast(forcing, jnp.float32))
    double = reference
    for name in FIELDS:
        assert getattr(single, name).dtype == jnp.float32, name
    diff = np.abs(np.asarray(single.profile, np.float64) - np.asarray(double.profile)).max()
    print(f"float32 vs float64 profile max difference {diff:.2e} K")
    assert diff < 0.01
    flux = np.abs(np.asarray(single.ground, np.float64) - np.asarray(double.ground)).max()
    assert flux < 0.5  # W m-2


def test_float32_gradient_finite():
    model, forcing = cast(paper_model(), jnp.float32), cast(paper_forcing(hours=24), jnp.float32)

    @eqx.filter_grad
    def grad(m):
        out = simulate(m, forcing, initial=INITIAL_TEMPERATURE, depths=OBSERVED_DEPTHS)
        return jnp.mean((out.temperature - 293.0) ** 2)

    g = eqx.filter_jit(grad)(model)
    leaves = [leaf for leaf in jax.tree_util.tree_leaves(g) if eqx.is_inexact_array(leaf)]
    assert all(leaf.dtype == jnp.float32 and bool(jnp.all(jnp.isfinite(leaf))) for leaf in leaves)
