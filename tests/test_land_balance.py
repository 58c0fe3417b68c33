"""Conservation of the version-2 land column: energy at every step, soil heat, water over a year."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from land_sites import CANOPY_HEIGHT, Z_REF, cn_cng_forcing

from jlsm.land import Budget, default_model, simulate_land
from jlsm.land.step import land_step, prepare, soft_limit
from jlsm.physics import thermo

WEEK = 48 * 7
SUMMER = 48 * 182  # early July 2008


@pytest.fixture(scope="module")
def summer_week():
    forcing = cn_cng_forcing(SUMMER, WEEK)
    model = default_model("GRA", z_ref=Z_REF, canopy_height=CANOPY_HEIGHT)
    return model, forcing, simulate_land(model, forcing, spinup_years=0)


def test_energy_balance_every_step(summer_week):
    _, _, out = summer_week
    s = {k: np.asarray(v) for k, v in out.series.items()}
    residual = s["rnet"] - s["qh"] - s["qle"] - s["qg"]
    scale = np.max(np.abs(s["rnet"]))
    assert np.all(np.isfinite(residual))
    assert np.max(np.abs(residual)) < 1e-12 * max(scale, 1.0) * 100  # round-off of W m-2 sums
    # the reported (linearised) net radiation equals the nonlinear one at the final skin temperature
    assert np.max(np.abs(s["rnet"] - s["rnet_exact"])) < 1e-6


def test_soil_heat_storage_equals_integrated_fluxes(summer_week):
    model, forcing, out = summer_week
    eb = out.energy_balance()
    ground = np.asarray(out.series["qg"]) * forcing.dt
    bottom = np.asarray(out.series["qb"]) * forcing.dt
    assert float(eb["net_input"]) == pytest.approx(np.sum(ground) - np.sum(bottom), rel=1e-10)
    scale = np.sum(np.abs(ground))
    assert abs(float(eb["residual"])) < 1e-10 * scale
    # and step by step: sum C dz dT = dt (G - Fb), with C at the start of each step
    state, budget = out.initial, Budget.zeros(jnp.float64)
    pre = prepare(model, jnp.float64)
    tb = jnp.mean(forcing.t_air)
    for n in range(5):
        f = {k: getattr(forcing, k)[n] for k in ("sw_down", "lw_down", "t_air", "q_air", "p_surf", "wind", "precip", "lai")}
        new, budget_new, diag = land_step(model, state, budget, f, forcing.dt, tb, pre)
        change = float(budget_new.heat_storage - budget.heat_storage)
        flux = float(forcing.dt * (diag["qg"] - diag["qb"]))
        assert change == pytest.approx(flux, rel=1e-11, abs=1e-6)
        state, budget = new, budget_new


def test_newton_converges_to_the_nonlinear_balance(summer_week):
    model, forcing, out = summer_week
    s = {k: np.asarray(v) for k, v in out.series.items()}
    # nonlinear residual Rn(Ts) - H - LE(Ts) - G at the final Ts: LE recomputed with the exact q_sat
    gap_rn = np.abs(s["rnet"] - s["rnet_exact"]).max()
    two = simulate_land(eqx_replace_passes(model, 2), forcing, spinup_years=0, outputs=("rnet", "rnet_exact", "qh"))
    four = simulate_land(eqx_replace_passes(model, 4), forcing, spinup_years=0, outputs=("rnet", "rnet_exact", "qh"))
    gap2 = np.abs(np.asarray(two.rnet - two.rnet_exact)).max()
    gap4 = np.abs(np.asarray(four.rnet - four.rnet_exact)).max()
    print(f"max |Rn_linearised - Rn(Ts)| [W m-2]: 2 passes {gap2:.2e}, 3 passes {gap_rn:.2e}, 4 passes {gap4:.2e}")
    assert gap4 <= gap_rn <= gap2
    assert gap4 < 1e-9
    assert np.max(np.abs(np.asarray(four.qh) - s["qh"])) < 1e-4


def eqx_replace_passes(model, n):
    import dataclasses

    return dataclasses.replace(model, newton_passes=n)


def test_water_balance_over_a_year():
    forcing = cn_cng_forcing(0, 17520)
    model = default_model("GRA", z_ref=Z_REF, canopy_height=CANOPY_HEIGHT)
    out = jax.jit(lambda m, f: simulate_land(m, f, spinup_years=0, outputs=("runoff", "drainage", "transpiration")))(
        model, forcing
    )
    wb = out.water_balance()
    precip = float(out.budget.precip)
    assert precip == pytest.approx(float(np.sum(np.asarray(forcing.precip, dtype=float)) * forcing.dt), rel=1e-12)
    assert precip > 100.0  # CN-Cng: a few hundred mm a year
    print(
        f"CN-Cng 2008 water balance [kg m-2]: P {precip:.3f}, E {float(out.budget.evaporation):.3f}, "
        f"runoff {float(out.budget.runoff):.3f}, drainage {float(out.budget.drainage):.3f}, "
        f"storage change {float(wb['storage_change']):.3f}, residual {float(wb['residual']):.2e}"
    )
    assert abs(float(wb["residual"])) < 1e-10 * precip
    assert float(out.budget.evaporation) > 0.0


def test_soft_limit_is_smooth_and_bounded():
    d = jnp.linspace(0.0, 5.0, 101)
    a = jnp.asarray(1.0)
    y = soft_limit(d, a)
    assert np.all(np.asarray(y) < 1.0) and np.all(np.asarray(y) <= np.asarray(d) + 1e-15)
    assert float(soft_limit(jnp.asarray(0.3), a)) == pytest.approx(0.3, rel=1e-4)
    g = jax.vmap(jax.grad(soft_limit, argnums=(0, 1)))(d, jnp.broadcast_to(a, d.shape))
    assert all(np.all(np.isfinite(np.asarray(x))) for x in g)
    g0 = jax.grad(soft_limit, argnums=(0, 1))(jnp.asarray(0.0), jnp.asarray(0.0))
    assert all(np.isfinite(float(x)) for x in g0)


def test_penman_monteith_is_reproduced_by_the_skin_solve(summer_week):
    """Full cover, dry canopy: LE of the skin solve = Penman-Monteith with A = Rn - G, r_s = r_c."""
    model, forcing, out = summer_week
    import equinox as eqx

    dense = eqx.tree_at(lambda m: (m.vegetation.extinction, m.vegetation.lai_scale), model, (jnp.asarray(5.0), jnp.asarray(5.0)))
    state = out.initial._replace(canopy_water=jnp.asarray(0.0), theta=jnp.full((model.n_layers,), 0.35))
    pre = prepare(dense, jnp.float64)
    checked = 0
    for n in range(12 * 2, 16 * 2):  # around local noon: large available energy
        f = {k: getattr(forcing, k)[n] for k in ("sw_down", "lw_down", "t_air", "q_air", "p_surf", "wind", "precip", "lai")}
        f["precip"] = jnp.asarray(0.0)
        _, _, d = land_step(dense, state, Budget.zeros(jnp.float64), f, forcing.dt, jnp.mean(forcing.t_air), pre)
        ta, qa, p = f["t_air"], f["q_air"], f["p_surf"]
        rho = thermo.air_density(p, ta, qa)
        lv = thermo.latent_heat_vaporisation(ta)
        ra, rs = d["r_ah"], d["r_c"]
        ts = d["ts"]
        available = d["rnet"] - (d["qg"] - d["energy_deficit"])
        deficit = thermo.saturation_specific_humidity(ta, p) - qa
        chord = (thermo.saturation_specific_humidity(ts, p) - thermo.saturation_specific_humidity(ta, p)) / (ts - ta)
        le_chord = (chord * available + rho * thermo.CP_AIR * deficit / ra) / (chord + thermo.CP_AIR / lv * (1 + rs / ra))
        assert float(d["qle_demand"]) == pytest.approx(float(le_chord), rel=1e-6)
        # the textbook form (slope at the air temperature, Monteith 1965) agrees to within its linearisation
        slope = thermo.saturation_specific_humidity_slope(ta, p)
        le_pm = (slope * available + rho * thermo.CP_AIR * deficit / ra) / (slope + thermo.CP_AIR / lv * (1 + rs / ra))
        assert float(d["qle_demand"]) == pytest.approx(float(le_pm), rel=0.05)
        checked += 1
    assert checked > 0


def test_output_to_dataset_with_cf_units(summer_week, tmp_path):
    from land_sites import cn_cng_dataset

    _, forcing, out = summer_week
    times = cn_cng_dataset(SUMMER, WEEK)["time"].values
    ds = out.to_dataset(times, attrs={"site": "CN-Cng"})
    assert ds["Qle"].attrs["units"] == "W m-2" and ds["SoilMoist"].dims == ("time", "layer")
    np.testing.assert_allclose(ds["Qh"].values, np.asarray(out.series["qh"]))
    assert abs(float(ds["water_residual"])) < 1e-9
    path = tmp_path / "land.nc"
    try:
        out.to_netcdf(path, times)
    except ValueError as err:  # no NetCDF engine installed
        pytest.skip(f"no NetCDF writer: {err}")
    assert path.stat().st_size > 0
