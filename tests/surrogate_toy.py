"""A small differentiable "toy land model" for the surrogate tests (not physics to trust).

Forcing columns (T, 4): SWdown [W m-2], Tair [K], VPD [kPa], precipitation [mm per step].
Parameters (4,): albedo [-], ef_max [-] (largest evaporative fraction), s_half [mm]
(storage at half the largest fraction), drain [step-1] (bucket drainage rate).
Net radiation Rn = (1 - albedo) SWdown + 4 (Tair - 288.15) - 40 [W m-2]; a leaky bucket S [mm]
gains precipitation and loses evaporation and drainage; the evaporative fraction
ef = ef_max S / (S + s_half) VPD / (VPD + 0.5); Qle = ef Rn, Qh = (1 - ef) Rn.
"""

import jax
import jax.numpy as jnp
import numpy as np

NAMES = ("albedo", "ef_max", "s_half", "drain")
BOUNDS = np.array([[0.1, 0.3], [0.3, 0.95], [5.0, 80.0], [0.001, 0.05]])
DEFAULT = np.array([0.2, 0.7, 30.0, 0.01])
DT = 1800.0
LATENT_HEAT = 2.45e6  # J kg-1


def toy_sim(theta, forcing):
    """Fluxes (T, 2) [W m-2] (Qh, Qle) of the toy model."""
    albedo, ef_max, s_half, drain = theta[0], theta[1], theta[2], theta[3]
    sw, ta, vpd, p = forcing[:, 0], forcing[:, 1], forcing[:, 2], forcing[:, 3]
    rn = (1.0 - albedo) * sw + 4.0 * (ta - 288.15) - 40.0

    def step(s, x):
        rn_t, vpd_t, p_t = x
        ef = ef_max * s / (s + s_half) * vpd_t / (vpd_t + 0.5)
        qle = ef * rn_t
        e_mm = qle * DT / LATENT_HEAT
        s_new = jnp.maximum(s + p_t - e_mm - drain * s, 0.0)
        return s_new, jnp.stack([(1.0 - ef) * rn_t, qle])

    _, out = jax.lax.scan(step, jnp.asarray(40.0, rn.dtype), (rn, vpd, p))
    return out


def toy_forcing(n_days: int, seed: int = 0, start="2021-03-01", scale: float = 1.0):
    """(time (T,) datetime64, forcing (T, 4)) of a synthetic half-hourly site."""
    rng = np.random.default_rng(seed)
    T = 48 * n_days
    time = np.datetime64(start) + np.arange(T) * np.timedelta64(30, "m")
    frac_day = (np.arange(T) % 48) / 48.0
    doy = (time.astype("datetime64[D]") - time.astype("datetime64[Y]")).astype(int)
    season = np.cos(2 * np.pi * (doy - 172) / 365.25)
    cloud = np.repeat(rng.uniform(0.4, 1.0, n_days), 48)
    sw = scale * np.maximum(0.0, 900 * np.sin(2 * np.pi * (frac_day - 0.25))) * (0.7 + 0.3 * season) * cloud
    ta = 285 + 8 * season + 5 * np.sin(2 * np.pi * (frac_day - 0.375)) + rng.normal(0, 0.5, T)
    vpd = np.maximum(0.05, 1.0 + 0.6 * season + 0.8 * np.sin(2 * np.pi * (frac_day - 0.375)))
    rain = np.where(rng.random(T) < 0.02, rng.exponential(2.0, T), 0.0)
    return time, np.stack([sw, ta, vpd, rain], axis=-1)
