"""Vapour resistances, wet fraction, path split and Penman-Monteith: values, limits, gradients."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jlsm.errors import InputError
from jlsm.physics import evapotranspiration as et
from jlsm.physics import thermo


def noah_canres(sw, q_deficit, t_air, f_theta, lai, rs_min, rs_max, rgl, hs, t_opt):
    """Noah CANRES (Chen et al. 1996) with its max() floors, in plain Python."""
    ff = 0.55 * 2.0 * sw / (rgl * lai)
    f1 = max((ff + rs_min / rs_max) / (1.0 + ff), 1e-4)
    f2 = max(1.0 / (1.0 + hs * q_deficit), 0.01)
    f3 = max(1.0 - 0.0016 * (t_opt - t_air) ** 2, 1e-4)
    return rs_min / (lai * f1 * f2 * f3 * f_theta)


def test_canopy_resistance_matches_noah_where_uncapped():
    stomata = et.Stomata(rs_min=70.0, rs_max=5000.0, rgl=65.0, hs=44.14, t_opt=298.0)
    for sw, dq, ta, ft, lai in [(600.0, 0.008, 295.0, 1.0, 3.0), (300.0, 0.004, 285.0, 0.7, 1.5), (900.0, 0.015, 303.0, 0.9, 5.0)]:
        noah = noah_canres(sw, dq, ta, ft, lai, 70.0, 5000.0, 65.0, 44.14, 298.0)
        ours = float(et.canopy_resistance(sw, dq, ta, ft, lai, stomata))
        # Harmonic cap: 1/r = 1/r_noah + 1/r_max exactly (the smooth floors are inactive here).
        assert 1.0 / ours == pytest.approx(1.0 / noah + 1.0 / 5000.0, rel=1e-6)
        assert noah < 500.0 and ours == pytest.approx(noah, rel=0.1)


def test_canopy_resistance_limits():
    stomata = et.Stomata(rs_min=100.0, rs_max=5000.0)
    # Strong light, no deficit, optimum temperature, no stress, LAI 4: close to rs_min / LAI = 25 s m-1;
    # by hand c = 1.1 x 1e4 / 100 = 110, LAI f1 = 4 (110 + 0.02 x 4) / 114, r = 1 / (LAI f1 / 100 + 1 / 5000) = 25.757.
    r = float(et.canopy_resistance(1e4, 0.0, 298.0, 1.0, 4.0, stomata))
    assert r == pytest.approx(25.757, rel=1e-3)
    # Any factor going to 0 (night, no leaves, wilting, frost) -> r_s,max.
    for args in [(0.0, 0.005, 295.0, 1.0, 0.0), (500.0, 0.005, 295.0, 0.0, 3.0), (500.0, 0.005, 250.0, 1.0, 3.0)]:
        assert float(et.canopy_resistance(*args, stomata)) == pytest.approx(5000.0, rel=0.02)
    # Night with leaves: f1 = rs_min / rs_max, so r_c = rs_max / LAI capped: 1 / (LAI / rs_max + 1 / rs_max).
    r_night = float(et.canopy_resistance(0.0, 0.0, 298.0, 1.0, 3.0, stomata))
    assert r_night == pytest.approx(5000.0 / 4.0, rel=1e-3)
    # Monotonic: more light -> lower, larger deficit -> higher, drier soil -> higher.
    sw = jnp.linspace(0.0, 1000.0, 50)
    assert np.all(np.diff(np.asarray(et.canopy_resistance(sw, 0.005, 295.0, 1.0, 3.0, stomata))) < 0)
    dq = jnp.linspace(0.0, 0.03, 50)
    assert np.all(np.diff(np.asarray(et.canopy_resistance(500.0, dq, 295.0, 1.0, 3.0, stomata))) > 0)
    ft = jnp.linspace(0.0, 1.0, 50)
    assert np.all(np.diff(np.asarray(et.canopy_resistance(500.0, 0.005, 295.0, ft, 3.0, stomata))) < 0)


def test_factors():
    stomata = et.Stomata(rs_min=100.0, rs_max=5000.0, rgl=100.0, hs=40.0, t_opt=298.0)
    # f2 at deficit 0.01: 1 / (1 + 0.4) = 0.714286; negative deficit (dew) -> 1 (smooth clip).
    assert float(et.humidity_factor(0.01, stomata)) == pytest.approx(1.0 / 1.4, rel=1e-6)
    assert float(et.humidity_factor(-0.01, stomata)) == pytest.approx(1.0, abs=1e-6)
    # f3 at 10 K from optimum: 1 - 0.16 = 0.84; at 30 K the parabola is negative: small positive floor.
    assert float(et.temperature_factor(288.0, stomata)) == pytest.approx(0.84, abs=1e-6)
    assert 1e-4 <= float(et.temperature_factor(268.0, stomata)) < 1e-3
    # LAI f1 with c = 1.1 SW / R_gl: SW = 100, LAI = 2 -> 2 (1.1 + 0.02 * 2) / (1.1 + 2) = 0.735484.
    assert float(et.radiation_factor(100.0, 2.0, stomata)) == pytest.approx(2 * 1.14 / 3.1, rel=1e-12)
    assert float(et.radiation_factor(0.0, 0.0, stomata)) == 0.0


def test_soil_surface_resistance_sellers():
    # Sellers et al. (1992): exp(8.206 - 4.255 W): W = 1 -> 52.0 s m-1, W = 0 -> 3662.9 s m-1, W = 0.5 -> 436.4.
    assert float(et.soil_surface_resistance(0.45, 0.45)) == pytest.approx(math.exp(8.206 - 4.255), rel=1e-12)
    assert float(et.soil_surface_resistance(0.45, 0.45)) == pytest.approx(52.0, abs=0.1)
    assert float(et.soil_surface_resistance(0.0, 0.45)) == pytest.approx(3662.9, abs=0.1)
    assert float(et.soil_surface_resistance(0.2, 0.4, 2.0)) == pytest.approx(2 * 436.4, abs=0.1)


def test_cover_capacity_wet_fraction():
    assert float(et.vegetation_cover(0.0, 0.5)) == 0.0
    assert float(et.vegetation_cover(2.0, 0.5)) == pytest.approx(1.0 - math.exp(-1.0), rel=1e-12)
    assert float(et.canopy_water_capacity(3.0, 0.1)) == pytest.approx(0.3, rel=1e-12)
    w_max = 0.4
    for w in (0.0, 0.05, 0.2, 0.4, 0.8):
        expected = min(w / (w_max + 1e-6), 1.0) ** (2.0 / 3.0)
        assert float(et.wet_fraction(w, w_max)) == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert float(et.wet_fraction(0.0, 0.0)) == 0.0
    # Deardorff (1978): half full -> 0.5^(2/3) = 0.630.
    assert float(et.wet_fraction(0.2, 0.4)) == pytest.approx(0.630, abs=1e-3)


def test_conductance_and_fractions():
    r_ah, r_c, r_soil = 50.0, 150.0, 400.0
    for f_veg, f_wet in [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.6, 0.3)]:
        g = float(et.vapour_conductance(r_ah, r_c, r_soil, f_veg, f_wet))
        expected = f_veg * (f_wet / r_ah + (1 - f_wet) / (r_ah + r_c)) + (1 - f_veg) / (r_ah + r_soil)
        assert g == pytest.approx(expected, rel=1e-14)
        frac = et.evaporation_fractions(r_ah, r_c, r_soil, f_veg, f_wet)
        assert float(sum(frac)) == pytest.approx(1.0, abs=1e-14)
    # Limits: bare soil is all soil evaporation, a dry full canopy all transpiration, a wet one all interception.
    assert float(et.evaporation_fractions(r_ah, r_c, r_soil, 0.0, 0.5).soil) == 1.0
    assert float(et.evaporation_fractions(r_ah, r_c, r_soil, 1.0, 0.0).transpiration) == 1.0
    assert float(et.evaporation_fractions(r_ah, r_c, r_soil, 1.0, 1.0).interception) == 1.0
    # Single paths reduce to series resistances.
    assert float(et.vapour_conductance(r_ah, r_c, r_soil, 1.0, 0.0)) == pytest.approx(1.0 / (r_ah + r_c), rel=1e-14)


# --- Penman-Monteith --------------------------------------------------------------------------


def test_penman_monteith_fao56_example_18():
    """FAO-56 Example 18 (Brussels, 6 July): ET0 = 3.9 mm day-1 from eq. 6, the grass reference of eq. 3."""
    t = 16.9 + 273.15
    p = 100.1e3
    ea = 1409.0  # Pa
    q = thermo.specific_humidity_from_vapour_pressure(ea, p)
    u2 = 2.078
    available = 13.28e6 / 86400.0  # Rn - G [W m-2]
    le = et.penman_monteith_le(available, t, q, p, 208.0 / u2, 70.0, vpd=589.0)
    et0 = float(le) * 86400.0 / 2.45e6  # FAO-56 converts with lambda = 2.45 MJ kg-1
    # FAO-56 eq. 6 with the example's Delta = 0.122, gamma = 0.0666 kPa C-1:
    fao = (0.408 * 0.122 * 13.28 + 0.0666 * 900.0 / (16.9 + 273) * u2 * 0.589) / (0.122 + 0.0666 * (1 + 0.34 * u2))
    assert fao == pytest.approx(3.88, abs=0.01)
    # Eq. 6 rounds rho cp, lambda and the resistances; eq. 3 with this module's constants agrees to 3 %.
    assert et0 == pytest.approx(fao, rel=0.03)


def test_penman_monteith_specific_humidity_form_solves_linearised_balance():
    t, q, p, r_a, r_s, available = 295.0, 0.009, 97e3, 45.0, 80.0, 350.0
    le = float(et.penman_monteith_le(available, t, q, p, r_a, r_s, form="specific_humidity"))
    rho = float(thermo.air_density(p, t, q))
    lv = float(thermo.latent_heat_vaporisation(t))
    s = float(thermo.saturation_specific_humidity_slope(t, p))
    dq = float(thermo.saturation_specific_humidity(t, p)) - q
    # Solve A = rho cp x / r_a + rho L (dq + s x) / (r_a + r_s) for x = Ts - Ta directly.
    x = (available - rho * lv * dq / (r_a + r_s)) / (rho * thermo.CP_AIR / r_a + rho * lv * s / (r_a + r_s))
    h = rho * thermo.CP_AIR * x / r_a
    le_direct = rho * lv * (dq + s * x) / (r_a + r_s)
    assert h + le_direct == pytest.approx(available, rel=1e-13)
    assert le == pytest.approx(le_direct, rel=1e-12)
    # The two textbook forms differ only by q = eps e / p: about 1 %.
    le_e = float(et.penman_monteith_le(available, t, q, p, r_a, r_s))
    assert le_e == pytest.approx(le, rel=0.02)


def test_penman_monteith_limits():
    t, q, p = 293.15, 0.007, 101e3
    # r_s -> infinity: no evaporation. No energy and saturated air: no evaporation.
    assert float(et.penman_monteith_le(400.0, t, q, p, 50.0, 1e12)) == pytest.approx(0.0, abs=1e-6)
    qs = float(thermo.saturation_specific_humidity(t, p))
    for form in ("vapour_pressure", "specific_humidity"):
        assert float(et.penman_monteith_le(0.0, t, qs, p, 50.0, 70.0, form=form)) == pytest.approx(0.0, abs=1e-9)
    # Equilibrium evaporation (Priestley & Taylor 1972) when the air is saturated and r_s = 0: Delta/(Delta+gamma) A.
    delta = float(thermo.saturation_vapour_pressure_slope(t))
    gamma = float(thermo.psychrometric_constant(p, t))
    le = float(et.penman_monteith_le(300.0, t, qs, p, 50.0, 0.0))
    assert le == pytest.approx(delta / (delta + gamma) * 300.0, rel=1e-9)
    with pytest.raises(InputError, match="form"):
        et.penman_monteith_le(300.0, t, q, p, 50.0, 70.0, form="bad")


# --- gradients --------------------------------------------------------------------------------

NAMES = (
    "rs_min", "rs_max", "rgl", "hs", "t_opt", "soil_factor", "k_extinction", "capacity_per_lai",
    "sw_down", "q_deficit", "t_air", "f_theta", "lai", "w_can", "theta_top", "r_ah",
)


def latent_conductance(x):
    """Total vapour conductance from every parameter and input (a scalar objective)."""
    stomata = et.Stomata(x[0], x[1], x[2], x[3], x[4])
    r_c = et.canopy_resistance(x[8], x[9], x[10], x[11], x[12], stomata)
    r_soil = et.soil_surface_resistance(x[14], 0.45, x[5])
    f_veg = et.vegetation_cover(x[12], x[6])
    f_wet = et.wet_fraction(x[13], et.canopy_water_capacity(x[12], x[7]))
    g = et.vapour_conductance(x[15], r_c, r_soil, f_veg, f_wet)
    split = et.evaporation_fractions(x[15], r_c, r_soil, f_veg, f_wet)
    return 1e3 * g + split.transpiration + 2.0 * split.interception


BASE = [90.0, 5000.0, 80.0, 45.0, 299.0, 1.3, 0.55, 0.12, 450.0, 0.006, 291.0, 0.8, 2.5, 0.1, 0.25, 40.0]


def test_gradients_against_finite_differences():
    x0 = jnp.array(BASE, dtype=jnp.float64)
    g = jax.jit(jax.grad(latent_conductance))(x0)
    steps = 1e-6 * jnp.abs(x0)
    shifts = jnp.diag(steps)
    f = jax.jit(jax.vmap(latent_conductance))
    fd = (f(x0 + shifts) - f(x0 - shifts)) / (2 * steps)
    for name, a, b in zip(NAMES, np.asarray(g), np.asarray(fd)):
        assert abs(a) > 0.0, name  # every parameter and input matters here
        assert a == pytest.approx(b, rel=1e-5), name


def edges():
    """LAI = 0, empty store, wilting, night, frost, calm wind (large r_ah), dew, W = W_max, LAI = 0 at night."""
    cases = []
    for name, value in [("lai", 0.0), ("w_can", 0.0), ("f_theta", 0.0), ("sw_down", 0.0), ("t_air", 250.0),
                        ("r_ah", 5e5), ("q_deficit", -0.002), ("w_can", 0.3)]:
        x = list(BASE)
        x[NAMES.index(name)] = value
        cases.append(x)
    x = list(BASE)
    x[NAMES.index("lai")] = 0.0
    x[NAMES.index("sw_down")] = 0.0
    x[NAMES.index("w_can")] = 0.0
    cases.append(x)
    return cases


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_finite_at_edges(dtype):
    x = jnp.array(edges(), dtype=dtype)
    values = jax.jit(jax.vmap(latent_conductance))(x)
    grads = jax.jit(jax.vmap(jax.grad(latent_conductance)))(x)
    assert values.dtype == dtype and grads.dtype == dtype
    assert np.all(np.isfinite(np.asarray(values)))
    assert np.all(np.isfinite(np.asarray(grads)))


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_penman_monteith_gradients(dtype):
    args = jnp.array([[350.0, 295.0, 0.009, 97e3, 45.0, 80.0], [0.0, 270.0, 0.003, 80e3, 500.0, 0.0]], dtype=dtype)
    for form in ("vapour_pressure", "specific_humidity"):
        fn = jax.vmap(jax.grad(lambda a: et.penman_monteith_le(*a, form=form)))
        grads = jax.jit(fn)(args)
        assert grads.dtype == dtype
        assert np.all(np.isfinite(np.asarray(grads)))
    if dtype == jnp.float64:
        a0 = args[0]
        g = jax.jit(jax.grad(lambda a: et.penman_monteith_le(*a)))(a0)
        steps = 1e-6 * jnp.abs(a0)
        f = jax.jit(jax.vmap(lambda a: et.penman_monteith_le(*a)))
        fd = (f(a0 + jnp.diag(steps)) - f(a0 - jnp.diag(steps))) / (2 * steps)
        np.testing.assert_allclose(g, fd, rtol=1e-5)


def test_float32_close_to_float64():
    x64 = jnp.array(edges() + [BASE], dtype=jnp.float64)
    fn = jax.jit(jax.vmap(latent_conductance))
    v64 = fn(x64)
    v32 = fn(x64.astype(jnp.float32))
    assert v32.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(v32, np.float64), v64, rtol=1e-4, atol=1e-6)
