"""Aerodynamic resistances: log law, Louis functions, Monin-Obukhov reference, safe gradients."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import brentq

from jlsm.errors import InputError
from jlsm.physics import aerodynamics as aero
from jlsm.physics.thermo import CP_AIR, GRAVITY, VON_KARMAN

K = VON_KARMAN


# --- Monin-Obukhov reference, solved iteratively (float64 numpy) ------------------------------


def psi_m(zeta):
    """Integrated stability function for momentum: Paulson (1970) unstable, Beljaars & Holtslag (1991) stable."""
    if zeta < 0:
        x = (1.0 - 16.0 * zeta) ** 0.25
        return 2 * math.log((1 + x) / 2) + math.log((1 + x * x) / 2) - 2 * math.atan(x) + math.pi / 2
    a, b, c, d = 1.0, 2.0 / 3.0, 5.0, 0.35
    return -(a * zeta + b * (zeta - c / d) * math.exp(-d * zeta) + b * c / d)


def psi_h(zeta):
    """Integrated stability function for heat: Paulson (1970) unstable, Beljaars & Holtslag (1991) stable."""
    if zeta < 0:
        x = (1.0 - 16.0 * zeta) ** 0.25
        return 2 * math.log((1 + x * x) / 2)
    a, b, c, d = 1.0, 2.0 / 3.0, 5.0, 0.35
    return -((1 + 2 * a * zeta / 3) ** 1.5 + b * (zeta - c / d) * math.exp(-d * zeta) + b * c / d - 1)


def most_profiles(zeta, z, z0m, z0h):
    """(ln(z/z0m) - psi_m(z/L) + psi_m(z0m/L), ln(z/z0h) - psi_h(z/L) + psi_h(z0h/L))."""
    fm = math.log(z / z0m) - psi_m(zeta) + psi_m(zeta * z0m / z)
    fh = math.log(z / z0h) - psi_h(zeta) + psi_h(zeta * z0h / z)
    return fm, fh


def most_zeta(ri, z, z0m, z0h):
    """z/L solving Ri_b = zeta fh / fm^2 by bracketing (converged to 1e-12)."""
    if ri == 0.0:
        return 0.0

    def residual(zeta):
        fm, fh = most_profiles(zeta, z, z0m, z0h)
        return zeta * fh / fm**2 - ri

    lo, hi = (-1e4, 0.0) if ri < 0 else (0.0, 1e4)
    return brentq(residual, lo, hi, xtol=1e-14, rtol=1e-13, maxiter=500)


def test_most_reference_functions_tabulated():
    # Paulson (1970) at zeta = -1, x = 17^(1/4) = 2.0305: psi_h = 2 ln((1 + x^2)/2) = 1.8812,
    # psi_m = 2 ln((1 + x)/2) + ln((1 + x^2)/2) - 2 atan(x) + pi/2 = 1.116.
    assert abs(psi_h(-1.0) - 2 * math.log((1 + math.sqrt(17.0)) / 2)) < 1e-14
    assert abs(psi_h(-1.0) - 1.8812) < 1e-4
    assert abs(psi_m(-1.0) - 1.116) < 1e-3
    # Beljaars & Holtslag (1991) at zeta = 1 (a = 1, b = 2/3, c = 5, d = 0.35), by hand:
    # psi_m = -(1 + 2/3 (1 - 14.286) e^-0.35 + 9.524) = -4.282; psi_h = -(5/3)^1.5 + 6.2415 - 9.524 + 1 = -4.434.
    assert abs(psi_m(0.0)) < 1e-14 and abs(psi_h(0.0)) < 1e-14
    assert abs(psi_m(1.0) + 4.282) < 1e-3
    assert abs(psi_h(1.0) + 4.434) < 1e-3
    zeta = most_zeta(0.1, 10.0, 0.1, 0.01)
    fm, fh = most_profiles(zeta, 10.0, 0.1, 0.01)
    assert abs(zeta * fh / fm**2 - 0.1) < 1e-10


# --- the kernel ------------------------------------------------------------------------------


def neutral_skin(t_air, height):
    """The skin temperature with the same potential temperature as the air (Ri_b = 0)."""
    return t_air + GRAVITY / CP_AIR * height


@pytest.mark.parametrize("stability", ["louis", "monin_obukhov"])
@pytest.mark.parametrize("hc,z_ref,kb_inv", [(0.5, 3.0, 2.3), (20.0, 35.0, 1.0), (0.0, 2.0, 0.0)])
def test_neutral_log_law(hc, z_ref, kb_inv, stability):
    rough = aero.Roughness(z0m_ratio=0.1, displacement_ratio=0.67, kb_inv=kb_inv)
    z0m, z0h, d = (float(x) for x in aero.roughness_lengths(hc, rough))
    height = z_ref - d
    u = 3.7
    state = aero.aerodynamic_resistance(u, 290.0, neutral_skin(290.0, height), z_ref, hc, rough, stability=stability)
    assert abs(float(state.ri_bulk)) < 1e-12
    lm, lh = math.log(height / z0m), math.log(height / z0h)
    np.testing.assert_allclose(state.r_am, lm**2 / (K**2 * u), rtol=1e-10)
    np.testing.assert_allclose(state.r_ah, lm * lh / (K**2 * u), rtol=1e-10)
    np.testing.assert_allclose(state.ustar, K * u / lm, rtol=1e-10)
    np.testing.assert_allclose(lh - lm, kb_inv, atol=1e-12)


def test_roughness_lengths():
    rough = aero.Roughness(z0m_ratio=0.123, displacement_ratio=0.7, kb_inv=2.0)
    z0m, z0h, d = aero.roughness_lengths(0.0, rough, min_roughness=1e-3)
    assert float(z0m) == pytest.approx(1e-3, rel=1e-14) and float(d) == 0.0
    z0m, z0h, d = aero.roughness_lengths(10.0, rough, min_roughness=1e-3)
    np.testing.assert_allclose([z0m, z0h, d], [1.23, 1.23 * math.exp(-2.0), 7.0], rtol=1e-14)
    heights = jnp.linspace(0.0, 0.2, 201)
    z0 = aero.roughness_lengths(heights, rough)[0]
    assert np.all(np.diff(np.asarray(z0)) > 0)  # smooth floor, still increasing
    assert np.all(np.asarray(z0) >= 1e-3)


def test_louis_functions_published_values():
    cn, ratio = 0.004, 100.0
    for ri in (0.01, 0.1, 0.5, 2.0):
        expected = 1.0 / (1.0 + 4.7 * ri) ** 2
        for c_star in (7.4, 5.3):
            np.testing.assert_allclose(aero.louis_stability(ri, cn, ratio, c_star), expected, rtol=1e-14)
    for ri in (-0.01, -0.1, -1.0, -10.0):
        for c_star in (7.4, 5.3):
            c = c_star * 9.4 * cn * math.sqrt(ratio)
            expected = 1.0 - 9.4 * ri / (1.0 + c * math.sqrt(-ri))
            np.testing.assert_allclose(aero.louis_stability(ri, cn, ratio, c_star), expected, rtol=1e-14)
    # Hand-computed: Ri = 0.1 -> 1/1.47^2 = 0.462770; Ri = -1, C* = 5.3, c = 5.3*9.4*0.004*10 = 1.9928
    # -> 1 + 9.4/2.9928 = 4.140872.
    assert float(aero.louis_stability(0.1, cn, ratio, 5.3)) == pytest.approx(0.462770, abs=1e-6)
    assert float(aero.louis_stability(-1.0, cn, ratio, 5.3)) == pytest.approx(4.140872, abs=1e-6)


def test_louis_continuous_at_neutral_and_free_convection():
    cn, ratio = 0.004, 100.0
    for c_star in (7.4, 5.3):
        f = lambda ri: aero.louis_stability(ri, cn, ratio, c_star)  # noqa: E731
        assert float(f(0.0)) == 1.0
        assert float(jax.grad(f)(0.0)) == pytest.approx(-9.4, rel=1e-14)
        assert float(jax.grad(f)(-1e-12)) == pytest.approx(-9.4, rel=1e-4)
        assert float(jax.grad(f)(1e-12)) == pytest.approx(-9.4, rel=1e-4)
        # Free convection: F -> 9.4 / c sqrt(-Ri), so the heat flux no longer depends on wind.
        c = c_star * 9.4 * cn * math.sqrt(ratio)
        ri = -1e8
        assert float(f(ri)) == pytest.approx(9.4 / c * math.sqrt(-ri), rel=1e-3)


def test_module_psi_functions_match_reference():
    for zeta in (-50.0, -1.0, -0.01, 0.0, 0.01, 1.0, 50.0):
        assert float(aero.psi_momentum(zeta)) == pytest.approx(psi_m(zeta), rel=1e-12, abs=1e-14)
        assert float(aero.psi_heat(zeta)) == pytest.approx(psi_h(zeta), rel=1e-12, abs=1e-14)


def test_obukhov_newton_against_converged_solution():
    """Unrolled Newton steps for z/L against bracketing to 1e-13, for -10 <= Ri_b <= 2."""
    z, z0m = 10.0, 0.06
    ris = np.concatenate([-np.logspace(-4, 1, 40), np.logspace(-4, math.log10(2.0), 40)])
    worst = {}
    for iterations in (2, 3):
        errors = []
        for kb_inv in (0.0, 2.3, 5.0):
            z0h = z0m * math.exp(-kb_inv)
            lm, lh = math.log(z / z0m), math.log(z / z0h)
            zeta = aero.obukhov_stability(jnp.asarray(ris), lm, lh, z0m / z, z0h / z, iterations=iterations)
            for ri, zz in zip(ris, np.asarray(zeta)):
                fm, fh = most_profiles(most_zeta(float(ri), z, z0m, z0h), z, z0m, z0h)
                fma, fha = most_profiles(float(zz), z, z0m, z0h)
                errors.append(abs(fma * fha / (fm * fh) - 1.0))
        worst[iterations] = max(errors)
    print(f"max relative error of r_ah, Newton vs converged: 2 steps {worst[2]:.1e}, 3 steps {worst[3]:.1e}")
    assert worst[3] < 1e-4  # the module docstring's 7e-5
    assert worst[2] < 0.06


def test_unknown_stability_is_an_error():
    with pytest.raises(InputError, match="stability"):
        aero.aerodynamic_resistance(3.0, 290.0, 291.0, 10.0, 0.5, aero.Roughness(), stability="bulk")


@pytest.mark.parametrize("stability", ["louis", "monin_obukhov"])
def test_monotonic_in_stability(stability):
    rough = aero.Roughness()
    t_skin = 290.0 + jnp.linspace(-30.0, 30.0, 601)
    state = aero.aerodynamic_resistance(2.0, 290.0, t_skin, 10.0, 0.5, rough, stability=stability)
    ri = np.asarray(state.ri_bulk)
    order = np.argsort(ri)
    assert np.all(np.diff(np.asarray(state.r_ah)[order]) > 0)
    assert np.all(np.diff(np.asarray(state.r_am)[order]) > 0)
    assert np.all(np.diff(np.asarray(state.ustar)[order]) < 0)
    assert ri.min() < -1.0 and ri.max() > 1.0


def test_against_iterative_monin_obukhov():
    """Louis versus the converged Monin-Obukhov solution (Paulson / Beljaars-Holtslag)."""
    z, z0m = 10.0, 0.06
    errors = {}
    for kb_inv in (0.0, 2.3):
        z0h = z0m * math.exp(-kb_inv)
        lm, lh = math.log(z / z0m), math.log(z / z0h)
        cmn, chn = K**2 / lm**2, K**2 / (lm * lh)
        for ri in np.concatenate([-np.logspace(-3, math.log10(5.0), 40), np.logspace(-3, math.log10(0.3), 30)]):
            zeta = most_zeta(float(ri), z, z0m, z0h)
            fm, fh = most_profiles(zeta, z, z0m, z0h)
            r_most = fm * fh / K**2  # times u
            r_louis = 1.0 / (chn * float(aero.louis_stability(ri, chn, z / z0m, 5.3)))
            errors[(kb_inv, float(ri))] = r_louis / r_most - 1.0
    unstable = max(abs(e) for (kb, ri), e in errors.items() if ri < 0)
    stable = max(abs(e) for (kb, ri), e in errors.items() if ri > 0)
    near = max(abs(e) for (kb, ri), e in errors.items() if abs(ri) <= 0.01)
    print(f"max relative difference of r_ah, Louis vs iterative MOST: unstable {unstable:.3f}, "
          f"stable (Ri <= 0.3) {stable:.3f}, |Ri| <= 0.01 {near:.3f}")
    # The numbers stated in the module docstring (two different closures, not a convergence error).
    assert near < 0.04
    assert unstable < 0.70
    assert stable < 0.60
    assert max(abs(e) for (kb, ri), e in errors.items() if -0.2 <= ri < 0) < 0.19
    assert max(abs(e) for (kb, ri), e in errors.items() if 0 < ri <= 0.03) < 0.09


# (wind, t_air, t_skin): calm, calm and very stable, calm and very unstable, windy, near-neutral calm.
EDGE_CASES = [(0.0, 290.0, 290.0), (0.0, 270.0, 240.0), (0.0, 250.0, 300.0), (15.0, 300.0, 299.0), (0.2, 290.0, 290.05)]


@pytest.mark.parametrize("stability", ["louis", "monin_obukhov"])
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_finite_values_and_gradients(dtype, stability):
    wind, t_air, t_skin = (jnp.asarray(v, dtype) for v in zip(*EDGE_CASES))
    rough = jax.tree_util.tree_map(lambda a: a.astype(dtype), aero.Roughness(0.1, 0.7, 2.0))
    z_ref, hc = jnp.asarray(10.0, dtype), jnp.asarray(0.5, dtype)

    def f(w, ta, ts, z, h, r):
        s = aero.aerodynamic_resistance(w, ta, ts, z, h, r, stability=stability)
        return jnp.log(s.r_ah) + jnp.log(s.r_am) + s.ustar

    axes = (0, 0, 0, None, None, None)
    value = jax.jit(jax.vmap(f, in_axes=axes))(wind, t_air, t_skin, z_ref, hc, rough)
    grads = jax.jit(jax.vmap(jax.grad(f, argnums=(0, 1, 2, 3, 4, 5)), in_axes=axes))(wind, t_air, t_skin, z_ref, hc, rough)
    assert value.dtype == dtype
    assert np.all(np.isfinite(np.asarray(value)))
    for g in jax.tree_util.tree_leaves(grads):
        assert g.dtype == dtype
        assert np.all(np.isfinite(np.asarray(g)))
    ri = aero.aerodynamic_resistance(wind, t_air, t_skin, z_ref, hc, rough).ri_bulk
    assert float(ri.max()) > 10.0 and float(ri.min()) < -10.0  # the cases do reach large |Ri_b|


@pytest.mark.parametrize("stability", ["louis", "monin_obukhov"])
def test_exactly_neutral_has_finite_gradient(stability):
    """Ri_b exactly 0 (equal potential temperatures) -> no 0/0 in value or gradient."""
    rough = aero.Roughness()

    def f(ts):
        return aero.aerodynamic_resistance(3.0, 290.0, ts, 10.0, 0.0, rough, stability=stability).r_ah

    z0m, _, d = aero.roughness_lengths(0.0, rough)
    ts = neutral_skin(290.0, 10.0 - d)
    assert float(aero.aerodynamic_resistance(3.0, 290.0, ts, 10.0, 0.0, rough).ri_bulk) == 0.0
    assert np.isfinite(float(jax.grad(f)(ts)))


NAMES = ("wind", "t_air", "t_skin", "z_ref", "canopy_height", "z0m_ratio", "displacement_ratio", "kb_inv")


def _objective(x, stability):
    rough = aero.Roughness(x[5], x[6], x[7])
    s = aero.aerodynamic_resistance(x[0], x[1], x[2], x[3], x[4], rough, stability=stability)
    return s.r_ah + 0.5 * s.r_am + 100.0 * s.ustar


@pytest.mark.parametrize("stability", ["louis", "monin_obukhov"])
def test_gradients_against_finite_differences(stability):
    """Stable (skin 283 K) and unstable (skin 296 K) points, every input and parameter."""
    points = jnp.array([[3.0, 290.0, t_skin, 12.0, 1.5, 0.11, 0.65, 1.8] for t_skin in (283.0, 296.0)])
    objective = lambda x: _objective(x, stability)  # noqa: E731
    steps = 1e-6 * jnp.abs(points[0])
    shifts = jnp.diag(steps)

    @jax.jit
    def ad_and_fd(x0):
        fd = (jax.vmap(objective)(x0 + shifts) - jax.vmap(objective)(x0 - shifts)) / (2 * steps)
        return jax.grad(objective)(x0), fd

    g, fd = jax.vmap(ad_and_fd)(points)
    for row_g, row_fd in zip(np.asarray(g), np.asarray(fd)):
        for name, a, b in zip(NAMES, row_g, row_fd):
            assert a == pytest.approx(b, rel=1e-5), name


def test_vmap_and_float32_close():
    rough = aero.Roughness()
    t_skin = jnp.linspace(280.0, 305.0, 11)
    fn = jax.jit(jax.vmap(lambda ts: aero.aerodynamic_resistance(2.5, 292.0, ts, 10.0, 0.5, rough)))
    s64 = fn(t_skin)
    rough32 = jax.tree_util.tree_map(lambda a: a.astype(jnp.float32), rough)
    s32 = jax.vmap(lambda ts: aero.aerodynamic_resistance(
        jnp.float32(2.5), jnp.float32(292.0), ts, jnp.float32(10.0), jnp.float32(0.5), rough32))(t_skin.astype(jnp.float32))
    for a, b in zip(s32, s64):
        assert a.dtype == jnp.float32
        np.testing.assert_allclose(np.asarray(a, np.float64), b, rtol=1e-4, atol=1e-6)
