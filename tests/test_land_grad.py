"""Gradients of the version-2 land column: AD against central finite differences for every
parameter of the default space over a real-site week; finite gradients in calm, dry conditions;
vmap over parameter sets and over sites; float32 runs."""

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from land_sites import CANOPY_HEIGHT, Z_REF, cn_cng_forcing

from jlsm.land import LandForcing, LandState, default_model, default_space, simulate_land

WEEK = 48 * 7
RAINY_JUNE_WEEK = 24 * WEEK  # 2008-06-10 to 06-17 at CN-Cng: 22 mm of rain


@pytest.fixture(scope="module")
def problem():
    forcing = cn_cng_forcing(RAINY_JUNE_WEEK, WEEK)
    model = default_model("GRA", z_ref=Z_REF, canopy_height=CANOPY_HEIGHT)
    space = default_space("GRA")
    u0 = jnp.asarray(space.to_unconstrained(space.read(model)))
    return model, forcing, space, u0


def objective(space, model, forcing, initial=None):
    """A smooth scalar of the fluxes and states (mean Qle, Qh, skin temperature, soil moisture)."""

    def f(u):
        m = space.to_model(u, model)
        out = simulate_land(m, forcing, initial=initial, spinup_years=0, checkpoint_every=None,
                            outputs=("qle", "qh", "ts", "soil_moisture"))
        s = out.series
        return jnp.mean(s["qle"]) + 0.5 * jnp.mean(s["qh"]) + jnp.mean(s["ts"] - 290.0) + 100.0 * jnp.mean(s["soil_moisture"])

    return f


def test_ad_matches_central_differences_for_every_parameter(problem):
    model, forcing, space, u0 = problem
    f = jax.jit(objective(space, model, forcing))
    grad = np.asarray(jax.jit(jax.grad(objective(space, model, forcing)))(u0))
    h = 1e-4
    fd = np.empty_like(grad)
    for i in range(space.size):
        e = np.zeros(space.size)
        e[i] = h
        fd[i] = (float(f(u0 + e)) - float(f(u0 - e))) / (2 * h)
    scale = np.max(np.abs(grad))
    for name, a, b in zip(space.names, grad, fd):
        print(f"{name:22s} AD {a: .8e}  FD {b: .8e}")
    assert np.all(np.isfinite(grad))
    assert np.all(np.abs(grad) > 0.0)
    rel = np.abs(grad - fd) / np.maximum(np.abs(grad), 1e-3 * scale)
    assert np.max(rel) < 1e-5, dict(zip(space.names, rel))


def test_finite_gradients_on_calm_nights_and_dry_soil(problem):
    model, forcing, space, u0 = problem
    night = np.asarray(forcing.sw_down) <= 0.0
    calm = dataclasses.replace(forcing, wind=jnp.where(night, 0.0, forcing.wind), precip=jnp.zeros_like(forcing.precip))
    theta_dry = float(model.soil.theta_wilt) + 0.005
    m = model.n_layers
    initial = LandState(
        ts=forcing.t_air[0], t_soil=jnp.full((m,), 290.0), theta=jnp.full((m,), theta_dry),
        canopy_water=jnp.asarray(0.0), swe=jnp.asarray(0.0),
    )
    f = objective(space, model, calm, initial)
    value, grad = jax.jit(jax.value_and_grad(f))(u0)
    assert np.isfinite(float(value))
    assert np.all(np.isfinite(np.asarray(grad)))
    out = simulate_land(space.to_model(u0, model), calm, initial=initial, spinup_years=0)
    assert all(np.all(np.isfinite(np.asarray(v))) for v in out.series.values())
    assert float(jnp.min(out.series["soil_moisture"])) > float(model.hydraulics.theta_res)


def test_finite_gradients_across_the_calibration_space(problem):
    """Jointly perturbed sets over the whole default space (Sobol' points and the two corners near
    the bounds), a rainy week: every value and gradient finite, so no calibration start is lost."""
    model, forcing, space, _ = problem
    u = np.asarray(space.to_unconstrained(space.sample(14, seed=3)))
    u = jnp.asarray(np.concatenate([u, np.full((1, space.size), -5.0), np.full((1, space.size), 5.0)]))
    value, grad = jax.jit(jax.vmap(jax.value_and_grad(objective(space, model, forcing))))(u)
    assert np.all(np.isfinite(np.asarray(value)))
    bad = ~np.all(np.isfinite(np.asarray(grad)), axis=1)
    assert not bad.any(), f"non-finite gradient at sets {np.flatnonzero(bad)}: {space.to_physical(u[bad])}"
    assert np.all(np.any(np.asarray(grad) != 0.0, axis=1))


def test_vmap_over_parameter_sets(problem):
    model, forcing, space, _ = problem
    u = jnp.asarray(space.to_unconstrained(space.sample(3, seed=1)))
    f = objective(space, model, forcing)
    batched = np.asarray(jax.jit(jax.vmap(f))(u))
    single = np.array([float(jax.jit(f)(ui)) for ui in u])
    np.testing.assert_allclose(batched, single, rtol=1e-10)
    assert np.ptp(batched) > 0.0


def test_vmap_over_sites(problem):
    model, _, _, _ = problem
    a, b = cn_cng_forcing(RAINY_JUNE_WEEK, WEEK), cn_cng_forcing(RAINY_JUNE_WEEK + 8 * WEEK, WEEK)
    both = LandForcing.stack([a, b])
    run = lambda f: simulate_land(model, f, spinup_years=0, outputs=("qle", "qh")).series["qle"]  # noqa: E731
    batched = np.asarray(jax.vmap(run)(both))
    np.testing.assert_allclose(batched[0], np.asarray(run(a)), rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(batched[1], np.asarray(run(b)), rtol=1e-10, atol=1e-9)
    assert not np.allclose(batched[0], batched[1])


def test_float32_runs_finite_and_close_to_float64(problem):
    model, forcing, _, _ = problem
    to32 = lambda t: jax.tree_util.tree_map(lambda x: jnp.asarray(x, jnp.float32) if eqx.is_inexact_array(x) else x, t)  # noqa: E731
    names = ("qle", "qh", "ts", "soil_moisture")
    out64 = simulate_land(model, forcing, spinup_years=0, outputs=names)
    out32 = simulate_land(to32(model), to32(forcing), spinup_years=0, outputs=names)
    for name in names:
        v32, v64 = np.asarray(out32.series[name]), np.asarray(out64.series[name])
        assert v32.dtype == np.float32
        assert np.all(np.isfinite(v32))
        err = np.sqrt(np.mean((v32.astype(float) - v64) ** 2))
        print(f"float32 vs float64 RMS difference of {name}: {err:.3e}")
        tol = {"qle": 0.5, "qh": 0.5, "ts": 0.02, "soil_moisture": 1e-4}[name]
        assert err < tol
    wb = out32.water_balance()
    assert abs(float(wb["residual"])) < 1e-3  # kg m-2 over a week in float32
