"""A small differentiable toy land model for the calibration tests (not physics).

Available energy A = (1 - albedo) SWdown + LWdown - sigma Tair^4 [W m-2] splits
into Qle = EF A and Qh = (1 - EF) A (1 - g) with a ground fraction g = 0.1 and
an evaporative fraction EF = ef_max w / (w + w_half) of a water store w [kg m-2]
filled by precipitation, emptied by evaporation (Qle / L) and drainage
(drain w). Same call pattern as ``jlsm.land.simulate_land``: ``simulate(model,
forcing)`` returns an object with fields ``qh``, ``qle``, ``rnet``, ``qg`` (T,).
"""

from typing import NamedTuple

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from jlsm.calibration.calibrate import CalibrationData, stack_models
from jlsm.params import Parameter, ParameterSpace

SIGMA = 5.670374419e-8
LATENT = 2.45e6
DT = 1800.0


class ToyModel(eqx.Module):
    albedo: jnp.ndarray
    ef_max: jnp.ndarray
    w_half: jnp.ndarray
    drain: jnp.ndarray
    w0: jnp.ndarray


class ToyForcing(eqx.Module):
    sw: jnp.ndarray
    lw: jnp.ndarray
    t_air: jnp.ndarray
    precip: jnp.ndarray


class ToyOutput(NamedTuple):
    qh: jnp.ndarray
    qle: jnp.ndarray
    rnet: jnp.ndarray
    qg: jnp.ndarray


def toy_model(albedo=0.2, ef_max=0.7, w_half=40.0, drain=2e-6, w0=60.0):
    return ToyModel(*(jnp.asarray(v, dtype=float) for v in (albedo, ef_max, w_half, drain, w0)))


def toy_simulate(model: ToyModel, forcing: ToyForcing, spinup: int = 96) -> ToyOutput:
    """Run the toy over the forcing; the first ``spinup`` steps are run once before to set w."""

    def step(w, f):
        sw, lw, ta, p = f
        a = (1.0 - model.albedo) * sw + lw - SIGMA * ta**4
        ef = model.ef_max * w / (w + model.w_half)
        qle = ef * a
        e = jnp.maximum(qle, 0.0) / LATENT
        w_new = jnp.maximum(w + DT * (p - e - model.drain * w), 0.0)
        return w_new, (a, qle)

    xs = (forcing.sw, forcing.lw, forcing.t_air, forcing.precip)
    w = model.w0
    if spinup:
        w, _ = jax.lax.scan(step, w, jax.tree_util.tree_map(lambda a: a[:spinup], xs))
    _, (a, qle) = jax.lax.scan(step, w, xs)
    return ToyOutput(qh=0.9 * (a - qle), qle=qle, rnet=a, qg=0.1 * (a - qle))


def toy_forcing(days=20, *, seed=0, sw_max=800.0, t_mean=290.0, rain=3e-5):
    """Synthetic half-hourly forcing (T = 48 days) with a diurnal cycle and rain showers."""
    rng = np.random.default_rng(seed)
    n = 48 * days
    h = (np.arange(n) % 48) / 2.0
    cloud = 0.6 + 0.4 * rng.random(days).repeat(48)
    sw = sw_max * np.clip(np.sin((h - 6) / 12 * np.pi), 0, None) * cloud
    ta = t_mean + 6 * np.sin((h - 9) / 24 * 2 * np.pi) + rng.standard_normal(days).repeat(48)
    lw = 0.8 * SIGMA * ta**4
    precip = np.where(rng.random(n) < 0.03, rain * rng.random(n) * 10, 0.0)
    return ToyForcing(*(jnp.asarray(v) for v in (sw, lw, ta, precip))), {
        "SWdown": sw, "Tair": ta, "RH": 0.5 + 0.3 * np.cos(h / 24 * 2 * np.pi), "LWdown": lw}


def toy_space(albedo=(0.05, 0.4), ef_max=(0.2, 0.95), w_half=(5.0, 300.0)):
    return ParameterSpace({
        "albedo": Parameter("albedo", albedo, "sigmoid", "1", "albedo"),
        "ef_max": Parameter("ef_max", ef_max, "sigmoid", "1", "ef_max"),
        "w_half": Parameter("w_half", w_half, "log-sigmoid", "kg m-2", "w_half"),
    })


TRUTH = {"A": (0.15, 0.8, 30.0), "B": (0.3, 0.5, 120.0)}
SPACES = {"A": dict(), "B": dict(albedo=(0.1, 0.5), w_half=(10.0, 500.0))}


def twin_data(sites=("A", "B"), nan_forcing_site=None, days=15):
    """Synthetic twins: observations made by the toy at TRUTH, with gaps; "A*" is A's twin
    (for ``nan_forcing_site``, with one NaN in its shortwave forcing)."""
    forcings, mets, models, spaces, obs_qh, obs_qle = [], [], [], [], [], []
    rng = np.random.default_rng(7)
    for k, s in enumerate(sites):
        base = s.rstrip("*")
        f, met = toy_forcing(days, seed=k if base == s else 0, rain=2e-5 * (1 + k))
        a, e, w = TRUTH[base]
        out = toy_simulate(toy_model(albedo=a, ef_max=e, w_half=w), f)
        if s == nan_forcing_site:  # observations made before the forcing is corrupted
            f = dataclasses.replace(f, sw=f.sw.at[100].set(np.nan))
        qh, qle = np.array(out.qh), np.array(out.qle)
        qh[rng.random(qh.size) < 0.2] = np.nan  # gaps
        qle[200:300] = np.nan
        forcings.append(f)
        mets.append(met)
        models.append(toy_model(albedo=0.25, ef_max=0.6, w_half=60.0))
        spaces.append(toy_space(**SPACES[base]))
        obs_qh.append(qh)
        obs_qle.append(qle)
    n = forcings[0].sw.size
    fit = np.broadcast_to(np.arange(n) < 2 * n // 3, (len(sites), n))
    time = np.datetime64("2020-06-01T00:00") + np.arange(n) * np.timedelta64(30, "m")
    return CalibrationData(
        sites=list(sites), pft=["grass"] * len(sites), forcing=stack_models(forcings),
        models=stack_models(models), spaces=spaces, simulate=toy_simulate,
        obs={"Qh": np.stack(obs_qh), "Qle": np.stack(obs_qle)}, fit=fit, test=~fit,
        time=np.broadcast_to(time, (len(sites), n)),
        met={k: np.stack([m[k] for m in mets]) for k in mets[0]})
