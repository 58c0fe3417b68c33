"""SpectralSolver (the default): same solution and derivatives as the direct tridiagonal solve."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from columns import GETTERS, GRIDS, column_forcing, column_model
from jlsm.model import LandSurfaceModel, simulate
from jlsm.physics import SoilThermal, TridiagonalSolver
from jlsm.physics.soil_heat import SpectralSolver
from jlsm.synthetic import INITIAL_TEMPERATURE, OBSERVED_DEPTHS, paper_forcing, paper_model


def _forcing(top, hours=72):
    return column_forcing(top, hours)


_run = eqx.filter_jit(lambda m, f: simulate(m, f, initial=INITIAL_TEMPERATURE, depths=(0.0, 0.03, 0.1), profile=True))


@pytest.mark.parametrize("theta", [1.0, 0.5])
@pytest.mark.parametrize(
    "grid_name, top, bottom",
    [("uniform", "energy_balance", "fixed"), ("stretched", "energy_balance", "zero_flux"),
     ("uniform", "prescribed", "zero_flux"), ("stretched", "prescribed", "fixed")],
)
def test_same_solution_as_tridiagonal(grid_name, top, bottom, theta):
    grid, forcing = GRIDS[grid_name], _forcing(top)
    fast = _run(column_model(SpectralSolver(theta=theta), grid, top, bottom), forcing)
    ref = _run(column_model(TridiagonalSolver(theta=theta), grid, top, bottom), forcing)
    scale = np.abs(np.asarray(ref.profile) - 273.15).max()
    for name in ("profile", "temperature", "ts", "ground", "bottom", "lw_up", "sensible"):
        a, b = np.asarray(getattr(fast, name)), np.asarray(getattr(ref, name))
        assert np.abs(a - b).max() <= 1e-11 * max(scale, np.abs(b).max()), name


def test_per_node_properties_use_the_tridiagonal_solve():
    grid = GRIDS["stretched"]
    soil = SoilThermal.layered(grid, [0.1, 0.4], [0.5, 1.0, 1.6], [1.4e6, 2.2e6, 2.9e6])
    forcing = _forcing("energy_balance")
    fast = _run(column_model(SpectralSolver(), grid, "energy_balance", "fixed", soil), forcing)
    ref = _run(column_model(TridiagonalSolver(), grid, "energy_balance", "fixed", soil), forcing)
    np.testing.assert_array_equal(np.asarray(fast.profile), np.asarray(ref.profile))


def test_default_solver_is_spectral():
    assert isinstance(LandSurfaceModel().solver, SpectralSolver)
    assert isinstance(paper_model().solver, SpectralSolver)
    assert isinstance(paper_model(solver="tridiagonal").solver, TridiagonalSolver)


NAMES = ("albedo", "h", "beta", "conductivity", "heat_capacity", "bottom_temperature")


def _loss(solver_name, theta, forcing):
    base = paper_model(solver=solver_name, theta=theta)

    def loss(p):
        m = eqx.tree_at(lambda m: [GETTERS[n](m) for n in NAMES], base, [p[i] for i in range(len(NAMES))])
        out = simulate(m, forcing, initial=INITIAL_TEMPERATURE, depths=OBSERVED_DEPTHS)
        return jnp.mean((out.temperature - 293.0) ** 2)

    return loss, jnp.asarray([0.25, 12.0, 1.2, 0.7, 2.4e6, 291.0])


@pytest.mark.parametrize("theta", [1.0, 0.5])
def test_gradients_match_tridiagonal_and_finite_differences(theta):
    forcing = paper_forcing(hours=48)
    fast, p0 = _loss("direct", theta, forcing)
    ref, _ = _loss("tridiagonal", theta, forcing)
    g_fast = np.asarray(jax.jit(jax.grad(fast))(p0))
    g_ref = np.asarray(jax.jit(jax.grad(ref))(p0))
    np.testing.assert_allclose(g_fast, g_ref, rtol=1e-9)
    np.testing.assert_allclose(np.asarray(jax.jit(jax.jacfwd(fast))(p0)), g_ref, rtol=1e-9)
    jitted, p = jax.jit(fast), np.asarray(p0)
    fd = np.zeros_like(p)
    for i in range(p.size):
        step = np.zeros_like(p)
        step[i] = 1e-6 * abs(p[i])
        fd[i] = (float(jitted(p + step)) - float(jitted(p - step))) / (2 * step[i])
    np.testing.assert_allclose(g_fast, fd, rtol=1e-5)


def test_vmap_and_checkpointing():
    forcing = paper_forcing(hours=48)
    loss, p0 = _loss("direct", 1.0, forcing)
    batch = jnp.stack([p0, p0 * jnp.asarray([1.2, 0.9, 1.1, 1.05, 0.95, 1.001])])
    grads = np.asarray(jax.jit(jax.vmap(jax.grad(loss)))(batch))
    for i in range(2):
        np.testing.assert_allclose(grads[i], np.asarray(jax.jit(jax.grad(loss))(batch[i])), rtol=1e-10)
    base = paper_model()

    def chunked(p):
        m = eqx.tree_at(lambda m: [GETTERS[n](m) for n in NAMES], base, [p[i] for i in range(len(NAMES))])
        out = simulate(m, forcing, initial=INITIAL_TEMPERATURE, depths=OBSERVED_DEPTHS, checkpoint_every=7)
        return jnp.mean((out.temperature - 293.0) ** 2)

    np.testing.assert_allclose(np.asarray(jax.jit(jax.grad(chunked))(p0)), grads[0], rtol=1e-10)


def test_float32_close_to_float64():
    forcing, model = paper_forcing(), paper_model()
    cast = lambda tree, dt: jax.tree_util.tree_map(lambda a: a.astype(dt) if eqx.is_inexact_array(a) else a, tree)  # noqa: E731
    single = _run(cast(model, jnp.float32), cast(forcing, jnp.float32))
    double = _run(model, forcing)
    assert single.profile.dtype == jnp.float32
    assert np.abs(np.asarray(single.profile, np.float64) - np.asarray(double.profile)).max() < 0.01
