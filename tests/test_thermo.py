"""Moist-air thermodynamics against published values, identities and automatic derivatives."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jlsm.physics import thermo

# FAO-56 (Allen et al. 1998), Annex 2, Table 2.3: saturation vapour pressure [kPa] at T [C].
FAO56_ES = {1.0: 0.657, 5.0: 0.872, 10.0: 1.228, 15.0: 1.705, 20.0: 2.338, 24.5: 3.075, 30.0: 4.243}


def murphy_koop_liquid(t):
    """Murphy & Koop (2005), QJRMS 131, eq. 10: vapour pressure over liquid water [Pa]."""
    return np.exp(
        54.842763
        - 6763.22 / t
        - 4.210 * np.log(t)
        + 0.000367 * t
        + np.tanh(0.0415 * (t - 218.8)) * (53.878 - 1331.22 / t - 9.44523 * np.log(t) + 0.014025 * t)
    )


def test_saturation_vapour_pressure_fao56_table():
    for celsius, kpa in FAO56_ES.items():
        es = float(thermo.saturation_vapour_pressure(celsius + 273.15)) / 1000.0
        # FAO-56 rounds to 1 Pa; Bolton's fit and FAO's Tetens form differ by < 0.1 %.
        assert abs(es - kpa) <= 1e-3 * kpa + 5e-4, (celsius, es, kpa)


def test_saturation_vapour_pressure_against_murphy_koop():
    t = np.linspace(-35.0, 35.0, 71) + 273.15
    ours = np.asarray(thermo.saturation_vapour_pressure(jnp.asarray(t)))
    rel = np.abs(ours / murphy_koop_liquid(t) - 1.0)
    assert rel.max() < 2e-3
    warm = (t > 263.15)
    assert rel[warm].max() < 1.2e-3


def test_slopes_match_automatic_derivatives():
    t = jnp.linspace(240.0, 320.0, 33)
    p = jnp.linspace(60e3, 105e3, 33)
    des = jax.vmap(jax.grad(thermo.saturation_vapour_pressure))(t)
    np.testing.assert_allclose(thermo.saturation_vapour_pressure_slope(t), des, rtol=1e-12)
    dqs = jax.vmap(jax.grad(thermo.saturation_specific_humidity))(t, p)
    np.testing.assert_allclose(thermo.saturation_specific_humidity_slope(t, p), dqs, rtol=1e-12)


def test_slope_of_saturation_curve_published():
    # FAO-56 Annex 2, Table 2.4: Delta [kPa C-1] at 20 C = 0.145, at 30 C = 0.243 (Tetens form).
    for celsius, delta in ((20.0, 0.145), (30.0, 0.243)):
        ours = float(thermo.saturation_vapour_pressure_slope(celsius + 273.15)) / 1000.0
        assert abs(ours - delta) <= 5e-3 * delta, (celsius, ours)
    # The derivative of Murphy & Koop (2005) eq. 10, by central differences: within 0.4 %.
    t = np.linspace(-35.0, 35.0, 71) + 273.15
    reference = (murphy_koop_liquid(t + 1e-4) - murphy_koop_liquid(t - 1e-4)) / 2e-4
    ours = np.asarray(thermo.saturation_vapour_pressure_slope(jnp.asarray(t)))
    assert np.abs(ours / reference - 1.0).max() < 4e-3


def test_humidity_round_trip():
    t = jnp.linspace(250.0, 315.0, 14)
    p = jnp.full_like(t, 90e3)
    qs = thermo.saturation_specific_humidity(t, p)
    es = thermo.saturation_vapour_pressure(t)
    # q_s inverts to Bolton's e_s up to the bound below p: relative (e_s / p)^8 / 8
    np.testing.assert_allclose(thermo.vapour_pressure(qs, p), es * (1.0 + (es / p) ** 8) ** -0.125, rtol=1e-13)
    np.testing.assert_allclose(thermo.vapour_pressure(qs, p), es, rtol=float(np.max((es / p) ** 8)) / 8 * 1.01)
    np.testing.assert_allclose(thermo.vapour_pressure_deficit(t, qs, p), 0.0, atol=1e-5)
    np.testing.assert_allclose(thermo.specific_humidity_deficit(t, qs, p), 0.0, atol=1e-15)
    q = 0.5 * qs
    e = thermo.vapour_pressure(q, p)
    np.testing.assert_allclose(thermo.specific_humidity_from_vapour_pressure(e, p), q, rtol=1e-13)
    assert np.all(np.asarray(thermo.vapour_pressure_deficit(t, q, p)) > 0.0)


def test_saturation_specific_humidity_value():
    # eps e_s / (p - (1 - eps) e_s) with e_s(20 C) = 2336.9 Pa at 101325 Pa: 0.01447 kg kg-1.
    es = 611.2 * np.exp(17.67 * 20.0 / (20.0 + 243.5))
    eps = 8.314462618 / 0.0289644 / (8.314462618 / 0.01801528)
    expected = eps * es / (101325.0 - (1.0 - eps) * es)
    assert abs(expected - 0.01447) < 1e-5
    np.testing.assert_allclose(thermo.saturation_specific_humidity(293.15, 101325.0), expected, rtol=1e-12)


def test_latent_heat():
    # FAO-56 uses 2.45 MJ kg-1 "at about 20 C" (Chapter 3); eq. 3-1 gives 2.4538.
    assert abs(float(thermo.latent_heat_vaporisation(293.15)) - 2.45e6) < 0.005e6
    assert float(thermo.latent_heat_vaporisation(thermo.T_FREEZE)) == thermo.LATENT_HEAT_VAPORISATION
    # Henderson-Sellers (1984), QJRMS 110, eq. 7: 1.91846e6 (T / (T - 33.91))^2, within 0.1 % for 0-30 C.
    t = np.linspace(273.15, 303.15, 31)
    hs = 1.91846e6 * (t / (t - 33.91)) ** 2
    np.testing.assert_allclose(thermo.latent_heat_vaporisation(jnp.asarray(t)), hs, rtol=1e-3)


def test_psychrometric_constant_fao56():
    # FAO-56 Annex 2, Table 2.2: 101.3 kPa -> 0.067 kPa C-1; Example 2 (1800 m): 81.8 kPa -> 0.054.
    for kpa, gamma in ((101.3, 0.067), (81.8, 0.054)):
        ours = float(thermo.psychrometric_constant(kpa * 1000.0, 293.15)) / 1000.0
        assert abs(ours - gamma) <= 0.0006, (kpa, ours)
    p, t = 95e3, 300.0
    expected = thermo.CP_AIR * p / (thermo.EPSILON * thermo.latent_heat_vaporisation(t))
    np.testing.assert_allclose(thermo.psychrometric_constant(p, t), expected, rtol=1e-14)


def test_air_density():
    # ICAO (1993) standard atmosphere at sea level: 101325 Pa, 288.15 K, dry -> 1.2250 kg m-3.
    assert abs(float(thermo.air_density(101325.0, 288.15, 0.0)) - 1.2250) < 2e-4
    # Moist air is lighter: rho(q) = rho_dry / (1 + 0.608 q).
    ratio = thermo.air_density(101325.0, 288.15, 0.01) / thermo.air_density(101325.0, 288.15, 0.0)
    np.testing.assert_allclose(ratio, 1.0 / (1.0 + (1.0 / thermo.EPSILON - 1.0) * 0.01), rtol=1e-14)
    assert abs(1.0 / thermo.EPSILON - 1.0 - 0.608) < 1e-3


def test_constants():
    assert abs(thermo.R_DRY - 287.06) < 0.01
    assert abs(thermo.R_VAPOUR - 461.52) < 0.01
    assert abs(thermo.EPSILON - 0.622) < 5e-4
    assert abs(thermo.CP_AIR - 1004.7) < 0.1


FUNCTIONS = {
    "saturation_vapour_pressure": (thermo.saturation_vapour_pressure, (290.0,)),
    "saturation_vapour_pressure_slope": (thermo.saturation_vapour_pressure_slope, (290.0,)),
    "saturation_specific_humidity": (thermo.saturation_specific_humidity, (290.0, 95e3)),
    "saturation_specific_humidity_slope": (thermo.saturation_specific_humidity_slope, (290.0, 95e3)),
    "latent_heat_vaporisation": (thermo.latent_heat_vaporisation, (290.0,)),
    "psychrometric_constant": (thermo.psychrometric_constant, (95e3, 290.0)),
    "air_density": (thermo.air_density, (95e3, 290.0, 0.008)),
    "vapour_pressure_deficit": (thermo.vapour_pressure_deficit, (290.0, 0.008, 95e3)),
    "specific_humidity_deficit": (thermo.specific_humidity_deficit, (290.0, 0.008, 95e3)),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_gradients_against_finite_differences(name):
    f, args = FUNCTIONS[name]
    args = tuple(jnp.float64(a) for a in args)
    for i, a in enumerate(args):
        g = jax.grad(lambda x: f(*args[:i], x, *args[i + 1 :]))(a)
        h = 1e-6 * abs(float(a))
        up = f(*args[:i], a + h, *args[i + 1 :])
        down = f(*args[:i], a - h, *args[i + 1 :])
        fd = (up - down) / (2 * h)
        np.testing.assert_allclose(g, fd, rtol=1e-5, err_msg=f"{name} arg {i}")


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_float32_jit_vmap(name):
    f, args = FUNCTIONS[name]
    n = 5
    batch64 = tuple(jnp.linspace(0.9, 1.1, n) * a for a in args)
    batch32 = tuple(b.astype(jnp.float32) for b in batch64)
    out32 = jax.jit(jax.vmap(f))(*batch32)
    out64 = jax.vmap(f)(*batch64)
    assert out32.dtype == jnp.float32
    assert out64.dtype == jnp.float64
    np.testing.assert_allclose(np.asarray(out32, np.float64), out64, rtol=2e-5, atol=1e-6 * float(jnp.abs(out64).max()))
    grads = jax.vmap(jax.grad(lambda *a: f(*a), argnums=tuple(range(len(args)))))(*batch32)
    for g in grads:
        assert g.dtype == jnp.float32
        assert np.all(np.isfinite(np.asarray(g)))


def test_saturation_humidity_stays_physical_far_above_the_boiling_point():
    # Without a bound, q = eps e / (p - (1 - eps) e) has a pole at e = p / (1 - eps) and is negative beyond
    # it; a skin there would draw condensation and heat up further. Bounded: positive, increasing, below 1.
    t = jnp.linspace(200.0, 700.0, 2001)
    p = jnp.full_like(t, 95e3)
    qs = np.asarray(thermo.saturation_specific_humidity(t, p))
    assert np.all(np.isfinite(qs)) and np.all(qs > 0.0) and np.all(qs <= 1.0 + 1e-12)  # 1 to round-off as e_b -> p
    assert np.all(np.diff(qs) >= -1e-15)  # flat at 1 to round-off
    rising = qs[:-1] < 0.999
    assert rising.sum() > 700 and np.all(np.diff(qs)[rising] > 0.0)
    slope = np.asarray(thermo.saturation_specific_humidity_slope(t, p))
    ad = np.asarray(jax.vmap(jax.grad(thermo.saturation_specific_humidity))(t, p))
    np.testing.assert_allclose(slope, ad, rtol=1e-9, atol=1e-15)
    assert np.all(slope >= 0.0)


def test_the_bound_leaves_the_usual_range_unchanged():
    t = jnp.linspace(230.0, 320.0, 91)
    p = jnp.full_like(t, 101325.0)
    es = thermo.saturation_vapour_pressure(t)
    unbounded = thermo.specific_humidity_from_vapour_pressure(es, p)
    np.testing.assert_allclose(thermo.saturation_specific_humidity(t, p), unbounded, rtol=2e-9)
