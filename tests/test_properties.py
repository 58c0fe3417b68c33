"""Property tests of the forward model over random parameters within bounds."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jlsm.inverse import Objective
from jlsm.params import ParameterSpace
from jlsm.synthetic import SEARCH_BOUNDS, paper_forcing, paper_model, twin_case, twin_space

BOUNDS = {
    "albedo": (0.05, 0.5),
    "emissivity": (0.85, 1.0),
    "h": (2.0, 40.0),
    "beta": (0.3, 8.0),
    "conductivity": (0.1, 3.0),
    "heat_capacity": (0.8e6, 4.0e6),
    "bottom_temperature": (280.0, 305.0),
}
SPACE = ParameterSpace(BOUNDS)
FORCING = paper_forcing(hours=48)
BASE = paper_model(absorb_all_longwave=False)


@jax.jit
def _run(x):
    from jlsm.model import simulate

    model = SPACE.physical_to_model(x, BASE)
    out = simulate(model, FORCING, initial=293.0, depths=(0.0, 0.05), profile=True)
    heat = model.heat_content(out.profile)
    dt = FORCING.dt
    boundary = out.ground + out.bottom
    inflow = jnp.sum(boundary[1:]) * dt  # backward Euler: fluxes at the end of each step
    residual = (heat[-1] - heat[0]) - inflow
    scale = jnp.sum(jnp.abs(boundary[1:])) * dt
    return out.temperature, residual / scale, jnp.mean(out.ts)


@jax.jit
def _grad(x):
    return jax.grad(lambda v: _run(v)[2])(x)


unit = st.floats(0.0, 1.0, allow_nan=False)


def _point(qs):
    lo = np.array([b[0] for b in BOUNDS.values()])
    hi = np.array([b[1] for b in BOUNDS.values()])
    return jnp.asarray(lo + (hi - lo) * np.asarray(qs))


@settings(max_examples=25, deadline=None)
@given(st.lists(unit, min_size=7, max_size=7))
def test_conservation_finiteness_and_gradient(qs):
    x = _point(qs)
    temperature, rel_residual, _ = _run(x)
    assert np.all(np.isfinite(np.asarray(temperature)))
    assert abs(float(rel_residual)) < 1e-10
    g = np.asarray(_grad(x))
    assert np.all(np.isfinite(g))


@settings(max_examples=15, deadline=None)
@given(st.lists(unit, min_size=7, max_size=7), st.floats(0.0, 0.9))
def test_more_albedo_means_a_cooler_surface(qs, fraction):
    x = np.asarray(_point(qs))
    lo, hi = BOUNDS["albedo"]
    darker, brighter = x.copy(), x.copy()
    darker[0] = lo + fraction * (hi - lo)
    brighter[0] = darker[0] + 0.1 * (hi - lo)
    assert float(_run(jnp.asarray(brighter))[2]) < float(_run(jnp.asarray(darker))[2])
    # and the sensitivity itself has the right sign
    assert float(_grad(jnp.asarray(darker))[0]) < 0


@pytest.mark.parametrize("edge", [-40.0, 40.0])
def test_gradients_finite_at_the_edges_of_the_bounds(edge):
    model, forcing, obs, space, initial = twin_case("surface+5cm")
    objective = Objective(space)
    problem = (model, forcing, obs, jnp.asarray(initial))
    u = jnp.full((space.size,), edge)
    value, grad = jax.value_and_grad(objective)(u, problem)
    assert np.isfinite(float(value))
    assert np.all(np.isfinite(np.asarray(grad)))
    # physical values sit inside the search bounds, never beyond them
    x = np.asarray(space.to_physical(u))
    for v, name in zip(x, space.names):
        lo, hi = SEARCH_BOUNDS[name]
        assert lo <= v <= hi


def test_twin_space_is_hashable_and_equal_by_value():
    assert twin_space() == twin_space()
    assert hash(twin_space()) == hash(twin_space())
