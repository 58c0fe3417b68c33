"""Reports of the multi-site protocol: JSON summary, markdown tables and figures.

The JSON summary has the schema

    {"sites": {SITE: {"pft": str,
                      "test": {METHOD: {"qh": {"rmse": ..., "kge": ..., "bias": ..., "r": ..., "nse": ...,
                                               "daily": {...}, "monthly": {...}},
                                        "qle": {...}}},
                      "fit": {...}}},
     "summary": {"test": {METHOD: {"qh": {...}, "qle": {...}}}, "fit": {...}},
     "timing": {STEP: seconds}, "model_runs": {METHOD: runs}}

with METHOD among ``default``, ``sobol256``, ``calibrated``, ``1lin``,
``3km27``, ``loo`` (any present in the skill dataset). Top-level metrics are
at the native (half-hourly) step, ``daily``/``monthly`` hold the same at those
scales; RMSE and bias in W m-2, the others dimensionless; NaN is written as null.
Figures need matplotlib (optional); each has units and a legend.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import xarray as xr

from jlsm.errors import InputError

__all__ = [
    "METHODS",
    "VARIABLE_KEYS",
    "summary_json",
    "write_json",
    "markdown_report",
    "plot_time_series",
    "plot_diurnal_cycles",
    "plot_skill_by_scale",
    "plot_parameters_by_pft",
    "plot_oat",
]

METHODS = ("default", "sobol256", "calibrated", "1lin", "3km27", "loo")
VARIABLE_KEYS = {"Qh": "qh", "Qle": "qle", "Rnet": "rnet", "Qg": "qg"}
_JSON_METRICS = {"rmse": "rmse", "kge": "kge", "bias": "bias", "pearson_r": "r", "nse": "nse"}


def _num(x):
    x = float(x)
    return None if not math.isfinite(x) else x


def _block(sk: xr.DataArray) -> dict:
    """Metrics of one (scale, variable) slice as a dict; sk has dims (scale, metric)."""
    scales = list(sk["scale"].values)
    first = scales[0]
    out = {key: _num(sk.sel(scale=first, metric=m)) for m, key in _JSON_METRICS.items() if m in sk["metric"]}
    for sc in scales[1:]:
        out[str(sc)] = {key: _num(sk.sel(scale=sc, metric=m)) for m, key in _JSON_METRICS.items() if m in sk["metric"]}
    return out


def _methods_dict(sk: xr.DataArray) -> dict:
    """{METHOD: {var: block}} from a DataArray with dims (method, scale, variable, metric)."""
    out = {}
    for method in sk["method"].values:
        per = {}
        for v in sk["variable"].values:
            key = VARIABLE_KEYS.get(str(v), str(v).lower())
            block = sk.sel({"method": method, "variable": v})
            if np.all(np.isnan(block.values)):
                continue
            per[key] = _block(block)
        out[str(method)] = per
    return out


def summary_json(skill: xr.Dataset, timing: Mapping[str, float] | None = None,
                 model_runs: Mapping[str, int] | None = None) -> dict:
    """The JSON summary (see module docstring) of a :func:`~jlsm.calibration.skill.collection_skill` result."""
    need = {"site", "method", "window", "scale", "variable", "metric"}
    if not need <= set(skill["skill"].dims):
        raise InputError(f"summary_json: skill needs dims {sorted(need)}, has {skill['skill'].dims}")
    sk = skill["skill"]
    sites = {}
    for i, site in enumerate(sk["site"].values):
        entry = {"pft": str(sk["pft"].values[i]) if "pft" in sk.coords else None}
        for w in sk["window"].values:
            entry[str(w)] = _methods_dict(sk.sel(site=site, window=w))
        sites[str(site)] = entry
    mean = sk.mean("site", skipna=True)
    summary = {str(w): _methods_dict(mean.sel(window=w)) for w in sk["window"].values}
    return {"sites": sites, "summary": summary,
            "timing": {k: _num(v) for k, v in (timing or {}).items()},
            "model_runs": {k: int(v) for k, v in (model_runs or {}).items()}}


def write_json(path, summary: dict) -> Path:
    """Write a summary as JSON (NaN already mapped to null)."""
    path = Path(path)
    path.write_text(json.dumps(summary, indent=2, allow_nan=False))
    return path


def _fmt(x, digits=1):
    return "-" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def _sum_rmse(s, method, scale) -> float:
    r = s.sel({"method": method, "scale": scale, "metric": "rmse"})
    return float(r.sel(variable="Qh") + r.sel(variable="Qle"))


def _row(site, pft, m, s, scale, base) -> str:
    r = s.sel({"method": m, "scale": scale, "metric": "rmse"})
    k = s.sel({"method": m, "scale": scale, "metric": "kge"})
    qh, qle = float(r.sel(variable="Qh")), float(r.sel(variable="Qle"))
    tot = qh + qle
    change = 100.0 * (tot / base - 1.0) if np.isfinite(base) and base > 0 else float("nan")
    return (f"| {site} | {pft} | {m} | {_fmt(qh)} | {_fmt(qle)} | {_fmt(tot)} | {_fmt(change)} % | "
            f"{_fmt(float(k.sel(variable='Qh')), 2)} | {_fmt(float(k.sel(variable='Qle')), 2)} |")


def markdown_report(skill: xr.Dataset, *, window: str = "test", timing: Mapping[str, float] | None = None,
                    model_runs: Mapping[str, int] | None = None, title: str = "Multi-site calibration") -> str:
    """Markdown tables: per site and scale, RMSE(Qh), RMSE(Qle) [W m-2], their sum and KGE per method.

    The change of RMSE(Qh) + RMSE(Qle) against ``default`` is given in percent. The mean rows
    average each method over the sites where it has a value (leave-one-out only has sites with
    donors), and compare it with the defaults over the same sites.
    """
    sk = skill["skill"].sel(window=window)
    methods = [str(m) for m in sk["method"].values]
    lines = [f"# {title}", "", f"Window: {window}. RMSE in W m-2; KGE dimensionless; "
             "change = (RMSE(Qh) + RMSE(Qle)) against the default parameters.", ""]
    for scale in sk["scale"].values:
        lines += [f"## {scale}", "", "| site | pft | method | RMSE Qh | RMSE Qle | sum | change vs default | KGE Qh | KGE Qle |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for site in sk["site"].values:
            s = sk.sel(site=site)
            pft = "" if "pft" not in sk.coords else str(sk["pft"].sel(site=site).values)
            base = _sum_rmse(s, "default", scale) if "default" in methods else float("nan")
            for m in methods:
                lines.append(_row(site, pft, m, s, scale, base))
        n_all = sk.sizes["site"]
        for m in methods:
            # each method's mean over the sites where it has a value; the change against the
            # defaults' mean over those same sites
            r = sk.sel({"method": m, "scale": scale, "metric": "rmse"})
            has = np.isfinite(r.sel(variable="Qh").values) & np.isfinite(r.sel(variable="Qle").values)
            if not has.any():
                continue
            s = sk.isel(site=np.flatnonzero(has)).mean("site", skipna=True)
            base = _sum_rmse(s, "default", scale) if "default" in methods else float("nan")
            label = "mean" if has.sum() == n_all else f"mean ({int(has.sum())} of {n_all} sites)"
            lines.append(_row(label, "", m, s, scale, base))
        lines.append("")
    if timing:
        lines += ["## Timing", "", "| step | wall time [s] | model runs |", "|---|---|---|"]
        for k, v in timing.items():
            lines.append(f"| {k} | {_fmt(v, 2)} | {(model_runs or {}).get(k, '-')} |")
        lines.append("")
    return "\n".join(lines)


# ------------------------------------------------------------------ figures


def _plt():
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as exc:  # optional dependency
        raise InputError("report figures need matplotlib (pip install matplotlib)") from exc
    return plt


def plot_time_series(time, obs, sims: Mapping[str, np.ndarray], *, site: str, variable: str = "Qle"):
    """Time series (top) and monthly means (bottom) of observed and simulated ``variable`` [W m-2]."""
    from .skill import aggregate, paired

    plt = _plt()
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 6))
    t = np.asarray(time, dtype="datetime64[ns]")
    ax1.plot(t, obs, "k.", ms=1.5, label="observed")
    for name, s in sims.items():
        ax1.plot(t, s, lw=0.6, label=name)
        ps, po = paired(s, obs)
        tm, ms = aggregate(ps, t, "monthly")
        ax2.plot(tm, ms, "o-", label=name)
    tm, mo = aggregate(np.where(np.isfinite(obs), obs, np.nan), t, "monthly")
    ax2.plot(tm, mo, "ks-", label="observed")
    ax1.set_ylabel(f"{variable} [W m-2]")
    ax2.set_ylabel(f"monthly mean {variable} [W m-2]")
    ax1.set_title(f"{site}: {variable}")
    for ax in (ax1, ax2):
        ax.legend(fontsize=7, ncol=4)
    fig.tight_layout()
    return fig


def plot_diurnal_cycles(cycles: Mapping[str, xr.DataArray], *, site: str, variable: str = "Qle"):
    """Mean diurnal cycle per season; ``cycles``: label -> DataArray(season, hour) [W m-2]."""
    plt = _plt()
    first = next(iter(cycles.values()))
    seasons = list(first["season"].values)
    fig, axes = plt.subplots(1, len(seasons), figsize=(3 * len(seasons), 3), sharey=True)
    for ax, season in zip(np.atleast_1d(axes), seasons):
        for label, c in cycles.items():
            ax.plot(c["hour"], c.sel(season=season), "k-" if label == "observed" else "-", label=label)
        ax.set_title(f"{site} {season}")
        ax.set_xlabel("hour of day [h]")
    np.atleast_1d(axes)[0].set_ylabel(f"{variable} [W m-2]")
    np.atleast_1d(axes)[-1].legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_skill_by_scale(skill: xr.Dataset, *, window: str = "test", metric: str = "rmse"):
    """Mean over sites of ``metric`` per method and time scale, one panel per variable."""
    plt = _plt()
    sk = skill["skill"].sel(window=window, metric=metric).mean("site", skipna=True)
    variables = list(sk["variable"].values)
    methods = list(sk["method"].values)
    scales = list(sk["scale"].values)
    fig, axes = plt.subplots(1, len(variables), figsize=(4.5 * len(variables), 3.5))
    width = 0.8 / len(methods)
    for ax, v in zip(np.atleast_1d(axes), variables):
        for j, m in enumerate(methods):
            ax.bar(np.arange(len(scales)) + j * width, sk.sel({"variable": v, "method": m}), width, label=str(m))
        ax.set_xticks(np.arange(len(scales)) + 0.4 - width / 2, scales)
        unit = " [W m-2]" if metric in ("rmse", "bias", "mae") else " [-]"
        ax.set_ylabel(f"{metric} of {v}{unit}")
        ax.set_title(f"{v}, {window} window, mean over sites")
    np.atleast_1d(axes)[-1].legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_parameters_by_pft(values: xr.DataArray, lower, upper, *, pft):
    """Calibrated parameters (site, parameter) as their position in the bounds [-], grouped by PFT."""
    plt = _plt()
    pos = (np.asarray(values) - np.asarray(lower)) / (np.asarray(upper) - np.asarray(lower))
    names = [str(n) for n in values["parameter"].values]
    fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(names)), 4))
    groups = sorted(set(pft))
    for g in groups:
        idx = [i for i, p in enumerate(pft) if p == g]
        for k, i in enumerate(idx):
            ax.plot(np.arange(len(names)), pos[i], "o", color=f"C{groups.index(g)}",
                    label=g if k == 0 else None)
    ax.set_xticks(np.arange(len(names)), names, rotation=60, ha="right")
    ax.set_ylabel("(x - lower) / (upper - lower) [-]")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(title="PFT group", fontsize=7)
    fig.tight_layout()
    return fig


def plot_oat(table: xr.Dataset, *, title: str = "one-factor-at-a-time"):
    """Relative RMSE change [%] per parameter (rows of ``oat_table``), one bar per level."""
    plt = _plt()
    rel = table["relative_change"]
    extra = [d for d in rel.dims if d not in ("parameter", "level")]
    if extra:
        rel = rel.mean(extra, skipna=True)
    names = [str(n) for n in rel["parameter"].values]
    nl = rel.sizes["level"]
    fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(names)), 4))
    width = 0.8 / nl
    for j in range(nl):
        frac = float(table["fraction"].values[j]) if "fraction" in table.coords else j
        ax.bar(np.arange(len(names)) + j * width, 100 * rel.isel(level=j), width, label=f"level {frac:+.2f}")
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xticks(np.arange(len(names)) + 0.4 - width / 2, names, rotation=60, ha="right")
    ax.set_ylabel("relative RMSE change [%]")
    ax.set_title(title)
    ax.legend(fontsize=7, title="fraction to bound")
    fig.tight_layout()
    return fig
