"""Conventional calibration designs: the Sobol-256 baseline and one-factor-at-a-time levels.

* Sobol-256 (the conventional baseline of Xie, Li & Yoshimura 2025,
  egusphere-2025-3301): 256 scrambled Sobol' points in the bounds of the
  parameter space, each run through the model; the best by the objective on
  the fit window is kept. Points are those of
  :meth:`jlsm.params.ParameterSpace.sample` (SciPy's scrambled Sobol' of the
  seed; log-sigmoid parameters uniform in log space), so a design with
  per-site bounds uses the same unit-cube points at every site.
* One-factor-at-a-time (their Figure 2: 12 parameters x 4 levels): each
  parameter in turn is moved from its default to 4 levels, the others held at
  their defaults. The MdPL preprint does not list its levels; here (``OAT_FRACTIONS``)
  a level is a fraction f of the way from the default to the upper bound
  (f > 0) or the lower bound (f < 0): x = d + f (hi - d) or x = d + |f| (lo - d),
  f in (-2/3, -1/3, +1/3, +2/3); for log-sigmoid parameters the same in log x.
  Levels therefore stay inside the bounds and bracket the default.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from jlsm._sobol import scrambled_sobol
from jlsm.errors import InputError, ParameterError
from jlsm.params import ParameterSpace

__all__ = [
    "OAT_FRACTIONS",
    "space_bounds",
    "sobol_design",
    "best_of_design",
    "oat_levels",
    "oat_design",
    "oat_table",
]

OAT_FRACTIONS = (-2.0 / 3.0, -1.0 / 3.0, 1.0 / 3.0, 2.0 / 3.0)
"""OAT levels as signed fractions of the distance from the default to a bound."""


def space_bounds(space: ParameterSpace):
    """(lower (P,), upper (P,), log (P,) bool) of a space whose parameters are all bounded."""
    for p in space.parameters:
        if p.bounds is None or p.transform not in ("sigmoid", "log-sigmoid"):
            raise ParameterError(f"designs: parameter {p.name!r} needs bounds and a sigmoid or log-sigmoid transform")
    log = np.array([p.transform == "log-sigmoid" for p in space.parameters])
    return space.lower, space.upper, log


def _from_unit(q, lower, upper, log):
    lo, hi = np.asarray(lower, float), np.asarray(upper, float)
    lin = lo + (hi - lo) * q
    with np.errstate(divide="ignore", invalid="ignore"):
        lg = lo * np.exp(np.log(hi / lo) * q)
    return np.where(log, lg, lin)


def sobol_design(space_or_bounds, n: int = 256, *, seed: int = 0) -> np.ndarray:
    """``n`` scrambled Sobol' parameter sets in physical units.

    ``space_or_bounds``: a :class:`~jlsm.params.ParameterSpace` (returns
    (n, P), equal to ``space.sample(n, seed=seed)``) or a tuple
    ``(lower, upper, log)`` with lower/upper (..., P) (e.g. per-site bounds
    (S, P)) and log (P,) bool: returns (..., n, P), the same unit-cube points
    mapped into each leading entry's bounds.
    """
    if isinstance(space_or_bounds, ParameterSpace):
        return space_or_bounds.sample(n, seed=seed)
    lower, upper, log = (np.asarray(a) for a in space_or_bounds)
    if lower.shape != upper.shape or lower.shape[-1] != log.shape[-1]:
        raise InputError(f"sobol_design: lower {lower.shape}, upper {upper.shape} and log {log.shape} do not match")
    if np.any(~(lower < upper)):
        raise InputError("sobol_design: every lower bound must be below its upper bound")
    q = np.clip(scrambled_sobol(n, lower.shape[-1], seed), 1e-6, 1 - 1e-6)  # as ParameterSpace.sample
    return _from_unit(q, lower[..., None, :], upper[..., None, :], log.astype(bool))


def best_of_design(losses) -> np.ndarray:
    """Index of the lowest finite loss along the last axis (NaN/Inf never chosen)."""
    x = np.asarray(losses, dtype=float)
    return np.argmin(np.where(np.isfinite(x), x, np.inf), axis=-1)


def oat_levels(default, lower, upper, log=None, fractions: Sequence[float] = OAT_FRACTIONS) -> np.ndarray:
    """Levels (P, L) of every parameter, from the defaults (P,) towards the bounds (see module)."""
    d, lo, hi = (np.asarray(a, dtype=float) for a in (default, lower, upper))
    log = np.zeros(d.shape, bool) if log is None else np.asarray(log, bool)
    if np.any(~((lo <= d) & (d <= hi))):
        i = int(np.flatnonzero(~((lo <= d) & (d <= hi)))[0])
        raise ParameterError(f"oat_levels: default {d[i]} of parameter {i} is outside its bounds ({lo[i]}, {hi[i]})")
    f = np.asarray(fractions, dtype=float)[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        ld, llo, lhi = np.log(d), np.log(lo), np.log(hi)
    lin = np.where(f > 0, d[:, None] + f * (hi - d)[:, None], d[:, None] + (-f) * (lo - d)[:, None])
    lg = np.exp(np.where(f > 0, ld[:, None] + f * (lhi - ld)[:, None], ld[:, None] + (-f) * (llo - ld)[:, None]))
    return np.where(log[:, None], lg, lin)


def oat_design(default, lower, upper, log=None, fractions: Sequence[float] = OAT_FRACTIONS):
    """One-factor-at-a-time design.

    Returns ``(sets, parameter, level)``: sets (P*L, P) physical values, each
    row the defaults with one parameter at one level (parameter-major order),
    and the parameter index and level index of each row.
    """
    d = np.asarray(default, dtype=float)
    levels = oat_levels(d, lower, upper, log, fractions)
    p, nl = levels.shape
    sets = np.repeat(d[None, :], p * nl, axis=0)
    param = np.repeat(np.arange(p), nl)
    level = np.tile(np.arange(nl), p)
    sets[np.arange(p * nl), param] = levels[param, level]
    return sets, param, level


def oat_table(values, baseline, names: Sequence[str], fractions: Sequence[float] = OAT_FRACTIONS,
              *, levels=None) -> xr.Dataset:
    """Relative change of a skill value (e.g. RMSE) per parameter and level.

    ``values``: (..., P*L) from the rows of :func:`oat_design`; ``baseline``
    (...): the same at the defaults. Returns ``relative_change(..., parameter,
    level) = values / baseline - 1`` [-] and, if given, the ``level_value``
    (parameter, level) physical levels.
    """
    v = np.asarray(values, dtype=float)
    b = np.asarray(baseline, dtype=float)
    p, nl = len(names), len(fractions)
    if v.shape[-1] != p * nl:
        raise InputError(f"oat_table: values have {v.shape[-1]} rows, expected {p} parameters x {nl} levels")
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = v.reshape(v.shape[:-1] + (p, nl)) / b[..., None, None] - 1.0
    lead = [f"dim_{i}" for i in range(rel.ndim - 2)]
    ds = xr.Dataset(
        {"relative_change": (tuple(lead) + ("parameter", "level"), rel,
                             {"long_name": "relative change against the defaults", "units": "1"})},
        coords={"parameter": list(names), "level": np.arange(nl), "fraction": ("level", np.asarray(fractions, float))},
        attrs={"description": "one-factor-at-a-time: level = signed fraction of the way from the default to a bound"},
    )
    if levels is not None:
        ds["level_value"] = (("parameter", "level"), np.asarray(levels, dtype=float))
    return ds
