"""Training data for surrogates: run designs, batched runs, normalisation, windows.

Designs (parameter sets in physical units, rows = runs):

* :func:`oat_design`, one-factor-at-a-time, MdPL's design (Xie et al. 2025,
  egusphere-2025-3301, Sect. 2 and Fig. 2: 12 parameters x 4 levels = 48 runs
  per site). Each run moves one parameter to a level and keeps the others at
  their default. Levels, ``mode="quantile"`` (default): the fractions
  0.125, 0.375, 0.625, 0.875 of the parameter's range (the centres of four
  equal bins, so the four runs span the range evenly); ``mode="relative"``:
  default x (1 + delta), delta = -0.2, -0.1, +0.1, +0.2 by default (the
  +/- perturbations of a sensitivity study), clipped into the bounds.
  MdPL's exact levels are not published in the preprint; both are documented
  here, and the levels are an argument.
* :func:`sobol_design`, joint perturbation of all parameters: scrambled Sobol'
  points (Joe and Kuo 2008 direction numbers, as ``scipy.stats.qmc.Sobol``)
  scaled into the bounds (optionally in log space per parameter). Use the
  OAT budget (48) or 4x (192) for the comparison.

:func:`generate_runs` runs a simulator ``sim(theta (P,), forcing (T, F)) -> (T, 2)``
over a design in one batched computation. :class:`Normalisation` holds the
input and output scalings, fitted on training runs only and stored with the
surrogate. :func:`window_index` cuts long records into training sequences.
"""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from jlsm._sobol import scrambled_sobol
from jlsm.errors import InputError

__all__ = [
    "OAT_LEVELS",
    "RELATIVE_LEVELS",
    "Design",
    "Normalisation",
    "RunSet",
    "build_runset",
    "check_bounds",
    "comparison_designs",
    "generate_runs",
    "oat_design",
    "sobol_design",
    "window_index",
]

OAT_LEVELS = (0.125, 0.375, 0.625, 0.875)
"""Default OAT levels, fractions of each parameter's range (centres of four equal bins)."""

RELATIVE_LEVELS = (-0.2, -0.1, 0.1, 0.2)
"""Relative perturbations of the default for ``oat_design(mode="relative")``."""


class Design(NamedTuple):
    """Parameter sets of a design.

    Attributes:
        theta: (R, P) physical values.
        parameter: (R,) index of the perturbed parameter (OAT), -1 for joint designs.
        level: (R,) level of the perturbed parameter (fraction or relative change), NaN for joint designs.
    """

    theta: np.ndarray
    parameter: np.ndarray
    level: np.ndarray


def check_bounds(bounds) -> np.ndarray:
    """Bounds as a float array (P, 2) with finite lo < hi; else a one-line InputError."""
    b = np.asarray(bounds, dtype=float)
    if b.ndim != 2 or b.shape[1] != 2:
        raise InputError(f"surrogate: bounds must have shape (P, 2), got {b.shape}")
    bad = ~(np.isfinite(b).all(axis=1) & (b[:, 0] < b[:, 1]))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"surrogate: bounds of parameter {i} must be finite with lo < hi, got {tuple(b[i])}")
    return b


def oat_design(bounds, default, levels=None, *, mode: str = "quantile") -> Design:
    """One-factor-at-a-time design: P x len(levels) runs (MdPL: 12 x 4 = 48).

    Args:
        bounds: (P, 2) physical bounds.
        default: (P,) default values (e.g. the PFT defaults), inside the bounds.
        levels: fractions of the range (``mode="quantile"``, default
            :data:`OAT_LEVELS`) or relative changes of the default
            (``mode="relative"``, default :data:`RELATIVE_LEVELS`).
        mode: ``"quantile"`` or ``"relative"``.
    Returns:
        :class:`Design`, runs ordered parameter-major (parameter 0 at all levels, then 1, ...).
    """
    b = check_bounds(bounds)
    d = np.asarray(default, dtype=float)
    if d.shape != (b.shape[0],):
        raise InputError(f"oat_design: default must have shape ({b.shape[0]},), got {d.shape}")
    if np.any(d < b[:, 0]) or np.any(d > b[:, 1]):
        i = int(np.flatnonzero((d < b[:, 0]) | (d > b[:, 1]))[0])
        raise InputError(f"oat_design: default {d[i]} of parameter {i} is outside its bounds {tuple(b[i])}")
    if mode == "quantile":
        lv = np.asarray(OAT_LEVELS if levels is None else levels, dtype=float)
        if np.any((lv < 0) | (lv > 1)):
            raise InputError(f"oat_design: quantile levels must lie in [0, 1], got {lv.tolist()}")
    elif mode == "relative":
        lv = np.asarray(RELATIVE_LEVELS if levels is None else levels, dtype=float)
    else:
        raise InputError(f"oat_design: mode must be 'quantile' or 'relative', got {mode!r}")
    P, n = b.shape[0], lv.size
    theta = np.repeat(d[None, :], P * n, axis=0)
    param = np.repeat(np.arange(P), n)
    level = np.tile(lv, P)
    for i in range(P):
        rows = slice(i * n, (i + 1) * n)
        if mode == "quantile":
            theta[rows, i] = b[i, 0] + lv * (b[i, 1] - b[i, 0])
        else:
            theta[rows, i] = np.clip(d[i] * (1.0 + lv), b[i, 0], b[i, 1])
    return Design(theta, param, level)


def sobol_design(bounds, n_runs: int, *, seed: int = 0, log=None) -> Design:
    """Joint design: ``n_runs`` scrambled Sobol' points in the bounds.

    ``log``: optional (P,) booleans; those parameters are sampled uniformly in
    log space (bounds must then be positive). Same seed, same points.
    """
    b = check_bounds(bounds)
    if int(n_runs) < 1:
        raise InputError(f"sobol_design: n_runs must be >= 1, got {n_runs}")
    q = np.clip(scrambled_sobol(int(n_runs), b.shape[0], int(seed)), 1e-6, 1 - 1e-6)
    lg = np.zeros(b.shape[0], bool) if log is None else np.asarray(log, bool)
    if np.any(lg & (b[:, 0] <= 0)):
        raise InputError(f"sobol_design: log-sampled parameters need positive bounds (parameter {int(np.flatnonzero(lg & (b[:, 0] <= 0))[0])})")
    lin = b[:, 0] + q * (b[:, 1] - b[:, 0])
    with np.errstate(divide="ignore", invalid="ignore"):
        lgv = b[:, 0] * np.exp(q * np.log(b[:, 1] / b[:, 0]))
    theta = np.where(lg[None, :], lgv, lin)
    return Design(theta, np.full(int(n_runs), -1), np.full(int(n_runs), np.nan))


def comparison_designs(bounds, default, *, seed: int = 0, log=None) -> dict[str, Design]:
    """The three training designs of the comparison: ``"oat"`` (P x 4 runs, MdPL),
    ``"sobol_1x"`` (a joint Sobol' design of the same budget) and ``"sobol_4x"`` (4 x the budget)."""
    oat = oat_design(bounds, default)
    n = oat.theta.shape[0]
    return {"oat": oat, "sobol_1x": sobol_design(bounds, n, seed=seed, log=log),
            "sobol_4x": sobol_design(bounds, 4 * n, seed=seed, log=log)}


def generate_runs(sim, thetas, forcing, *, batch_size: int | None = None):
    """Fluxes (R, T, n_out) of ``sim(theta, forcing)`` for every row of ``thetas`` (R, P).

    One jitted, batched computation (``jax.lax.map`` with ``batch_size``
    columns vectorised at a time; all at once when None). ``forcing`` is any
    pytree the simulator accepts, shared by all runs.
    """
    thetas = jnp.asarray(thetas)
    f = jax.jit(lambda th, fo: jax.lax.map(lambda t: sim(t, fo), th, batch_size=batch_size or th.shape[0]))
    return f(thetas, forcing)


def build_runset(sim, sim_inputs, forcing, time, thetas, n_frequencies: int, *, valid=None,
                 batch_size: int | None = None, dtype=np.float32) -> "RunSet":
    """Run ``sim`` for every site and parameter set in one batched computation; a :class:`RunSet`.

    Args:
        sim: ``sim(theta (P,), inputs) -> (T, n_out)``.
        sim_inputs: what ``sim`` takes per site, a pytree with leading axis S
            (e.g. the land model's batched forcing and site constants).
        forcing: (S, T, F) forcing features the surrogate will see (physical units).
        time: (S, T) or (T,) datetime64 time axes, for the positional encoding.
        thetas: (S, R, P) parameter sets per site (e.g. a design per site's defaults),
            or (R, P) shared by all sites.
        valid: optional (S, T) booleans (padding False): targets there are NaN.
    Returns:
        :class:`RunSet` with S x R runs, site-major (run s R + r is set r at site s).
    """
    f = np.asarray(forcing, dtype=float)
    if f.ndim != 3:
        raise InputError(f"build_runset: forcing must be (S, T, F), got shape {f.shape}")
    S, T, _ = f.shape
    th = np.asarray(thetas, dtype=float)
    th = np.broadcast_to(th, (S,) + th.shape) if th.ndim == 2 else th
    if th.ndim != 3 or th.shape[0] != S:
        raise InputError(f"build_runset: thetas must be (R, P) or ({S}, R, P), got shape {np.shape(thetas)}")
    R = th.shape[1]
    t = np.asarray(time)
    t = np.broadcast_to(t, (S, T)) if t.ndim == 1 else t
    if t.shape != (S, T):
        raise InputError(f"build_runset: time must be ({T},) or ({S}, {T}), got shape {t.shape}")
    from .encoding import positional_encoding

    enc = np.stack([positional_encoding(t[s], n_frequencies, dtype) for s in range(S)])
    run = jax.jit(jax.vmap(lambda th_s, inp: jax.lax.map(lambda x: sim(x, inp), th_s, batch_size=batch_size or R)))
    y = np.array(run(jnp.asarray(th), sim_inputs), dtype=float)  # (S, R, T, n_out)
    if valid is not None:
        y = np.where(np.asarray(valid, bool)[:, None, :, None], y, np.nan)
    return RunSet(jnp.asarray(f, dtype), jnp.asarray(enc), jnp.asarray(th.reshape(S * R, -1), dtype),
                  jnp.repeat(jnp.arange(S), R), jnp.asarray(y.reshape((S * R,) + y.shape[2:]), dtype))


class RunSet(eqx.Module):
    """Runs of a physical model for training or testing a surrogate.

    Attributes:
        forcing: (S, T, F) forcing of S sites (physical units, ALMA order of the user's choice).
        encoding: (S, T, E) positional encoding of each site's time axis.
        theta: (R, P) physical parameters of each run.
        site: (R,) int site index of each run.
        target: (R, T, n_out) simulated fluxes [W m-2]; NaN where a step is not used (padding).
    """

    forcing: jax.Array
    encoding: jax.Array
    theta: jax.Array
    site: jax.Array
    target: jax.Array

    def __check_init__(self):
        S, T, _ = self.forcing.shape
        R = self.theta.shape[0]
        if self.encoding.shape[:2] != (S, T):
            raise InputError(f"RunSet: encoding has shape {self.encoding.shape}, expected ({S}, {T}, E)")
        if self.site.shape != (R,) or self.target.shape[:2] != (R, T):
            raise InputError(f"RunSet: site {self.site.shape} / target {self.target.shape} do not match {R} runs of {T} steps")


def _nan_mean_std(x, axes):
    x = np.asarray(x, dtype=float)
    mean = np.nanmean(x, axis=axes)
    std = np.nanstd(x, axis=axes)
    return mean, np.maximum(std, 1e-6 * np.maximum(np.abs(mean), 1.0))


class Normalisation(eqx.Module):
    """Scalings of a surrogate's inputs and outputs (fitted on training runs, stored with the model).

    forcing -> (forcing - forcing_mean) / forcing_std; parameters ->
    2 (theta - lo) / (hi - lo) - 1 (the bounds map to [-1, 1]); outputs ->
    (y - target_mean) / target_std. Standard deviations are floored at 1e-6
    of the mean's magnitude (a constant channel stays finite).
    """

    forcing_mean: jax.Array
    forcing_std: jax.Array
    param_lo: jax.Array
    param_hi: jax.Array
    target_mean: jax.Array
    target_std: jax.Array

    @classmethod
    def fit(cls, runs: RunSet, bounds, train_runs=None, dtype=np.float32) -> "Normalisation":
        """Fit on the runs ``train_runs`` (indices; all when None) and their sites."""
        b = check_bounds(bounds)
        idx = np.arange(runs.theta.shape[0]) if train_runs is None else np.asarray(train_runs)
        sites = np.unique(np.asarray(runs.site)[idx])
        fm, fs = _nan_mean_std(np.asarray(runs.forcing)[sites], (0, 1))
        tm, ts = _nan_mean_std(np.asarray(runs.target)[idx], (0, 1))
        a = lambda v: jnp.asarray(v, dtype=dtype)  # noqa: E731
        return cls(a(fm), a(fs), a(b[:, 0]), a(b[:, 1]), a(tm), a(ts))

    def forcing_in(self, forcing):
        return (forcing - self.forcing_mean) / self.forcing_std

    def params_in(self, theta):
        return 2.0 * (theta - self.param_lo) / (self.param_hi - self.param_lo) - 1.0

    def target_in(self, y):
        return (y - self.target_mean) / self.target_std

    def target_out(self, z):
        return z * self.target_std + self.target_mean

    def to_dict(self) -> dict:
        """Plain lists (JSON); float64 repr round-trips every value exactly."""
        return {k: np.asarray(getattr(self, k), dtype=float).tolist() for k in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, d: dict, dtype=np.float32) -> "Normalisation":
        return cls(**{k: jnp.asarray(np.asarray(d[k], dtype=float), dtype=dtype) for k in cls.__dataclass_fields__})


def window_index(n_steps: int, window: int, stride: int | None = None, runs=None, valid=None) -> np.ndarray:
    """(N, 2) int pairs (run, start) of training windows of ``window`` steps.

    Windows start at 0, stride, 2 stride, ... while they fit in ``n_steps``
    (the last partial window is dropped). ``runs``: run indices (default
    none: pass them). ``valid``: optional (R, T) booleans; windows with no
    valid step are dropped.
    """
    window = int(window)
    stride = window if stride is None else int(stride)
    if window < 1 or stride < 1:
        raise InputError(f"window_index: window and stride must be >= 1, got {window}, {stride}")
    if window > n_steps:
        raise InputError(f"window_index: window of {window} steps is longer than the record ({n_steps} steps)")
    starts = np.arange(0, n_steps - window + 1, stride)
    runs = np.asarray(runs if runs is not None else [], dtype=int)
    pairs = np.stack(np.meshgrid(runs, starts, indexing="ij"), axis=-1).reshape(-1, 2)
    if valid is not None:
        v = np.asarray(valid, bool)
        cum = np.concatenate([np.zeros((v.shape[0], 1), int), np.cumsum(v, axis=1)], axis=1)
        n_valid = cum[pairs[:, 0], pairs[:, 1] + window] - cum[pairs[:, 0], pairs[:, 1]]
        pairs = pairs[n_valid > 0]
    return pairs
