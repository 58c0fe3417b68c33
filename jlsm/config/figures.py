"""Figures of a run: observed against modelled series, and the estimates (optional matplotlib)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .run import Run


def figures(run: Run, stem) -> list[str]:
    """Observed vs modelled series (fit | test, with the reference) and the estimates/loss figure."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return []
    from ..plot import estimates_figure, timeseries_figure

    s = run.series()
    t = s["time"]
    split = t[run.fit[1] - 1] if run.validate else None
    start = t[run.fit[0]]
    keep = t >= start

    def cut(d):
        return None if d is None else {k: v[keep] for k, v in d.items()}

    fig = timeseries_figure(
        t[keep],
        cut(s["observed"]),
        cut(s["best"]),
        split=split,
        reference=cut(s["reference"]),
        reference_label=run.cfg.get("reference", {}).get("name", "reference"),
        title=f"{run.cfg.get('output', {}).get('name', Path(run.cfg['_path']).stem)}: observed and modelled; "
              + ("fit window | test window (red line: end of the fit)" if run.validate else "fit window"),
    )
    paths = [f"{stem}_timeseries.png", f"{stem}_estimates.png"]
    fig.axes[-1].set_xlabel("time (UTC)")
    fig.savefig(paths[0], dpi=110)
    bounds = {n: (lo, hi) for n, lo, hi in zip(run.space.names, run.space.lower, run.space.upper)}
    ref = run.cfg.get("reference")
    truth = {k: float(v) for k, v in ref["values"].items()} if ref else None
    estimates_figure(run.result, truth, bounds, truth_label=ref.get("name", "reference") if ref else "").savefig(
        paths[1], dpi=110)
    import matplotlib.pyplot as plt

    plt.close("all")
    return paths
