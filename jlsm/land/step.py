"""One step of the version-2 column: coupled skin/soil heat, then water.

Energy (implicit, backward Euler). Unknowns u = (Ts, T_1..T_M): the skin
(no heat capacity) and the soil layer temperatures. Equations:

    skin:   Rn(Ts) - H(Ts) - LE(Ts) - G = 0,   G = k_0 (Ts - T_1)
    layer i: C_i dz_i (T_i' - T_i) / dt = F_{i-1/2} - F_{i+1/2},
             F_{i+1/2} = k_i (T_i - T_{i+1}),  F_{M+1/2} = k_b (T_M - T_b) or 0

    Rn = (1 - alpha) SWdown + eps LWdown - eps sigma Ts^4
    H  = rho c_p (Ts - Ta) / r_ah
    LE = rho L g_v (q_sat(Ts) - q_a),  g_v = sum of the vapour conductances

with k_i = 1 / (dz_i / (2 lambda_i) + dz_{i+1} / (2 lambda_{i+1})) (two half layers
in series), k_0 = 1 / (dz_1 / (2 lambda_1) + d_snow / lambda_snow), lambda_i and C_i from
the moisture at the start of the step (Johansen 1975; de Vries 1963), r_ah and
the vapour conductances from the previous skin temperature. Newton's method on
u: Ts^4 and q_sat(Ts) linearised about the iterate (Penman 1948, Monteith 1965;
the same linearisation as Noah, Chen & Dudhia 2001), so each pass is ONE
tridiagonal solve of M + 1 unknowns (Thomas algorithm, unrolled). The reported
Rn and LE are the linearisations about the last iterate evaluated at the final Ts:
the fluxes the solved system balances, so Rn - H - LE - G = 0 at every step to
round-off; they differ from the nonlinear Rn(Ts), LE(Ts) by the square of the
last Newton correction (below 1e-9 W m-2 after 3 passes, see the tests).

Water, after the energy solve. The demand E_k = rho g_k (q_sat - q_a) of each path
(transpiration through r_ah + r_c, interception evaporation from the wet canopy
through r_ah, soil evaporation through r_ah + r_soil) is limited smoothly by the
water available (:func:`soft_limit`): canopy store; root-zone layers above the
residual content. The latent heat of any demand not met is passed to the soil
as heat (added to G and to the top layer), so both the energy balance and the
water balance stay exact; it is reported as ``energy_deficit``. Dew (negative
demand) on the transpiration and interception paths goes to the canopy store,
on the soil path to the top layer. Rain is intercepted in proportion to the
cover fraction, the store drips smoothly above its capacity; throughfall, drip
and snow melt infiltrate through :func:`jlsm.physics.soil_water.richards_step`.
Not modelled: soil freezing, sublimation, the energy of snow melt (degree-day
melt), heat carried by infiltrating water.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..physics import thermo
from ..physics.aerodynamics import aerodynamic_resistance
from ..physics.evapotranspiration import (
    canopy_resistance,
    canopy_water_capacity,
    soil_surface_resistance,
    vegetation_cover,
    wet_fraction,
)
from ..physics.radiation import STEFAN_BOLTZMANN
from ..physics.snow import precipitation_phase, snow_cover_fraction, snow_step
from ..physics.soil_thermal import (
    dry_conductivity,
    kersten_number,
    saturated_conductivity,
    volumetric_heat_capacity,
)
from ..physics.soil_water import moisture_stress, richards_step, root_fractions
from .model import Budget, LandModel, LandState

LAI_MIN = 0.01
"""Floor on the effective leaf area index [m2 m-2] (keeps r_c = r_s,min / LAI finite)."""
TINY_RATE = 1e-15
"""Water rates [kg m-2 s-1] below which :func:`soft_limit` treats the available water as none."""
TINY_STORE = 1e-12
"""Canopy stores [kg m-2] below which the wet fraction is 0 (keeps its x^(-1/3) derivative finite)."""
RESIDUAL_MARGIN = 0.95
"""Fraction of the water above the residual content that sinks may take from a layer in one step."""


def soft_limit(demand, available):
    """A smooth min(demand, available) for demand, available >= 0 [any units].

    a g(d / a) with g(r) = r (1 + r^8)^(-1/8): equal to the demand to
    O((d/a)^8) (within 0.05 % below half the available water), strictly below
    the available amount, 0 where less than ``TINY_RATE`` is available (so that
    1/a^2 in the derivative stays finite in float32 and float64, denormals
    flushed); finite value and gradient everywhere (double-where). The 1/8
    power is three square roots.
    """
    pos = available > TINY_RATE
    a = jnp.where(pos, available, 1.0)
    r = demand / a
    low = r <= 1.0
    r1 = jnp.where(low, r, 1.0)
    r2 = jnp.where(low, 1.0, 1.0 / jnp.where(low, 1.0, r))
    g = jnp.where(low, r1 / _root8(1.0 + r1**8), 1.0 / _root8(1.0 + r2**8))
    return jnp.where(pos, a * g, 0.0)


def _root8(x):
    return jnp.sqrt(jnp.sqrt(jnp.sqrt(x)))


def smooth_excess(w, w_max, rel_width=0.05, abs_width=1e-6):
    """Smooth max(w - w_max, 0) [kg m-2], zero at w = 0 and with slope in (0, 1), so w - excess >= 0."""
    width = rel_width * w_max + abs_width
    return width * (jax.nn.softplus((w - w_max) / width) - jax.nn.softplus(-w_max / width))


def thomas(lower, diag, upper, rhs):
    """Solve a tridiagonal system (lists of N scalars or batched arrays), Thomas algorithm, unrolled.

    ``lower[0]`` and ``upper[-1]`` are unused. No pivoting: the land system is
    diagonally dominant (capacities and conductances positive).
    """
    n = len(diag)
    c, d = [None] * n, [None] * n
    c[0] = upper[0] / diag[0]
    d[0] = rhs[0] / diag[0]
    for i in range(1, n):
        den = diag[i] - lower[i] * c[i - 1]
        c[i] = upper[i] / den if i < n - 1 else None
        d[i] = (rhs[i] - lower[i] * d[i - 1]) / den
    x = [None] * n
    x[-1] = d[-1]
    for i in range(n - 2, -1, -1):
        x[i] = d[i] - c[i] * x[i + 1]
    return x


def prepare(model: LandModel, dtype) -> dict:
    """Quantities that depend on the parameters only (computed once, outside the time loop)."""
    hyd, soil = model.hydraulics, model.soil
    return dict(
        roots=root_fractions(jnp.asarray(model.layer_bottoms, dtype), model.vegetation.root_depth),
        lambda_dry=dry_conductivity(hyd.theta_sat),
        lambda_sat=saturated_conductivity(hyd.theta_sat, soil.quartz),
    )


def land_step(model: LandModel, state: LandState, budget: Budget, f, dt: float, t_bottom, pre=None):
    """Advance one column one step.

    Args:
        model: the :class:`LandModel` (one column).
        state: :class:`LandState` at the start of the step.
        budget: :class:`Budget` so far.
        f: dict of forcing scalars at this step (sw_down, lw_down, t_air, q_air,
            p_surf, wind, precip, lai).
        dt: time step [s] (static).
        t_bottom: the deep temperature [K] (used with ``model.bottom == "fixed"``).
        pre: :func:`prepare` of the model (computed here if None).

    Returns:
        (new state, new budget, dict of diagnostics for this step).
    """
    dtype = state.theta.dtype
    pre = prepare(model, dtype) if pre is None else pre
    m = model.n_layers
    dz = [jnp.asarray(v, dtype) for v in model.thicknesses]
    rho_w = thermo.RHO_WATER
    hyd, soil, veg, rad = model.hydraulics, model.soil, model.vegetation, model.radiation
    ta, qa, p, sw, lw = f["t_air"], f["q_air"], f["p_surf"], f["sw_down"], f["lw_down"]

    # ---- vegetation, precipitation, stores at the start of the step
    lai = jnp.maximum(veg.lai_scale * f["lai"], LAI_MIN)
    f_veg = vegetation_cover(lai, veg.extinction)
    w_max = canopy_water_capacity(lai, veg.interception_per_lai)
    rain, snowfall = precipitation_phase(f["precip"], ta)
    snowfall = f["precip"] - rain  # exact partition (water balance)
    intercepted = f_veg * rain
    w1 = state.canopy_water + dt * intercepted
    f_wet = wet_fraction(jnp.where(w1 > TINY_STORE, w1, 0.0), w_max)
    f_snow = snow_cover_fraction(state.swe)
    albedo = (1.0 - f_snow) * (f_veg * rad.albedo_vegetation + (1.0 - f_veg) * rad.albedo_soil) + f_snow * rad.albedo_snow

    # ---- resistances (previous skin temperature)
    aero = aerodynamic_resistance(f["wind"], ta, state.ts, model.site.z_ref, model.site.canopy_height, model.roughness)
    r_ah = aero.r_ah
    theta = state.theta
    roots = pre["roots"]
    stress = moisture_stress(theta, soil.theta_wilt, soil.theta_crit)
    f_theta = jnp.sum(roots * stress)
    dq_air = thermo.specific_humidity_deficit(ta, qa, p)
    r_c = canopy_resistance(sw, dq_air, ta, f_theta, lai, model.stomata)
    r_soil = soil_surface_resistance(theta[0], hyd.theta_sat, soil.evaporation_factor)
    g_tr = f_veg * (1.0 - f_wet) / (r_ah + r_c)
    g_in = f_veg * f_wet / r_ah
    g_so = (1.0 - f_veg) / (r_ah + r_soil)
    g_v = g_tr + g_in + g_so

    # ---- soil thermal properties (moisture at the start of the step)
    # Johansen conductivity (= physics.soil_thermal.johansen_conductivity, its moisture-free parts hoisted)
    lam = kersten_number(theta, hyd.theta_sat) * (pre["lambda_sat"] - pre["lambda_dry"]) + pre["lambda_dry"]
    cap = volumetric_heat_capacity(theta, hyd.theta_sat)
    lam_l = [lam[i] for i in range(m)]
    cdt = [cap[i] * dz[i] / dt for i in range(m)]
    k = [1.0 / (0.5 * dz[i] / lam_l[i] + 0.5 * dz[i + 1] / lam_l[i + 1]) for i in range(m - 1)]
    snow_depth = state.swe / model.snow.density
    k0 = 1.0 / (0.5 * dz[0] / lam_l[0] + snow_depth / model.snow.conductivity)
    if model.bottom == "fixed":
        kb = 2.0 * lam_l[-1] / dz[-1]
    else:
        kb = jnp.zeros((), dtype)

    # ---- coupled skin / soil heat solve
    rho = thermo.air_density(p, ta, qa)
    lv = thermo.latent_heat_vaporisation(ta)
    es = rad.emissivity * STEFAN_BOLTZMANN
    ch = rho * thermo.CP_AIR / r_ah
    cq = rho * lv * g_v
    absorbed = (1.0 - albedo) * sw + rad.emissivity * lw
    t_old = [state.t_soil[i] for i in range(m)]
    u = [state.ts] + t_old

    def flux_terms(ts):
        qs = thermo.saturation_specific_humidity(ts, p)
        dqs = thermo.saturation_specific_humidity_slope(ts, p)
        return qs, dqs

    for _ in range(model.newton_passes):
        ts_k = u[0]
        qs, dqs = flux_terms(ts_k)
        emit = es * ts_k**4
        # residual of the skin: G_0 = H + LE + G - Rn (zero at the solution)
        r0 = ch * (ts_k - ta) + cq * (qs - qa) + k0 * (ts_k - u[1]) - (absorbed - emit)
        a00 = 4.0 * es * ts_k**3 + ch + cq * dqs + k0
        lower, diag, upper, rhs = [None], [a00], [-k0], [-r0]
        for i in range(m):
            above = k0 if i == 0 else k[i - 1]
            t_up = u[i]
            flux_in = above * (t_up - u[i + 1])
            below = k[i] if i < m - 1 else kb
            t_dn = u[i + 2] if i < m - 1 else t_bottom
            flux_out = below * (u[i + 1] - t_dn)
            res = cdt[i] * (u[i + 1] - t_old[i]) - flux_in + flux_out
            lower.append(-above)
            diag.append(cdt[i] + above + below)
            upper.append(-k[i] if i < m - 1 else jnp.zeros((), dtype))
            rhs.append(-res)
        delta = thomas(lower, diag, upper, rhs)
        u_prev0 = ts_k
        u = [u[i] + delta[i] for i in range(m + 1)]

    ts = u[0]
    d0 = ts - u_prev0
    rnet = absorbed - es * (u_prev0**4 + 4.0 * u_prev0**3 * d0)
    lw_up = es * (u_prev0**4 + 4.0 * u_prev0**3 * d0) + (1.0 - rad.emissivity) * lw
    q_surf = qs + dqs * d0 - qa  # linearised q_sat(Ts) - q_a
    h = ch * (ts - ta)
    g_top = k0 * (ts - u[1])
    bottom_flux = kb * (u[m] - t_bottom)

    # ---- evaporation demand per path [kg m-2 s-1], limited by available water
    e_tr = rho * g_tr * q_surf
    e_in = rho * g_in * q_surf
    e_so = rho * g_so * q_surf
    demand = e_tr + e_in + e_so
    e_can = e_in + jnp.minimum(e_tr, 0.0)  # dew on the transpiration path wets the canopy
    e_can_pos = jnp.maximum(e_can, 0.0)
    e_can_act = soft_limit(e_can_pos, w1 / dt) + jnp.minimum(e_can, 0.0)
    w2 = w1 - dt * e_can_act
    drip = smooth_excess(w2, w_max)
    canopy_new = w2 - drip
    # transpiration per layer (root fraction x availability) and soil evaporation, limited per layer
    weight = roots * stress
    wsum = jnp.sum(weight)
    ok = wsum > 0
    weight = jnp.where(ok, weight / jnp.where(ok, wsum, 1.0), roots)
    tr_demand = jnp.maximum(e_tr, 0.0) * weight
    so_demand = jnp.maximum(e_so, 0.0)
    layer_demand = tr_demand.at[0].add(so_demand)
    available = RESIDUAL_MARGIN * jnp.maximum(theta - hyd.theta_res, 0.0) * jnp.asarray(model.thicknesses, dtype) * rho_w / dt
    layer_actual = soft_limit(layer_demand, available)
    has = layer_demand > 0
    ratio = jnp.where(has, layer_actual / jnp.where(has, layer_demand, 1.0), 1.0)
    transp_layers = tr_demand * ratio
    soil_evap = so_demand * ratio[0] + jnp.minimum(e_so, 0.0)
    sink = transp_layers.at[0].add(soil_evap)
    transpiration = jnp.sum(transp_layers)
    evaporation = e_can_act + transpiration + soil_evap
    deficit = demand - evaporation  # >= 0: demand not met by water [kg m-2 s-1]
    energy_deficit = lv * deficit
    qle = lv * evaporation
    qg = g_top + energy_deficit
    t_new = jnp.stack(u[1:])
    t_new = t_new.at[0].add(energy_deficit / cdt[0])  # its heat goes into the top layer

    # ---- snow and soil water
    swe_new, melt = snow_step(state.swe, snowfall, ta, dt, model.snow.melt_factor)
    melt = (state.swe + dt * snowfall - swe_new) / dt  # the melt the store lost (exact balance)
    throughfall = (1.0 - f_veg) * rain + drip / dt
    water_in = throughfall + melt
    theta_new, wf = richards_step(theta, jnp.asarray(model.thicknesses, dtype), dt, water_in, sink, hyd,
                                  tridiagonal="thomas")

    cap_dz = jnp.stack(cdt) * dt
    heat_change = jnp.sum(cap_dz * (t_new - state.t_soil))
    new_state = LandState(ts=ts, t_soil=t_new, theta=theta_new, canopy_water=canopy_new, swe=swe_new)
    new_budget = Budget(
        precip=budget.precip + dt * f["precip"],
        evaporation=budget.evaporation + dt * evaporation,
        runoff=budget.runoff + dt * wf.runoff,
        drainage=budget.drainage + dt * wf.drainage,
        ground_heat=budget.ground_heat + dt * qg,
        bottom_heat=budget.bottom_heat + dt * bottom_flux,
        heat_storage=budget.heat_storage + heat_change,
    )
    diag = dict(
        qh=h,
        qle=qle,
        rnet=rnet,
        qg=qg,
        ts=ts,
        ustar=aero.ustar,
        sw_up=albedo * sw,
        lw_up=lw_up,
        soil_moisture=theta_new,
        soil_temperature=t_new,
        transpiration=transpiration,
        soil_evaporation=soil_evap,
        interception_evaporation=e_can_act,
        runoff=wf.runoff,
        drainage=wf.drainage,
        infiltration=wf.infiltration,
        swe=swe_new,
        canopy_water=canopy_new,
        precip=f["precip"],
        qb=bottom_flux,
        energy_deficit=energy_deficit,
        r_ah=r_ah,
        r_c=r_c,
        albedo=albedo,
        rnet_exact=absorbed - es * ts**4,
        qle_demand=lv * demand,
    )
    return new_state, new_budget, diag
