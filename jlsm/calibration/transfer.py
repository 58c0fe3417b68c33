"""Leave-one-site-out transfer of calibrated parameters within plant-functional-type groups.

For each site, the calibrated parameters of the *other* sites of its PFT
group (its donors) are combined into one parameter set for it, then run at
the left-out site (Xie, Li & Yoshimura 2025, egusphere-2025-3301, their
leave-one-out test):

* ``mean``: the mean of the donors in the transformed (unconstrained) space
  of the left-out site, u = logit((x - lo) / (hi - lo)) (log x for
  log-sigmoid parameters), mapped back; the same as the mean in the shared
  space when all sites share bounds, and inside the bounds by construction.
* ``median``: the median of the donors' physical values.

Donor values outside the left-out site's bounds (when PFT bounds differ) are
first clipped to just inside them. A site without donors gets NaN.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from jlsm.errors import InputError

__all__ = ["to_unconstrained", "to_physical", "leave_one_out"]

_EDGE = 1e-9  # fraction of the range kept between a clipped donor value and a bound


def to_unconstrained(x, lower, upper, log):
    """Unconstrained u from physical x: logit of the position in the bounds (of log x if ``log``)."""
    x, lo, hi = (np.asarray(a, dtype=float) for a in (x, lower, upper))
    log = np.asarray(log, bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(log, np.log(x / lo) / np.log(hi / lo), (x - lo) / (hi - lo))
    return np.log(p) - np.log1p(-p)


def to_physical(u, lower, upper, log):
    """Physical x from unconstrained u (inverse of :func:`to_unconstrained`)."""
    u, lo, hi = (np.asarray(a, dtype=float) for a in (u, lower, upper))
    s = 1.0 / (1.0 + np.exp(-u))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.asarray(log, bool), lo * np.exp(np.log(hi / lo) * s), lo + (hi - lo) * s)


def leave_one_out(params, groups: Sequence[str], lower, upper, log=None, *, sites: Sequence[str] | None = None,
                  names: Sequence[str] | None = None, site_ids: Sequence[str] | None = None) -> xr.Dataset:
    """Leave-one-site-out parameters.

    Args:
        params: (S, P) calibrated physical values per site.
        groups: (S,) PFT group of each site.
        lower, upper: (P,) or (S, P) bounds of each site's space.
        log: (P,) True for log-sigmoid parameters.
        sites, names: labels of the site and parameter axes.
        site_ids: (S,) the site each entry belongs to (a record split into
            runs gives several entries of one site); entries of the left-out
            entry's own site are never donors. Default: every entry its own site.

    Returns:
        Dataset with ``mean`` and ``median`` (site, parameter) and ``donors`` (site,)
        the number of donor sites.
    """
    x = np.asarray(params, dtype=float)
    if x.ndim != 2:
        raise InputError(f"leave_one_out: params must be (sites, parameters), got shape {x.shape}")
    n_s, n_p = x.shape
    groups = list(groups)
    if len(groups) != n_s:
        raise InputError(f"leave_one_out: {len(groups)} groups for {n_s} sites")
    lo = np.broadcast_to(np.asarray(lower, dtype=float), (n_s, n_p))
    hi = np.broadcast_to(np.asarray(upper, dtype=float), (n_s, n_p))
    log = np.zeros(n_p, bool) if log is None else np.asarray(log, bool)
    mean = np.full((n_s, n_p), np.nan)
    median = np.full((n_s, n_p), np.nan)
    donors = np.zeros(n_s, dtype=int)
    ids = list(range(n_s)) if site_ids is None else list(site_ids)
    if len(ids) != n_s:
        raise InputError(f"leave_one_out: {len(ids)} site ids for {n_s} entries")
    for i in range(n_s):
        idx = [j for j in range(n_s)
               if ids[j] != ids[i] and groups[j] == groups[i] and np.all(np.isfinite(x[j]))]
        donors[i] = len(idx)
        if not idx:
            continue
        pad = _EDGE * (hi[i] - lo[i])
        d = np.clip(x[idx], lo[i] + pad, hi[i] - pad)
        u = to_unconstrained(d, lo[i], hi[i], log)
        mean[i] = to_physical(u.mean(axis=0), lo[i], hi[i], log)
        median[i] = np.median(d, axis=0)
    sites = list(sites) if sites is not None else list(range(n_s))
    names = list(names) if names is not None else [f"p{k}" for k in range(n_p)]
    return xr.Dataset(
        {
            "mean": (("site", "parameter"), mean, {"long_name": "donor mean in the transformed space"}),
            "median": (("site", "parameter"), median, {"long_name": "donor median"}),
            "donors": (("site",), donors, {"long_name": "other sites of the same PFT group"}),
        },
        coords={"site": sites, "parameter": names, "pft": ("site", groups)},
    )
