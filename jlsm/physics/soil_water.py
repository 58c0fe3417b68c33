"""Soil water: Clapp-Hornberger hydraulics, root profile, moisture stress, Richards' equation.

Hydraulics (Clapp & Hornberger 1978, eqs. 1-2; Campbell 1974), with theta [m3 m-3]:

    S   = (theta - theta_res) / (theta_sat - theta_res)          effective saturation [-]
    K   = k_sat S^(2b + 3)                                         [m s-1]
    psi = psi_sat S^(-b)                                           suction [m], positive
    D   = K |d psi / d theta| = b k_sat psi_sat S^(b + 2) dS/dtheta  [m2 s-1]

S is bounded below smoothly, S = S_min + S_min softplus((S_raw - S_min) / S_min), so K, psi,
D and their derivatives stay finite in dry soil (S -> S_min, psi <= psi_sat S_min^-b); above
saturation (S_raw > 1, only reached when a calibrated theta_sat falls below the state) S = 1.

Richards' equation in theta form on M layers of thickness dz_i (depth positive down, fluxes
positive down, layer storage dz_i theta_i [m]):

    dz_i d theta_i / dt = q_{i-1/2} - q_{i+1/2} - s_i / rho_w
    q_{i+1/2} = K_{i+1/2} - D_{i+1/2} (theta_{i+1} - theta_i) / dz_{i+1/2}

Choices (sources):

* Time stepping: backward Euler with D held at the start of the step and K linearised about it,
  K(theta') ~ K(theta) + K'(theta) (theta' - theta), so a step is one tridiagonal solve (Noah's
  SRT/SSTEP, Chen & Dudhia 2001, lags both; the K linearisation is that of the linearised
  implicit scheme of Ross 1990 / Celia et al. 1990's first Picard iterate; it keeps the gravity
  term stable for thin, wet layers).
* Interfaces: the gravity conductivity is taken from the upper layer (upstream weighting, as
  Noah-MP's SRT uses WCND of the upper layer), which makes the matrix an M-matrix (no
  oscillation, no negative theta from gravity); the diffusivity is the arithmetic mean of the two
  layers' D (Celia et al. 1990 average nodal properties arithmetically); dz_{i+1/2} is the
  distance between layer centres.
* Top: infiltration = smooth min(water_in, I_c) with the p-norm form
  w / (1 + (w / I_c)^p)^(1/p) (p = 4), where the infiltrability I_c is the Darcy flux from a
  saturated surface (Green & Ampt 1911) into the top layer over half its thickness:
  I_c = rho_w [k_sat + D_{1/2} (theta_sat - theta_1) / (dz_1 / 2)], D_{1/2} the mean of D(theta_sat)
  and D(theta_1); the excess is runoff (infiltration excess).
* Bottom: free (gravity) drainage, q = K(theta_M) (unit gradient; Noah's SLOPE = 1).
* Bounds: water the linear step would put above saturation is removed smoothly from each layer,
  e = w softplus((x - theta_sat) / w) (w = ``bound_width``), and returns to the surface as
  saturation-excess runoff. Noah's SSTEP passes it to the layer above with a hard min; sending it
  straight out keeps the step free of a sequential loop over layers, and differs only when a
  layer below a non-saturated one overshoots (heavy rain mostly fills the top layer). Water the
  step would take below theta_res (sinks larger than the water left) is restored the same way
  and counted as supplied from below the column. Both are recorded in :class:`WaterFluxes`, so
  the balance is exact:

      sum(dz (theta_new - theta)) rho_w = dt (infiltration - sum(sink) - drainage)

  with ``infiltration`` net of the returned water and ``drainage`` net of the supply.
"""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp

from ..errors import ParameterError

RHO_WATER = 1000.0
"""Density of liquid water [kg m-3] (the convention of Noah and most land models)."""
S_MIN = 0.01
"""Default smooth lower bound of the effective saturation [-] (this module's choice)."""


class SoilHydraulics(eqx.Module):
    """Clapp-Hornberger (1978) soil hydraulic parameters; scalars or one value per layer.

    Defaults: loam of Noah's SOILPARM.TBL (STAS; Cosby et al. 1984 as in Chen & Dudhia 2001):
    MAXSMC 0.439, BB 5.25, SATPSI 0.355 m, SATDK 3.38e-6 m s-1; no residual water.

    Attributes:
        theta_sat: saturated water content (porosity) [m3 m-3].
        theta_res: residual water content [m3 m-3].
        b: pore-size distribution exponent [-].
        psi_sat: air-entry suction (positive magnitude) [m].
        k_sat: saturated hydraulic conductivity [m s-1].
    """

    theta_sat: jnp.ndarray
    theta_res: jnp.ndarray
    b: jnp.ndarray
    psi_sat: jnp.ndarray
    k_sat: jnp.ndarray

    def __init__(self, theta_sat=0.439, theta_res=0.0, b=5.25, psi_sat=0.355, k_sat=3.38e-6):
        self.theta_sat = jnp.asarray(theta_sat)
        self.theta_res = jnp.asarray(theta_res)
        self.b = jnp.asarray(b)
        self.psi_sat = jnp.asarray(psi_sat)
        self.k_sat = jnp.asarray(k_sat)


class WaterFluxes(NamedTuple):
    """Water fluxes of one :func:`richards_step`, all [kg m-2 s-1] (= mm s-1), positive as named.

    Attributes:
        infiltration: net flux into the soil at the top (water taken in minus saturation excess
            returned; negative when more is returned than falls).
        runoff: surface runoff: infiltration excess plus saturation excess.
        drainage: flux out of the bottom (gravity drainage minus supply from below).
        saturation_excess: water the step returned to the surface because the column was full.
        supply_from_below: water added at the bottom because sinks emptied the column.
    """

    infiltration: jnp.ndarray
    runoff: jnp.ndarray
    drainage: jnp.ndarray
    saturation_excess: jnp.ndarray
    supply_from_below: jnp.ndarray


def _saturation(theta, hyd: SoilHydraulics, s_min):
    """(S, dS/dtheta) with the smooth lower bound and the cap at 1 (see module docstring)."""
    width = hyd.theta_sat - hyd.theta_res
    s_raw = (theta - hyd.theta_res) / width
    y = (s_raw - s_min) / s_min
    inside = s_raw <= 1.0
    e = jnp.exp(-jnp.abs(y))  # softplus(y) and sigmoid(y) from one exponential
    softplus = jnp.maximum(y, 0.0) + jnp.log1p(e)
    sigmoid = jnp.where(y >= 0.0, 1.0, e) / (1.0 + e)
    s = jnp.where(inside, s_min + s_min * softplus, 1.0)
    ds = jnp.where(inside, sigmoid / width, 0.0)
    return s, ds


def effective_saturation(theta, hyd: SoilHydraulics, *, s_min=S_MIN):
    """Effective saturation S [-], smoothly bounded to [S_min, 1] (see module docstring)."""
    return _saturation(theta, hyd, s_min)[0]


def hydraulic_conductivity(theta, hyd: SoilHydraulics, *, s_min=S_MIN):
    """K = k_sat S^(2b+3) [m s-1] (Clapp & Hornberger 1978, eq. 2)."""
    s, _ = _saturation(theta, hyd, s_min)
    return hyd.k_sat * s ** (2.0 * hyd.b + 3.0)


def matric_suction(theta, hyd: SoilHydraulics, *, s_min=S_MIN):
    """psi = psi_sat S^-b [m], positive suction (Clapp & Hornberger 1978, eq. 1)."""
    s, _ = _saturation(theta, hyd, s_min)
    return hyd.psi_sat * s ** (-hyd.b)


def soil_water_diffusivity(theta, hyd: SoilHydraulics, *, s_min=S_MIN):
    """D = K |dpsi/dtheta| = b k_sat psi_sat S^(b+2) dS/dtheta [m2 s-1] (Clapp & Hornberger 1978)."""
    s, ds = _saturation(theta, hyd, s_min)
    return hyd.b * hyd.k_sat * hyd.psi_sat * s ** (hyd.b + 2.0) * ds


def _conductivity_and_slope(theta, hyd, s_min):
    """(K, dK/dtheta, D) at ``theta``, with one log and one exp per value."""
    s, ds = _saturation(theta, hyd, s_min)
    log_s = jnp.log(s)  # s >= s_min > 0
    s_b2 = jnp.exp((hyd.b + 2.0) * log_s)  # S^(b+2)
    k = hyd.k_sat * (s_b2 * s_b2 / s)  # S^(2b+3)
    dk = (2.0 * hyd.b + 3.0) * k / s * ds
    d = hyd.b * hyd.k_sat * hyd.psi_sat * s_b2 * ds
    return k, dk, d


def _thomas(lower, diag, upper, rhs):
    """Tridiagonal solve by the Thomas algorithm, unrolled over the (static, few) layers."""
    m = diag.shape[-1]
    c, d = [upper[0] / diag[0]], [rhs[0] / diag[0]]
    for i in range(1, m):
        den = diag[i] - lower[i] * c[i - 1]
        c.append(upper[i] / den)
        d.append((rhs[i] - lower[i] * d[i - 1]) / den)
    x = [d[-1]]
    for i in range(m - 2, -1, -1):
        x.append(d[i] - c[i] * x[-1])
    return jnp.stack(x[::-1])


def root_fractions(layer_bottoms, root_depth, *, profile="uniform", smoothing=0.05):
    """Fraction of roots in each layer [-], shape (M,), summing to 1, smooth in ``root_depth``.

    Args:
        layer_bottoms: depths of the layer bottoms [m], increasing, shape (M,).
        root_depth: rooting depth d_r [m].
        profile: ``"uniform"``: roots spread evenly down to d_r, as Noah's uniform distribution
            over the NROOT root layers (Chen & Dudhia 2001, eq. 11), with the cumulative
            fraction Y(z) = min(z / d_r, 1) smoothed by a softplus of width ``smoothing``
            (in units of z / d_r); ``"exponential"``: Y(z) = 1 - exp(-3 z / d_r) (95 % of the
            roots above d_r; the form of Jackson et al. 1996, Y = 1 - beta^z).
        smoothing: width of the smooth corner of the uniform profile [-].

    The fraction of layer i is (Y(z_i) - Y(z_{i-1})) / (Y(z_M) - Y(0)): roots below the column
    are redistributed in proportion.
    """
    z = jnp.concatenate([jnp.zeros_like(layer_bottoms[:1]), layer_bottoms]) / root_depth
    if profile == "uniform":
        y = z - smoothing * jax.nn.softplus((z - 1.0) / smoothing)
    elif profile == "exponential":
        y = -jnp.expm1(-3.0 * z)
    else:
        raise ParameterError(f"root_fractions: profile must be 'uniform' or 'exponential', got {profile!r}")
    parts = jnp.diff(y)
    return parts / (y[-1] - y[0])


def moisture_stress(theta, theta_wilt, theta_crit, *, smoothing=0.02):
    """Soil-moisture stress factor f_theta in [0, 1] [-] (Noah; Chen & Dudhia 2001, eq. 12).

    f = clip((theta - theta_wilt) / (theta_crit - theta_wilt), 0, 1) with both corners smoothed:
    f = w softplus(x / w) - w softplus((x - 1) / w), w = ``smoothing``, which stays in (0, 1)
    and equals the clipped line to within w ln 2 at the corners. theta, theta_wilt and
    theta_crit in [m3 m-3], theta_crit > theta_wilt.
    """
    span = jnp.maximum(theta_crit - theta_wilt, 1e-6)  # guards a degenerate input only
    x = (theta - theta_wilt) / span
    w = smoothing
    f = w * jax.nn.softplus(x / w) - w * jax.nn.softplus((x - 1.0) / w)
    return jnp.clip(f, 0.0, 1.0)  # removes round-off only


def infiltrability(theta_top, dz_top, hyd: SoilHydraulics, *, s_min=S_MIN, gravity=True):
    """I_c [kg m-2 s-1]: Darcy flux from a saturated surface into the top layer (see module docstring)."""
    _, _, d_sat = _conductivity_and_slope(hyd.theta_sat, hyd, s_min)
    _, _, d_top = _conductivity_and_slope(theta_top, hyd, s_min)
    gradient = (hyd.theta_sat - theta_top) / (0.5 * dz_top)
    grav = hyd.k_sat if gravity else 0.0
    return RHO_WATER * (grav + 0.5 * (d_sat + d_top) * jnp.maximum(gradient, 0.0))


def richards_step(
    theta,
    dz,
    dt,
    water_in,
    sink,
    hyd: SoilHydraulics,
    *,
    s_min=S_MIN,
    bound_width=1e-4,
    infiltration_sharpness=4.0,
    gravity=True,
    tridiagonal="lapack",
):
    """One implicit step of Richards' equation (see the module docstring for the scheme).

    Args:
        theta: volumetric water content [m3 m-3], shape (M,).
        dz: layer thicknesses [m], shape (M,).
        dt: time step [s].
        water_in: water arriving at the surface (throughfall + melt) [kg m-2 s-1].
        sink: water taken from each layer (root uptake, soil evaporation) [kg m-2 s-1], (M,).
        hyd: :class:`SoilHydraulics` (scalars, or (M,) arrays; the theta form assumes theta is
            continuous across layers, i.e. a homogeneous column).
        s_min: smooth lower bound of the effective saturation [-].
        bound_width: width [m3 m-3] of the smooth bounds at theta_sat and theta_res.
        infiltration_sharpness: p of the smooth min of water_in and the infiltrability.
        gravity: False drops every K term (horizontal absorption; zero bottom flux).
        tridiagonal: ``"lapack"`` (``jax.lax.linalg.tridiagonal_solve``) or ``"thomas"`` (the
            Thomas algorithm unrolled over the layers: no pivoting is needed, the matrix is a
            column-diagonally dominant M-matrix; faster under ``vmap`` for a few layers, slower
            to compile for many).

    Returns:
        (theta_new (M,), :class:`WaterFluxes`).
    """
    dtype = jnp.result_type(theta, float)
    theta = jnp.asarray(theta, dtype)
    dz = jnp.asarray(dz, dtype)
    sink = jnp.asarray(sink, dtype)
    m = theta.shape[-1]
    k, dk, d = _conductivity_and_slope(theta, hyd, s_min)
    k, dk, d = (jnp.broadcast_to(v, theta.shape) for v in (k, dk, d))
    if not gravity:
        k, dk = jnp.zeros_like(k), jnp.zeros_like(dk)

    # top: smooth min of the supply and the infiltrability, p-norm form
    cap = infiltrability(theta[0], dz[0], jax.tree_util.tree_map(lambda v: v if v.ndim == 0 else v[0], hyd),
                         s_min=s_min, gravity=gravity)
    supply = jnp.asarray(water_in, dtype)
    taken = supply / (1.0 + (supply / cap) ** infiltration_sharpness) ** (1.0 / infiltration_sharpness)

    # interior interfaces i+1/2, i = 0..M-2: conductance g = D_mean / dz_centres
    g = 0.5 * (d[:-1] + d[1:]) / (0.5 * (dz[:-1] + dz[1:]))
    flux_start = k[:-1] - g * (theta[1:] - theta[:-1])  # q_{i+1/2} at the start of the step [m s-1]
    zero = jnp.zeros((1,), dtype)
    g_above = jnp.concatenate([zero, g])  # g_{i-1/2}
    g_below = jnp.concatenate([g, zero])  # g_{i+1/2}
    q_above = jnp.concatenate([(taken / RHO_WATER)[None], flux_start])
    q_below = jnp.concatenate([flux_start, k[-1:]])
    lower = -jnp.concatenate([zero, dk[:-1] + g])
    diag = dz / dt + g_above + g_below + dk
    upper = -jnp.concatenate([g, zero])
    rhs = q_above - q_below - sink / RHO_WATER
    if tridiagonal == "thomas":
        delta = _thomas(lower, diag, upper, rhs)
    elif tridiagonal == "lapack":
        delta = jax.lax.linalg.tridiagonal_solve(lower, diag, upper, rhs[:, None])[:, 0]
    else:
        raise ParameterError(f"richards_step: tridiagonal must be 'lapack' or 'thomas', got {tridiagonal!r}")
    drainage = RHO_WATER * (k[-1] + dk[-1] * delta[-1])
    x = theta + delta

    theta_sat = jnp.broadcast_to(hyd.theta_sat, (m,)).astype(dtype)
    theta_res = jnp.broadcast_to(hyd.theta_res, (m,)).astype(dtype)

    # bounds, layer by layer (vectorised): water below theta_res is supplied from below the
    # column, water above theta_sat returns to the surface as saturation excess
    # (the outer max/min change theta by round-off only, so that the bounds hold in floating point)
    deficit = bound_width * jax.nn.softplus((theta_res - x) / bound_width)
    raised = jnp.maximum(x + deficit, theta_res)
    over = bound_width * jax.nn.softplus((raised - theta_sat) / bound_width)
    theta_new = jnp.minimum(raised - over, theta_sat)
    supply_below = jnp.sum(deficit * dz)
    excess = jnp.sum(over * dz)

    saturation_excess = RHO_WATER * excess / dt
    supply_from_below = RHO_WATER * supply_below / dt
    fluxes = WaterFluxes(
        infiltration=taken - saturation_excess,
        runoff=(supply - taken) + saturation_excess,
        drainage=drainage - supply_from_below,
        saturation_excess=saturation_excess,
        supply_from_below=supply_from_below,
    )
    return theta_new, fluxes
