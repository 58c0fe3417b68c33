"""The results of a run in words: the JSON summary (:func:`summarise`) and the text table (:func:`report`)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np

from .data import _times

if TYPE_CHECKING:
    from .run import Run


def _good_starts(result) -> np.ndarray:
    status = result["status"].values
    good = status == 1
    if not good.any():
        good = status != 2
    return good


def summarise(run: Run) -> dict:
    """A JSON-ready summary: estimates (best, median, p05, p95 over converged starts, bound hits),
    skill of the best start and its spread over converged starts, the reference's skill."""
    from ..inverse import status_counts

    r = run.result
    best = int(r["best_start"])
    good = _good_starts(r)
    lower, upper = run.space.lower, run.space.upper
    estimates = {}
    for i, p in enumerate(r["parameter"].values):
        entry = {
            "best": float(r["final"].sel(start=best, parameter=p)),
            "median": float(r["median"].sel(parameter=p)),
            "p05": float(r["p05"].sel(parameter=p)),
            "p95": float(r["p95"].sel(parameter=p)),
            "units": str(r["units"].sel(parameter=p).values),
        }
        if i < run.space.size:
            span = upper[i] - lower[i]
            entry["at_bound"] = bool(min(entry["best"] - lower[i], upper[i] - entry["best"]) < 1e-3 * span)
        estimates[str(p)] = entry

    def table(da):
        return {
            str(w): {str(v): {str(k): float(da.sel(window=w, evaluated=v, metric=k)) for k in da["metric"].values}
                     for v in da["evaluated"].values}
            for w in da["window"].values
        }

    ev = r["evaluation"]
    spread = {}
    for w in ev["window"].values:
        spread[str(w)] = {}
        for v in ev["evaluated"].values:
            vals = ev.sel(window=w, evaluated=v, metric="rmse").values[good]
            spread[str(w)][str(v)] = {"rmse_p05": float(np.nanpercentile(vals, 5)), "rmse_p95": float(np.nanpercentile(vals, 95))}
    out = {
        "config": run.cfg["_path"],
        "window_start_local": str(run.cfg["window"]["start"]),
        "fit_window_utc": _times(run.obs_ds, run.fit),
        "test_window_utc": _times(run.obs_ds, run.validate) if run.validate else None,
        "fixed": {k: float(v) for k, v in run.space.fixed.items()},
        "estimates": estimates,
        "skill": table(ev.sel(start=best)),
        "skill_spread": spread,
        "status": status_counts(r),
        "final_loss": float(r["final_loss"].sel(start=best)),
        "wall_seconds": float(r.attrs.get("wall_seconds", np.nan)),
    }
    if "offset_profile_estimate" in r.attrs:
        out["offset_profile"] = {
            "parameter": str(run.space.names[0]),
            "estimate": float(r.attrs["offset_profile_estimate"]),
            "offsets": json.loads(r.attrs["offset_profile_offsets"]),
        }
    if "reference_evaluation" in r:
        out["reference"] = {
            "name": r.attrs.get("reference_name"),
            "values": json.loads(r.attrs["reference_values"]),
            "skill": table(r["reference_evaluation"]),
        }
    return out


def report(run: Run) -> str:
    """A text table of the estimates and of the skill of the best start (and of the reference)."""
    result, space = run.result, run.space
    best = int(result["best_start"])
    lines = [f"fixed: {json.dumps({k: float(v) for k, v in space.fixed.items()})}"]
    lines.append(f"{'parameter':<20}{'best':>14}{'median':>14}{'p05':>14}{'p95':>14}{'units':>12}")
    summary = summarise(run)
    for p, e in summary["estimates"].items():
        flag = "  (at a bound)" if e.get("at_bound") else ""
        lines.append(f"{p:<20}{e['best']:>14.6g}{e['median']:>14.6g}{e['p05']:>14.6g}{e['p95']:>14.6g}{e['units']:>12}{flag}")
    if "offset_profile" in summary:
        op = summary["offset_profile"]
        lines.append(
            f"{op['parameter']} with one offset per fitted variable (profile): {op['estimate']:.6g}; offsets (obs - model): "
            + ", ".join(f"{k} {v:+.3g}" for k, v in op["offsets"].items())
        )
    lines.append("")
    ref = summary.get("reference")
    head = f"skill of the best start ({best})" + (f" | reference: {ref['name']}" if ref else "")
    lines.append(head + ":")
    cols = ("rmse", "bias", "kge")
    lines.append(
        f"{'window':<12}{'variable':<26}" + "".join(f"{k:>10}" for k in cols)
        + ("".join(f"{'ref ' + k:>10}" for k in cols) if ref else "")
    )
    fitted = set(json.loads(result.attrs["evaluated_fitted"]))
    for w, per_var in summary["skill"].items():
        for v, m in per_var.items():
            tag = v if v in fitted else f"{v} (eval)"
            row = f"{w:<12}{tag:<26}" + "".join(f"{m[k]:>10.4g}" for k in cols)
            if ref:
                row += "".join(f"{ref['skill'][w][v][k]:>10.4g}" for k in cols)
            lines.append(row)
    return "\n".join(lines)
