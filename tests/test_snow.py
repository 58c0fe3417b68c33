"""Snow bucket: exact mass balance, non-negative SWE, phase split, cover, albedo, insulation, gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jlsm.physics.snow import (
    ALBEDO_SNOW,
    MELT_FACTOR,
    SNOW_DENSITY,
    SWE_FULL_COVER,
    T_FREEZE,
    precipitation_phase,
    snow_albedo,
    snow_conductivity,
    snow_cover_fraction,
    snow_step,
    snow_thermal_resistance,
)

DT = 1800.0


def _winter(steps=2000, seed=3):
    """Synthetic half-hourly winter-to-spring series: air temperature [K] and precipitation [kg m-2 s-1]."""
    rng = np.random.default_rng(seed)
    t = np.arange(steps) * DT
    t_air = T_FREEZE - 8.0 + 16.0 * t / t[-1] + 6.0 * np.sin(2 * np.pi * t / 86400.0) + rng.normal(0, 1.5, steps)
    precip = np.where(rng.uniform(size=steps) < 0.15, rng.exponential(5e-4, steps), 0.0)
    return jnp.asarray(t_air), jnp.asarray(precip)


def _run(melt_factor, t_air, precip, swe0=0.0):
    def body(swe, forcing):
        ta, p = forcing
        rain, snow = precipitation_phase(p, ta)
        swe_new, melt = snow_step(swe, snow, ta, DT, melt_factor)
        return swe_new, (swe, swe_new, snow, melt, rain)

    return jax.lax.scan(body, jnp.asarray(swe0, t_air.dtype), (t_air, precip))


def test_mass_balance_exact_and_swe_never_negative():
    t_air, precip = _winter()
    _, (swe, swe_new, snow, melt, rain) = jax.jit(_run)(4.0 * MELT_FACTOR, t_air, precip)
    swe, swe_new, snow, melt = (np.asarray(v) for v in (swe, swe_new, snow, melt))
    np.testing.assert_allclose(swe_new - swe, DT * (snow - melt), rtol=0, atol=1e-12 * (1.0 + swe.max()))
    assert np.all(swe_new >= 0.0) and np.all(melt >= 0.0)
    assert swe.max() > 10.0 and swe_new[-1] < 0.5 * swe.max()  # a pack built up and melted
    # the whole pack melts in one step when the potential melt is far above what is there
    swe_last, melt_last = snow_step(jnp.asarray(1.0), jnp.asarray(0.0), jnp.asarray(T_FREEZE + 30.0), DT, 1.0)
    assert 0.0 <= float(swe_last) < 1e-6 and float(melt_last) * DT == pytest.approx(1.0 - float(swe_last), rel=1e-12)


def test_degree_day_rate_when_snow_is_plentiful():
    for dtemp in (2.0, 5.0, 10.0):
        _, melt = snow_step(jnp.asarray(500.0), jnp.asarray(0.0), jnp.asarray(T_FREEZE + dtemp), DT, MELT_FACTOR)
        # the smooth onset at T_F (width 0.25 K) adds w exp(-dT / w) to dT
        assert float(melt) == pytest.approx(MELT_FACTOR * dtemp, rel=0.25 * np.exp(-dtemp / 0.25) / dtemp + 1e-9)
    _, cold = snow_step(jnp.asarray(500.0), jnp.asarray(0.0), jnp.asarray(T_FREEZE - 5.0), DT, MELT_FACTOR)
    assert 0.0 <= float(cold) < 1e-8 * MELT_FACTOR


def test_phase_split_sums_to_precipitation():
    t = jnp.linspace(T_FREEZE - 10.0, T_FREEZE + 10.0, 401)
    p = jnp.full_like(t, 2e-3)
    rain, snow = precipitation_phase(p, t)
    np.testing.assert_allclose(np.asarray(rain + snow), np.asarray(p), rtol=1e-15)
    assert np.all(np.asarray(rain) >= 0.0) and np.all(np.asarray(snow) >= 0.0)
    assert np.all(np.diff(np.asarray(snow)) <= 0.0)
    # Jordan (1991) range: 90 % snow at +0.5 C, 10 % at +2.5 C
    frac = lambda temp: float(precipitation_phase(jnp.asarray(1.0), jnp.asarray(temp))[1])  # noqa: E731
    assert frac(T_FREEZE + 0.5) == pytest.approx(0.9, rel=1e-12)
    assert frac(T_FREEZE + 2.5) == pytest.approx(0.1, rel=1e-12)
    assert frac(T_FREEZE - 5.0) > 0.9999 and frac(T_FREEZE + 7.0) < 1e-4


def test_cover_albedo_and_insulation():
    swe = jnp.linspace(0.0, 2 * SWE_FULL_COVER, 201)
    cover = np.asarray(snow_cover_fraction(swe))
    assert cover[0] == 0.0 and np.all(np.diff(cover) >= 0.0) and np.all(cover <= 1.0)
    assert float(snow_cover_fraction(SWE_FULL_COVER)) == pytest.approx(1.0, abs=1e-15)
    assert float(snow_albedo(0.2, 1.0)) == pytest.approx(ALBEDO_SNOW) and float(snow_albedo(0.2, 0.0)) == pytest.approx(0.2)
    # Sturm et al. (1997): 0.138 - 1.01*0.25 + 3.233*0.25^2 = 0.08756 W m-1 K-1 at 250 kg m-3
    assert float(snow_conductivity(250.0)) == pytest.approx(0.08756, rel=1e-4)
    # 100 kg m-2 at 250 kg m-3 is 0.4 m of snow
    assert float(snow_thermal_resistance(100.0)) == pytest.approx(0.4 / float(snow_conductivity(SNOW_DENSITY)), rel=1e-12)
    assert float(snow_thermal_resistance(0.0)) == 0.0


def _season_loss(p, t_air, precip):
    melt_factor, shift = p
    swe_end, (swe, _, _, melt, rain) = _run(melt_factor, t_air + shift, precip, swe0=20.0)
    return swe_end + jnp.sum(jnp.sqrt(1.0 + melt * 1e4)) + jnp.mean(snow_cover_fraction(swe))


def test_gradients_match_central_differences_and_are_finite():
    t_air, precip = _winter(400)
    p0 = jnp.array([MELT_FACTOR, 0.0])
    loss = jax.jit(_season_loss)
    grad = np.asarray(jax.jit(jax.grad(_season_loss))(p0, t_air, precip))
    assert np.all(np.isfinite(grad))
    for i, h in enumerate((1e-5 * MELT_FACTOR, 1e-4)):
        e = np.eye(2)[i] * h
        fd = (float(loss(p0 + e, t_air, precip)) - float(loss(p0 - e, t_air, precip))) / (2 * h)
        assert grad[i] == pytest.approx(fd, rel=1e-5), i
    # no snow at all, and a pack exactly gone: gradients finite
    g0 = jax.grad(lambda s, f, t: snow_step(s, f, t, DT, MELT_FACTOR)[1], argnums=(0, 1, 2))(0.0, 0.0, T_FREEZE + 3.0)
    assert all(np.isfinite(float(g)) for g in g0)
    gc = jax.grad(lambda s: snow_cover_fraction(s) + snow_thermal_resistance(s))(0.0)
    assert np.isfinite(float(gc))


def test_vmap_and_float32():
    t_air, precip = _winter(200)
    factors = jnp.array([2.0, 4.0, 7.0]) * MELT_FACTOR
    batched = jax.vmap(lambda f: _run(f, t_air, precip)[0])(factors)
    single = [float(_run(f, t_air, precip)[0]) for f in factors]
    np.testing.assert_allclose(np.asarray(batched), single, rtol=1e-12)
    swe32, (_, _, _, melt32, _) = jax.jit(_run)(jnp.float32(MELT_FACTOR), t_air.astype(jnp.float32), precip.astype(jnp.float32))
    assert swe32.dtype == jnp.float32 and np.isfinite(float(swe32)) and np.all(np.isfinite(np.asarray(melt32)))
    g32 = jax.grad(_season_loss)(jnp.array([MELT_FACTOR, 0.0], jnp.float32), t_air.astype(jnp.float32), precip.astype(jnp.float32))
    assert g32.dtype == jnp.float32 and np.all(np.isfinite(np.asarray(g32)))
