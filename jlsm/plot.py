"""Figures (needs the optional ``matplotlib``)."""

from __future__ import annotations

import numpy as np


def _plt():
    import sys

    import matplotlib

    if "ipykernel" not in sys.modules:  # keep a notebook's inline backend; files only elsewhere
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def estimates_figure(result, truth=None):
    """Scatter of multi-start estimates (initial -> final) per parameter, and loss curves."""
    plt = _plt()
    params = list(result["parameter"].values)
    n = len(params) + 1
    cols = min(4, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.8 * rows), squeeze=False)
    status = result["status"].values
    colour = np.where(status == 1, "tab:blue", np.where(status == 2, "tab:red", "tab:orange"))
    for ax, p in zip(axes.flat, params):
        init = result["initial"].sel(parameter=p).values
        final = result["final"].sel(parameter=p).values
        ax.scatter(init, final, s=12, c=colour)
        if truth and p in truth and truth[p] is not None:
            ax.axhline(truth[p], color="k", lw=0.8, ls="--")
        units = str(result["units"].sel(parameter=p).values)
        ax.set_xlabel(f"initial {p} [{units}]")
        ax.set_ylabel("estimate")
        ax.set_title(p, fontsize=9)
    ax = axes.flat[len(params)]
    loss = result["loss"].values
    for row in loss:
        ax.semilogy(row, lw=0.6, alpha=0.6)
    ax.set_xlabel("iteration")
    ax.set_ylabel("misfit J")
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.tight_layout()
    return fig


def timeseries_figure(time, observed: dict, simulated: dict, *, split=None, title=None, reference=None,
                      reference_label="reference"):
    """Observed versus modelled series, one panel per variable; ``split`` marks the fit/test boundary.

    ``reference``: optional second set of modelled series (e.g. default parameters), drawn dashed.
    """
    plt = _plt()
    names = list(observed)
    fig, axes = plt.subplots(len(names), 1, figsize=(9, 2.4 * len(names)), sharex=True, squeeze=False)
    for ax, name in zip(axes[:, 0], names):
        ax.plot(time, observed[name], "k.", ms=3, label="observed")
        ax.plot(time, simulated[name], "tab:blue", lw=1.2, label="model")
        if reference is not None and name in reference:
            ax.plot(time, reference[name], color="tab:orange", ls="--", lw=1.0, label=reference_label)
        if split is not None:
            ax.axvline(split, color="tab:red", ls="--", lw=0.8)
        ax.set_ylabel(name)
    axes[0, 0].legend(loc="best", fontsize=8)
    if title:
        axes[0, 0].set_title(title)
    fig.tight_layout()
    return fig
