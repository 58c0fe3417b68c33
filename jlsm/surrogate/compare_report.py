"""Reports of :func:`jlsm.surrogate.compare.compare`: JSON summary and markdown tables.

The skill tables are those of :func:`jlsm.calibration.report.markdown_report`
(RMSE [W m-2] and KGE of Qh and Qle per site and method, at the native step,
daily and monthly means); this module adds the cost of each path, the
fit-window objective, and the surrogates' fidelity against the model.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

__all__ = ["DATA_SOURCES", "METHOD_NAMES", "markdown", "summary", "write_outputs"]

METHOD_NAMES = {
    "default": "PFT default parameters",
    "sobol256": "best of 256 Sobol' sets (fit window)",
    "a_oat": "(a) calibration through the surrogate trained on OAT runs (MdPL)",
    "a_sobol_1x": "(a) calibration through the surrogate trained on a joint Sobol' design, OAT budget",
    "a_sobol_4x": "(a) calibration through the surrogate trained on a joint Sobol' design, 4x budget",
    "b_oat": "(b) generator through the frozen OAT surrogate, leave one site out (MdPL)",
    "b_sobol_1x": "(b) generator through the frozen Sobol' 1x surrogate, leave one site out",
    "b_sobol_4x": "(b) generator through the frozen Sobol' 4x surrogate, leave one site out",
    "c": "(c) generator through the physical model end to end, leave one site out",
    "d": "(d) direct per-site calibration of the physical model",
}
"""What each method name of the comparison means."""

DATA_SOURCES = {
    "CN-Cng": "PLUMBER2 (Ukkola et al. 2022, doi:10.25914/5fdb0902607e1); FLUXNET2015",
    "DE-Hai": "ICOS FLUXNET-format release for DE-Hai (CC BY 4.0), DE-Hai PIs",
    "US-CRT": "AmeriFlux BASE US-CRT, doi:10.17190/AMF/1246156, site PIs",
    "DE-Tha": "FLUXNET2015 (Pastorello et al. 2020, doi:10.1038/s41597-020-0534-3), DE-Tha PIs",
    "FR-Pue": "FLUXNET2015 (Pastorello et al. 2020, doi:10.1038/s41597-020-0534-3), FR-Pue PIs",
    "ES-LMa": "El-Madany et al. (2018), Zenodo record 1314194",
}
"""Citation of each shared site's data (see the data folder's README)."""


def _num(x):
    try:
        x = float(x)
    except (TypeError, ValueError):
        return x
    return None if not math.isfinite(x) else x


def _clean(obj):
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _clean(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return _num(obj)
    return obj


def summary(result) -> dict:
    """JSON-ready summary: skill per site and method (the multi-site calibration's layout),
    costs, fit-window objective, fidelity, timing, settings and data sources."""
    from jlsm.calibration.report import summary_json

    out = summary_json(result.skill, result.timing, {m: c["model_runs"] for m, c in result.costs.items()})
    out["methods"] = {m: METHOD_NAMES.get(m, m) for m in result.costs}
    out["costs"] = result.costs
    out["objective_fit"] = {m: dict(zip(result.sites, v)) for m, v in result.objective.items()}
    out["fidelity"] = result.fidelity
    out["settings"] = result.settings
    out["direct"] = getattr(result, "direct", {})
    out["data_sources"] = {s: DATA_SOURCES.get(s, "see the collection") for s in result.sites}
    out["notes"] = ("scale 'halfhourly' is the collection's native step; RMSE and bias in W m-2; "
                    "model_runs counts forward runs and gradient evaluations of the physical model")
    return _clean(out)


def _f(x, digits=1):
    return "-" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def markdown(result, *, title: str = "Surrogate path against direct path") -> str:
    """Markdown report: methods, skill tables (test window), fit objective, costs, fidelity."""
    from jlsm.calibration.report import markdown_report

    lines = [f"# {title}", "", "Methods:", ""]
    lines += [f"- `{m}`: {METHOD_NAMES.get(m, m)}" for m in result.costs]
    lines += ["", "Data: " + "; ".join(f"{s}: {DATA_SOURCES.get(s, 'see the collection')}" for s in result.sites), ""]
    body = markdown_report(result.skill, window="test", title="Test window")
    lines += [body.replace("# Test window", "## Test window").replace("\n## ", "\n### ").replace("\n### Test window", "\n## Test window"), ""]
    lines += ["## Fit-window objective RMSE(Qh) + RMSE(Qle) [W m-2]", "",
              "| method | " + " | ".join(result.sites) + " | mean |", "|---|" + "---|" * (len(result.sites) + 1)]
    for m, v in result.objective.items():
        lines.append(f"| {m} | " + " | ".join(_f(x) for x in v) + f" | {_f(float(np.nanmean(v)))} |")
    lines += ["", "## Cost of each path (this CPU)", "",
              "| method | physical-model runs | surrogate training [s] | calibration [s] | total [s] |",
              "|---|---|---|---|---|"]
    for m, c in result.costs.items():
        lines.append(f"| {m} | {c['model_runs']} | {_f(c['surrogate_training_s'])} | {_f(c['calibration_s'])} | {_f(c['total_s'])} |")
    lines += ["", "Model runs: forward runs, and gradient evaluations (one forward + one reverse pass each). "
              "Totals include compilation. The training runs of all designs were made in one batched "
              "computation; each design is charged its share.", ""]
    if result.fidelity:
        lines += ["## Surrogate fidelity against the model", "",
                  "Joint Sobol' parameter sets not used in training, every site; R, RMSE and bias "
                  "(surrogate - model) [W m-2]; gradient of the fit objective with respect to the range-scaled "
                  "parameters: cosine similarity and relative error (median over sets and sites).", "",
                  "| design | runs | weights | train [s] | scale | R Qh | RMSE Qh | bias Qh | R Qle | RMSE Qle | bias Qle | grad cosine | grad rel. error |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for d, f in result.fidelity.items():
            tr = f["training"]
            for scale in ("half_hourly", "daily"):
                p = _pooled(f, scale)
                if p is None:
                    continue
                g = f["gradient"]
                lines.append(f"| {d} | {tr['runs']} | {tr['weights']} | {_f(tr['seconds'])} | {scale} | "
                             f"{_f(p['Qh']['r'], 3)} | {_f(p['Qh']['rmse'])} | {_f(p['Qh']['bias'])} | "
                             f"{_f(p['Qle']['r'], 3)} | {_f(p['Qle']['rmse'])} | {_f(p['Qle']['bias'])} | "
                             f"{_f(g['cosine_median'], 2)} | {_f(g['relative_error_median'], 2)} |")
        lines += ["", "Per site (native step):", "", "| design | site | R Qh | RMSE Qh | R Qle | RMSE Qle | grad cosine (median) |",
                  "|---|---|---|---|---|---|---|"]
        for d, f in result.fidelity.items():
            for i, (site, fs) in enumerate(f["sites"].items()):
                h = fs["half_hourly"]
                c = np.asarray(f["gradient"]["cosine"], float)
                c = c[i][np.isfinite(c[i])] if c.ndim == 2 else np.array([])
                cos = float(np.median(c)) if c.size else float("nan")
                lines.append(f"| {d} | {site} | {_f(h['Qh']['r'], 3)} | {_f(h['Qh']['rmse'])} | "
                             f"{_f(h['Qle']['r'], 3)} | {_f(h['Qle']['rmse'])} | {_f(cos, 2)} |")
        lines.append("")
    lines += ["## Timing [s]", "", "| step | seconds |", "|---|---|"]
    lines += [f"| {k} | {_f(v)} |" for k, v in result.timing.items()]
    return "\n".join(lines) + "\n"


def _pooled(f, scale):
    """Pooled scores over sites: the mean of per-site scores (sites weigh equally)."""
    per = [s[scale] for s in f["sites"].values() if scale in s]
    if not per:
        return None
    return {v: {k: float(np.nanmean([p[v][k] for p in per])) for k in ("r", "rmse", "bias")} for v in ("Qh", "Qle")}


def write_outputs(result, outdir) -> tuple[Path, Path]:
    """Write ``summary.json`` and ``report.md`` (and ``skill.nc``) into ``outdir``."""
    folder = Path(outdir)
    folder.mkdir(parents=True, exist_ok=True)
    js = folder / "summary.json"
    js.write_text(json.dumps(summary(result), indent=1, allow_nan=False))
    md = folder / "report.md"
    md.write_text(markdown(result))
    try:
        result.skill.to_netcdf(folder / "skill.nc")
    except (ImportError, ValueError):
        pass
    return js, md
