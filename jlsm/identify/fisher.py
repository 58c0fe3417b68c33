"""Local (linearised) identifiability: sensitivities, Fisher information, Cramer-Rao bounds.

Forward-mode Jacobian of the observed outputs in the analysis coordinates
(:mod:`jlsm.identify.coordinates`), ``F = J^T Sigma^-1 J``, its eigen-directions
(named by :func:`describe_directions`), Cramer-Rao standard deviations and
correlations; the treatment of singular F is described in :mod:`jlsm.identify`.
"""

from __future__ import annotations

import dataclasses
import json
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from ..errors import ObservationError
from ..forcing import Forcing
from ..model import LandSurfaceModel, simulate
from ..observe import Observable, soil_depths
from ..params import ParameterSpace
from .collinearity import collinearity
from .coordinates import (
    NULL_TOL,
    RCOND,
    _derived_table,
    _gradient_rows,
    _initial_array,
    _log_mask,
    _noise_vector,
    _parse_observables,
    _physical_vector,
    _require_float64,
)

# ============================================================ Jacobian (forward)


@dataclasses.dataclass(frozen=True)
class _Simulator:
    """Observed outputs (T, V) as a function of the analysis coordinates q (hashable, for jit reuse)."""

    space: ParameterSpace
    observables: tuple[Observable, ...]
    log_mask: tuple[bool, ...]

    def __call__(self, q, model, forcing, initial):
        lm = jnp.asarray(self.log_mask)
        x = jnp.where(lm, jnp.exp(jnp.where(lm, q, 0.0)), q)
        m = self.space.physical_to_model(x, model)
        depths = soil_depths(self.observables)
        out = simulate(m, forcing, initial=initial, depths=depths)
        return jnp.stack([o.extract(out, depths) for o in self.observables], axis=1)


@eqx.filter_jit
def _jacobian(sim: _Simulator, q, model, forcing, initial):
    """(values (T, V), Jacobian (T, V, P)) by forward mode: one pass carrying P tangents."""
    jac, value = jax.jacfwd(lambda v: (sim(v, model, forcing, initial),) * 2, has_aux=True)(q)
    return value, jac


def sensitivities(model, forcing, space, x_physical, observables, *, initial=None):
    """Simulated observables and their sensitivities to the analysis coordinates.

    Args:
        model, forcing, space: as for :func:`local_analysis`.
        x_physical: parameter values (P,) or name -> value.
        observables: observable names (``"soil_temperature@0.05"``, ``"ts"``, ...).
        initial: initial temperature [K] (None: the bottom temperature).

    Returns:
        (values (T, V) in the observables' units, Jacobian (T, V, P) in units
        per e-fold (log coordinates) or per parameter unit (linear), log mask (P,)).
    """
    _require_float64("sensitivities")
    obs = _parse_observables(observables)
    space.check_model(model)
    x = _physical_vector(space, x_physical)
    lm = _log_mask(space, x)
    q = np.where(lm, np.log(np.where(lm, x, 1.0)), x)
    sim = _Simulator(space, obs, tuple(bool(b) for b in lm))
    value, jac = _jacobian(sim, jnp.asarray(q, jnp.float64), model, forcing, _initial_array(initial))
    return np.asarray(value), np.asarray(jac), lm


# ====================================================== Fisher summary (jnp)


def _summarise(fisher, grads, rcond, null_tol):
    """Eigen-analysis of one Fisher matrix (P, P) for quantities with log-gradients ``grads`` (Q, P)."""
    w, v = jnp.linalg.eigh(fisher)
    wmax = jnp.max(w)
    tiny = jnp.finfo(fisher.dtype).tiny
    kept = w > jnp.maximum(rcond * wmax, tiny)
    inv = jnp.where(kept, 1.0 / jnp.where(kept, w, 1.0), 0.0)
    proj = grads @ v
    var = jnp.sum(proj**2 * inv, axis=1)
    null_part = jnp.sum(jnp.where(kept, 0.0, proj**2), axis=1)
    ident = null_part <= null_tol**2 * jnp.sum(grads**2, axis=1)
    std = jnp.where(ident, jnp.sqrt(var), jnp.inf)
    floor = jnp.maximum(w, jnp.maximum(rcond * wmax, tiny))
    cov_reg = (v / floor) @ v.T
    d = jnp.sqrt(jnp.diag(cov_reg))
    corr = cov_reg / jnp.outer(d, d)
    eps = jnp.finfo(fisher.dtype).eps
    cond = wmax / jnp.maximum(w[0], eps * wmax)
    cond = jnp.where(wmax > 0, cond, jnp.inf)
    weakest_kept = jnp.min(jnp.where(kept, w, jnp.inf))
    cond_kept = jnp.where(jnp.any(kept), wmax / weakest_kept, jnp.inf)
    return {
        "eigenvalue": w,
        "eigenvector": v.T,  # (direction, parameter), weakest first
        "cr_std": std,
        "identifiable": ident,
        "covariance": (v * inv) @ v.T,
        "correlation": corr,
        "condition_number": cond,
        "condition_number_identifiable": cond_kept,
        "rank": jnp.sum(kept),
    }


def _target_information(fisher, grads_t, rcond, null_tol):
    """-log det of the targets' Cramer-Rao covariance (D-criterion); -inf if a target is not identifiable."""
    w, v = jnp.linalg.eigh(fisher)
    wmax = jnp.max(w)
    tiny = jnp.finfo(fisher.dtype).tiny
    kept = w > jnp.maximum(rcond * wmax, tiny)
    inv = jnp.where(kept, 1.0 / jnp.where(kept, w, 1.0), 0.0)
    proj = grads_t @ v
    cov = (proj * inv) @ proj.T
    null_part = jnp.sum(jnp.where(kept, 0.0, proj**2), axis=1)
    ident = jnp.all(null_part <= null_tol**2 * jnp.sum(grads_t**2, axis=1))
    sign, logdet = jnp.linalg.slogdet(cov)
    return jnp.where(ident & (sign > 0), -logdet, -jnp.inf)


# ============================================================= local analysis


def local_analysis(
    model: LandSurfaceModel,
    forcing: Forcing,
    space: ParameterSpace,
    x_physical,
    observables,
    *,
    noise,
    initial=None,
    mask=None,
    derived=None,
    subsets=None,
    rcond: float = RCOND,
    null_tol: float = NULL_TOL,
) -> xr.Dataset:
    """Local (linearised) identifiability of the free parameters at one point.

    Args:
        model: the base model (its non-free parameters stay as they are).
        forcing: the forcing (T times).
        space: the free parameters (their values come from ``x_physical``).
        x_physical: physical values (P,) in ``space.names`` order, or name -> value.
        observables: names of the observed variables, e.g.
            ``["soil_temperature@0", "soil_temperature@0.05"]``.
        noise: observation error standard deviation, in each variable's units
            (K for temperatures, W m-2 for fluxes): a scalar or name -> std.
        initial: initial temperature [K] (None: the bottom temperature).
        mask: optional boolean (T, V) or (T,) of the observed times (default: all T).
        derived: derived quantities to report: None (h_eff, diffusivity,
            thermal inertia when their parameters are free), or name ->
            ``(function(dict of physical values) -> positive value, units)``.
        subsets: parameter-name tuples for the collinearity index (default: all
            subsets of size 2..P).
        rcond: relative eigenvalue cutoff of non-identifiable directions.
        null_tol: relative tolerance of a gradient's non-identifiable part.

    Returns:
        ``xarray.Dataset`` with

        * ``sensitivity`` (time, variable, row): d output / d q, q = log p
          (coordinate ``scale`` says ``log`` or ``linear``);
        * ``fisher`` (row, column) = J^T Sigma^-1 J [1 / q^2];
        * ``eigenvalue`` (direction) ascending and ``eigenvector``
          (direction, row): weakest direction first;
        * ``cr_std`` (parameter): Cramer-Rao standard deviation of log p
          (relative; absolute for linear ones), free then derived quantities;
          ``cr_std_absolute`` in the parameter's units; ``identifiable``;
        * ``covariance`` (pseudo-inverse of F), ``correlation``;
        * ``condition_number`` = max/min eigenvalue (capped at 1/eps: singular
          to working precision), ``condition_number_identifiable`` (over the
          directions above the cutoff), ``rank`` (their number);
        * ``importance`` (row): root-mean-square whitened sensitivity;
        * ``collinearity`` (subset): :func:`collinearity` of the whitened
          sensitivities.
    """
    _require_float64("local_analysis")
    obs = _parse_observables(observables)
    names = [o.name for o in obs]
    sigma = _noise_vector(noise, names, "local_analysis")
    x = _physical_vector(space, x_physical)
    values, jac, lm = sensitivities(model, forcing, space, x, obs, initial=initial)
    t, v, p = jac.shape
    m = np.ones((t, v), bool) if mask is None else np.asarray(mask, bool)
    if m.ndim == 1:
        m = np.broadcast_to(m[:, None], (t, v))
    if m.shape != (t, v):
        raise ObservationError(f"local_analysis: mask must have shape ({t}, {v}) or ({t},), got {m.shape}")
    if not m.any():
        raise ObservationError("local_analysis: the mask leaves no observation")
    whitened = jac * (m / sigma)[:, :, None]
    s = whitened.reshape(-1, p)
    fisher = s.T @ s
    table = _derived_table(space, derived)
    grads, qvalues = _gradient_rows(space, x, lm, table)
    summary = {
        k: np.asarray(val) for k, val in _summarise(jnp.asarray(fisher), jnp.asarray(grads), rcond, null_tol).items()
    }

    free = list(space.names)
    qnames = free + [d[0] for d in table]
    scales = ["log" if b else "linear" for b in lm] + ["log"] * len(table)
    units = list(space.units) + [d[2] for d in table]
    role = ["free"] * p + ["derived"] * len(table)
    cr = summary["cr_std"]
    cr_abs = np.where(np.array(scales) == "log", cr * np.abs(qvalues), cr)
    ds = xr.Dataset(
        {
            "simulated": (("time", "variable"), values, {"long_name": "simulated observables at the analysis point"}),
            "sensitivity": (
                ("time", "variable", "row"),
                jac,
                {"long_name": "d output / d q with q = log p (scale log) or p (scale linear)"},
            ),
            "noise": (("variable",), sigma, {"long_name": "observation error standard deviation"}),
            "fisher": (("row", "column"), fisher, {"long_name": "Fisher information J^T Sigma^-1 J", "units": "1"}),
            "eigenvalue": (("direction",), summary["eigenvalue"], {"long_name": "eigenvalues of F, ascending"}),
            "eigenvector": (
                ("direction", "row"),
                summary["eigenvector"],
                {"long_name": "unit eigenvectors of F in q, weakest direction first"},
            ),
            "cr_std": (
                ("parameter",),
                cr,
                {"long_name": "Cramer-Rao standard deviation (relative for scale log)", "units": "1"},
            ),
            "cr_std_absolute": (
                ("parameter",),
                cr_abs,
                {"long_name": "Cramer-Rao standard deviation in the parameter's units"},
            ),
            "identifiable": (("parameter",), summary["identifiable"].astype(bool)),
            "covariance": (("row", "column"), summary["covariance"], {"long_name": "pseudo-inverse of F"}),
            "correlation": (
                ("row", "column"),
                summary["correlation"],
                {"long_name": "correlation from F with eigenvalues floored at rcond * max"},
            ),
            "condition_number": ((), float(summary["condition_number"])),
            "condition_number_identifiable": (
                (),
                float(summary["condition_number_identifiable"]),
                {"long_name": "max eigenvalue / smallest eigenvalue above the cutoff"},
            ),
            "rank": ((), int(summary["rank"]), {"long_name": "number of identifiable directions"}),
            "importance": (
                ("row",),
                np.sqrt(np.sum(s**2, axis=0) / max(int(m.sum()), 1)),
                {"long_name": "root-mean-square whitened sensitivity (Brun's delta msqr)"},
            ),
        },
        coords={
            "parameter": qnames,
            "value": ("parameter", qvalues),
            "units": ("parameter", units),
            "scale": ("parameter", scales),
            "role": ("parameter", role),
            "row": free,
            "column": free,
            "direction": np.arange(p),
            "variable": names,
            "time": np.arange(t),
        },
    )
    ds = ds.merge(collinearity(whitened, free, subsets))
    ds.attrs.update(
        {
            "rcond": rcond,
            "null_tol": null_tol,
            "observables": json.dumps(names),
            "n_observations": int(m.sum()),
        }
    )
    return ds


def describe_directions(
    analysis: xr.Dataset, count: int = 1, *, threshold: float = 0.05, digits: int = 2, with_eigenvalue: bool = False
) -> list[str]:
    """The weakest eigen-directions of a :func:`local_analysis` in words.

    E.g. ``"0.37 log h + 0.93 log beta"``: moving the parameters along this
    combination changes the observations least. Components below
    ``threshold`` are left out; the sign is chosen so that the largest
    component is positive.

    Args:
        analysis: a :func:`local_analysis` result.
        count: how many directions, weakest first.
        threshold: smallest component shown.
        digits: decimals of the components.
        with_eigenvalue: append the eigenvalue and the std along the direction.
    """
    names = [str(n) for n in analysis["row"].values]
    scale = dict(zip(analysis["parameter"].values[: len(names)], analysis["scale"].values[: len(names)]))
    out = []
    for k in range(min(count, analysis.sizes["direction"])):
        vec = np.asarray(analysis["eigenvector"].values[k], float)
        vec = vec * np.sign(vec[np.argmax(np.abs(vec))])
        terms = []
        for c, n in sorted(zip(vec, names), key=lambda cn: -abs(cn[0])):
            if abs(c) < threshold:
                continue
            label = f"log {n}" if scale[n] == "log" else n
            sign = "-" if c < 0 else "+"
            terms.append((sign, f"{abs(c):.{digits}f} {label}"))
        text = " ".join(f"{s} {t}" for s, t in terms).lstrip("+ ").strip()
        if terms and terms[0][0] == "-":
            text = "-" + text.lstrip("- ")
        if with_eigenvalue:
            w = float(analysis["eigenvalue"].values[k])
            wmax = float(analysis["eigenvalue"].values.max())
            std = (
                "inf (not identifiable)"
                if w <= analysis.attrs.get("rcond", RCOND) * wmax
                else f"{1 / math.sqrt(w):.3g}"
            )
            text += f"  (eigenvalue {w:.3g}, std along it {std})"
        out.append(text)
    return out

