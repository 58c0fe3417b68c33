"""Soil water: hydraulics, exact water balance, steady states, sorption against Philip's solution, gradients."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jlsm.physics.soil_water import (
    RHO_WATER,
    SoilHydraulics,
    hydraulic_conductivity,
    matric_suction,
    moisture_stress,
    richards_step,
    root_fractions,
    soil_water_diffusivity,
)

# Noah SOILPARM.TBL (STAS): loam (the module default) and sandy loam, silty clay loam
LOAM = dict(theta_sat=0.439, theta_res=0.0, b=5.25, psi_sat=0.355, k_sat=3.38e-6)
SANDY_LOAM = dict(theta_sat=0.434, theta_res=0.0, b=4.74, psi_sat=0.141, k_sat=5.23e-6)
SILTY_CLAY_LOAM = dict(theta_sat=0.464, theta_res=0.0, b=8.72, psi_sat=0.617, k_sat=2.04e-6)
DZ = np.array([0.1, 0.3, 0.6, 1.0])  # Noah's four layers to 2 m
DT = 1800.0

_step = jax.jit(richards_step, static_argnames=("gravity", "tridiagonal"))  # one compile per shape, shared


def storage_error(theta, theta_new, fluxes, sink, dz, dt):
    """(balance residual, scale) [kg m-2] per step: storage change minus dt (infiltration - sinks - drainage).

    Works on one step or on a leading time axis.
    """
    inf, drain, runoff = (np.asarray(v) for v in (fluxes.infiltration, fluxes.drainage, fluxes.runoff))
    sink = np.asarray(sink)
    change = np.sum(dz * (np.asarray(theta_new) - np.asarray(theta)), axis=-1) * RHO_WATER
    net = dt * (inf - np.sum(sink, axis=-1) - drain)
    scale = np.sum(dz * np.asarray(theta_new), axis=-1) * RHO_WATER + dt * (
        np.abs(inf) + np.sum(np.abs(sink), axis=-1) + np.abs(drain) + runoff
    )
    return change - net, scale


# ---------------------------------------------------------------- hydraulic functions


def test_clapp_hornberger_formulas_away_from_the_dry_bound():
    hyd = SoilHydraulics(**LOAM)
    theta = jnp.linspace(0.15, 0.439, 7)
    s = np.asarray(theta) / LOAM["theta_sat"]
    np.testing.assert_allclose(hydraulic_conductivity(theta, hyd), LOAM["k_sat"] * s ** (2 * LOAM["b"] + 3), rtol=1e-12)
    np.testing.assert_allclose(matric_suction(theta, hyd), LOAM["psi_sat"] * s ** -LOAM["b"], rtol=1e-12)
    dpsi = jax.vmap(jax.grad(lambda t: matric_suction(t, hyd)))(theta)
    np.testing.assert_allclose(
        soil_water_diffusivity(theta, hyd), -np.asarray(hydraulic_conductivity(theta, hyd)) * np.asarray(dpsi), rtol=1e-12
    )


def test_dry_soil_stays_finite():
    hyd = SoilHydraulics(**SILTY_CLAY_LOAM)
    theta = jnp.array([-0.01, 0.0, 1e-8, 1e-3, 0.464, 0.5])
    for f in (hydraulic_conductivity, matric_suction, soil_water_diffusivity):
        values = f(theta, hyd)
        grads = jax.vmap(jax.grad(lambda t: f(t, hyd)))(theta)
        assert np.all(np.isfinite(np.asarray(values))) and np.all(np.isfinite(np.asarray(grads)))
    # K rises monotonically with theta, psi falls
    th = jnp.linspace(0.0, 0.464, 500)
    assert np.all(np.diff(np.asarray(hydraulic_conductivity(th, hyd))) >= 0.0)
    assert np.all(np.diff(np.asarray(matric_suction(th, hyd))) <= 0.0)


def test_root_fractions_sum_to_one_and_follow_the_profile():
    bottoms = jnp.asarray(np.cumsum(DZ))
    for depth in (0.05, 0.4, 1.0, 3.0):
        for profile in ("uniform", "exponential"):
            r = np.asarray(root_fractions(bottoms, depth, profile=profile))
            assert r.sum() == pytest.approx(1.0, abs=1e-13) and np.all(r >= 0.0)
    # uniform to 1.0 m: layers 1-3 are inside the root zone, fraction = thickness / depth
    r = np.asarray(root_fractions(bottoms, 1.0))
    np.testing.assert_allclose(r[:2], DZ[:2] / 1.0, rtol=1e-3)
    assert r[3] < 0.05 * np.log(2.0) + 1e-3  # the smooth corner (width 0.05) leaves about w ln 2 below d
    grad = jax.grad(lambda d: root_fractions(bottoms, d)[0])(0.4)
    assert np.isfinite(float(grad)) and float(grad) < 0.0  # deeper roots: less in the top layer


def test_moisture_stress_bounds():
    theta = jnp.linspace(0.0, 0.45, 901)
    f = np.asarray(moisture_stress(theta, 0.1, 0.3))
    assert np.all((f >= 0.0) & (f <= 1.0)) and np.all(np.diff(f) >= -1e-15)
    middle = (np.asarray(theta) > 0.18) & (np.asarray(theta) < 0.22)  # 20 widths from both corners
    np.testing.assert_allclose(f[middle], (np.asarray(theta)[middle] - 0.1) / 0.2, rtol=0, atol=1e-10)


# ---------------------------------------------------------------- (a) exact water balance


@functools.partial(jax.jit, static_argnames=("steps",))
def _random_run(hyd, theta0, key, steps):
    k1, k2, k3 = jax.random.split(key, 3)
    rain = jnp.where(jax.random.uniform(k1, (steps,)) < 0.3, jax.random.exponential(k2, (steps,)) * 0.01, 0.0)
    sink = jax.random.exponential(k3, (steps, DZ.size)) * jnp.array([4e-5, 2e-5, 1e-5, 0.0])

    def body(theta, inputs):
        r, s = inputs
        theta_new, fluxes = richards_step(theta, DZ, DT, r, s, hyd)
        return theta_new, (theta, theta_new, fluxes, s)

    return jax.lax.scan(body, theta0, (rain, sink))[1]


@pytest.mark.parametrize(
    "soil, start",
    [(LOAM, 0.30), (LOAM, 0.02), (SANDY_LOAM, 0.43), (SILTY_CLAY_LOAM, 0.001)],
)
def test_exact_water_balance_random_steps(soil, start):
    hyd = SoilHydraulics(**soil)
    theta0 = jnp.full(DZ.shape, start)
    theta, theta_new, fluxes, sink = _random_run(hyd, theta0, jax.random.PRNGKey(7), steps=400)
    err, scale = storage_error(theta, theta_new, fluxes, sink, DZ, DT)
    assert np.max(np.abs(err) / scale) < 1e-12
    th = np.asarray(theta_new)
    assert np.all(np.isfinite(th)) and np.all(th >= soil["theta_res"]) and np.all(th <= soil["theta_sat"])
    assert np.all(np.asarray(fluxes.runoff) >= 0.0)
    # heavy rain must have filled the column at least once for the wet starts
    if start > 0.2:
        assert float(np.max(fluxes.saturation_excess)) > 0.0 or float(np.max(fluxes.runoff)) > 0.0


def test_sink_larger_than_the_column_is_supplied_from_below_exactly():
    hyd = SoilHydraulics(**LOAM)
    theta = jnp.full(DZ.shape, 0.01)
    sink = jnp.array([1.0, 0.0, 0.0, 0.0])  # 1800 kg m-2 from a 0.1 m layer holding 1 kg m-2
    theta_new, fluxes = _step(theta, DZ, DT, 0.0, sink, hyd)
    err, scale = storage_error(theta, theta_new, fluxes, sink, DZ, DT)
    assert abs(err) < 1e-12 * scale
    assert float(fluxes.supply_from_below) > 0.9 * float(sink[0])
    assert np.all(np.asarray(theta_new) >= 0.0)


# ---------------------------------------------------------------- (b) steady states


@pytest.mark.parametrize("soil", [LOAM, SILTY_CLAY_LOAM])
def test_unit_gradient_drainage_keeps_a_uniform_profile(soil):
    hyd = SoilHydraulics(**soil)
    theta = jnp.full(DZ.shape, 0.8 * soil["theta_sat"])
    k = float(hydraulic_conductivity(theta[0], hyd))
    theta_new, fluxes = _step(theta, DZ, DT, RHO_WATER * k, jnp.zeros(4), hyd)
    # infiltration takes all the supply (the smooth min of a supply far below the infiltrability)
    assert float(fluxes.infiltration) == pytest.approx(RHO_WATER * k, rel=1e-8)
    assert float(fluxes.drainage) == pytest.approx(RHO_WATER * k, rel=1e-8)
    np.testing.assert_allclose(np.asarray(theta_new), np.asarray(theta), rtol=1e-9)


@jax.jit
def _steady(hyd, theta0, q, dz=np.full(20, 0.1), dt=3600.0):
    def body(theta, _):
        theta_new, fluxes = richards_step(theta, dz, dt, q, jnp.zeros(20), hyd)
        return theta_new, fluxes.infiltration

    return jax.lax.scan(body, theta0, None, length=24 * 400)


@pytest.mark.parametrize("soil, fraction", [(LOAM, 0.3), (SANDY_LOAM, 0.05)])
def test_steady_infiltration_approaches_k_of_theta_equal_to_the_flux(soil, fraction):
    hyd = SoilHydraulics(**soil)
    q = RHO_WATER * fraction * soil["k_sat"]
    theta, infiltration = _steady(hyd, jnp.full(20, 0.15), q)
    k = np.asarray(hydraulic_conductivity(theta, hyd)) * RHO_WATER
    np.testing.assert_allclose(k, float(infiltration[-1]), rtol=1e-6)
    # the smooth min of supply and infiltrability takes a little less than the supply
    assert float(infiltration[-1]) == pytest.approx(q, rel=1e-3)
    s = (float(infiltration[-1]) / q * fraction) ** (1.0 / (2 * soil["b"] + 3))  # K(theta) = flux => S
    np.testing.assert_allclose(np.asarray(theta) / soil["theta_sat"], s, rtol=1e-6)


# ---------------------------------------------------------------- (c) sorption: Philip's exact solution


def sorptivity(diffusivity, theta_i, theta_s, n=5000, tol=1e-13):
    """Sorptivity [m s-1/2] by Philip's (1955) iteration on the Boltzmann-transformed equation.

    lambda(theta) = x t^-1/2 obeys d lambda / d theta = -2 D(theta) / G(theta), G = int_theta_i^theta lambda,
    lambda(theta_s) = 0; S = G(theta_s). Midpoint cells clustered towards theta_i.
    """
    u = np.linspace(0.0, 1.0, n + 1) ** 2
    edges = theta_i + (theta_s - theta_i) * u
    centres, width = 0.5 * (edges[1:] + edges[:-1]), np.diff(edges)
    d = diffusivity(centres)
    lam = 1e-3 * (1.0 - u[1:])
    for _ in range(2000):
        g = np.cumsum(lam * width) - 0.5 * lam * width
        integrand = 2.0 * d / g * width
        new = np.cumsum(integrand[::-1])[::-1] - 0.5 * integrand
        if np.max(np.abs(new - lam)) < tol * new.max():
            return float(np.sum(new * width))
        lam = 0.5 * (lam + new)
    raise AssertionError("sorptivity iteration did not converge")


def test_sorptivity_reference_for_constant_diffusivity():
    d0 = 1e-6  # exact: S = 2 (theta_s - theta_i) sqrt(D / pi) (Crank 1975, erfc solution)
    assert sorptivity(lambda t: np.full_like(t, d0), 0.1, 0.4) == pytest.approx(2 * 0.3 * np.sqrt(d0 / np.pi), rel=1e-7)


@functools.partial(jax.jit, static_argnums=(1, 2))
def _absorption(hyd, layers, steps, theta_i, length=0.4, duration=3600.0):
    dz = jnp.full((layers,), length / layers)
    theta0 = jnp.full((layers,), theta_i)

    def body(theta, _):
        theta_new, fluxes = richards_step(theta, dz, duration / steps, 10.0, jnp.zeros(layers), hyd, gravity=False)
        return theta_new, fluxes.infiltration

    theta, infiltration = jax.lax.scan(body, theta0, None, length=steps)
    return jnp.sum(dz * (theta - theta0)), jnp.sum(infiltration) * duration / steps / RHO_WATER, theta


def test_horizontal_absorption_converges_to_philips_solution():
    """Ponded horizontal absorption: I(t) = S t^1/2 exactly (Philip 1957); S from the module's own D."""
    hyd = SoilHydraulics(**LOAM)
    theta_i, theta_s, duration = 0.2 * LOAM["theta_sat"], LOAM["theta_sat"], 3600.0
    diff = lambda t: np.asarray(soil_water_diffusivity(jnp.asarray(t), hyd))  # noqa: E731
    s = sorptivity(diff, theta_i, theta_s)
    # Parlange's (1975) closed form, S^2 = int (theta_s + theta - 2 theta_i) D dtheta, is within ~1 %
    th = np.linspace(theta_i, theta_s, 100001)
    mid = 0.5 * (th[1:] + th[:-1])
    assert np.sqrt(np.sum((theta_s + mid - 2 * theta_i) * diff(mid) * np.diff(th))) == pytest.approx(s, rel=0.01)

    exact = s * np.sqrt(duration)
    errors = []
    for layers, steps in [(20, 240), (40, 960), (80, 3840)]:  # dz halves, dt falls 4 times
        stored, infiltrated, theta = _absorption(hyd, layers, steps, theta_i)
        assert float(stored) == pytest.approx(float(infiltrated), rel=1e-10)  # balance, no bottom flux
        assert float(theta[-1]) == pytest.approx(theta_i, abs=1e-6)  # the front stays inside the column
        errors.append(abs(float(stored) / exact - 1.0))
    assert errors[-1] < 0.015
    assert errors[1] < 0.7 * errors[0] and errors[2] < 0.7 * errors[1]


def test_vertical_infiltration_within_philips_two_term_bounds():
    """Ponded vertical infiltration: I = S t^1/2 + A t with (K_s - K_i)/3 <= A <= 2 (K_s - K_i)/3 (Philip 1957, 1969)."""
    hyd = SoilHydraulics(**LOAM)
    theta_i, duration = 0.2 * LOAM["theta_sat"], 4 * 3600.0  # a third of the gravity time (S/K_s)^2
    diff = lambda t: np.asarray(soil_water_diffusivity(jnp.asarray(t), hyd))  # noqa: E731
    s = sorptivity(diff, theta_i, LOAM["theta_sat"])
    layers, steps = 40, 3840
    dz = jnp.full((layers,), 0.01)

    def body(theta, _):
        theta_new, fluxes = richards_step(theta, dz, duration / steps, 10.0, jnp.zeros(layers), hyd)
        return theta_new, fluxes.drainage

    theta0 = jnp.full((layers,), theta_i)
    theta, drainage = jax.jit(lambda t0: jax.lax.scan(body, t0, None, length=steps))(theta0)
    stored = float(jnp.sum(dz * (theta - theta0)))
    assert float(jnp.sum(drainage)) * duration / steps / RHO_WATER < 1e-4 * stored  # the front stays inside
    k_gain = LOAM["k_sat"] - float(hydraulic_conductivity(theta_i, hyd))
    a = (stored - s * np.sqrt(duration)) / (k_gain * duration)
    assert 1.0 / 3.0 <= a <= 2.0 / 3.0


# ---------------------------------------------------------------- (d) gradients


PARAMS = ("theta_sat", "b", "psi_sat", "k_sat", "root_depth", "theta_wilt", "theta_crit")


def _column_loss(p, theta0, rain, demand):
    hyd = SoilHydraulics(theta_sat=p[0], theta_res=0.0, b=p[1], psi_sat=p[2], k_sat=p[3])
    roots = root_fractions(jnp.asarray(np.cumsum(DZ)), p[4])

    def body(theta, r_and_e):
        r, e = r_and_e
        sink = e * roots * moisture_stress(theta, p[5], p[6])
        theta_new, fluxes = richards_step(theta, DZ, DT, r, sink, hyd)
        return theta_new, fluxes.drainage + 0.3 * fluxes.runoff

    theta, out = jax.lax.scan(body, theta0, (rain, demand))
    return jnp.sum(DZ * theta) * RHO_WATER + DT * jnp.sum(out)


def _rain_and_demand(steps=48):
    t = np.arange(steps)
    rain = np.where((t > 5) & (t < 9), 0.004, 0.0)  # about 50 mm in 2 h, then dry-down
    demand = 8e-5 * np.clip(np.sin(2 * np.pi * t / 48.0), 0.0, None) + 1e-6
    return jnp.asarray(rain), jnp.asarray(demand)


@pytest.mark.parametrize("start", [0.25, 0.05])
def test_gradients_match_central_differences(start):
    p0 = np.array([0.439, 5.25, 0.355, 3.38e-6, 0.6, 0.10, 0.30])
    theta0 = jnp.full(DZ.shape, start)
    rain, demand = _rain_and_demand()
    loss = jax.jit(_column_loss)
    grad = np.asarray(_grads(jnp.asarray(p0), theta0, rain, demand)[0])
    assert np.all(np.isfinite(grad))
    for i, name in enumerate(PARAMS):
        h = 1e-5 * abs(p0[i])
        e = np.eye(p0.size)[i] * h
        fd = (float(loss(jnp.asarray(p0 + e), theta0, rain, demand)) - float(loss(jnp.asarray(p0 - e), theta0, rain, demand))) / (2 * h)
        assert grad[i] == pytest.approx(fd, rel=1e-5, abs=1e-7 * max(1.0, abs(fd))), name


_grads = jax.jit(jax.grad(_column_loss, argnums=(0, 1)))  # parameters and initial state


@pytest.mark.parametrize("start", [0.0, 1e-9, 0.439, 0.5])
def test_gradients_finite_in_dry_and_saturated_soil(start):
    p0 = jnp.array([0.439, 5.25, 0.355, 3.38e-6, 0.6, 0.10, 0.30])
    rain, demand = _rain_and_demand()
    for r in (rain, 10.0 * rain):
        grad, dtheta = _grads(p0, jnp.full(DZ.shape, start), r, demand)
        assert np.all(np.isfinite(np.asarray(grad))) and np.all(np.isfinite(np.asarray(dtheta)))


# ---------------------------------------------------------------- (e) vmap, float32


def test_vmap_over_parameter_sets_matches_single_runs():
    soils = [LOAM, SANDY_LOAM, SILTY_CLAY_LOAM]
    batch = SoilHydraulics(**{k: jnp.array([s[k] for s in soils]) for k in LOAM})
    theta = jnp.array([0.3, 0.1, 0.2, 0.25])
    sink = jnp.array([2e-5, 1e-5, 0.0, 0.0])
    step = lambda h: _step(theta, DZ, DT, 0.002, sink, h)  # noqa: E731
    theta_b, fluxes_b = jax.jit(jax.vmap(step))(batch)
    for j, s in enumerate(soils):
        theta_j, fluxes_j = step(SoilHydraulics(**s))
        np.testing.assert_allclose(np.asarray(theta_b[j]), np.asarray(theta_j), rtol=1e-13)
        np.testing.assert_allclose(float(fluxes_b.drainage[j]), float(fluxes_j.drainage), rtol=1e-12)


def test_float32_runs_finite():
    hyd = SoilHydraulics(**{k: np.float32(v) for k, v in SILTY_CLAY_LOAM.items()})
    dz, sink = DZ.astype(np.float32), jnp.full(4, 1e-5, jnp.float32)

    def one_step(p, theta):
        h = SoilHydraulics(theta_sat=p[0], theta_res=p[1], b=p[2], psi_sat=p[3], k_sat=p[4])
        theta_new, fluxes = richards_step(theta, dz, np.float32(DT), jnp.float32(0.01), sink, h)
        return jnp.sum(theta_new) + fluxes.drainage + fluxes.runoff

    p = jnp.array([hyd.theta_sat, hyd.theta_res, hyd.b, hyd.psi_sat, hyd.k_sat])
    grad = jax.jit(jax.grad(one_step, argnums=(0, 1)))
    for start in (0.0, 0.2, 0.464):
        theta0 = jnp.full(DZ.shape, start, jnp.float32)
        theta_new, fluxes = _step(theta0, dz, np.float32(DT), jnp.float32(0.01), sink, hyd)
        assert theta_new.dtype == jnp.float32 and np.all(np.isfinite(np.asarray(theta_new)))
        assert np.all(np.asarray(theta_new) <= np.float32(0.464)) and np.all(np.asarray(theta_new) >= 0.0)
        g_p, g_theta = grad(p, theta0)
        assert g_p.dtype == jnp.float32 and np.all(np.isfinite(np.asarray(g_p))) and np.all(np.isfinite(np.asarray(g_theta)))


def test_thomas_and_lapack_solves_agree():
    hyd = SoilHydraulics(**LOAM)
    theta = jnp.array([0.05, 0.3, 0.43, 0.2])
    sink = jnp.array([3e-5, 1e-5, 0.0, 0.0])
    a = _step(theta, DZ, DT, 0.01, sink, hyd)
    b = _step(theta, DZ, DT, 0.01, sink, hyd, tridiagonal="thomas")
    np.testing.assert_allclose(np.asarray(a[0]), np.asarray(b[0]), rtol=1e-13)
    np.testing.assert_allclose(np.asarray(a[1].drainage), np.asarray(b[1].drainage), rtol=1e-11)
