"""Collinearity index of parameter subsets (Brun, Reichert and Kuensch 2001, Water Resour. Res. 37, 1015-1030)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import xarray as xr

from ..errors import InputError, ParameterError
from .coordinates import _canonical


def collinearity(sensitivity, names: Sequence[str], subsets=None) -> xr.Dataset:
    """Collinearity index gamma_K of parameter subsets (Brun et al. 2001).

    ``gamma_K = 1 / sqrt(min eigenvalue of S_K^T S_K)``, with S the (whitened)
    sensitivity matrix (M, P) whose columns are normalised to unit length.
    gamma = 1: orthogonal columns; gamma > 10-20: poorly identifiable as a set;
    gamma = 1/sqrt(eps) = 6.7e7: collinear to working precision (the cap).

    Args:
        sensitivity: (M, P) or (T, V, P) sensitivities (whitened by the noise).
        names: the P parameter names.
        subsets: iterable of name tuples; default every subset of size 2..P.

    Returns:
        Dataset with ``collinearity`` (subset) and coords ``subset_size``,
        ``subset`` (labels ``"h,beta"``).
    """
    s = np.asarray(sensitivity, dtype=float)
    s = s.reshape(-1, s.shape[-1])
    names = list(names)
    if s.shape[1] != len(names):
        raise InputError(f"collinearity: {s.shape[1]} sensitivity columns for {len(names)} names")
    norm = np.linalg.norm(s, axis=0)
    sn = s / np.where(norm > 0, norm, 1.0)
    if subsets is None:
        subsets = [c for k in range(2, len(names) + 1) for c in itertools.combinations(names, k)]
    labels, sizes, gammas = [], [], []
    for sub in subsets:
        sub = [_canonical(n) for n in sub]
        unknown = [n for n in sub if n not in names]
        if unknown:
            raise ParameterError(f"collinearity: {unknown} not among the free parameters {names}")
        idx = [names.index(n) for n in sub]
        if np.any(norm[idx] == 0):
            gamma = np.inf
        else:
            lam = np.linalg.eigvalsh(sn[:, idx].T @ sn[:, idx])[0]
            # capped at 1/sqrt(eps): columns collinear to working precision
            gamma = 1.0 / math.sqrt(max(lam, np.finfo(float).eps))
        labels.append(",".join(sub))
        sizes.append(len(sub))
        gammas.append(gamma)
    return xr.Dataset(
        {"collinearity": (("subset",), np.array(gammas), {"long_name": "collinearity index gamma_K", "units": "1"})},
        coords={"subset": labels, "subset_size": ("subset", np.array(sizes, int))},
    )
