"""The results of a run in words: the JSON summary (:func:`summarise`) and the text table (:func:`report`)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np

from .data import _times

if TYPE_CHECKING:
    from .run import Run


IDENTIFIED_SPREAD = 0.01
"""Relative spread (p95 - p05) / |median| over the best-basin starts below which a parameter is identified."""

WINDOW_LABELS = {"validation": "test"}
"""Printed names of the result's windows: the config's ``test`` window is the inversion's ``validation``."""


def _good_starts(result) -> np.ndarray:
    """Starts in the best basin (verdict 0); all non-diverged starts if none."""
    verdict = result["verdict"].values
    good = verdict == 0
    if not good.any():
        good = result["status"].values != 2
    return good


def _verdict_word(spread: float, n_best: int) -> str:
    """identified / NOT identified from the spread over the best-basin starts (undetermined with fewer than 3)."""
    if n_best < 3:
        return f"undetermined ({n_best} best-basin start(s): too few to tell identified from not)"
    return "identified" if np.isfinite(spread) and spread < IDENTIFIED_SPREAD else "NOT identified"


def _table(header, rows, align) -> list[str]:
    """Columns padded to their widest cell, two spaces apart; ``align`` is '<' or '>' per column."""
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    fmt = lambda cells: "  ".join(f"{str(c):{a}{w}}" for c, a, w in zip(cells, align, widths)).rstrip()  # noqa: E731
    return [fmt(header)] + [fmt(r) for r in rows]


def summarise(run: Run) -> dict:
    """A JSON-ready summary: estimates (best, median, p05, p95 over converged starts, bound hits),
    skill of the best start and its spread over converged starts, the reference's skill."""
    from ..inverse import status_counts, verdict_counts

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
            "relative_spread": float(r["relative_spread"].sel(parameter=p)),
        }
        entry["verdict"] = _verdict_word(entry["relative_spread"], int(good.sum()))
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
        "verdicts": verdict_counts(r),
        "summary_basis": "best-basin",
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


def _units(name: str) -> str:
    from ..observe import Observable

    try:
        return Observable.parse(name).units
    except Exception:  # noqa: BLE001 - a name the model does not know: no unit shown
        return ""


def report(run: Run) -> str:
    """Text tables: the estimates with units and the verdict per parameter, the starts per verdict,
    and the skill of the best start (and of the reference) per window and variable with units."""
    result, space = run.result, run.space
    best = int(result["best_start"])
    summary = summarise(run)
    n = int(result.sizes["start"])
    counts = summary["verdicts"]
    lines = [f"fixed: {json.dumps({k: float(v) for k, v in space.fixed.items()})}"]
    lines.append(
        f"median and 5-95 % over the {counts['best_basin']} of {n} starts in the best basin; "
        f"identified: relative spread (p95 - p05) / |median| < {IDENTIFIED_SPREAD:g}"
    )
    rows = []
    for p, e in summary["estimates"].items():
        flag = " (best at a bound: the bound, not the data, limits it)" if e.get("at_bound") else ""
        rows.append((p, e["units"] or "1", f"{e['best']:.6g}", f"{e['median']:.6g}", f"{e['p05']:.6g}",
                     f"{e['p95']:.6g}", f"{e['relative_spread']:.2e}", e["verdict"] + flag))
    lines += _table(("parameter", "units", "best", "median", "p05", "p95", "rel. spread", "verdict"), rows,
                    "<<>>>>><")
    lines.append("starts: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items())
                 + f" (optimiser: {', '.join(f'{k} {v}' for k, v in summary['status'].items())})")
    if "offset_profile" in summary:
        op = summary["offset_profile"]
        lines.append(
            f"{op['parameter']} with one offset per fitted variable (profile): {op['estimate']:.6g}; offsets (obs - model): "
            + ", ".join(f"{k} {v:+.3g}" for k, v in op["offsets"].items())
        )
    lines.append("")
    ref = summary.get("reference")
    head = f"skill of the best start ({best})" + (f" | reference: {ref['name']}" if ref else "")
    lines.append(head + "; rmse and bias in the variable's units, kge dimensionless:")
    cols = ("rmse", "bias", "kge")
    header = ("window", "variable", "units", *cols) + (tuple(f"ref {k}" for k in cols) if ref else ())
    fitted = set(json.loads(result.attrs["evaluated_fitted"]))
    rows = []
    for w, per_var in summary["skill"].items():
        for v, m in per_var.items():
            tag = v if v in fitted else f"{v} (eval)"
            row = [WINDOW_LABELS.get(w, w), tag, _units(v)] + [f"{m[k]:.4g}" for k in cols]
            if ref:
                row += [f"{ref['skill'][w][v][k]:.4g}" for k in cols]
            rows.append(row)
    lines += _table(header, rows, "<<<" + ">" * (len(header) - 3))
    return "\n".join(lines)
