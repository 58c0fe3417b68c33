"""The spectral time loop and its derivative rule: same values and derivatives as the direct solve."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from columns import GETTERS, GRIDS, column_forcing, column_model
from jlsm.grid import SoilGrid
from jlsm.model import simulate
from jlsm.physics import TridiagonalSolver
from jlsm.physics.soil_heat import SpectralSolver
from jlsm.synthetic import paper_forcing

DEPTHS = (0.0, 0.03, 0.1, 0.257)  # nodes and points between nodes

CASES = [
    ("uniform", "energy_balance", "fixed"),
    ("stretched", "energy_balance", "zero_flux"),
    ("uniform", "prescribed", "zero_flux"),
    ("stretched", "prescribed", "fixed"),
]
NAMES = ("conductivity", "heat_capacity", "h", "beta", "albedo", "emissivity", "bottom_temperature")
P0 = np.array([0.7, 2.4e6, 12.0, 1.3, 0.22, 0.96, 291.0])


def _forcing(top, hours=36):
    return column_forcing(top, hours)


def _driver(forcing, top):
    """The forcing series the derivative tests perturb: the prescribed top temperature or SWdown."""
    return forcing.top_temperature if top == "prescribed" else forcing.sw_down


def _loss(base, forcing):
    """A scalar that reads every output the loop feeds, as a function of (parameters, initial
    profile, forcing series: SWdown, or the prescribed top temperature)."""

    def loss(p, initial, series):
        m = eqx.tree_at(lambda m: [GETTERS[n](m) for n in NAMES], base, [p[i] for i in range(len(NAMES))])
        if base.top == "prescribed":
            f = eqx.tree_at(lambda f: f.top_temperature, forcing, series)
        else:
            f = eqx.tree_at(lambda f: f.sw_down, forcing, series)
        out = simulate(m, f, initial=initial, depths=DEPTHS)
        weights = jnp.linspace(0.5, 1.5, out.ts.shape[0])
        return (
            jnp.sum(weights * (out.ts - 290.0) ** 2) * 1e-3
            + jnp.sum(weights[:, None] * (out.temperature - 291.0) ** 2) * 1e-3
            + jnp.sum(weights * out.ground) * 1e-4
            + jnp.sum(weights * out.bottom) * 1e-3
        )

    return loss


def _initial(grid):
    return jnp.asarray(290.0 + 3.0 * np.exp(-np.asarray(grid.z) / 0.2))


@pytest.mark.parametrize("theta", [1.0, 0.5])
@pytest.mark.parametrize("grid_name, top, bottom", CASES)
def test_loop_matches_tridiagonal(grid_name, top, bottom, theta):
    grid, forcing = GRIDS[grid_name], _forcing(top)
    run = eqx.filter_jit(lambda m, f: simulate(m, f, initial=_initial(grid), depths=DEPTHS))
    fast = run(column_model(SpectralSolver(theta=theta), grid, top, bottom), forcing)
    ref = run(column_model(TridiagonalSolver(theta=theta), grid, top, bottom), forcing)
    for name in ("temperature", "ts", "ground", "bottom", "lw_up", "sensible"):
        a, b = np.asarray(getattr(fast, name)), np.asarray(getattr(ref, name))
        assert np.abs(a - b).max() <= 1e-10 * max(1.0, np.abs(b).max()), name


@pytest.mark.parametrize("theta", [1.0, 0.5])
@pytest.mark.parametrize("grid_name, top, bottom", CASES)
def test_derivatives_match_tridiagonal(grid_name, top, bottom, theta):
    """Reverse and forward mode through the loop's rule against plain autodiff of the direct solve,
    for every parameter, the initial profile and the forcing."""
    grid, forcing = GRIDS[grid_name], _forcing(top)
    fast = _loss(column_model(SpectralSolver(theta=theta), grid, top, bottom), forcing)
    ref = _loss(column_model(TridiagonalSolver(theta=theta), grid, top, bottom), forcing)
    args = (jnp.asarray(P0), _initial(grid), _driver(forcing, top))
    g_fast = jax.jit(jax.grad(fast, argnums=(0, 1, 2)))(*args)
    g_ref = jax.jit(jax.grad(ref, argnums=(0, 1, 2)))(*args)
    j_fast = jax.jit(jax.jacfwd(fast, argnums=(0, 1, 2)))(*args)
    for a, b, c in zip(g_fast, g_ref, j_fast):
        scale = np.abs(np.asarray(b)).max()
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-8, atol=1e-10 * scale)
        np.testing.assert_allclose(np.asarray(c), np.asarray(b), rtol=1e-8, atol=1e-10 * scale)


def test_derivatives_match_finite_differences():
    grid, forcing = GRIDS["uniform"], _forcing("energy_balance", hours=48)
    loss = _loss(column_model(SpectralSolver(), grid, "energy_balance", "fixed"), forcing)
    init, sw = _initial(grid), forcing.sw_down
    f = jax.jit(lambda p: loss(p, init, sw))
    g = np.asarray(jax.jit(jax.grad(f))(jnp.asarray(P0)))
    for i in range(P0.size):
        step = np.zeros_like(P0)
        step[i] = 1e-6 * abs(P0[i])
        fd = (float(f(P0 + step)) - float(f(P0 - step))) / (2 * step[i])
        assert abs(g[i] - fd) <= 1e-5 * abs(fd) + 1e-9, NAMES[i]


def test_second_derivatives_match_finite_differences_of_the_gradient():
    """Hessians through the rule (forward over reverse and reverse over forward) against central
    differences of the (verified) gradient and plain autodiff of the direct solve."""
    grid, forcing = GRIDS["uniform"], _forcing("energy_balance", hours=24)
    init, sw = _initial(grid), forcing.sw_down
    loss = _loss(column_model(SpectralSolver(theta=0.5), grid, "energy_balance", "fixed"), forcing)
    f = lambda q: loss(q, init, sw)  # noqa: E731
    p = np.asarray(P0)
    h_fwd_rev = np.asarray(jax.jit(jax.hessian(f))(jnp.asarray(p)))
    h_rev_fwd = np.asarray(jax.jit(jax.jacrev(jax.jacfwd(f)))(jnp.asarray(p)))
    grad = jax.jit(jax.grad(f))
    h_fd = np.zeros_like(h_fwd_rev)
    for i in range(p.size):
        step = np.zeros_like(p)
        step[i] = 1e-5 * abs(p[i])
        h_fd[:, i] = (np.asarray(grad(p + step)) - np.asarray(grad(p - step))) / (2 * step[i])
    h_fd = 0.5 * (h_fd + h_fd.T)
    scale = np.abs(h_fd).max()
    np.testing.assert_allclose(h_fwd_rev, h_rev_fwd, rtol=1e-9, atol=1e-12 * scale)
    np.testing.assert_allclose(h_fwd_rev, h_fd, rtol=1e-4, atol=1e-7 * scale)
    direct = _loss(column_model(TridiagonalSolver(theta=0.5), grid, "energy_balance", "fixed"), forcing)
    h_direct = np.asarray(jax.jit(jax.hessian(lambda q: direct(q, init, sw)))(jnp.asarray(p)))
    np.testing.assert_allclose(h_fwd_rev, h_direct, rtol=1e-7, atol=1e-10 * scale)


def test_vmap_of_the_rule():
    grid, forcing = GRIDS["uniform"], _forcing("energy_balance")
    loss = _loss(column_model(SpectralSolver(), grid, "energy_balance", "fixed"), forcing)
    init, sw = _initial(grid), forcing.sw_down
    batch = jnp.stack([jnp.asarray(P0), jnp.asarray(P0 * np.array([1.3, 0.8, 1.1, 0.9, 1.2, 0.99, 1.002]))])
    g = np.asarray(jax.jit(jax.vmap(jax.grad(lambda p: loss(p, init, sw))))(batch))
    for i in range(2):
        np.testing.assert_allclose(g[i], np.asarray(jax.jit(jax.grad(lambda p: loss(p, init, sw)))(batch[i])), rtol=1e-10)


def test_nested_vmap_and_batched_cond():
    """Starts and a second mapped axis (here the SWdown series), nested either way, and the loop
    inside a ``lax.cond`` whose predicate is mapped (both branches then run batched): the same
    values, gradients and forward-mode derivatives as one call at a time."""
    grid, forcing = GRIDS["uniform"], _forcing("energy_balance")
    loss = _loss(column_model(SpectralSolver(), grid, "energy_balance", "fixed"), forcing)
    init, sw = _initial(grid), forcing.sw_down
    params = jnp.stack([jnp.asarray(P0 * f) for f in (1.0, 1.1, 0.93)])
    series = jnp.stack([sw, 0.8 * sw])
    value_and_grad = jax.value_and_grad(loss)
    one = jax.jit(value_and_grad)
    expected = [[one(p, init, x) for x in series] for p in params]
    nested = jax.jit(jax.vmap(jax.vmap(value_and_grad, (None, None, 0)), (0, None, None)))(params, init, series)
    swapped = jax.jit(jax.vmap(jax.vmap(value_and_grad, (0, None, None)), (None, None, 0)))(params, init, series)
    for i in range(3):
        for j in range(2):
            for got in ((nested[0][i, j], nested[1][i, j]), (swapped[0][j, i], swapped[1][j, i])):
                np.testing.assert_allclose(got[0], expected[i][j][0], rtol=1e-11)
                np.testing.assert_allclose(got[1], expected[i][j][1], rtol=1e-9, atol=1e-12)

    def branch(p):
        return jax.lax.cond(p[0] > 0.72, lambda q: loss(q, init, sw), lambda q: 2.0 * loss(q, init, sw), p)

    values = jax.jit(jax.vmap(branch))(params)
    grads = jax.jit(jax.vmap(jax.grad(branch)))(params)
    forward = jax.jit(jax.vmap(jax.jacfwd(branch)))(params)
    for i, p in enumerate(params):
        scale = 1.0 if p[0] > 0.72 else 2.0
        np.testing.assert_allclose(values[i], scale * expected[i][0][0], rtol=1e-11)
        np.testing.assert_allclose(grads[i], scale * expected[i][0][1], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(forward[i], scale * expected[i][0][1], rtol=1e-8, atol=1e-12)


def test_gradient_memory_does_not_grow_with_the_grid():
    """Reverse mode through the loop stores scalars per step, not profiles: its
    working memory is the same for 101 and 801 nodes (plain autodiff of the
    direct solve stores every profile)."""
    forcing, starts = paper_forcing(hours=400), 8

    def temp_bytes(solver, nodes):
        grid = SoilGrid.uniform(1.0, nodes)
        loss = _loss(column_model(solver, grid, "energy_balance", "fixed"), forcing)
        init, sw = _initial(grid), forcing.sw_down
        fn = jax.jit(jax.vmap(jax.grad(lambda p: loss(p, init, sw))))
        analysis = fn.lower(jnp.tile(jnp.asarray(P0), (starts, 1))).compile().memory_analysis()
        if analysis is None:
            pytest.skip("this backend reports no compiled memory analysis")
        return analysis.temp_size_in_bytes

    profiles = forcing.n_times * starts * 801 * 8  # one stored 801-node profile per step and start
    assert temp_bytes(TridiagonalSolver(), 801) > profiles
    small, large = temp_bytes(SpectralSolver(), 101), temp_bytes(SpectralSolver(), 801)
    assert large < 1.2 * small + 8 * 801 * 801 * 8  # + a few N x N basis constants
    assert large < profiles / 5


def test_float32():
    grid, forcing = GRIDS["uniform"], _forcing("energy_balance")
    cast = lambda tree: jax.tree_util.tree_map(lambda a: a.astype(jnp.float32) if eqx.is_inexact_array(a) else a, tree)  # noqa: E731
    single = _loss(cast(column_model(SpectralSolver(), grid, "energy_balance", "fixed")), cast(forcing))
    double = _loss(column_model(SpectralSolver(), grid, "energy_balance", "fixed"), forcing)
    args32 = (jnp.asarray(P0, jnp.float32), _initial(grid).astype(jnp.float32), forcing.sw_down.astype(jnp.float32))
    g32 = jax.jit(jax.grad(single))(*args32)[0]
    g64 = jax.jit(jax.grad(double))(jnp.asarray(P0), _initial(grid), forcing.sw_down)[0]
    assert g32.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(g32, np.float64), np.asarray(g64), rtol=2e-2)


def test_without_the_bottom_flux():
    grid, forcing = GRIDS["uniform"], _forcing("energy_balance")
    model = column_model(SpectralSolver(), grid, "energy_balance", "fixed")
    full = simulate(model, forcing, initial=_initial(grid), depths=DEPTHS)
    lean = simulate(model, forcing, initial=_initial(grid), depths=DEPTHS, bottom_flux=False)
    assert lean.bottom is None and full.bottom is not None
    np.testing.assert_array_equal(np.asarray(lean.temperature), np.asarray(full.temperature))
    np.testing.assert_array_equal(np.asarray(lean.ground), np.asarray(full.ground))
