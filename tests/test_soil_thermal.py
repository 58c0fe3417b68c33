"""Soil thermal properties: Johansen limits, monotonicity, hand-computed values, gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jlsm.physics.soil_thermal import (
    C_MINERAL,
    C_WATER,
    dry_conductivity,
    johansen_conductivity,
    saturated_conductivity,
    volumetric_heat_capacity,
)

# Noah SOILPARM.TBL (STAS; Cosby et al. 1984 porosities): sand MAXSMC 0.339, QTZ 0.92;
# clay MAXSMC 0.468, QTZ 0.25.
SAND = (0.339, 0.92)
CLAY = (0.468, 0.25)

# Worked by hand from Peters-Lidard et al. (1998) eqs. 10-14 with lambda_q = 7.7, lambda_o = 2.0,
# lambda_w = 0.57 W m-1 K-1, particle density 2700 kg m-3, fine-soil Kersten number, rounded to 4 digits:
#   sand: rho_d = 0.661*2700 = 1784.7; lambda_dry = (0.135*1784.7 + 64.7)/(2700 - 0.947*1784.7) = 0.3026;
#         lambda_s = 7.7^0.92 2^0.08 = 6.913; lambda_sat = 6.913^0.661 0.57^0.339 = 2.967
#   clay: rho_d = 1436.4; lambda_dry = 0.1930; lambda_s = 7.7^0.25 2^0.75 = 2.802;
#         lambda_sat = 2.802^0.532 0.57^0.468 = 1.330
#   lambda(S_r) = (log10 S_r + 1)(lambda_sat - lambda_dry) + lambda_dry
HAND_VALUES = [
    (SAND, 0.25, 1.363),
    (SAND, 0.50, 2.165),
    (SAND, 1.00, 2.967),
    (CLAY, 0.25, 0.6454),
    (CLAY, 0.50, 0.9876),
    (CLAY, 1.00, 1.330),
]


@pytest.mark.parametrize("soil, s_r, expected", HAND_VALUES)
def test_hand_computed_values(soil, s_r, expected):
    theta_sat, quartz = soil
    got = float(johansen_conductivity(s_r * theta_sat, theta_sat, quartz))
    assert got == pytest.approx(expected, rel=5e-4)


@pytest.mark.parametrize("soil", [SAND, CLAY])
def test_limits(soil):
    theta_sat, quartz = soil
    assert float(johansen_conductivity(0.0, theta_sat, quartz)) == pytest.approx(
        float(dry_conductivity(theta_sat)), rel=1e-12
    )
    assert float(johansen_conductivity(theta_sat, theta_sat, quartz)) == pytest.approx(
        float(saturated_conductivity(theta_sat, quartz)), rel=1e-12
    )
    # the coarse-soil Kersten number has the same end points
    assert float(johansen_conductivity(theta_sat, theta_sat, quartz, fine=False)) == pytest.approx(
        float(saturated_conductivity(theta_sat, quartz)), rel=1e-12
    )
    # below the published threshold (S_r < 0.1) the smooth Ke stays within the smoothing width of 0
    k_low = float(johansen_conductivity(0.05 * theta_sat, theta_sat, quartz))
    k_dry, k_sat = float(dry_conductivity(theta_sat)), float(saturated_conductivity(theta_sat, quartz))
    assert 0.0 < (k_low - k_dry) / (k_sat - k_dry) < 0.02


@pytest.mark.parametrize("fine", [True, False])
def test_monotonic_in_moisture(fine):
    theta_sat, quartz = CLAY
    theta = jnp.linspace(0.0, theta_sat, 2001)
    k = johansen_conductivity(theta, theta_sat, quartz, fine=fine)
    step = np.diff(np.asarray(k))
    assert np.all(step >= 0.0)  # non-decreasing everywhere (Ke underflows to 0 in very dry soil)
    assert np.all(step[np.asarray(theta)[1:] > 0.05 * theta_sat] > 0.0)  # strictly where Ke is not negligible
    dk = jax.vmap(jax.grad(lambda t: johansen_conductivity(t, theta_sat, quartz, fine=fine)))(theta)
    assert np.all(np.isfinite(np.asarray(dk))) and np.all(np.asarray(dk) >= 0.0)


def test_heat_capacity():
    theta_sat = 0.45
    c_dry = float(volumetric_heat_capacity(0.0, theta_sat))
    c_wet = float(volumetric_heat_capacity(theta_sat, theta_sat))
    assert c_dry == pytest.approx((1 - theta_sat) * C_MINERAL, rel=1e-14)
    assert c_wet - c_dry == pytest.approx(theta_sat * C_WATER, rel=1e-14)
    assert float(jax.grad(volumetric_heat_capacity)(0.2, theta_sat)) == pytest.approx(C_WATER, rel=1e-14)
    with_air = float(volumetric_heat_capacity(0.0, theta_sat, c_air=1004.0))
    assert with_air - c_dry == pytest.approx(theta_sat * 1004.0, rel=1e-12)


def _central(f, x, h):
    return (f(x + h) - f(x - h)) / (2 * h)


@pytest.mark.parametrize("s_r", [0.0, 0.02, 0.1, 0.3, 0.8, 1.0])
def test_gradients_match_finite_differences(s_r):
    theta_sat0, quartz0 = 0.44, 0.4
    args = np.array([s_r * theta_sat0, theta_sat0, quartz0])

    def f(a):
        return johansen_conductivity(a[0], a[1], a[2]) + 1e-6 * volumetric_heat_capacity(a[0], a[1])

    grad = np.asarray(jax.grad(f)(jnp.asarray(args)))
    assert np.all(np.isfinite(grad))
    for i in range(3):
        if s_r == 0.0 and i == 0:
            # one-sided at the dry end: theta < 0 is outside the domain
            h = 1e-7
            fd = (float(f(args + h * np.eye(3)[i])) - float(f(args))) / h
            assert grad[i] == pytest.approx(fd, rel=1e-4, abs=1e-6)
            continue
        h = 1e-6
        fd = _central(lambda x: float(f(args + x * np.eye(3)[i])), 0.0, h)
        assert grad[i] == pytest.approx(fd, rel=1e-5, abs=1e-8)


def test_vmap_and_float32():
    theta_sat = jnp.array([0.339, 0.439, 0.468])
    quartz = jnp.array([0.92, 0.40, 0.25])
    theta = 0.5 * theta_sat
    batched = jax.vmap(johansen_conductivity)(theta, theta_sat, quartz)
    single = [float(johansen_conductivity(t, s, q)) for t, s, q in zip(theta, theta_sat, quartz)]
    np.testing.assert_allclose(np.asarray(batched), single, rtol=1e-13)
    f32 = jax.jit(johansen_conductivity)(theta.astype(jnp.float32), theta_sat.astype(jnp.float32), quartz.astype(jnp.float32))
    g32 = jax.grad(lambda t: johansen_conductivity(t, jnp.float32(0.45), jnp.float32(0.4)))(jnp.float32(0.0))
    assert f32.dtype == jnp.float32 and np.all(np.isfinite(np.asarray(f32))) and np.isfinite(float(g32))
    np.testing.assert_allclose(np.asarray(f32), single, rtol=1e-5)
