"""Figures of the identifiability analyses (needs the optional matplotlib)."""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import xarray as xr

from ..errors import InputError
from .coordinates import _canonical


def _figure(nrows=1, ncols=1, **kwargs):
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("figures need matplotlib: pip install 'jlsm[plot]'") from None
    fig = Figure(**kwargs)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def design_figure(sweep: xr.Dataset, *, quantities: Sequence[str] | None = None, noise_level: float | None = None):
    """Heat maps of log10 Cramer-Rao std over pairs of depths (single depths on the diagonal).

    One panel per quantity (default: the sweep's targets) for one noise level
    (default: the middle one); designs with more than two depths, other
    variables or a shortened record are left out. Returns a matplotlib Figure.
    """
    quantities = json.loads(sweep.attrs["targets"]) if quantities is None else [_canonical(q) for q in quantities]
    levels = np.unique(sweep["noise_level"].values[np.isfinite(sweep["noise_level"].values)])
    if noise_level is None:
        if levels.size == 0:
            raise InputError("design_figure: the sweep has no design with a common noise level")
        noise_level = float(levels[len(levels) // 2])
    full = int(sweep["record_length"].max())
    soil_only = sweep["observed"].values.sum(axis=1) == sweep["n_depths"].values
    keep = (
        np.isclose(sweep["noise_level"].values, noise_level)
        & (sweep["n_depths"].values >= 1)
        & (sweep["n_depths"].values <= 2)
        & (sweep["record_length"].values == full)
        & soil_only
    )
    if not keep.any():
        raise InputError(f"design_figure: no single- or two-depth design at noise {noise_level:g}")
    sub = sweep.isel(design=np.flatnonzero(keep))
    depths = np.unique(np.concatenate([sub["first_depth"].values, sub["second_depth"].values]))
    n = len(depths)
    cols = min(3, len(quantities))
    rows = int(np.ceil(len(quantities) / cols))
    fig, axes = _figure(rows, cols, figsize=(4.2 * cols, 3.6 * rows), layout="constrained")
    labels = [f"{100 * d:g}" for d in depths]
    for ax, q in zip(axes.flat, quantities):
        grid = np.full((n, n), np.nan)
        for a, b, v in zip(
            sub["first_depth"].values, sub["second_depth"].values, sub["cr_std"].sel(parameter=q).values
        ):
            i, j = int(np.searchsorted(depths, a)), int(np.searchsorted(depths, b))
            val = np.log10(v) if np.isfinite(v) and v > 0 else np.nan
            grid[i, j] = grid[j, i] = val
        im = ax.imshow(grid, origin="lower", cmap="viridis_r")
        ax.set_xticks(range(n), labels, fontsize=7)
        ax.set_yticks(range(n), labels, fontsize=7)
        ax.set_xlabel("first observed depth [cm]", fontsize=8)
        ax.set_ylabel("second observed depth [cm]", fontsize=8)
        ax.set_title(q, fontsize=9)
        cb = fig.colorbar(im, ax=ax, shrink=0.8)
        cb.set_label("log10 relative CR std [1]", fontsize=8)
        cb.ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(quantities) :]:
        ax.axis("off")
    fig.suptitle(
        f"Cramer-Rao standard deviation / true value by observed depth pair (diagonal: one depth; "
        f"blank: not computed), noise {noise_level:g} K; lower (yellow) = better identified",
        fontsize=9,
    )
    return fig


def comparison_figure(comparison: xr.Dataset):
    """Best objective against forward-run equivalents for sampling and the gradient method (Figure)."""
    fig, axes = _figure(1, 1, figsize=(5.5, 3.8), layout="constrained")
    ax = axes[0, 0]
    ax.loglog(
        comparison["sampling_evaluations"],
        comparison["sampling_best"],
        label=f"Sobol sampling ({comparison.attrs['n_samples']})",
    )
    g = comparison["gradient_best"].values
    ax.loglog(
        comparison["gradient_evaluations"],
        np.where(g > 0, g, np.nan),
        marker=".",
        label=f"Gauss-Newton multi-start ({comparison.attrs['starts']} starts)",
    )
    ax.set_xlabel("forward-run equivalents [model runs]")
    ax.set_ylabel("best misfit J [1]")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", lw=0.3)
    return fig


def profile_figure(profile: xr.Dataset, truth: float | None = None):
    """Delta chi-square profile with its threshold and interval (Figure)."""
    fig, axes = _figure(1, 1, figsize=(5, 3.5), layout="constrained")
    ax = axes[0, 0]
    ax.plot(profile["value"], profile["delta_chi2"], "o-", ms=3)
    ax.axhline(
        float(profile["threshold"]), color="tab:red", ls="--", lw=0.8, label=f"{profile.attrs['level']:.0%} threshold"
    )
    for v in (profile["ci_lower"], profile["ci_upper"]):
        if np.isfinite(float(v)):
            ax.axvline(float(v), color="tab:red", lw=0.6)
    if truth is not None:
        ax.axvline(truth, color="k", ls=":", lw=1, label="truth")
    ax.set_xlabel(f"{profile.attrs['parameter']} [{profile.attrs['units']}]")
    ax.set_ylabel("delta chi-square [1]")
    ax.legend(fontsize=8)
    return fig


def sobol_figure(indices: xr.Dataset):
    """Bar charts of first-order and total Sobol indices, one panel per output (Figure)."""
    outputs = list(indices["output"].values)
    fig, axes = _figure(1, len(outputs), figsize=(4 * len(outputs), 3.2), layout="constrained")
    names = list(indices["parameter"].values)
    pos = np.arange(len(names))
    for ax, o in zip(axes.flat, outputs):
        r = indices.sel(output=o)
        ax.bar(pos - 0.2, r["first_order"], 0.4, yerr=r["first_order_conf"], label="first order")
        ax.bar(pos + 0.2, r["total"], 0.4, yerr=r["total_conf"], label="total")
        ax.set_xticks(pos, names, rotation=45, ha="right", fontsize=8)
        ax.set_title(o, fontsize=9)
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("Sobol index [1]", fontsize=8)
    axes.flat[0].legend(fontsize=8)
    return fig
