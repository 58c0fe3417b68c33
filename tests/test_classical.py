"""Classical amplitude-ratio and phase-lag diffusivity estimates (jlsm.classical)."""

import numpy as np
import pytest

from jlsm import classical as cl
from jlsm.errors import InputError

KAPPA = 4.0e-7  # m2 s-1


def _series(period, n_periods=10, steps_per_period=48, depths=(0.0, 0.05, 0.10)):
    t = np.arange(n_periods * steps_per_period) * (period / steps_per_period)
    temp = np.stack([cl.periodic_solution(z, t, KAPPA, amplitude=8.0, period=period, mean=290.0) for z in depths], axis=1)
    return t, temp, np.asarray(depths)


def test_harmonic_fit_convention():
    t = np.arange(0, 5 * cl.DAY, 1800.0)
    y = 3.0 + 2.5 * np.sin(2 * np.pi * t / cl.DAY - 0.7)
    h = cl.harmonic_fit(t, y)
    assert h.amplitude == pytest.approx(2.5, rel=1e-10)
    assert h.phase == pytest.approx(0.7, abs=1e-10)
    assert h.mean == pytest.approx(3.0, abs=1e-10)
    assert h.residual_std < 1e-10


@pytest.mark.parametrize("pair", [(0, 1), (1, 2), (0, 2)])
def test_diurnal_analytic_solution_gives_true_kappa(pair):
    t, temp, z = _series(cl.DAY)
    i, j = pair
    r = cl.pair_diffusivity(t, temp[:, i], temp[:, j], z[i], z[j])
    assert r["kappa_amp"] == pytest.approx(KAPPA, rel=1e-8)
    assert r["kappa_phase"] == pytest.approx(KAPPA, rel=1e-8)
    d = np.sqrt(2 * KAPPA / (2 * np.pi / cl.DAY))
    assert r["lag_hours"] == pytest.approx((z[j] - z[i]) / d / (2 * np.pi) * 24, rel=1e-8)


def test_annual_harmonic_option():
    t, temp, z = _series(cl.YEAR, n_periods=2, steps_per_period=365, depths=(0.0, 0.5, 1.0))
    rows = cl.diffusivity_table(t, temp, z, period=cl.YEAR, trend=0, overtones=0)
    for r in rows:
        assert r["kappa_amp"] == pytest.approx(KAPPA, rel=1e-8)
        assert r["kappa_phase"] == pytest.approx(KAPPA, rel=1e-8)


def test_trend_noise_and_datetime_time_axis():
    t, temp, z = _series(cl.DAY, n_periods=20)
    rng = np.random.default_rng(1)
    temp = temp + 1e-6 * t[:, None] * 0.5 + 0.02 * rng.standard_normal(temp.shape)  # warming trend + noise
    times = np.datetime64("2018-07-01T00:00", "ns") + (t * 1e9).astype("timedelta64[ns]")
    r = cl.pair_diffusivity(times, temp[:, 0], temp[:, 2], z[0], z[2])
    assert r["kappa_amp"] == pytest.approx(KAPPA, rel=0.02)
    assert r["kappa_phase"] == pytest.approx(KAPPA, rel=0.02)


def test_missing_values_are_dropped_and_blocks():
    t, temp, z = _series(cl.DAY, n_periods=15)
    temp[::7, 1] = np.nan
    b = cl.block_diffusivity(t, temp[:, 0], temp[:, 1], z[0], z[1], block_days=5)
    assert b["kappa_amp"].size == 3
    np.testing.assert_allclose(b["kappa_amp"], KAPPA, rtol=1e-8)
    np.testing.assert_allclose(b["kappa_phase"], KAPPA, rtol=1e-8)


def test_model_column_against_classical():
    """The model's prescribed-top column reproduces the diffusive damping and lag."""
    from jlsm.forcing import Forcing
    from jlsm.grid import SoilGrid
    from jlsm.model import LandSurfaceModel, simulate
    from jlsm.physics import SoilThermal, TridiagonalSolver

    dt = 600.0
    t = np.arange(0, 12 * cl.DAY, dt)
    top = 290.0 + 5.0 * np.sin(2 * np.pi * t / cl.DAY)
    n = t.size
    forcing = Forcing(np.zeros(n), np.full(n, 300.0), np.full(n, 290.0), dt=dt, top_temperature=top)
    model = LandSurfaceModel(
        grid=SoilGrid.uniform(1.0, 201), soil=SoilThermal(1.0, 2.5e6), bottom_temperature=290.0,
        top="prescribed", bottom="zero_flux", solver=TridiagonalSolver(theta=0.5),
    )
    out = simulate(model, forcing, initial=290.0, depths=(0.05, 0.10))
    keep = t >= 4 * cl.DAY
    temp = np.asarray(out.temperature)[keep]
    r = cl.pair_diffusivity(t[keep], temp[:, 0], temp[:, 1], 0.05, 0.10)
    assert r["kappa_amp"] == pytest.approx(4.0e-7, rel=0.02)
    assert r["kappa_phase"] == pytest.approx(4.0e-7, rel=0.02)


def test_bad_input():
    t, temp, z = _series(cl.DAY)
    with pytest.raises(InputError, match="z1 < z2"):
        cl.pair_diffusivity(t, temp[:, 0], temp[:, 1], 0.1, 0.05)
    with pytest.raises(InputError, match="too few"):
        cl.harmonic_fit(t[:5], temp[:5, 0])
    with pytest.raises(InputError, match="period"):
        cl.harmonic_fit(t, temp[:, 0], period=0.0)
    with pytest.raises(InputError, match=r"\(T, 3\)"):
        cl.diffusivity_table(t, temp[:, :2], z)
    assert np.isnan(cl.kappa_from_amplitude(0.0, 0.1, 1.0, 1.2))
