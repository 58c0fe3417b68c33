"""Figures (needs the optional ``matplotlib``): multi-start estimates, observed and modelled series.

Every panel says what it shows: axes with units (a power of ten goes into the
unit, never into an offset text above the axes), legends for the markers and
lines (verdict of each start, best start, true or reference values, bounds).
"""

from __future__ import annotations

import numpy as np

VERDICT_STYLE = (
    ("best basin", "tab:blue"),
    ("other basin", "tab:orange"),
    ("at a bound", "tab:purple"),
    ("diverged", "tab:red"),
)
"""Legend label and colour of each verdict (0-3, see :mod:`jlsm.inversion.results`)."""


def _plt():
    import sys

    import matplotlib

    if "ipykernel" not in sys.modules:  # keep a notebook's inline backend; files only elsewhere
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _scale(values) -> tuple[float, str]:
    """(factor, text): values / factor are of order 1-1000; text like ``1e6 `` to put before the unit."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    big = float(np.max(np.abs(v))) if v.size else 0.0
    if big == 0.0 or 1e-2 <= big < 1e4:
        return 1.0, ""
    k = int(np.floor(np.log10(big) / 3) * 3)
    return 10.0**k, f"1e{k} "


def _unit(units: str, prefix: str) -> str:
    units = units if units not in ("", "1") else "1"
    return f"[{prefix}{units}]" if prefix or units != "1" else "[1]"


def _plain(ax, axis="both"):
    """No offset or exponent text on the axes (it overlaps titles): plain tick labels."""
    try:
        ax.ticklabel_format(axis=axis, useOffset=False, style="plain")
    except AttributeError:  # a log or categorical axis
        pass


def estimates_figure(result, truth=None, bounds=None, *, truth_label="true value"):
    """Estimate against starting value per parameter, coloured by verdict, and the misfit of every start.

    Args:
        result: a dataset of :func:`jlsm.inverse.invert` (``initial``, ``final``, ``verdict``,
            ``best_start``, ``loss``, ``units``).
        truth: optional parameter -> value drawn as a dashed line (``truth_label``).
        bounds: optional parameter -> (lo, hi) drawn as dotted lines (the search bounds).

    Within a panel whose estimates agree to better than 1e-3 of their size, the y
    range is widened to +-1e-3 (relative) and the agreement is written in the panel.
    """
    plt = _plt()
    params = [str(p) for p in result["parameter"].values]
    n = len(params) + 1
    cols = min(4, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.0 * rows + 0.6), squeeze=False)
    verdict = np.asarray(result["verdict"].values if "verdict" in result else np.zeros(result.sizes["start"]), int)
    best = int(result["best_start"])
    colour = np.array([VERDICT_STYLE[v][1] for v in verdict])
    handles = {}
    for ax, p in zip(axes.flat, params):
        init = result["initial"].sel(parameter=p).values
        final = result["final"].sel(parameter=p).values
        units = str(result["units"].sel(parameter=p).values)
        ref_values = [final, init] + ([truth[p]] if truth and truth.get(p) is not None else [])
        factor, prefix = _scale(np.concatenate([np.ravel(r) for r in ref_values]))
        for v in np.unique(verdict):
            sel = verdict == v
            h = ax.scatter(init[sel] / factor, final[sel] / factor, s=14, c=colour[sel], zorder=3)
            handles.setdefault(VERDICT_STYLE[v][0], h)
        handles["best start"] = ax.scatter(init[best] / factor, final[best] / factor, s=90, marker="*",
                                           facecolor="none", edgecolor="k", linewidths=1.0, zorder=4)
        if truth and truth.get(p) is not None:
            handles[truth_label] = ax.axhline(truth[p] / factor, color="k", lw=0.9, ls="--", zorder=2)
        if bounds and p in bounds:
            for b in bounds[p]:
                handles["search bounds"] = ax.axhline(b / factor, color="0.5", lw=0.9, ls=":", zorder=1)
        finite = final[np.isfinite(final)]
        centre = np.median(finite) if finite.size else np.nan
        if finite.size and centre and np.ptp(finite) < 1e-3 * abs(centre) and not (bounds and p in bounds):
            half = 1e-3 * abs(centre) / factor
            ax.set_ylim(centre / factor - half, centre / factor + half)
        title = p
        if finite.size and centre and np.ptp(finite) < 1e-3 * abs(centre):
            title += f"\n(all starts within {np.ptp(finite) / abs(centre):.1e} relative)"
        _plain(ax)
        ax.set_xlabel(f"initial {_unit(units, prefix)}", fontsize=8)
        ax.set_ylabel(f"estimate {_unit(units, prefix)}", fontsize=8)
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=7)
    ax = axes.flat[len(params)]
    loss = np.asarray(result["loss"].values, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        for s, row in enumerate(loss):
            ax.semilogy(row, lw=0.7, alpha=0.7, color=colour[s])
        ax.semilogy(loss[best], lw=1.6, color="k")
    ax.set_xlabel("iteration", fontsize=8)
    ax.set_ylabel("misfit J [1]", fontsize=8)
    ax.set_title("misfit of each start (best: black)", fontsize=9)
    ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    counts = ", ".join(f"{VERDICT_STYLE[v][0]} {int(np.sum(verdict == v))}" for v in np.unique(verdict))
    fig.suptitle(f"{result.sizes['start']} starts: {counts}", fontsize=10)
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.06, 1, 0.96))
    return fig


def timeseries_figure(time, observed: dict, simulated: dict, *, split=None, title=None, reference=None,
                      reference_label="reference", units=None, model_label="best estimate"):
    """Observed versus modelled series, one panel per variable; ``split`` marks the fit/test boundary.

    ``reference``: optional second set of modelled series (e.g. default parameters), drawn dashed;
    ``units``: variable -> units for the y labels (default: the observable's units, see :mod:`jlsm.observe`).
    """
    plt = _plt()
    names = list(observed)
    fig, axes = plt.subplots(len(names), 1, figsize=(9, 2.3 * len(names) + 0.9), sharex=True, squeeze=False)
    for ax, name in zip(axes[:, 0], names):
        ax.plot(time, observed[name], "k.", ms=3, label="observed")
        ax.plot(time, simulated[name], "tab:blue", lw=1.2, label=model_label)
        if reference is not None and name in reference:
            ax.plot(time, reference[name], color="tab:orange", ls="--", lw=1.0, label=reference_label)
        if split is not None:
            ax.axvline(split, color="tab:red", ls="--", lw=0.8, label="end of fit window")
        _plain(ax, "y")
        ax.set_ylabel(f"{name}\n[{(units or {}).get(name) or _observable_units(name)}]", fontsize=8)
        ax.tick_params(labelsize=7)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.05, 1, 0.97 if title else 1))
    return fig


def _observable_units(name: str) -> str:
    from .observe import Observable

    try:
        return Observable.parse(name).units
    except Exception:  # noqa: BLE001 - not a model observable: no unit known
        return "?"
