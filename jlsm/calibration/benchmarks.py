"""PLUMBER empirical benchmarks of Qh and Qle from the meteorological forcing.

Best et al. (2015, J. Hydrometeorol. 16, 1425-1442, section 2b) judge land
models against out-of-sample empirical models introduced by Abramowitz
(2012, Geosci. Model Dev. 5, 819-827):

* ``1lin``: each flux regressed linearly on SWdown;
* ``2lin``: each flux regressed on SWdown and Tair;
* ``3km27``: k-means clustering of the standardised (SWdown, Tair, RH) into 27
  clusters, and in each cluster a linear regression of the flux on the three.

In PLUMBER the benchmarks are trained on *other* sites. Here (the multi-site
protocol) they are fitted on the fit window of the *same* site and evaluated
on its test window, a stronger benchmark than PLUMBER's. Regressions use only
steps where the inputs and the flux are finite (NaN-aware); predictions are
NaN where an input is NaN. Units: SWdown [W m-2], Tair [K], RH [-] (or %;
inputs are standardised), fluxes [W m-2].
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np

from jlsm.errors import InputError

__all__ = [
    "BENCHMARKS",
    "relative_humidity",
    "linear_fit",
    "linear_predict",
    "benchmark_1lin",
    "benchmark_2lin",
    "benchmark_3km27",
    "site_benchmarks",
]

BENCHMARKS = ("1lin", "2lin", "3km27")


def relative_humidity(q_air, t_air, p_surf):
    """Relative humidity [-] from specific humidity [kg kg-1], air temperature [K], pressure [Pa].

    e = q p / (0.622 + 0.378 q) (vapour pressure from specific humidity, eps = 0.622);
    e_s = 611.2 exp(17.67 (T - 273.15) / (T - 29.65)) Pa (Bolton 1980, Mon. Wea. Rev. 108, eq. 10).
    """
    q = np.asarray(q_air, dtype=float)
    t = np.asarray(t_air, dtype=float)
    p = np.asarray(p_surf, dtype=float)
    e = q * p / (0.622 + 0.378 * q)
    es = 611.2 * np.exp(17.67 * (t - 273.15) / (t - 29.65))
    return e / es


def _design(inputs):
    x = np.column_stack([np.asarray(a, dtype=float).ravel() for a in inputs])
    return np.column_stack([np.ones(x.shape[0]), x])


def linear_fit(inputs, y, use=None):
    """Least-squares coefficients [intercept, slopes...] of ``y`` on ``inputs`` (list of (T,)).

    Rows with any NaN, or with ``use`` False, are dropped; NaN coefficients if
    fewer rows than coefficients remain.
    """
    a = _design(inputs)
    y = np.asarray(y, dtype=float).ravel()
    ok = np.all(np.isfinite(a), axis=1) & np.isfinite(y)
    if use is not None:
        ok &= np.asarray(use, bool).ravel()
    if ok.sum() < a.shape[1]:
        return np.full(a.shape[1], np.nan)
    coef, *_ = np.linalg.lstsq(a[ok], y[ok], rcond=None)
    return coef


def linear_predict(coef, inputs):
    """Prediction of a :func:`linear_fit` (NaN where an input is NaN)."""
    return _design(inputs) @ np.asarray(coef, dtype=float)


def _check(name, fit, n, **arrays):
    fit = np.asarray(fit, bool)
    if fit.shape != (n,):
        raise InputError(f"{name}: fit mask has shape {fit.shape}, expected ({n},)")
    for k, a in arrays.items():
        if np.asarray(a).shape != (n,):
            raise InputError(f"{name}: {k} has shape {np.asarray(a).shape}, expected ({n},)")
    return fit


def benchmark_1lin(sw_down, fluxes: Mapping[str, np.ndarray], fit) -> dict[str, np.ndarray]:
    """``1lin``: flux = a + b SWdown, fitted on ``fit`` (T,) steps; predictions (T,) per flux."""
    sw = np.asarray(sw_down, dtype=float)
    fit = _check("1lin", fit, sw.shape[0], SWdown=sw, **fluxes)
    return {k: linear_predict(linear_fit([sw], y, fit), [sw]) for k, y in fluxes.items()}


def benchmark_2lin(sw_down, t_air, fluxes: Mapping[str, np.ndarray], fit) -> dict[str, np.ndarray]:
    """``2lin``: flux = a + b SWdown + c Tair, fitted on the fit steps."""
    sw = np.asarray(sw_down, dtype=float)
    ta = np.asarray(t_air, dtype=float)
    fit = _check("2lin", fit, sw.shape[0], SWdown=sw, Tair=ta, **fluxes)
    return {k: linear_predict(linear_fit([sw, ta], y, fit), [sw, ta]) for k, y in fluxes.items()}


def benchmark_3km27(sw_down, t_air, rh, fluxes: Mapping[str, np.ndarray], fit, *, k: int = 27,
                    seed: int = 0, min_points: int = 8) -> dict[str, np.ndarray]:
    """``3km27``: k-means (k clusters) on standardised SWdown, Tair, RH, a regression per cluster.

    Inputs are standardised with the fit window's means and standard
    deviations; centroids come from ``scipy.cluster.vq.kmeans2`` (k-means++
    initialisation, ``rng = default_rng(seed)``) on the fit steps; every step
    is assigned to its nearest centroid. In a cluster with fewer than
    ``min_points`` usable fit steps for a flux (or a rank-deficient design)
    the flux's regression on all fit steps is used instead.
    """
    from scipy.cluster.vq import kmeans2, vq

    sw, ta, h = (np.asarray(a, dtype=float) for a in (sw_down, t_air, rh))
    fit = _check("3km27", fit, sw.shape[0], SWdown=sw, Tair=ta, RH=h, **fluxes)
    x = np.column_stack([sw, ta, h])
    finite = np.all(np.isfinite(x), axis=1)
    train = finite & fit
    if train.sum() < k:
        raise InputError(f"3km27: only {int(train.sum())} fit steps with finite SWdown, Tair and RH; need >= {k}")
    mu = x[train].mean(axis=0)
    sd = x[train].std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    z = (x - mu) / sd
    with warnings.catch_warnings():  # "one of the clusters is empty": handled by the fallback
        warnings.simplefilter("ignore")
        centroids, _ = kmeans2(z[train], k, minit="++", rng=np.random.default_rng(seed))
    label = np.full(sw.shape[0], -1)
    label[finite], _ = vq(z[finite], centroids)
    cols = [z[:, 0], z[:, 1], z[:, 2]]
    out = {}
    for name, y in fluxes.items():
        y = np.asarray(y, dtype=float)
        glob = linear_fit(cols, y, train)
        pred = np.full(sw.shape[0], np.nan)
        for c in range(k):
            sel = label == c
            if not np.any(sel):
                continue
            use = train & sel & np.isfinite(y)
            coef = glob
            if use.sum() >= max(min_points, 4):
                a = _design(cols)[use]
                if np.linalg.matrix_rank(a) == a.shape[1]:
                    coef = linear_fit(cols, y, use)
            pred[sel] = linear_predict(coef, [col[sel] for col in cols])
        out[name] = pred
    return out


def site_benchmarks(forcing: Mapping[str, np.ndarray], fluxes: Mapping[str, np.ndarray], fit, *,
                    names=("1lin", "3km27"), seed: int = 0) -> dict[str, dict[str, np.ndarray]]:
    """The benchmarks ``names`` at one site: method -> flux -> prediction (T,).

    ``forcing``: ALMA names SWdown [W m-2], Tair [K] and, for 3km27, RH [-] or
    Qair [kg kg-1] with PSurf/Psurf [Pa].
    """
    def need(key):
        if key not in forcing:
            raise InputError(f"site_benchmarks: forcing variable {key!r} is missing (have {sorted(forcing)})")
        return forcing[key]

    out = {}
    for name in names:
        if name == "1lin":
            out[name] = benchmark_1lin(need("SWdown"), fluxes, fit)
        elif name == "2lin":
            out[name] = benchmark_2lin(need("SWdown"), need("Tair"), fluxes, fit)
        elif name == "3km27":
            if "RH" in forcing:
                rh = forcing["RH"]
            else:
                p = forcing["PSurf"] if "PSurf" in forcing else need("Psurf")
                rh = relative_humidity(need("Qair"), need("Tair"), p)
            out[name] = benchmark_3km27(need("SWdown"), need("Tair"), rh, fluxes, fit, seed=seed)
        else:
            raise InputError(f"site_benchmarks: unknown benchmark {name!r}; choose from {BENCHMARKS}")
    return out
