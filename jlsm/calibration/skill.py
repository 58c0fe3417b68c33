"""Skill of simulated fluxes at the native step, daily and monthly means, per window.

Simulated and observed series are first *paired*: a step counts only where
both are finite, so a daily or monthly mean of the simulation covers the same
half-hours as the observed mean (night-time gaps in Qh do not bias it). A day
or month is kept when at least ``min_fraction`` of its time steps are valid.
Metrics are those of :mod:`jlsm.metrics` (NaN-aware, NumPy float64).

Time scales (``SCALES``): ``"halfhourly"`` = the record's native step (30 min
at most sites, 1 h at some), ``"daily"`` and ``"monthly"`` calendar means of
the time axis shifted by ``offset_hours`` (e.g. the UTC offset for local days).
Seasons for the mean diurnal cycle: DJF, MAM, JJA, SON (northern meteorological).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr

from jlsm import metrics as _metrics
from jlsm.errors import InputError

__all__ = [
    "SCALES",
    "SKILL_METRICS",
    "SEASONS",
    "paired",
    "aggregate",
    "site_skill",
    "collection_skill",
    "mean_diurnal_cycle",
    "summarise",
]

SCALES = ("halfhourly", "daily", "monthly")
SKILL_METRICS = _metrics.METRICS  # bias, mae, rmse, pearson_r, nse, kge
SEASONS = {"DJF": (12, 1, 2), "MAM": (3, 4, 5), "JJA": (6, 7, 8), "SON": (9, 10, 11)}


def _time(time, n=None, where="time"):
    t = np.asarray(time)
    if not np.issubdtype(t.dtype, np.datetime64):
        try:
            t = t.astype("datetime64[ns]")
        except (TypeError, ValueError) as exc:
            raise InputError(f"skill: {where} must be datetime64, got dtype {t.dtype}") from exc
    t = t.astype("datetime64[ns]")
    if n is not None and t.shape != (n,):
        raise InputError(f"skill: {where} has shape {t.shape} but the series have {n} steps")
    return t


def paired(sim, obs):
    """(sim, obs) float64 copies with NaN wherever either is NaN."""
    s = np.asarray(sim, dtype=float)
    o = np.asarray(obs, dtype=float)
    if s.shape != o.shape:
        raise InputError(f"skill: sim has shape {s.shape} but obs has shape {o.shape}")
    bad = np.isnan(s) | np.isnan(o)
    return np.where(bad, np.nan, s), np.where(bad, np.nan, o)


def aggregate(values, time, scale: str, *, min_fraction: float = 0.5, offset_hours: float = 0.0):
    """Means of ``values`` (T,) at ``scale``: returns (period start times, means).

    ``"halfhourly"`` returns the input. For ``"daily"``/``"monthly"`` a period
    is NaN unless at least ``min_fraction`` of its steps on the time axis are
    valid. Steps whose time is NaT (padding) are dropped.
    """
    v = np.asarray(values, dtype=float)
    t = _time(time, v.shape[0])
    keep = ~np.isnat(t)
    v, t = v[keep], t[keep]
    if scale == "halfhourly":
        return t, v
    shifted = t + np.timedelta64(int(round(offset_hours * 3600.0)), "s")
    if scale == "daily":
        key = shifted.astype("datetime64[D]")
    elif scale == "monthly":
        key = shifted.astype("datetime64[M]")
    else:
        raise InputError(f"skill: scale must be one of {SCALES}, got {scale!r}")
    g = pd.Series(v).groupby(key.astype("datetime64[ns]"))
    stats = g.agg(["mean", "count", "size"])
    ok = stats["count"] >= np.maximum(min_fraction * stats["size"], 1)
    means = np.where(ok, stats["mean"].to_numpy(dtype=float), np.nan)
    return stats.index.to_numpy(dtype="datetime64[ns]"), means


def site_skill(time, sim: Mapping[str, np.ndarray], obs: Mapping[str, np.ndarray],
               windows: Mapping[str, np.ndarray], *, scales: Sequence[str] = SCALES,
               min_fraction: float = 0.5, offset_hours: float = 0.0) -> xr.Dataset:
    """Skill of one site: ``skill(window, scale, variable, metric)`` and ``n`` (valid pairs).

    ``sim``/``obs``: variable -> (T,) [W m-2]; variables missing from either side,
    or never observed, are skipped. ``windows``: name -> bool mask (T,).
    """
    variables = [v for v in obs if v in sim and np.any(np.isfinite(np.asarray(obs[v], dtype=float)))]
    if not variables:
        raise InputError(f"skill: no variable is both simulated and observed (sim: {list(sim)}, obs: {list(obs)})")
    n_t = np.asarray(obs[variables[0]]).shape[0]
    t = _time(time, n_t)
    out = np.full((len(windows), len(scales), len(variables), len(SKILL_METRICS)), np.nan)
    counts = np.zeros(out.shape[:3], dtype=int)
    for iw, (wname, wmask) in enumerate(windows.items()):
        wmask = np.asarray(wmask, bool)
        if wmask.shape != (n_t,):
            raise InputError(f"skill: window {wname!r} mask has shape {wmask.shape}, expected ({n_t},)")
        for iv, v in enumerate(variables):
            s, o = paired(sim[v], obs[v])
            s = np.where(wmask, s, np.nan)
            o = np.where(wmask, o, np.nan)
            for isc, scale in enumerate(scales):
                _, sa = aggregate(s, t, scale, min_fraction=min_fraction, offset_hours=offset_hours)
                _, oa = aggregate(o, t, scale, min_fraction=min_fraction, offset_hours=offset_hours)
                with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                    m = _metrics.all_metrics(sa, oa)
                out[iw, isc, iv] = [float(m[k]) for k in SKILL_METRICS]
                counts[iw, isc, iv] = int(m["n"])
    return xr.Dataset(
        {"skill": (("window", "scale", "variable", "metric"), out),
         "n": (("window", "scale", "variable"), counts, {"long_name": "valid pairs (steps, days or months)"})},
        coords={"window": list(windows), "scale": list(scales), "variable": variables, "metric": list(SKILL_METRICS)},
        attrs={"min_fraction": min_fraction, "offset_hours": offset_hours,
               "description": "skill of sim against obs on paired steps; bias = sim - obs; rmse, bias, mae in W m-2"},
    )


def collection_skill(times, sims: Mapping[str, Mapping[str, np.ndarray]], obs: Mapping[str, np.ndarray],
                     windows: Mapping[str, np.ndarray], *, sites: Sequence[str], pft: Sequence[str] | None = None,
                     offset_hours=None, **kw) -> xr.Dataset:
    """Skill of every site and method: ``skill(site, method, window, scale, variable, metric)``.

    ``times``: (S, T) datetime64 (NaT = padding) or a list of per-site axes;
    ``sims``: method -> variable -> (S, T); ``obs``: variable -> (S, T);
    ``windows``: name -> (S, T) bool; ``offset_hours``: per-site (S,) or None.
    Variables absent at a site (all NaN) give NaN rows. Select a method with
    ``.sel({"method": "calibrated"})`` (``method`` is also a keyword of ``.sel``).
    """
    variables = list(obs)
    parts = []
    for i, site in enumerate(sites):
        per_method = []
        for method, sim in sims.items():
            ds = site_skill(times[i], {v: np.asarray(sim[v])[i] for v in sim},
                            {v: np.asarray(obs[v])[i] for v in variables},
                            {w: np.asarray(m)[i] for w, m in windows.items()},
                            offset_hours=0.0 if offset_hours is None else float(offset_hours[i]), **kw)
            per_method.append(ds.reindex(variable=variables))
        parts.append(xr.concat(per_method, dim=pd.Index(list(sims), name="method")))
    out = xr.concat(parts, dim=pd.Index(list(sites), name="site"))
    if pft is not None:
        out = out.assign_coords(pft=("site", list(pft)))
    return out


def mean_diurnal_cycle(time, values, *, offset_hours: float = 0.0) -> xr.DataArray:
    """NaN-aware mean diurnal cycle per season: DataArray (season, hour) [units of values].

    ``hour`` is the time of day [h] of each step's start (local if
    ``offset_hours`` is the UTC offset); 0.5 h bins for half-hourly data.
    """
    v = np.asarray(values, dtype=float)
    t = _time(time, v.shape[0])
    keep = ~np.isnat(t)
    v, t = v[keep], t[keep]
    t = t + np.timedelta64(int(round(offset_hours * 3600.0)), "s")
    hours = (t - t.astype("datetime64[D]")) / np.timedelta64(1, "h")
    months = t.astype("datetime64[M]").astype(int) % 12 + 1
    grid = np.unique(np.round(hours, 6))
    out = np.full((len(SEASONS), grid.size), np.nan)
    for i, mon in enumerate(SEASONS.values()):
        sel = np.isin(months, mon)
        if not np.any(sel):
            continue
        df = pd.DataFrame({"h": np.round(hours[sel], 6), "v": v[sel]})
        mean = df.groupby("h")["v"].mean()
        out[i] = mean.reindex(grid).to_numpy()
    return xr.DataArray(out, dims=("season", "hour"), coords={"season": list(SEASONS), "hour": grid},
                        attrs={"long_name": "mean diurnal cycle"})


def summarise(skill: xr.Dataset) -> xr.Dataset:
    """Across-site summary of a :func:`collection_skill` result.

    Returns ``mean`` and ``median`` over sites of ``skill`` and, when a ``pft``
    coordinate is present, ``pft_mean(pft_group, ...)`` (mean within each PFT group).
    """
    s = skill["skill"]
    out = xr.Dataset({"mean": s.mean("site", skipna=True), "median": s.median("site", skipna=True)})
    if "pft" in s.coords:
        grouped = s.groupby("pft").mean("site", skipna=True).rename({"pft": "pft_group"})
        out["pft_mean"] = grouped
    return out
