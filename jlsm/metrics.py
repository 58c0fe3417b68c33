"""NaN-aware skill metrics for simulations against observations.

Every metric takes ``(sim, obs)`` of equal shape, drops the pairs where either
is NaN and reduces over all remaining elements. NumPy (or xarray, list) inputs
are computed in float64 with NumPy and give NumPy scalars; JAX inputs are
computed with ``jax.numpy`` and work under ``jit`` and ``grad``: masks use the
double-``where`` pattern, so NaNs in ``obs`` or a perfect fit never give NaN
gradients. A metric that is undefined (no valid pair, zero variance, zero
observed mean for ``beta``) returns NaN.

Error metrics (``bias``, ``mae``, ``rmse``) are in the units of the data;
``pearson_r``, ``nse``, ``kge`` and its components are dimensionless.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from jlsm.errors import InputError, ObservationError

__all__ = [
    "METRICS",
    "KGEComponents",
    "bias",
    "mae",
    "rmse",
    "pearson_r",
    "nse",
    "kge",
    "kge_components",
    "all_metrics",
    "daily_mean",
    "metrics_table",
]

#: Metric names, in the order used by :func:`metrics_table`.
METRICS = ("bias", "mae", "rmse", "pearson_r", "nse", "kge")


class KGEComponents(NamedTuple):
    """Kling-Gupta efficiency and its parts (all dimensionless)."""

    r: object
    alpha: object
    beta: object
    kge: object


# --------------------------------------------------------------------------
# masking helpers


def _is_jax(x) -> bool:
    return isinstance(x, jax.Array)


def _prepare(sim, obs):
    """(xp, sim0, obs0, valid, n, n_safe) with invalid pairs set to 0."""
    if _is_jax(sim) or _is_jax(obs):
        xp = jnp
        s = jnp.asarray(sim)
        o = jnp.asarray(obs)
        dtype = jnp.result_type(s.dtype, o.dtype, jnp.float32)
        s = s.astype(dtype)
        o = o.astype(dtype)
    else:
        xp = np
        s = np.asarray(sim, dtype=float)
        o = np.asarray(obs, dtype=float)
    if s.shape != o.shape:
        raise InputError(f"metrics: sim has shape {s.shape} but obs has shape {o.shape}")
    valid = ~(xp.isnan(s) | xp.isnan(o))
    s0 = xp.where(valid, s, 0.0)
    o0 = xp.where(valid, o, 0.0)
    n = xp.sum(valid)
    n_safe = xp.where(n > 0, n, 1)
    return xp, s0, o0, valid, n, n_safe


def _safe_sqrt(xp, x):
    # sqrt with a zero gradient at 0 (not inf); NaN stays NaN
    pos = x > 0
    return xp.where(pos, xp.sqrt(xp.where(pos, x, 1.0)), 0.0 * x)


def _safe_div(xp, num, den):
    ok = den != 0
    return xp.where(ok, num / xp.where(ok, den, 1.0), xp.nan)


def _defined(xp, n, value):
    return xp.where(n > 0, value, xp.nan)


def _out(xp, value):
    return np.float64(value) if xp is np else value


def _moments(xp, s0, o0, valid, n_safe):
    ms = xp.sum(s0) / n_safe
    mo = xp.sum(o0) / n_safe
    ds = xp.where(valid, s0 - ms, 0.0)
    do = xp.where(valid, o0 - mo, 0.0)
    return ms, mo, ds, do


# --------------------------------------------------------------------------
# metrics


def bias(sim, obs):
    """Mean error sim - obs, in the data's units."""
    xp, s0, o0, valid, n, n_safe = _prepare(sim, obs)
    return _out(xp, _defined(xp, n, xp.sum(s0 - o0) / n_safe))


def mae(sim, obs):
    """Mean absolute error, in the data's units."""
    xp, s0, o0, valid, n, n_safe = _prepare(sim, obs)
    return _out(xp, _defined(xp, n, xp.sum(xp.abs(s0 - o0)) / n_safe))


def rmse(sim, obs):
    """Root-mean-square error, in the data's units."""
    xp, s0, o0, valid, n, n_safe = _prepare(sim, obs)
    mse = xp.sum((s0 - o0) ** 2) / n_safe
    return _out(xp, _defined(xp, n, _safe_sqrt(xp, mse)))


def _pearson(xp, ds, do):
    cov = xp.sum(ds * do)
    vs = xp.sum(ds**2)
    vo = xp.sum(do**2)
    return _safe_div(xp, cov, _safe_sqrt(xp, vs * vo)), vs, vo


def pearson_r(sim, obs):
    """Pearson correlation coefficient (NaN if either series is constant)."""
    xp, s0, o0, valid, n, n_safe = _prepare(sim, obs)
    _, _, ds, do = _moments(xp, s0, o0, valid, n_safe)
    r, _, _ = _pearson(xp, ds, do)
    return _out(xp, _defined(xp, n, r))


def nse(sim, obs):
    """Nash-Sutcliffe efficiency 1 - SSE / sum((obs - mean obs)^2)."""
    xp, s0, o0, valid, n, n_safe = _prepare(sim, obs)
    _, _, _, do = _moments(xp, s0, o0, valid, n_safe)
    sse = xp.sum((s0 - o0) ** 2)
    return _out(xp, _defined(xp, n, 1.0 - _safe_div(xp, sse, xp.sum(do**2))))


def kge_components(sim, obs) -> KGEComponents:
    """Kling-Gupta efficiency (Gupta et al. 2009) and its components.

    r: Pearson correlation; alpha = std(sim) / std(obs); beta = mean(sim) /
    mean(obs); kge = 1 - sqrt((r-1)^2 + (alpha-1)^2 + (beta-1)^2).
    """
    xp, s0, o0, valid, n, n_safe = _prepare(sim, obs)
    ms, mo, ds, do = _moments(xp, s0, o0, valid, n_safe)
    r, vs, vo = _pearson(xp, ds, do)
    alpha = _safe_div(xp, _safe_sqrt(xp, vs), _safe_sqrt(xp, vo))
    beta = _safe_div(xp, ms, mo)
    ed2 = (r - 1.0) ** 2 + (alpha - 1.0) ** 2 + (beta - 1.0) ** 2
    k = 1.0 - _safe_sqrt(xp, ed2)
    return KGEComponents(*(_out(xp, _defined(xp, n, x)) for x in (r, alpha, beta, k)))


def kge(sim, obs):
    """Kling-Gupta efficiency (Gupta et al. 2009); 1 is perfect."""
    return kge_components(sim, obs).kge


def all_metrics(sim, obs) -> dict:
    """All metrics as a dict: n, bias, mae, rmse, pearson_r, nse, kge, kge_alpha, kge_beta."""
    xp = jnp if (_is_jax(sim) or _is_jax(obs)) else np
    _, _, _, _, n, _ = _prepare(sim, obs)
    comp = kge_components(sim, obs)
    return {
        "n": int(n) if xp is np else n,
        "bias": bias(sim, obs),
        "mae": mae(sim, obs),
        "rmse": rmse(sim, obs),
        "pearson_r": pearson_r(sim, obs),
        "nse": nse(sim, obs),
        "kge": comp.kge,
        "kge_alpha": comp.alpha,
        "kge_beta": comp.beta,
    }


# --------------------------------------------------------------------------
# aggregation and tables


def daily_mean(values, time=None, *, offset_hours: float = 0.0, min_count: int = 1):
    """NaN-aware daily means.

    ``values``: an xarray object with a ``time`` coordinate (``time`` None),
    or an array whose first axis matches ``time`` (datetime64). Days are
    calendar days of ``time + offset_hours`` (e.g. the UTC offset for local
    days). Days with fewer than ``min_count`` valid values are NaN.
    Returns an xarray object for xarray input, else ``(days, means)`` with
    ``days`` datetime64[D].
    """
    if isinstance(values, (xr.DataArray, xr.Dataset)) and time is None:
        if "time" not in values.coords:
            raise InputError("daily_mean: xarray input needs a 'time' coordinate")
        t = values["time"].values.astype("datetime64[ns]")
        days, means = _daily(values, t, offset_hours, min_count)
        return means.assign_coords(time=days.astype("datetime64[ns]"))
    if time is None:
        raise InputError("daily_mean: pass time (datetime64) for array input")
    t = np.asarray(time)
    if not np.issubdtype(t.dtype, np.datetime64):
        try:
            t = t.astype("datetime64[ns]")
        except (TypeError, ValueError) as exc:
            raise InputError("daily_mean: time must be datetime64") from exc
    v = np.asarray(values, dtype=float)
    if v.shape[:1] != t.shape:
        raise InputError(f"daily_mean: values have {v.shape[0]} steps but time has {t.shape[0]}")
    return _daily(v, t.astype("datetime64[ns]"), offset_hours, min_count)


def _daily(values, t, offset_hours, min_count):
    shifted = t + np.timedelta64(int(round(offset_hours * 3600.0)), "s")
    day = shifted.astype("datetime64[D]")
    days, inverse = np.unique(day, return_inverse=True)
    if isinstance(values, (xr.DataArray, xr.Dataset)):
        grp = xr.DataArray(inverse, dims=("time",), coords={"time": values["time"]}, name="day")
        g = values.groupby(grp)
        mean = g.mean(skipna=True)
        count = values.notnull().groupby(grp).sum()
        mean = mean.where(count >= min_count).rename({"day": "time"})
        return days, mean
    flat = values.reshape(values.shape[0], -1)
    valid = ~np.isnan(flat)
    sums = np.zeros((days.size, flat.shape[1]))
    counts = np.zeros((days.size, flat.shape[1]))
    np.add.at(sums, inverse, np.where(valid, flat, 0.0))
    np.add.at(counts, inverse, valid)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts >= max(min_count, 1), sums / counts, np.nan)
    return days, means.reshape((days.size,) + values.shape[1:])


def _pair(sim, obs, v):
    """(sim, obs) for variable v as aligned DataArrays or arrays."""
    for side, c in (("sim", sim), ("obs", obs)):
        if v not in c:
            have = list(c.data_vars) if isinstance(c, xr.Dataset) else list(c)
            raise ObservationError(f"metrics_table: variable {v!r} not in {side}; {side} has {have}")
    a, b = sim[v], obs[v]
    if isinstance(a, xr.DataArray) and isinstance(b, xr.DataArray):
        if "time" in a.dims and "time" in b.dims:
            a, b = xr.align(a, b, join="inner")
            if a.sizes["time"] == 0:
                raise ObservationError(f"metrics_table: sim and obs of {v!r} share no time step")
        b = b.transpose(*a.dims)
        return a, b
    a = np.asarray(a.values if isinstance(a, xr.DataArray) else a, dtype=float)
    b = np.asarray(b.values if isinstance(b, xr.DataArray) else b, dtype=float)
    if a.shape != b.shape:
        raise ObservationError(f"metrics_table: {v!r} has shape {a.shape} in sim but {b.shape} in obs")
    return a, b


def metrics_table(sim, obs, variables: Sequence[str], time=None, daily: bool = False,
                  *, offset_hours: float = 0.0) -> xr.Dataset:
    """Skill of ``sim`` against ``obs`` for several variables.

    ``sim`` and ``obs``: xarray Datasets (aligned on ``time``) or dicts of
    arrays (time first; ``time`` needed when ``daily``). With ``daily`` the
    metrics compare daily means (see :func:`daily_mean`). A variable with
    extra dims (e.g. SoilTemp(time, depth)) gives one row per level, named
    ``"SoilTemp[depth=0.05]"``. Returns a Dataset with ``skill(variable,
    metric)``, ``n(variable)`` (valid pairs) and coordinate ``units(variable)``.
    """
    if isinstance(variables, str):
        variables = [variables]
    rows, names, counts, units = [], [], [], []
    for v in variables:
        a, b = _pair(sim, obs, v)
        unit = ""
        if isinstance(b, xr.DataArray):
            unit = str(b.attrs.get("units", ""))
        elif isinstance(obs, xr.Dataset):
            unit = str(obs[v].attrs.get("units", ""))
        if daily:
            if isinstance(a, xr.DataArray) and "time" in a.dims:
                a = daily_mean(a, offset_hours=offset_hours)
                b = daily_mean(b, offset_hours=offset_hours)
            else:
                if time is None:
                    raise InputError("metrics_table: daily=True with arrays needs time")
                _, a = daily_mean(a, time, offset_hours=offset_hours)
                _, b = daily_mean(b, time, offset_hours=offset_hours)
        for label, sa, sb in _levels(v, a, b):
            m = all_metrics(sa, sb)
            rows.append([float(m[k]) for k in METRICS])
            counts.append(int(m["n"]))
            names.append(label)
            units.append(unit)
    return xr.Dataset(
        {
            "skill": (("variable", "metric"), np.asarray(rows, dtype=float).reshape(len(names), len(METRICS))),
            "n": (("variable",), np.asarray(counts, dtype=int)),
        },
        coords={"variable": names, "metric": list(METRICS), "units": ("variable", units)},
        attrs={"daily": int(bool(daily)),
               "description": "skill of sim against obs; NaN pairs dropped; bias = sim - obs"},
    )


def _levels(v, a, b):
    """Yield (label, sim, obs) per level of the non-time dims."""
    if isinstance(a, xr.DataArray):
        other = [d for d in a.dims if d != "time"]
        if not other:
            yield v, a.values, b.values
            return
        stacked_a = a.stack(_lvl=other).transpose("_lvl", ...)
        stacked_b = b.stack(_lvl=other).transpose("_lvl", ...)
        for i in range(stacked_a.sizes["_lvl"]):
            idx = stacked_a["_lvl"].values[i]
            idx = idx if isinstance(idx, tuple) else (idx,)
            label = ",".join(f"{d}={_fmt(x)}" for d, x in zip(other, idx))
            yield f"{v}[{label}]", stacked_a.values[i], stacked_b.values[i]
        return
    a = np.asarray(a)
    if a.ndim <= 1:
        yield v, a, np.asarray(b)
        return
    fa = a.reshape(a.shape[0], -1)
    fb = np.asarray(b).reshape(a.shape[0], -1)
    for j in range(fa.shape[1]):
        yield f"{v}[{j}]", fa[:, j], fb[:, j]


def _fmt(x):
    if isinstance(x, (float, np.floating)):
        return f"{float(x):g}"
    return str(x)
