"""Soil heat conduction: analytic solution, energy conservation, solvers, steady state."""

import functools

import equinox as eqx
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import brentq

from jlsm.forcing import Forcing
from jlsm.grid import SoilGrid
from jlsm.model import LandSurfaceModel, simulate
from jlsm.physics import BowenRatioExchange, JacobiSolver, Radiation, SoilThermal, TridiagonalSolver
from jlsm.synthetic import INITIAL_TEMPERATURE, paper_forcing, paper_model

# ---------------------------------------------------------------- analytic periodic solution

LAM, CAP = 0.8, 2.2e6
PERIOD = 86400.0
OMEGA = 2 * np.pi / PERIOD
DAMPING = np.sqrt(2 * LAM / CAP / OMEGA)  # damping depth d, about 0.1 m
T0, AMP = 290.0, 10.0
PERIODS = 4


def periodic_exact(z, t):
    """T0 + A exp(-z/d) sin(wt - z/d): the infinite-column response to a sinusoidal surface."""
    return T0 + AMP * np.exp(-z / DAMPING) * np.sin(OMEGA * t - z / DAMPING)


_profile = eqx.filter_jit(lambda m, f, init: simulate(m, f, initial=init, profile=True).profile)


@functools.lru_cache(maxsize=None)
def periodic_error(dt, dz, theta, bottom="fixed"):
    """Max error over the last period and the top 2 damping depths of an 8-damping-depth column."""
    depth = 8 * DAMPING
    grid = SoilGrid.uniform(depth, int(round(depth / dz)) + 1)
    model = LandSurfaceModel(
        grid, SoilThermal(LAM, CAP), bottom_temperature=T0, top="prescribed", bottom=bottom,
        solver=TridiagonalSolver(theta=theta),
    )
    steps = int(round(PERIODS * PERIOD / dt))
    t = np.arange(steps + 1) * dt
    forcing = Forcing(
        np.zeros(steps + 1), np.full(steps + 1, 300.0), np.full(steps + 1, T0), dt=dt,
        top_temperature=periodic_exact(0.0, t),
    )
    profile = np.asarray(_profile(model, forcing, jnp.asarray(periodic_exact(grid.z, 0.0))))
    last = t >= (PERIODS - 1) * PERIOD
    upper = grid.z <= 2 * DAMPING
    err = profile[np.ix_(last, upper)] - periodic_exact(grid.z[upper][None, :], t[last][:, None])
    return float(np.abs(err).max())


def observed_orders(errors):
    e = np.asarray(errors)
    return np.log2(e[:-1] / e[1:])


def test_periodic_backward_euler_first_order_in_time():
    errors = [periodic_error(dt, DAMPING / 40, theta=1.0) for dt in (1800.0, 900.0, 450.0)]
    orders = observed_orders(errors)
    print("backward Euler time: errors", errors, "orders", orders)
    assert errors[0] < 0.5
    assert np.all((orders > 0.8) & (orders < 1.2)), orders


def test_periodic_crank_nicolson_second_order_in_time():
    errors = [periodic_error(dt, DAMPING / 40, theta=0.5) for dt in (3600.0, 1800.0, 900.0)]
    orders = observed_orders(errors)
    print("Crank-Nicolson time: errors", errors, "orders", orders)
    assert errors[0] < 0.05
    assert np.all((orders > 1.7) & (orders < 2.3)), orders


def test_periodic_second_order_in_space():
    errors = [periodic_error(120.0, DAMPING / k, theta=0.5) for k in (5, 10, 20)]
    orders = observed_orders(errors)
    print("space: errors", errors, "orders", orders)
    assert errors[-1] < 2e-3
    assert np.all((orders > 1.7) & (orders < 2.3)), orders


def test_periodic_zero_flux_bottom_matches_too():
    fixed = periodic_error(900.0, DAMPING / 40, theta=0.5, bottom="fixed")
    zero_flux = periodic_error(900.0, DAMPING / 40, theta=0.5, bottom="zero_flux")
    assert abs(fixed - zero_flux) < 1e-4


# ---------------------------------------------------------------- energy conservation

GRIDS = {
    "uniform": SoilGrid.uniform(1.0, 41),
    "stretched": SoilGrid.stretched(1.0, 31, 1.1),
}


def _layered_model(grid_name, top, bottom, theta):
    grid = GRIDS[grid_name]
    soil = SoilThermal.layered(grid, [0.1, 0.4], [0.5, 1.0, 1.6], [1.4e6, 2.2e6, 2.9e6])
    return LandSurfaceModel(
        grid, soil, Radiation(0.25, 0.95), BowenRatioExchange(12.0, 1.2), bottom_temperature=288.0,
        top=top, bottom=bottom, solver=TridiagonalSolver(theta=theta),
    )


_conservation_run = eqx.filter_jit(lambda m, f: simulate(m, f, initial=INITIAL_TEMPERATURE, profile=True))


def conservation_residual(model, forcing):
    out = _conservation_run(model, forcing)
    th = model.solver.theta
    stored = np.asarray(model.heat_content(out.profile))
    flux = np.asarray(out.ground) + np.asarray(out.bottom)
    step_flux = forcing.dt * (th * flux[1:] + (1 - th) * flux[:-1])
    supplied = np.concatenate([[0.0], np.cumsum(step_flux)])
    scale = forcing.dt * np.sum(np.abs(np.asarray(out.ground)) + np.abs(np.asarray(out.bottom)))
    return np.max(np.abs((stored - stored[0]) - supplied)) / scale, scale


# Every pair of (grid, bottom, theta) values occurs in one case.
@pytest.mark.parametrize(
    "grid_name, bottom, theta",
    [("uniform", "fixed", 1.0), ("stretched", "fixed", 0.5), ("uniform", "zero_flux", 0.5), ("stretched", "zero_flux", 1.0)],
)
def test_energy_conservation_energy_balance_top(grid_name, bottom, theta):
    forcing = paper_forcing(hours=72)
    model = _layered_model(grid_name, "energy_balance", bottom, theta)
    residual, scale = conservation_residual(model, forcing)
    print(f"{grid_name} {bottom} theta={theta}: relative residual {residual:.2e} of {scale:.3e} J m-2")
    assert scale > 1e6
    assert residual < 1e-10


@pytest.mark.parametrize("bottom, theta", [("fixed", 1.0), ("zero_flux", 0.5)])
def test_energy_conservation_prescribed_top(bottom, theta):
    base = paper_forcing(hours=72)
    t = np.arange(base.n_times) * base.dt
    forcing = eqx.tree_at(
        lambda f: f.top_temperature, base, jnp.asarray(293.0 + 8.0 * np.sin(OMEGA * t)),
        is_leaf=lambda x: x is None,
    )
    model = _layered_model("stretched", "prescribed", bottom, theta)
    residual, scale = conservation_residual(model, forcing)
    print(f"prescribed {bottom} theta={theta}: relative residual {residual:.2e} of {scale:.3e} J m-2")
    assert scale > 1e6
    assert residual < 1e-10


# ---------------------------------------------------------------- direct vs Jacobi

_observed = eqx.filter_jit(lambda m, f: simulate(m, f, initial=INITIAL_TEMPERATURE, profile=True).profile)


def test_direct_and_jacobi_agree():
    forcing = paper_forcing()
    direct = np.asarray(_observed(paper_model(), forcing))
    tight = np.asarray(_observed(paper_model(solver="jacobi", tolerance=1e-9), forcing))
    loose = np.asarray(_observed(paper_model(solver="jacobi", tolerance=1e-4), forcing))
    tight_diff, loose_diff = np.abs(tight - direct).max(), np.abs(loose - direct).max()
    print(f"Jacobi 1e-9 vs direct {tight_diff:.2e} K; Jacobi 1e-4 vs direct {loose_diff:.2e} K")
    assert tight_diff < 1e-6
    assert loose_diff < 0.02


def test_direct_and_jacobi_agree_layered_stretched_crank_nicolson():
    theta = 0.5
    forcing = paper_forcing(hours=48)
    direct = _layered_model("stretched", "energy_balance", "fixed", theta)
    jacobi = eqx.tree_at(lambda m: m.solver, direct, JacobiSolver(theta=theta, tolerance=1e-10))
    diff = np.abs(np.asarray(_observed(direct, forcing)) - np.asarray(_observed(jacobi, forcing))).max()
    assert diff < 1e-6


# ---------------------------------------------------------------- steady state

SW, LW, TA = 300.0, 330.0, 290.0


def _steady_model(grid, bottom):
    return LandSurfaceModel(
        grid, SoilThermal(0.9, 2.0e6), Radiation(0.25, 0.92), BowenRatioExchange(10.0, 2.0),
        bottom_temperature=284.0, bottom=bottom,
    )


def _steady_run(model, days=400):
    n = days + 1
    forcing = Forcing(np.full(n, SW), np.full(n, LW), np.full(n, TA), dt=86400.0)
    out = eqx.filter_jit(lambda m, f: simulate(m, f, initial=295.0, profile=True))(model, forcing)
    return out, np.asarray(out.profile[-1])


def _surface_balance(model, ts, conduction=0.0):
    rad, turb = model.radiation, model.turbulence
    a_lw = float(rad.longwave_absorptivity)
    return (
        (1 - float(rad.albedo)) * SW + a_lw * LW - float(rad.emissivity) * rad.stefan_boltzmann * ts**4
        - float(turb.effective) * (ts - TA) - conduction
    )


def test_steady_state_zero_flux_bottom_isothermal():
    model = _steady_model(SoilGrid.uniform(1.0, 21), "zero_flux")
    out, final = _steady_run(model)
    ts = brentq(lambda t: _surface_balance(model, t), 200.0, 400.0, xtol=1e-13)
    np.testing.assert_allclose(final, ts, rtol=0, atol=1e-8)
    assert abs(float(out.ground[-1])) < 1e-6


def test_steady_state_fixed_bottom_linear_profile():
    grid = SoilGrid.stretched(1.5, 25, 1.1)
    model = _steady_model(grid, "fixed")
    out, final = _steady_run(model)
    tb, lam, depth = float(model.bottom_temperature), float(model.soil.conductivity), grid.depth
    ts = brentq(lambda t: _surface_balance(model, t, lam * (t - tb) / depth), 200.0, 400.0, xtol=1e-13)
    np.testing.assert_allclose(final, ts + (tb - ts) * grid.z / depth, rtol=0, atol=1e-8)
    np.testing.assert_allclose(float(out.ground[-1]), lam * (ts - tb) / depth, rtol=1e-8)
    np.testing.assert_allclose(float(out.bottom[-1]), -lam * (ts - tb) / depth, rtol=1e-8)
