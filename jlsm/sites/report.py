"""The data report of a site collection: what was measured, filled, estimated; energy balance.

:func:`data_report` returns a Markdown text and the same numbers as a dict, and
draws per-site figures (monthly coverage, mean diurnal courses) when a folder is
given and matplotlib is installed. A command-line wrapper only has to print the
text and say where the figures went.

Energy-balance closure: ordinary least squares of H + LE on Rn - G over the
steps where all four are measured, at the file's own step (before any
averaging to the collection's step); the slope is typically 0.7-0.9 at flux
sites (Wilson et al. 2002, Agric. For. Meteorol. 113, 223: mean 0.79 over 22
FLUXNET sites).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jlsm.io.complete import RUN_FORCING

from .load import BATCH_OBSERVATIONS


def energy_balance_closure(obs, forcing=None) -> dict:
    """OLS of H + LE [W m-2] on Rn - G [W m-2] over steps where Qh, Qle, Rnet and Qg are all
    measured: ``{"slope", "intercept" [W m-2], "r2", "n"}`` (NaN when fewer than 10 steps).

    Without Rnet, Rn = SWdown - SWup + LWdown - LWup where all four are measured
    (``forcing`` on the same time axis, flags 0), said in ``note``.
    """
    from jlsm.io.closure import net_radiation

    rn, note = net_radiation(obs, forcing)
    need = [v for v in ("Qh", "Qle", "Qg") if v not in obs] + (["Rnet"] if rn is None else [])
    if need:
        return {"slope": np.nan, "intercept": np.nan, "r2": np.nan, "n": 0,
                "note": f"not computed: {', '.join(need)} not observed"}
    y = obs["Qh"].values + obs["Qle"].values
    x = rn - obs["Qg"].values
    ok = np.isfinite(x) & np.isfinite(y)
    n = int(ok.sum())
    if n < 10 or np.ptp(x[ok]) == 0.0:
        return {"slope": np.nan, "intercept": np.nan, "r2": np.nan, "n": n,
                "note": "not computed: fewer than 10 measured steps, or Rn - G constant"}
    slope, intercept = np.polyfit(x[ok], y[ok], 1)
    r = np.corrcoef(x[ok], y[ok])[0, 1]
    out = {"slope": float(slope), "intercept": float(intercept), "r2": float(r * r), "n": n}
    if note:
        out["note"] = note
    return out


def _runs(nan):
    m = np.asarray(nan, dtype=np.int8)
    d = np.diff(np.concatenate(([0], m, [0])))
    return np.flatnonzero(d == -1) - np.flatnonzero(d == 1)


def _site_table(batch, i) -> dict:
    n = int(batch.mask[i].sum())
    dt_h = batch.dt / 3600.0
    out = {"forcing": {}, "observations": {}}
    for v in RUN_FORCING:
        qc = batch.forcing_qc[v][i, :n]
        out["forcing"][v] = {
            "coverage": float(np.mean(np.isfinite(batch.forcing[v][i, :n]))),
            "measured": float(np.mean(qc == 0)),
            "provider_filled": float(np.mean(qc == 1)),
            "filled": float(np.mean((qc == 2) | (qc == 3))),
            "estimated": float(np.mean(qc == 4)),
        }
    for v in BATCH_OBSERVATIONS:
        a = batch.obs[v][i, :n]
        runs = _runs(np.isnan(a))
        out["observations"][v] = {
            "measured": float(np.mean(np.isfinite(a))),
            "fit_measured": float(np.mean(np.isfinite(a[batch.fit_mask[i, :n]]))) if batch.fit_mask[i].any() else 0.0,
            "test_measured": float(np.mean(np.isfinite(a[batch.test_mask[i, :n]]))) if batch.test_mask[i].any() else 0.0,
            "n_gaps": int(len(runs)) if np.isfinite(a).any() else 0,
            "longest_gap_hours": float(runs.max() * dt_h) if len(runs) and np.isfinite(a).any() else
            (float(n * dt_h) if not np.isfinite(a).any() else 0.0),
        }
    return out


def _figures(batch, i, folder: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    n = int(batch.mask[i].sum())
    t = pd.DatetimeIndex(batch.time[i, :n])
    name = batch.names[i].replace("#", "_run")
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    obs_vars = [v for v in ("Qh", "Qle", "Rnet", "Qg", "Ustar", "SWup") if np.isfinite(batch.obs[v][i, :n]).any()]
    local = t + pd.to_timedelta(batch.constants["utc_offset_hours"][i], unit="h")
    months = local.to_period("M")
    cov = pd.DataFrame({v: np.isfinite(batch.obs[v][i, :n]) for v in obs_vars}, index=t).groupby(months).mean()
    im = axes[0].imshow(cov.T.values, aspect="auto", vmin=0, vmax=1, cmap="viridis")
    axes[0].set_yticks(range(len(obs_vars)), obs_vars)
    axes[0].set_xticks(range(len(cov)), [str(m) for m in cov.index], rotation=90, fontsize=6)
    axes[0].set_title(f"{batch.names[i]}: measured fraction per month (local time)")
    fig.colorbar(im, ax=axes[0], label="measured fraction [-]")
    hour = local.hour + local.minute / 60.0
    for v in ("Rnet", "Qh", "Qle", "Qg"):
        a = batch.obs[v][i, :n]
        if np.isfinite(a).any():
            axes[1].plot(pd.Series(a).groupby(hour).mean(), label=v)
    axes[1].plot(pd.Series(batch.forcing["SWdown"][i, :n]).groupby(hour).mean(), "k--", label="SWdown (forcing)")
    axes[1].set_xlabel("local standard time at the start of the step [h]")
    axes[1].set_ylabel("mean flux [W m-2]")
    axes[1].set_title("mean diurnal course (measured steps)")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    path = folder / f"data_{name}.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return [str(path)]


def _pct(x):
    return f"{100.0 * x:5.1f}"


def data_report(collection, *, batch=None, figures_dir=None) -> tuple[str, dict]:
    """Report of a site collection (path, :class:`Collection`, or give ``batch`` to skip reading).

    Returns ``(markdown, info)``; ``info[site]`` holds per variable the fractions
    measured / filled / estimated (forcing) or measured and gaps (observations),
    the estimates made, the energy-balance closure, notes on metadata, and the
    figure paths (``figures_dir`` given and matplotlib installed).
    """
    from . import load_collection

    if batch is None:
        batch = load_collection(collection)
    folder = Path(figures_dir) if figures_dir is not None else None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    info: dict = {}
    lines = [f"# Data report: {collection if not hasattr(collection, 'path') else collection.path}", "",
             f"{len(batch.names)} sites, common step {batch.dt / 60:g} min, batch shape {batch.shape}.",
             "Forcing flags: measured / filled by the provider / filled by jlsm / estimated (% of steps).",
             ""]
    for i, name in enumerate(batch.names):
        rep = batch.reports[i]
        tab = _site_table(batch, i)
        figs: list[str] = []
        fig_note = None
        if folder is not None:
            try:
                figs = _figures(batch, i, folder)
            except ImportError:
                fig_note = "figures not drawn: matplotlib is not installed"
        closure = rep.get("closure", {})
        info[name] = {**tab, "estimated": rep.get("estimated", {}), "closure": closure,
                      "notes": rep.get("notes", []), "provenance": batch.provenance[i],
                      "runs": rep.get("runs"), "figures": figs, "unfilled": rep.get("unfilled", {}),
                      "gaps": rep.get("gaps", {})}
        n = int(batch.mask[i].sum())
        t = batch.time[i, :n]
        lines += [f"## {name} ({batch.igbp[i]}, {batch.pft_group[i]})", "",
                  f"{str(t[0])[:16]} to {str(t[-1])[:16]} UTC, {n} steps; test window from "
                  f"{rep.get('test_start', '?')[:16]} UTC; source {rep.get('source')}", "",
                  "| forcing | measured % | provider-filled % | jlsm-filled % | estimated % |",
                  "|---|---:|---:|---:|---:|"]
        for v, d in tab["forcing"].items():
            lines.append(f"| {v} | {_pct(d['measured'])} | {_pct(d['provider_filled'])} | "
                         f"{_pct(d['filled'])} | {_pct(d['estimated'])} |")
        lines += ["", "| observation | measured % | fit % | test % | gaps | longest gap [h] |",
                  "|---|---:|---:|---:|---:|---:|"]
        for v, d in tab["observations"].items():
            if d["measured"] == 0.0:
                lines.append(f"| {v} | not observed | | | | |")
                continue
            lines.append(f"| {v} | {_pct(d['measured'])} | {_pct(d['fit_measured'])} | "
                         f"{_pct(d['test_measured'])} | {d['n_gaps']} | {d['longest_gap_hours']:.1f} |")
        lines.append("")
        for v, e in rep.get("estimated", {}).items():
            lines.append(f"- estimated {v}: {e['count']} values at the file's step, {e['method']}")
        if closure.get("n"):
            lines.append(f"- energy-balance closure (H + LE = a (Rn - G) + b, {closure['n']} measured steps): "
                         f"a = {closure['slope']:.3f}, b = {closure['intercept']:.1f} W m-2, r2 = {closure['r2']:.3f}"
                         + (f"; {closure['note']}" if closure.get("note") else ""))
        else:
            lines.append(f"- energy-balance closure: {closure.get('note', 'too few measured steps')}")
        for note in rep.get("notes", []):
            lines.append(f"- {note}")
        for k, src in batch.provenance[i].items():
            if src and src.startswith("default"):
                lines.append(f"- {k}: {src}")
        if rep.get("runs"):
            lines.append(f"- split into {len(rep['runs'])} runs around unfillable forcing gaps: "
                         + "; ".join(f"{a[:16]} to {b[:16]}" for a, b in rep["runs"]))
        if fig_note:
            lines.append(f"- {fig_note}")
        for f in figs:
            lines.append(f"- figure: {f}")
        lines.append("")
    return "\n".join(lines), info
