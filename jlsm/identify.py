"""Identifiability: which parameters the observations pin down, and which design would.

Five tools, all on the same differentiable model:

* :func:`local_analysis`: Jacobian (forward mode through the scan) of every
  observed output with respect to the free parameters in log space, the Fisher
  information ``F = J^T Sigma^-1 J``, its eigen-directions (named combinations
  such as ``0.93 log beta + 0.37 log h``), Cramer-Rao standard deviations,
  correlations, the condition number and the collinearity index of every
  parameter subset;
* :func:`profile_likelihood`: chi-square profile of one parameter, the others
  re-optimised at every grid value (all grid values and starts in one batched
  Levenberg-Marquardt run), and its confidence interval;
* :func:`design_sweep`: the local analysis for many observation designs
  (depths, noise, record length) from one Jacobian, as one batched
  computation; :func:`rank_designs`, :func:`design_figure`;
* :func:`sobol_indices`: global (variance-based) sensitivity over the bounds,
  with SALib (the ``analysis`` extra);
* :func:`sampling_baseline` and :func:`compare_with_gradient`: calibration
  by Sobol sampling against the gradient-based multi-start inversion, with the
  cost of both counted in forward-run equivalents.

Coordinates of the local analysis
---------------------------------
A free parameter ``p`` enters as ``q = log p`` when its value is positive and
its lower bound (if any) is not negative; columns of the Jacobian are then
relative sensitivities (output units per e-fold of ``p``) and Cramer-Rao
standard deviations are relative (0.01 = 1 %). This includes the bottom
temperature, taken as the log of its value in kelvin: its relative standard
deviation times the value gives kelvin. A parameter that may be negative or
zero enters as itself (``scale = "linear"``), with absolute standard deviations.

Singular Fisher matrices
------------------------
Eigen-directions of F with eigenvalue below ``rcond * max(eigenvalue)``
(default ``rcond = 1e-10``) carry no information: they are the
non-identifiable directions. A quantity with gradient ``g`` (in q) is
identifiable when the part of ``g`` along those directions is below
``null_tol * |g|`` (default 1e-6); its Cramer-Rao variance is then
``g^T F^+ g`` with the pseudo-inverse ``F^+`` restricted to the kept
directions. Otherwise its Cramer-Rao standard deviation is infinite. The
correlation matrix comes from the inverse with eigenvalues floored at
``rcond * max(eigenvalue)``, so parameters that move together along a
non-identifiable direction show a correlation of +-1.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import time as _time
from collections.abc import Callable, Mapping, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from ._linalg import spd_solve
from .errors import InputError, ObservationError, ParameterError
from .forcing import Forcing
from .inverse import Objective, invert
from .model import LandSurfaceModel, simulate
from .objective import misfit, residuals
from .observe import Observable, Observations, error_vector, soil_depths
from .params import ALIASES, ParameterSpace

RCOND = 1e-10
"""Default relative eigenvalue cutoff below which a direction of F is non-identifiable."""

NULL_TOL = 1e-6
"""Default relative size of a gradient's non-identifiable part above which its CR std is infinite."""

TARGETS = ("conductivity", "heat_capacity", "h_eff", "albedo", "bottom_temperature")
"""Default quantities whose precision ranks observation designs."""


def _derived_h_eff(p):
    return p["h"] * (1.0 + 1.0 / p["beta"])


def _derived_diffusivity(p):
    return p["conductivity"] / p["heat_capacity"]


def _derived_inertia(p):
    return jnp.sqrt(p["conductivity"] * p["heat_capacity"])


DERIVED_QUANTITIES: dict[str, tuple[tuple[str, ...], Callable, str, str]] = {
    "h_eff": (("h", "beta"), _derived_h_eff, "W m-2 K-1", "effective exchange coefficient h (1 + 1/beta)"),
    "diffusivity": (
        ("conductivity", "heat_capacity"),
        _derived_diffusivity,
        "m2 s-1",
        "thermal diffusivity lambda / C",
    ),
    "thermal_inertia": (
        ("conductivity", "heat_capacity"),
        _derived_inertia,
        "J m-2 K-1 s-1/2",
        "thermal inertia sqrt(lambda C)",
    ),
}
"""Derived quantities reported when the parameters they need are free:
name -> (needed parameters, function of a dict of physical values, units, long name)."""


# ====================================================================== helpers


def _canonical(name: str) -> str:
    return ALIASES.get(name, name)


def _physical_vector(space: ParameterSpace, x) -> np.ndarray:
    """Physical values (P,) in the space's order from an array or a name -> value mapping."""
    if isinstance(x, Mapping):
        given = {_canonical(k): v for k, v in x.items()}
        missing = [n for n in space.names if n not in given]
        if missing:
            raise ParameterError(f"no value given for free parameter(s) {missing}")
        x = [given[n] for n in space.names]
    v = np.asarray(x, dtype=float)
    if v.shape != (space.size,):
        raise ParameterError(f"expected {space.size} parameter values ({', '.join(space.names)}), got shape {v.shape}")
    if not np.all(np.isfinite(v)):
        raise ParameterError(f"parameter values must be finite, got {dict(zip(space.names, v.tolist()))}")
    return v


def _log_mask(space: ParameterSpace, x: np.ndarray) -> np.ndarray:
    """True where a parameter enters the analysis as its logarithm."""
    out = []
    for p, v in zip(space.parameters, x):
        nonneg = p.bounds is None or p.bounds[0] >= 0
        out.append(bool(v > 0 and nonneg))
    return np.array(out, bool)


def _parse_observables(observables) -> tuple[Observable, ...]:
    if isinstance(observables, (str, Observable)):
        observables = [observables]
    out = []
    for o in observables:
        out.append(o if isinstance(o, Observable) else Observable.parse(o))
    if not out:
        raise ObservationError("no observable given")
    names = [o.name for o in out]
    if len(set(names)) != len(names):
        raise ObservationError(f"an observable is listed twice: {names}")
    return tuple(out)


def _noise_vector(noise, names: Sequence[str], where: str) -> np.ndarray:
    """Observation error std per variable (V,) from a scalar or a name -> std mapping."""
    return error_vector(noise, names, where, what="noise level")


def _require_float64(where: str):
    """The local analyses need float64 (Fisher matrices span many orders of magnitude)."""
    if not jax.config.jax_enable_x64:
        raise InputError(
            f"{where}: identifiability analysis needs float64; call "
            "jax.config.update('jax_enable_x64', True) first (the jlsm command does, unless --float32)"
        )


def _initial_array(initial, dtype=jnp.float64):
    return None if initial is None else jnp.asarray(initial, dtype)


def _derived_table(space: ParameterSpace, derived):
    """[(name, function, units, long name)] of derived quantities whose inputs are free."""
    names = set(space.names)
    if derived is None:
        return [
            (k, fn, units, long)
            for k, (need, fn, units, long) in DERIVED_QUANTITIES.items()
            if set(need) <= names and k not in names
        ]
    out = []
    for k, spec in dict(derived).items():
        if k in names:
            raise ParameterError(f"derived quantity {k!r} is already a free parameter")
        if k in DERIVED_QUANTITIES and spec is None:
            need, fn, units, long = DERIVED_QUANTITIES[k]
            if not set(need) <= names:
                raise ParameterError(f"derived quantity {k!r} needs free parameters {list(need)}")
            out.append((k, fn, units, long))
        elif callable(spec):
            out.append((k, spec, "", k))
        else:
            fn, units = spec
            out.append((k, fn, units, k))
    return out


def _gradient_rows(space, x, log_mask, derived_table):
    """Rows g (Q, P) of d log(quantity) / dq for free parameters then derived ones; values (Q,)."""
    p = space.size
    rows = [np.eye(p)[i] for i in range(p)]
    values = list(x)
    q0 = jnp.asarray(np.where(log_mask, np.log(np.where(log_mask, x, 1.0)), x))
    lm = jnp.asarray(log_mask)

    for name, fn, _, _ in derived_table:

        def value(q, fn=fn):
            xx = jnp.where(lm, jnp.exp(jnp.where(lm, q, 0.0)), q)
            return fn(dict(zip(space.names, [xx[i] for i in range(p)])))

        v = float(value(q0))
        if not (np.isfinite(v) and v > 0):
            raise ParameterError(f"derived quantity {name!r} must be positive at the analysis point, got {v}")
        rows.append(np.asarray(jax.grad(lambda q: jnp.log(value(q)))(q0)))
        values.append(v)
    return np.stack(rows), np.asarray(values)


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


# ========================================================= Levenberg-Marquardt


def _levenberg_marquardt(residual, u0, n_iter: int):
    """Damped Gauss-Newton on residual(u) (M,): (J^T J + mu diag(J^T J)) d = -J^T r.

    A step is taken when it lowers sum(r^2) (then mu /= 3), else mu *= 4.
    Returns (u, sum(r^2), history (n_iter,)).
    """

    def lin(u):
        jac, r = jax.jacfwd(lambda v: (residual(v),) * 2, has_aux=True)(u)
        return r, jac

    r0, j0 = lin(u0)
    eps = jnp.finfo(u0.dtype).eps

    def body(carry, _):
        u, r, jac, mu = carry
        f = jnp.sum(r**2)
        jtj = jac.T @ jac
        diag = jnp.diag(jtj)
        scale = jnp.maximum(diag, eps * jnp.max(diag) + jnp.finfo(u0.dtype).tiny)
        delta = spd_solve(jtj + mu * jnp.diag(scale), -(jac.T @ r))
        delta = jnp.where(jnp.all(jnp.isfinite(delta)), delta, 0.0)
        r_try, j_try = lin(u + delta)
        f_try = jnp.sum(r_try**2)
        accept = jnp.isfinite(f_try) & (f_try < f)
        u = jnp.where(accept, u + delta, u)
        r = jnp.where(accept, r_try, r)
        jac = jnp.where(accept, j_try, jac)
        mu = jnp.clip(jnp.where(accept, mu / 3.0, mu * 4.0), 1e-10, 1e10)
        return (u, r, jac, mu), jnp.where(accept, f_try, f)

    (u, r, _, _), hist = jax.lax.scan(body, (u0, r0, j0, jnp.asarray(1e-3, u0.dtype)), None, length=n_iter)
    return u, jnp.sum(r**2), hist


# ========================================================= profile likelihood


@dataclasses.dataclass(frozen=True)
class _Profile:
    """Chi-square residuals with one parameter held at a value (hashable, for jit reuse)."""

    rest: ParameterSpace | None
    held: ParameterSpace
    held_is_derived: bool
    observables: tuple[Observable, ...]

    def model_at(self, u, value, base):
        held = jnp.reshape(value, (1,))
        if self.held_is_derived:
            m = self.rest.to_model(u, base) if self.rest is not None else base
            return self.held.physical_to_model(held, m)
        m = self.held.physical_to_model(held, base)
        return self.rest.to_model(u, m) if self.rest is not None else m

    def residual(self, u, value, data):
        base, forcing, values, sigma, initial = data
        depths = soil_depths(self.observables)
        out = simulate(self.model_at(u, value, base), forcing, initial=initial, depths=depths)
        sim = jnp.stack([o.extract(out, depths) for o in self.observables], axis=1)
        r, _ = residuals(sim, values, sigma)
        return r.ravel()


@eqx.filter_jit
def _profile_batch(spec: _Profile, u0, held_values, data, n_iter: int):
    def one(u, value):
        if spec.rest is None or n_iter == 0:
            r = spec.residual(u, value, data)
            return u, jnp.sum(r**2)
        u_fit, chi2, _ = _levenberg_marquardt(lambda v: spec.residual(v, value, data), u, n_iter)
        return u_fit, chi2

    return jax.vmap(one)(u0, held_values)


def profile_likelihood(
    model: LandSurfaceModel,
    forcing: Forcing,
    observations: Observations,
    space: ParameterSpace,
    name: str,
    grid_values,
    *,
    initial=None,
    starts=4,
    seed: int = 0,
    polish: int = 30,
    noise=None,
    level: float = 0.95,
) -> xr.Dataset:
    """Profile likelihood of one parameter: chi2 minimised over the others at each grid value.

    ``chi2 = sum_{t,v observed} ((sim - obs) / sigma_v)^2`` with ``sigma`` the
    observations' error scale (build them with ``errors=noise``) or ``noise``.
    Every (grid value, start) pair is optimised at once: one ``vmap`` of a
    Levenberg-Marquardt loop (forward-mode Jacobian) in the unconstrained space
    of the other free parameters.

    Args:
        model, forcing, observations, space: as for :func:`jlsm.inverse.invert`.
        name: the profiled free parameter (aliases such as ``lambda`` accepted).
        grid_values: values of it, in its physical units (sorted on output).
        initial: initial temperature [K] (None: the bottom temperature).
        starts: number of Sobol starts of the other parameters, or physical
            starting values (S, P-1) of the others, or full points (S, P) or
            (P,) of which the profiled column is ignored (e.g. a best fit).
        seed: seed of the Sobol starts.
        polish: Levenberg-Marquardt iterations per (value, start).
        noise: observation error std overriding ``observations.scale``
            (scalar or name -> std).
        level: confidence level of the interval (chi-square, 1 degree of freedom).

    Returns:
        Dataset over ``value``: ``chi2`` (best start), ``delta_chi2``,
        ``chi2_start`` (value, start), ``others`` (value, other) at the best
        start; scalars ``ci_lower``, ``ci_upper`` (NaN when the profile does
        not reach the threshold on that side within the grid), ``chi2_min``,
        ``estimate``, ``threshold``.
    """
    from scipy.stats import chi2 as chi2_dist

    if not isinstance(observations, Observations):
        raise ObservationError(
            f"profile_likelihood: observations must be jlsm.Observations, got {type(observations).__name__}"
        )
    if observations.n_times != forcing.n_times:
        raise ObservationError(
            f"profile_likelihood: observations have {observations.n_times} times but the forcing has {forcing.n_times}"
        )
    _require_float64("profile_likelihood")
    canonical = _canonical(name)
    if canonical not in space.names:
        raise ParameterError(
            f"profile_likelihood: {name!r} is not a free parameter of the space ({', '.join(space.names)})"
        )
    if not 0 < level < 1:
        raise InputError(f"profile_likelihood: level must be in (0, 1), got {level}")
    if polish < 0:
        raise InputError(f"profile_likelihood: polish must be >= 0, got {polish}")
    space.check_model(model)
    grid = np.sort(np.atleast_1d(np.asarray(grid_values, dtype=float)))
    if grid.ndim != 1 or grid.size < 3 or not np.all(np.isfinite(grid)):
        raise InputError(f"profile_likelihood: grid_values must be at least 3 finite values of {canonical}")
    i_held = space.names.index(canonical)
    held_param = space.parameters[i_held]
    if held_param.bounds is not None and held_param.transform in ("sigmoid", "log-sigmoid"):
        lo, hi = held_param.bounds
        if np.any(grid <= lo) or np.any(grid >= hi):
            raise ParameterError(
                f"profile_likelihood: grid values of {canonical} must lie inside its bounds ({lo}, {hi})"
            )
    others = [p for p in space.parameters if p.name != canonical]
    rest = None
    if others:
        rest = ParameterSpace(
            {p.name: p for p in others},
            fixed=space.fixed,
            start_bounds={k: v for k, v in space.start_bounds.items() if k != canonical},
        )
    held = ParameterSpace({canonical: held_param})
    if rest is None:
        held = ParameterSpace({canonical: held_param}, fixed=space.fixed)

    # starting points of the other parameters (physical)
    if rest is None:
        x0 = np.zeros((1, 0))
    elif isinstance(starts, (int, np.integer)):
        if starts < 1:
            raise ParameterError(f"profile_likelihood: starts must be >= 1, got {starts}")
        x0 = rest.sample(int(starts), seed=seed)
    else:
        x0 = np.atleast_2d(np.asarray(starts, dtype=float))
        if x0.shape[-1] == space.size:
            x0 = np.delete(x0, i_held, axis=1)
        if x0.shape[-1] != rest.size:
            raise ParameterError(
                f"profile_likelihood: starts must have {rest.size} columns ({', '.join(rest.names)}) "
                f"or {space.size} ({', '.join(space.names)}), got shape {x0.shape}"
            )
    u_start = rest.to_unconstrained(x0) if rest is not None else x0
    n_starts = u_start.shape[0]

    sigma = (
        np.asarray(observations.scale, float)
        if noise is None
        else _noise_vector(noise, observations.names, "profile_likelihood")
    )
    spec = _Profile(rest, held, held_param.path is None, observations.observables)
    data = (model, forcing, jnp.asarray(observations.values), jnp.asarray(sigma), _initial_array(initial))
    u0 = jnp.asarray(np.tile(u_start, (grid.size, 1)), jnp.float64)
    values = jnp.asarray(np.repeat(grid, n_starts), jnp.float64)
    t0 = _time.perf_counter()
    u_fit, chi2 = _profile_batch(spec, u0, values, data, int(polish))
    u_fit, chi2 = np.asarray(u_fit), np.asarray(chi2)
    seconds = _time.perf_counter() - t0

    chi2 = chi2.reshape(grid.size, n_starts)
    chi2_safe = np.where(np.isfinite(chi2), chi2, np.inf)
    best = np.argmin(chi2_safe, axis=1)
    profile = chi2_safe[np.arange(grid.size), best]
    if not np.any(np.isfinite(profile)):
        raise InputError(f"profile_likelihood: no finite chi-square on the grid of {canonical}")
    x_fit = np.asarray(rest.to_physical(jnp.asarray(u_fit))) if rest is not None else np.zeros((u_fit.shape[0], 0))
    x_fit = x_fit.reshape(grid.size, n_starts, -1)[np.arange(grid.size), best]

    threshold = float(chi2_dist.ppf(level, 1))
    k = int(np.argmin(profile))
    chi2_min, estimate = float(profile[k]), float(grid[k])
    if 0 < k < grid.size - 1 and np.all(np.isfinite(profile[k - 1 : k + 2])):
        # parabola through the lowest grid point and its neighbours
        xs, ys = grid[k - 1 : k + 2], profile[k - 1 : k + 2]
        a, b, c = np.polyfit(xs, ys, 2)
        if a > 0:
            vertex = -b / (2 * a)
            if xs[0] <= vertex <= xs[2]:
                chi2_min = min(chi2_min, float(c - b * b / (4 * a)))
                estimate = float(vertex)
    delta = profile - chi2_min
    lower = _crossing(grid[: k + 1][::-1], delta[: k + 1][::-1], threshold)
    upper = _crossing(grid[k:], delta[k:], threshold)

    ds = xr.Dataset(
        {
            "chi2": (("value",), profile, {"long_name": "profile chi-square (best start)", "units": "1"}),
            "delta_chi2": (("value",), delta, {"long_name": "chi2 - chi2_min", "units": "1"}),
            "chi2_start": (("value", "start"), chi2, {"long_name": "chi-square of every start", "units": "1"}),
            "others": (("value", "other"), x_fit, {"long_name": "re-optimised other parameters (physical)"}),
            "ci_lower": ((), lower, {"long_name": f"lower end of the {level:.0%} profile interval"}),
            "ci_upper": ((), upper, {"long_name": f"upper end of the {level:.0%} profile interval"}),
            "chi2_min": ((), chi2_min),
            "estimate": ((), estimate, {"long_name": "profile minimum (parabolic refinement)"}),
            "threshold": ((), threshold, {"long_name": "delta chi2 threshold"}),
        },
        coords={"value": grid, "start": np.arange(n_starts), "other": [p.name for p in others]},
    )
    ds["value"].attrs.update({"long_name": canonical, "units": held_param.units})
    ds.attrs.update(
        {
            "parameter": canonical,
            "units": held_param.units,
            "level": level,
            "polish": int(polish),
            "wall_seconds": seconds,
        }
    )
    return ds


def _crossing(xs, ys, threshold):
    """First x (walking away from the minimum) where ys crosses threshold, linear interpolation; NaN if never."""
    for i in range(1, len(xs)):
        if ys[i] >= threshold:
            y0, y1 = ys[i - 1], ys[i]
            if not np.isfinite(y1):
                return float(xs[i])
            return float(xs[i - 1] + (threshold - y0) * (xs[i] - xs[i - 1]) / (y1 - y0))
    return float("nan")


# ============================================================== design sweep


@dataclasses.dataclass(frozen=True)
class Design:
    """An observation design.

    Attributes:
        observables: observed variable names, e.g. ``("soil_temperature@0", "soil_temperature@0.05")``.
        noise: observation error std [variable units]: one value for all, or
            a tuple of (name, std) pairs (a mapping is accepted and converted).
        n_times: record length: the first ``n_times`` forcing times are
            observed (None: all).
        label: a short description (default built from the rest).
    """

    observables: tuple[str, ...]
    noise: float | tuple[tuple[str, float], ...]
    n_times: int | None = None
    label: str | None = None

    def __post_init__(self):
        obs = tuple(
            Observable.parse(o).name
            for o in ((self.observables,) if isinstance(self.observables, str) else self.observables)
        )
        object.__setattr__(self, "observables", obs)
        if isinstance(self.noise, Mapping):
            object.__setattr__(
                self, "noise", tuple((Observable.parse(k).name, float(v)) for k, v in self.noise.items())
            )
        if self.label is None:
            object.__setattr__(self, "label", self._describe())

    def noise_of(self, name: str) -> float:
        if isinstance(self.noise, tuple):
            d = dict(self.noise)
            if name not in d:
                raise ObservationError(f"Design {self.label!r}: no noise level given for {name}")
            return float(d[name])
        return float(self.noise)

    def _describe(self) -> str:
        depths = [Observable.parse(o).depth for o in self.observables if Observable.parse(o).depth is not None]
        rest = [o for o in self.observables if Observable.parse(o).depth is None]
        parts = []
        if depths:
            parts.append("+".join(f"{100 * d:g}" for d in depths) + " cm")
        parts += rest
        noise = (
            f"{self.noise:g} K" if not isinstance(self.noise, tuple) else ",".join(f"{k}:{v:g}" for k, v in self.noise)
        )
        length = f", {self.n_times} times" if self.n_times else ""
        return f"{' & '.join(parts)}, {noise}{length}"


def design_grid(
    depths, noise_levels, *, sizes=(1, 2), record_lengths=(None,), extra: Mapping[str, float] | None = None
) -> list[Design]:
    """All designs made of ``sizes``-subsets of soil depths, each noise level and record length.

    Args:
        depths: candidate soil-temperature depths [m] (0 = surface temperature).
        noise_levels: temperature error standard deviations [K].
        sizes: subset sizes (1: single depths, 2: pairs, ...).
        record_lengths: numbers of observed times (None: the whole record).
        extra: other observables added to every design, name -> error std in
            their units (e.g. ``{"lw_up": 5.0}``).
    """
    depths = [float(d) for d in np.atleast_1d(np.asarray(depths, dtype=float))]
    if not depths or any(d < 0 for d in depths) or len(set(depths)) != len(depths):
        raise InputError(f"design_grid: depths must be distinct and >= 0 m, got {depths}")
    levels = [float(s) for s in np.atleast_1d(np.asarray(noise_levels, dtype=float))]
    if not levels or any(not (s > 0 and np.isfinite(s)) for s in levels):
        raise ObservationError(f"design_grid: noise levels must be positive, got {levels}")
    if any(int(k) < 1 or int(k) > len(depths) for k in sizes):
        raise InputError(f"design_grid: subset sizes must be in 1..{len(depths)}, got {list(sizes)}")
    extra = dict(extra or {})
    out = []
    for n_times in record_lengths:
        for sigma in levels:
            for k in sizes:
                for combo in itertools.combinations(depths, int(k)):
                    obs = tuple(f"soil_temperature@{d:g}" for d in combo) + tuple(extra)
                    noise = sigma if not extra else {**{o: sigma for o in obs[: len(combo)]}, **extra}
                    out.append(Design(obs, noise, None if n_times is None else int(n_times)))
    return out


@eqx.filter_jit
def _design_batch(jac, weights, time_mask, grads, target_index, rcond, null_tol):
    """Fisher matrices of every design as masked sums over one Jacobian, and their summaries."""
    fisher = jnp.einsum("dt,dv,tvp,tvq->dpq", time_mask, weights, jac, jac)
    summary = jax.vmap(lambda f: _summarise(f, grads, rcond, null_tol))(fisher)
    info = jax.vmap(lambda f: _target_information(f, grads[target_index], rcond, null_tol))(fisher)
    return fisher, summary, info


def design_sweep(
    model: LandSurfaceModel,
    forcing: Forcing,
    space: ParameterSpace,
    x_physical,
    designs: Sequence[Design | Mapping],
    *,
    initial=None,
    derived=None,
    targets: Sequence[str] | None = None,
    rcond: float = RCOND,
    null_tol: float = NULL_TOL,
) -> xr.Dataset:
    """Local identifiability of many observation designs in one batched computation.

    The Jacobian of every candidate observable (the union of the designs'
    observables) is computed once by forward mode; each design's Fisher matrix
    is then a masked sum ``F_d = sum_t,v m_dt w_dv J_tv J_tv^T`` with
    ``w_dv = 1 / sigma_dv^2`` (0 when not observed) and ``m_dt`` the record
    length; eigen-analyses run under ``vmap``.

    Args:
        model, forcing, space, x_physical, initial, derived, rcond, null_tol:
            as for :func:`local_analysis`.
        designs: :class:`Design` objects (or dicts of their fields), e.g. from
            :func:`design_grid`.
        targets: quantities whose precision ranks designs (default: those of
            ``TARGETS`` present).

    Returns:
        Dataset with dims (design, parameter, variable): ``cr_std`` and
        ``identifiable`` (design, parameter); per design ``min_eigenvalue``,
        ``eigenvalue`` (design, direction), ``condition_number``,
        ``condition_number_identifiable``, ``rank``, ``target_information`` (-log det of the
        targets' Cramer-Rao covariance, the D-criterion), ``max_target_std``;
        descriptors ``observed`` and ``noise_std`` (design, variable),
        ``record_length``, ``noise_level``, ``n_depths``, ``first_depth``,
        ``second_depth`` [m]; attribute ``wall_seconds``.
    """
    _require_float64("design_sweep")
    if not designs:
        raise InputError("design_sweep: no design given")
    designs = [d if isinstance(d, Design) else Design(**d) for d in designs]
    variables: list[str] = []
    for d in designs:
        for o in d.observables:
            if o not in variables:
                variables.append(o)
    obs = _parse_observables(variables)
    x = _physical_vector(space, x_physical)
    space.check_model(model)
    n_t = forcing.n_times
    n_d, n_v = len(designs), len(variables)
    weights = np.zeros((n_d, n_v))
    noise_std = np.full((n_d, n_v), np.nan)
    time_mask = np.zeros((n_d, n_t))
    for i, d in enumerate(designs):
        for o in d.observables:
            s = d.noise_of(o)
            if not (s > 0 and np.isfinite(s)):
                raise ObservationError(f"design_sweep: design {d.label!r}: noise of {o} must be positive, got {s}")
            j = variables.index(o)
            weights[i, j] = 1.0 / s**2
            noise_std[i, j] = s
        n = n_t if d.n_times is None else d.n_times
        if not 1 <= n <= n_t:
            raise InputError(f"design_sweep: design {d.label!r}: record length {n} is not in 1..{n_t}")
        time_mask[i, :n] = 1.0

    table = _derived_table(space, derived)
    lm = _log_mask(space, x)
    grads, qvalues = _gradient_rows(space, x, lm, table)
    qnames = list(space.names) + [t[0] for t in table]
    if targets is None:
        targets = [t for t in TARGETS if t in qnames] or list(space.names)
    targets = [_canonical(t) for t in targets]
    unknown = [t for t in targets if t not in qnames]
    if unknown:
        raise ParameterError(f"design_sweep: target(s) {unknown} not among {qnames}")
    target_index = np.array([qnames.index(t) for t in targets])

    t0 = _time.perf_counter()
    _, jac, _ = sensitivities(model, forcing, space, x, obs, initial=initial)
    t_jac = _time.perf_counter() - t0
    fisher, summary, info = _design_batch(
        jnp.asarray(jac),
        jnp.asarray(weights),
        jnp.asarray(time_mask),
        jnp.asarray(grads),
        target_index,
        rcond,
        null_tol,
    )
    summary = {k: np.asarray(v) for k, v in summary.items()}
    info = np.asarray(info)
    seconds = _time.perf_counter() - t0

    scales = ["log" if b else "linear" for b in lm] + ["log"] * len(table)
    cr = summary["cr_std"]
    eig = summary["eigenvalue"]
    depth_lists = [
        [Observable.parse(o).depth for o in d.observables if Observable.parse(o).depth is not None] for d in designs
    ]
    levels = []
    for row in noise_std:
        finite = row[np.isfinite(row)]
        levels.append(finite[0] if finite.size and np.all(finite == finite[0]) else np.nan)
    first = [dl[0] if dl else np.nan for dl in depth_lists]
    second = [dl[1] if len(dl) > 1 else (dl[0] if dl else np.nan) for dl in depth_lists]
    ds = xr.Dataset(
        {
            "cr_std": (
                ("design", "parameter"),
                cr,
                {"long_name": "Cramer-Rao standard deviation (relative for scale log)", "units": "1"},
            ),
            "identifiable": (("design", "parameter"), summary["identifiable"].astype(bool)),
            "min_eigenvalue": (("design",), eig[:, 0], {"long_name": "smallest eigenvalue of F"}),
            "eigenvalue": (("design", "direction"), eig),
            "condition_number": (("design",), summary["condition_number"]),
            "condition_number_identifiable": (("design",), summary["condition_number_identifiable"]),
            "rank": (("design",), summary["rank"].astype(int)),
            "target_information": (
                ("design",),
                info,
                {"long_name": "-log det of the targets' Cramer-Rao covariance (larger is better)"},
            ),
            "max_target_std": (
                ("design",),
                np.max(cr[:, target_index], axis=1),
                {"long_name": "largest Cramer-Rao std over the targets"},
            ),
            "observed": (("design", "variable"), weights > 0),
            "noise_std": (
                ("design", "variable"),
                noise_std,
                {"long_name": "observation error std (NaN: not observed)"},
            ),
            "record_length": (("design",), time_mask.sum(axis=1).astype(int), {"long_name": "observed times"}),
            "noise_level": (("design",), np.asarray(levels), {"long_name": "common noise std (NaN if mixed)"}),
            "n_depths": (("design",), np.array([len(dl) for dl in depth_lists], int)),
            "first_depth": (("design",), np.asarray(first, float), {"units": "m"}),
            "second_depth": (("design",), np.asarray(second, float), {"units": "m"}),
        },
        coords={
            "design": np.arange(n_d),
            "label": ("design", [d.label for d in designs]),
            "parameter": qnames,
            "value": ("parameter", qvalues),
            "scale": ("parameter", scales),
            "units": ("parameter", list(space.units) + [t[2] for t in table]),
            "variable": variables,
            "direction": np.arange(space.size),
        },
    )
    ds.attrs.update(
        {
            "targets": json.dumps(targets),
            "wall_seconds": seconds,
            "jacobian_seconds": t_jac,
            "rcond": rcond,
            "null_tol": null_tol,
            "n_designs": n_d,
        }
    )
    return ds


CRITERIA = ("max_target_std", "target_information", "trace")


def rank_designs(sweep: xr.Dataset, by: str = "max_target_std", *, targets: Sequence[str] | None = None) -> xr.Dataset:
    """Designs of a :func:`design_sweep`, best first, with their ``score`` and ``rank``.

    Args:
        sweep: a :func:`design_sweep` result.
        by: ``"max_target_std"`` (largest relative CR std over the targets,
            smaller is better; the default), ``"target_information"``
            (D-criterion, larger is better), ``"trace"`` (sum of the targets'
            relative variances, smaller is better) or the name of one quantity
            (its CR std, smaller is better).
        targets: quantities for ``max_target_std`` / ``trace`` (default: the sweep's).
    """
    targets = json.loads(sweep.attrs["targets"]) if targets is None else [_canonical(t) for t in targets]
    quantities = list(sweep["parameter"].values)
    unknown = [t for t in targets if t not in quantities]
    if unknown:
        raise ParameterError(f"rank_designs: target(s) {unknown} not among {quantities}")
    cr = sweep["cr_std"].sel(parameter=targets).values
    if by == "max_target_std":
        score = np.max(cr, axis=1)
        order = np.argsort(score, kind="stable")
    elif by == "target_information":
        score = sweep["target_information"].values
        order = np.argsort(-score, kind="stable")
    elif by == "trace":
        score = np.sum(cr**2, axis=1)
        order = np.argsort(score, kind="stable")
    elif _canonical(by) in quantities:
        score = sweep["cr_std"].sel(parameter=_canonical(by)).values
        order = np.argsort(score, kind="stable")
    else:
        raise InputError(f"rank_designs: 'by' must be one of {CRITERIA} or a quantity in {quantities}, got {by!r}")
    out = sweep.isel(design=order)
    out["score"] = ("design", score[order], {"long_name": f"ranking score ({by})"})
    out["rank"] = ("design", np.arange(1, len(order) + 1))
    out.attrs["ranked_by"] = by
    return out


def design_table(ranked: xr.Dataset, top: int = 10, quantities: Sequence[str] | None = None) -> str:
    """A plain-text table of the first ``top`` designs of :func:`rank_designs` (CR std in %)."""
    quantities = json.loads(ranked.attrs["targets"]) if quantities is None else [_canonical(q) for q in quantities]
    width = max(12, *(len(q) + 2 for q in quantities))
    head = f"{'rank':>4}  {'design':<34}" + "".join(f"{q:>{width}}" for q in quantities) + f"{'score':>12}"
    lines = [head, "-" * len(head)]
    n = min(top, ranked.sizes["design"])
    for i in range(n):
        row = ranked.isel(design=i)
        cells = []
        for q in quantities:
            v = float(row["cr_std"].sel(parameter=q))
            cells.append(f"{'inf':>{width}}" if not np.isfinite(v) else f"{100 * v:>{width - 1}.3g}%")
        score = float(row["score"]) if "score" in row else np.nan
        lines.append(
            f"{int(row['rank']) if 'rank' in row else i + 1:>4}  {str(row['label'].values):<34}"
            + "".join(cells)
            + f"{score:>12.4g}"
        )
    return "\n".join(lines)


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
        ax.set_xlabel("depth [cm]")
        ax.set_ylabel("depth [cm]")
        ax.set_title(f"{q}: log10 CR std", fontsize=9)
        fig.colorbar(im, ax=ax, shrink=0.8)
    for ax in list(axes.flat)[len(quantities) :]:
        ax.axis("off")
    fig.suptitle(f"Cramer-Rao std (relative) by observed depth pair, noise {noise_level:g} K", fontsize=10)
    return fig


# ============================================================ Sobol indices


def mean_output(observable: str) -> Callable:
    """Output function: time mean of an observable (e.g. ``"ts"``), in its units."""
    o = Observable.parse(observable)

    def fn(output):
        return jnp.mean(o.extract(output, output.depths))

    fn.depths = soil_depths([o])
    fn.__name__ = f"mean_{o.name}"
    return fn


def misfit_output(observations: Observations) -> Callable:
    """Output function: the inversion misfit J against ``observations`` (see :mod:`jlsm.objective`)."""
    values, scale = jnp.asarray(observations.values), jnp.asarray(observations.scale)

    def fn(output):
        return misfit(observations.simulated(output), values, scale)

    fn.depths = observations.depths
    fn.__name__ = "misfit"
    return fn


def rmse_outputs(observations: Observations) -> dict[str, Callable]:
    """Output functions: the RMSE of each observed variable against ``observations``, in its units."""
    out = {}
    values = np.asarray(observations.values)
    for v, o in enumerate(observations.observables):
        obs_v = jnp.asarray(values[:, v])

        def fn(output, o=o, obs_v=obs_v):
            r, mask = residuals(o.extract(output, output.depths)[:, None], obs_v[:, None], 1.0)
            return jnp.sqrt(jnp.sum(r**2) / jnp.maximum(jnp.sum(mask), 1))

        fn.depths = soil_depths([o])
        out[f"rmse_{o.name}"] = fn
    return out


@dataclasses.dataclass(frozen=True)
class _Outputs:
    space: ParameterSpace
    functions: tuple[Callable, ...]
    depths: tuple[float, ...]

    def __call__(self, x, model, forcing, initial):
        m = self.space.physical_to_model(x, model)
        out = simulate(m, forcing, initial=initial, depths=self.depths)
        return jnp.stack([jnp.asarray(f(out), jnp.result_type(float)) for f in self.functions])


@eqx.filter_jit
def _evaluate_chunk(spec: _Outputs, x, model, forcing, initial):
    return jax.vmap(lambda v: spec(v, model, forcing, initial))(x)


def _evaluate(spec, x, model, forcing, initial, chunk):
    """Outputs (N, K) for parameter sets x (N, P), vmapped in chunks of a fixed size (one compile)."""
    n = x.shape[0]
    chunk = max(1, min(int(chunk), n))
    pieces = []
    for start in range(0, n, chunk):
        block = x[start : start + chunk]
        pad = chunk - block.shape[0]
        if pad:
            block = np.concatenate([block, np.repeat(block[-1:], pad, axis=0)])
        y = np.asarray(_evaluate_chunk(spec, jnp.asarray(block, jnp.float64), model, forcing, initial))
        pieces.append(y[: chunk - pad])
    return np.concatenate(pieces)


def _bounds_of(space, bounds):
    out = []
    for p in space.parameters:
        b = None
        if bounds is not None and (p.name in bounds or any(_canonical(k) == p.name for k in bounds)):
            b = next(v for k, v in bounds.items() if _canonical(k) == p.name)
        elif p.name in space.start_bounds:
            b = space.start_bounds[p.name]
        else:
            b = p.bounds
        if b is None:
            raise ParameterError(f"{p.name} has no bounds to sample from; give them in 'bounds'")
        lo, hi = float(b[0]), float(b[1])
        if not lo < hi:
            raise ParameterError(f"bounds of {p.name} must satisfy lo < hi, got ({lo}, {hi})")
        out.append((lo, hi, p.transform == "log-sigmoid" and lo > 0))
    return out


def sobol_indices(
    model: LandSurfaceModel,
    forcing: Forcing,
    space: ParameterSpace,
    outputs,
    *,
    n: int = 256,
    seed: int = 0,
    initial=None,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    depths: Sequence[float] = (),
    chunk: int = 512,
    num_resamples: int = 100,
) -> xr.Dataset:
    """Sobol first-order and total indices of model outputs over the parameter bounds.

    Saltelli sampling and the Jansen/Saltelli estimators of SALib; the
    ``n * (P + 2)`` model runs are batched with ``vmap`` in chunks.
    Parameters with a log-sigmoid transform are sampled uniformly in log space.

    Args:
        model, forcing, space: the model and its free parameters.
        outputs: name -> function(:class:`~jlsm.model.Output`) -> scalar, or
            a list of observable names whose time mean is taken (e.g.
            ``["ts"]``), or one function. Helpers: :func:`mean_output`,
            :func:`misfit_output`, :func:`rmse_outputs`. A function with a
            ``depths`` attribute gets those soil depths [m] simulated.
        n: base sample size (a power of 2); the model runs n (P + 2) times.
        seed: seed of the scrambled Sobol sequence and the bootstrap.
        initial: initial temperature [K] (None: the bottom temperature).
        bounds: name -> (lo, hi) [physical units]; default the space's start
            bounds, else its bounds.
        depths: extra soil depths [m] the output functions need.
        chunk: parameter sets per vmapped batch.
        num_resamples: bootstrap resamples of the confidence intervals.

    Returns:
        Dataset (output, parameter): ``first_order``, ``total`` and their 95 %
        bootstrap half-widths ``first_order_conf``, ``total_conf``;
        ``output_mean``, ``output_std`` (output).
    """
    try:
        from SALib.analyze import sobol as sobol_analyze
        from SALib.sample import sobol as sobol_sample
    except ImportError:
        raise ImportError("sobol_indices needs SALib: pip install 'jlsm[analysis]'") from None
    if callable(outputs):
        outputs = {getattr(outputs, "__name__", "output"): outputs}
    elif isinstance(outputs, str):
        outputs = {f"mean_{Observable.parse(outputs).name}": mean_output(outputs)}
    elif not isinstance(outputs, Mapping):
        outputs = {f"mean_{Observable.parse(o).name}": mean_output(o) for o in outputs}
    if not outputs:
        raise InputError("sobol_indices: no output given")
    if n < 2:
        raise InputError(f"sobol_indices: n must be >= 2, got {n}")
    space.check_model(model)
    names = list(outputs)
    funcs = tuple(outputs[k] for k in names)
    needed = list(float(d) for d in depths)
    for f in funcs:
        for d in getattr(f, "depths", ()):
            if float(d) not in needed:
                needed.append(float(d))
    spec = _Outputs(space, funcs, tuple(needed))
    b = _bounds_of(space, bounds)
    problem = {"num_vars": space.size, "names": list(space.names), "bounds": [[0.0, 1.0]] * space.size}
    t0 = _time.perf_counter()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        unit = sobol_sample.sample(problem, int(n), calc_second_order=False, seed=seed)
    x = np.empty_like(unit)
    for i, (lo, hi, logscale) in enumerate(b):
        x[:, i] = lo * np.exp(np.log(hi / lo) * unit[:, i]) if logscale else lo + (hi - lo) * unit[:, i]
    y = _evaluate(spec, x, model, forcing, _initial_array(initial), chunk)
    bad = ~np.all(np.isfinite(y), axis=0)
    if bad.any():
        raise InputError(
            f"sobol_indices: output(s) {[k for k, b_ in zip(names, bad) if b_]} are not finite for some parameter sets"
        )
    s1, st, s1c, stc = [], [], [], []
    for k in range(len(names)):
        res = sobol_analyze.analyze(problem, y[:, k], calc_second_order=False, num_resamples=num_resamples, seed=seed)
        s1.append(res["S1"])
        st.append(res["ST"])
        s1c.append(res["S1_conf"])
        stc.append(res["ST_conf"])
    seconds = _time.perf_counter() - t0
    ds = xr.Dataset(
        {
            "first_order": (("output", "parameter"), np.asarray(s1), {"long_name": "first-order Sobol index S1"}),
            "total": (("output", "parameter"), np.asarray(st), {"long_name": "total Sobol index ST"}),
            "first_order_conf": (
                ("output", "parameter"),
                np.asarray(s1c),
                {"long_name": "95 % bootstrap half-width of S1"},
            ),
            "total_conf": (("output", "parameter"), np.asarray(stc), {"long_name": "95 % bootstrap half-width of ST"}),
            "output_mean": (("output",), y.mean(axis=0)),
            "output_std": (("output",), y.std(axis=0)),
            "lower": (("parameter",), np.array([v[0] for v in b]), {"long_name": "sampled lower bound"}),
            "upper": (("parameter",), np.array([v[1] for v in b]), {"long_name": "sampled upper bound"}),
        },
        coords={"output": names, "parameter": list(space.names)},
    )
    ds.attrs.update({"n": int(n), "n_evaluations": int(x.shape[0]), "seed": seed, "wall_seconds": seconds})
    return ds


# ====================================================== sampling vs gradient


@dataclasses.dataclass(frozen=True)
class _Misfit:
    objective: Objective

    def physical(self, x, problem):
        obs = problem[2]
        return misfit(self.objective.simulated(x, problem, physical=True), obs.values, obs.scale)


@eqx.filter_jit
def _misfit_chunk(spec: _Misfit, x, problem):
    return jax.vmap(lambda v: spec.physical(v, problem))(x)


def _problem(model, forcing, observations, initial):
    if not isinstance(observations, Observations):
        raise ObservationError(f"observations must be jlsm.Observations, got {type(observations).__name__}")
    if observations.n_times != forcing.n_times:
        raise ObservationError(f"observations have {observations.n_times} times but the forcing has {forcing.n_times}")
    return (model, forcing, observations, _initial_array(initial, forcing.t_air.dtype))


def sampling_baseline(
    model: LandSurfaceModel,
    forcing: Forcing,
    observations: Observations,
    space: ParameterSpace,
    *,
    n: int = 256,
    method: str = "sobol",
    seed: int = 0,
    initial=None,
    chunk: int = 256,
) -> xr.Dataset:
    """Calibration by sampling: the misfit of ``n`` parameter sets, keep the best.

    The sets come from :meth:`ParameterSpace.sample` (start bounds,
    ``"sobol"`` or ``"uniform"``); the misfit J is the one
    :func:`jlsm.inverse.invert` minimises; evaluations are vmapped in chunks.

    Returns:
        Dataset (evaluation, parameter): ``sample``, ``objective``,
        ``best_so_far`` (running minimum of J over evaluations 1..k),
        ``best`` (parameter), ``best_objective``; attribute ``wall_seconds``.
    """
    if n < 1:
        raise InputError(f"sampling_baseline: n must be >= 1, got {n}")
    space.check_model(model)
    problem = _problem(model, forcing, observations, initial)
    x = space.sample(int(n), seed=seed, method=method)
    spec = _Misfit(Objective(space))
    t0 = _time.perf_counter()
    size = max(1, min(int(chunk), x.shape[0]))
    values = []
    for start in range(0, x.shape[0], size):
        block = x[start : start + size]
        pad = size - block.shape[0]
        if pad:
            block = np.concatenate([block, np.repeat(block[-1:], pad, axis=0)])
        values.append(np.asarray(_misfit_chunk(spec, jnp.asarray(block, jnp.float64), problem))[: size - pad])
    j = np.concatenate(values)
    seconds = _time.perf_counter() - t0
    safe = np.where(np.isfinite(j), j, np.inf)
    best = int(np.argmin(safe))
    ds = xr.Dataset(
        {
            "sample": (("evaluation", "parameter"), x),
            "objective": (("evaluation",), j, {"long_name": "misfit J", "units": "1"}),
            "best_so_far": (
                ("evaluation",),
                np.minimum.accumulate(safe),
                {"long_name": "lowest J after k evaluations"},
            ),
            "best": (("parameter",), x[best]),
            "best_objective": ((), float(safe[best])),
        },
        coords={
            "evaluation": np.arange(1, x.shape[0] + 1),
            "parameter": list(space.names),
            "units": ("parameter", list(space.units)),
        },
    )
    ds.attrs.update({"method": method, "seed": seed, "n": int(n), "wall_seconds": seconds})
    return ds


@dataclasses.dataclass(frozen=True)
class _Costs:
    objective: Objective

    def value(self, u, problem):
        return self.objective(u, problem)

    def value_and_grad(self, u, problem):
        return jax.value_and_grad(self.objective)(u, problem)

    def jacobian(self, u, problem):
        return jax.jacfwd(lambda v: self.objective.residual(v, problem))(u)


@eqx.filter_jit
def _cost_forward(spec: _Costs, u, problem):
    return jax.vmap(lambda v: spec.value(v, problem))(u)


@eqx.filter_jit
def _cost_gradient(spec: _Costs, u, problem):
    return jax.vmap(lambda v: spec.value_and_grad(v, problem))(u)


@eqx.filter_jit
def _cost_jacobian(spec: _Costs, u, problem):
    return jax.vmap(lambda v: spec.jacobian(v, problem))(u)


def forward_equivalents(
    model: LandSurfaceModel,
    forcing: Forcing,
    observations: Observations,
    space: ParameterSpace,
    *,
    batch: int = 8,
    repeats: int = 20,
    seed: int = 0,
    initial=None,
    kinds: Sequence[str] = ("gradient", "jacobian"),
) -> dict[str, float]:
    """Cost of a gradient and of a Gauss-Newton Jacobian in forward-run equivalents.

    Times one batched misfit evaluation of ``batch`` parameter sets, one
    batched value-and-gradient (reverse mode, as the first-order optimiser
    uses) and one batched residual Jacobian (forward mode with P tangents, as
    the Gauss-Newton polish uses), after compilation, the calls interleaved
    and the best of ``repeats`` kept (the least disturbed by other load).

    Args:
        kinds: which of ``"gradient"``, ``"jacobian"`` to time.

    Returns:
        dict with ``forward_seconds`` and ``gradient_seconds`` /
        ``jacobian_seconds`` (per batch), and the ratios ``gradient_ratio`` /
        ``jacobian_ratio`` (forward-run equivalents per gradient / Jacobian;
        NaN when not timed).
    """
    unknown = set(kinds) - {"gradient", "jacobian"}
    if unknown:
        raise InputError(f"forward_equivalents: unknown kind(s) {sorted(unknown)}; use 'gradient', 'jacobian'")
    problem = _problem(model, forcing, observations, initial)
    u = jnp.asarray(space.to_unconstrained(space.sample(int(batch), seed=seed)), jnp.float64)
    spec = _Costs(Objective(space))
    functions = {"forward": _cost_forward, "gradient": _cost_gradient, "jacobian": _cost_jacobian}
    keys = ["forward"] + [k for k in ("gradient", "jacobian") if k in kinds]
    times = {k: [] for k in keys}
    for k in keys:
        jax.block_until_ready(functions[k](spec, u, problem))
    for _ in range(max(1, repeats)):
        for k in keys:
            t0 = _time.perf_counter()
            jax.block_until_ready(functions[k](spec, u, problem))
            times[k].append(_time.perf_counter() - t0)
    out = {f"{k}_seconds": float(np.min(v)) for k, v in times.items()}
    for k in ("gradient", "jacobian"):
        out.setdefault(f"{k}_seconds", float("nan"))
        out[f"{k}_ratio"] = out[f"{k}_seconds"] / out["forward_seconds"]
    out["batch"] = int(batch)
    return out


def compare_with_gradient(
    model: LandSurfaceModel,
    forcing: Forcing,
    observations: Observations,
    space: ParameterSpace,
    *,
    n_samples: int = 256,
    method: str = "sobol",
    starts: int = 8,
    steps: int = 0,
    polish: int = 40,
    seed: int = 0,
    initial=None,
    repeats: int = 20,
    truth: Mapping[str, float] | None = None,
) -> xr.Dataset:
    """Sobol sampling against gradient-based multi-start inversion, at equal cost.

    Runs :func:`sampling_baseline` (``n_samples`` sets) and
    :func:`jlsm.inverse.invert` (``starts`` starts, ``steps`` Adam iterations,
    ``polish`` Gauss-Newton iterations), and counts the inversion's cost in
    forward-run equivalents with :func:`forward_equivalents`: an Adam
    iteration costs ``gradient_ratio`` forward runs per start, a Gauss-Newton
    iteration (and its initial linearisation) ``jacobian_ratio``. All starts
    are counted for every executed iteration (the batch runs them together).

    Returns:
        Dataset with the two curves ``sampling_best`` (sample) over
        ``sampling_evaluations`` and ``gradient_best`` (iteration) over
        ``gradient_evaluations``, the best parameters ``best`` (approach,
        parameter), and per-approach summary variables ``final_objective``,
        ``evaluations``, ``wall_seconds``, ``objective_at_sampling_budget``,
        ``evaluations_to_sampling_best``, ``evaluations_to_gradient_best``
        (within 1 %); with ``truth``, ``relative_error`` (approach, parameter);
        the cost ratios as attributes.
        See :func:`comparison_table` and :func:`comparison_figure`.
    """
    sampling = sampling_baseline(
        model, forcing, observations, space, n=n_samples, method=method, seed=seed, initial=initial
    )
    kinds = (("gradient",) if steps else ()) + (("jacobian",) if polish else ())
    costs = forward_equivalents(
        model, forcing, observations, space, batch=starts, repeats=repeats, seed=seed, initial=initial, kinds=kinds
    )
    phases = []

    def record(info):
        phases.append((info["iteration"], info["phase"]))

    t0 = _time.perf_counter()
    result = invert(
        model,
        forcing,
        observations,
        space,
        starts=starts,
        seed=seed,
        initial=initial,
        steps=steps,
        polish=polish,
        callback=record,
    )
    wall_gradient = _time.perf_counter() - t0
    loss = np.asarray(result["loss"].values)  # (S, I)
    n_iter = loss.shape[1]
    per_iter = np.empty(n_iter)
    done = 0
    for end, phase in phases:
        ratio = costs["jacobian_ratio"] if phase == "gauss-newton" else costs["gradient_ratio"]
        per_iter[done:end] = ratio
        done = end
    per_iter[done:] = costs["jacobian_ratio"] if polish else costs["gradient_ratio"]
    # the loss at iteration k of a phase is known after k + 1 gradients (Adam) or
    # k + 1 linearisations (Gauss-Newton: its initial one, then one trial per step)
    cumulative = starts * np.cumsum(per_iter)
    # work actually done also includes the last step's (unrecorded) trial linearisation
    total = float(cumulative[-1] + (starts * costs["jacobian_ratio"] if polish else 0.0))
    best_curve = np.minimum.accumulate(np.nanmin(np.where(np.isfinite(loss), loss, np.inf), axis=0))
    sampling_best = sampling["best_so_far"].values
    sampling_evals = sampling["evaluation"].values.astype(float)
    s_best = float(sampling_best[-1])
    budget = sampling_evals[-1]
    within = cumulative <= budget
    at_budget = float(best_curve[within][-1]) if within.any() else float("nan")
    reach = np.flatnonzero(best_curve <= s_best)
    to_reach_g = float(cumulative[reach[0]]) if reach.size else float("nan")
    g_best = float(np.nanmin(result["final_loss"].values))
    # "reached" = within 1 % of the gradient method's final objective
    near = g_best + 0.01 * abs(g_best)
    reach_s = np.flatnonzero(sampling_best <= near)
    to_reach_s = float(sampling_evals[reach_s[0]]) if reach_s.size else float("nan")
    to_reach_own = (
        float(cumulative[np.flatnonzero(best_curve <= near)[0]]) if np.any(best_curve <= near) else float("nan")
    )

    names = list(space.names)
    best_g = result["final"].isel(start=int(result["best_start"])).sel(parameter=names).values
    best = np.stack([sampling["best"].values, best_g])
    ds = xr.Dataset(
        {
            "sampling_evaluations": (("sample",), sampling_evals),
            "sampling_best": (("sample",), sampling_best, {"long_name": "lowest J after k sampled sets"}),
            "gradient_evaluations": (("iteration",), cumulative, {"long_name": "forward-run equivalents spent"}),
            "gradient_best": (("iteration",), best_curve, {"long_name": "lowest J over all starts so far"}),
            "best": (("approach", "parameter"), best),
            "final_objective": (("approach",), np.array([s_best, g_best])),
            "evaluations": (("approach",), np.array([budget, total]), {"long_name": "forward-run equivalents spent"}),
            "wall_seconds": (("approach",), np.array([sampling.attrs["wall_seconds"], wall_gradient])),
            "objective_at_sampling_budget": (
                ("approach",),
                np.array([s_best, at_budget]),
                {"long_name": f"lowest J within {budget:g} forward-run equivalents"},
            ),
            "evaluations_to_sampling_best": (
                ("approach",),
                np.array([float(sampling_evals[int(np.argmin(sampling_best))]), to_reach_g]),
                {"long_name": "forward-run equivalents until J <= the sampling's best"},
            ),
            "evaluations_to_gradient_best": (
                ("approach",),
                np.array([to_reach_s, to_reach_own]),
                {"long_name": "forward-run equivalents until J is within 1 % of the gradient's best (NaN: never)"},
            ),
        },
        coords={
            "approach": ["sampling", "gradient"],
            "parameter": names,
            "units": ("parameter", list(space.units)),
            "sample": np.arange(len(sampling_evals)),
            "iteration": np.arange(n_iter),
        },
    )
    if truth is not None:
        t = np.array([float(truth.get(n, np.nan)) for n in names])
        ds["relative_error"] = (("approach", "parameter"), np.abs(best / t - 1.0))
    ds.attrs.update(
        {
            **{k: float(v) for k, v in costs.items()},
            "n_samples": int(n_samples),
            "sampler": method,
            "starts": int(starts),
            "steps": int(steps),
            "polish": int(polish),
            "seed": int(seed),
        }
    )
    return ds


def comparison_table(comparison: xr.Dataset) -> str:
    """A plain-text summary of :func:`compare_with_gradient`."""
    a = comparison.attrs
    costs = [
        f"one {label} = {a[key]:.2f} forward runs"
        for key, label in (("gradient_ratio", "gradient"), ("jacobian_ratio", "Gauss-Newton Jacobian"))
        if np.isfinite(a[key])
    ]
    lines = [
        f"cost: {', '.join(costs)} (measured on a batch of {int(a['batch'])})",
        f"{'approach':<10}{'evaluations':>12}{'best J':>10}{'J at sampling budget':>22}{'evals to sampling best':>24}"
        f"{'evals to gradient best':>24}{'wall s':>8}",
    ]
    for m in comparison["approach"].values:
        r = comparison.sel(approach=m)
        lines.append(
            f"{m:<10}{float(r['evaluations']):>12.0f}{float(r['final_objective']):>10.3g}"
            f"{float(r['objective_at_sampling_budget']):>22.3g}{float(r['evaluations_to_sampling_best']):>24.0f}"
            f"{float(r['evaluations_to_gradient_best']):>24.0f}{float(r['wall_seconds']):>8.2f}"
        )
    lines.append(
        "(evaluations in forward-run equivalents; 'gradient best' = within 1 % of the gradient method's final J; "
        "wall s include any compilation on first use)"
    )
    return "\n".join(lines)


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
    ax.set_xlabel("forward-run equivalents")
    ax.set_ylabel("best misfit J")
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
    ax.set_ylabel("delta chi2")
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
    axes.flat[0].legend(fontsize=8)
    return fig


# ======================================================================= CLI

DEFAULT_DEPTHS_CM = (0, 1, 2, 5, 10, 15, 20, 30, 50)
DEFAULT_NOISE_K = (0.05, 0.1, 0.5)


def synthetic_sweep(depths_cm=DEFAULT_DEPTHS_CM, noise=DEFAULT_NOISE_K, *, sizes=(1, 2), hours=None) -> xr.Dataset:
    """The design sweep of the published synthetic case at its true parameters.

    Depths in cm, noise in K; all six parameters free (albedo, h, beta,
    conductivity, bottom temperature, heat capacity); initial profile 293 K.
    """
    from .synthetic import INITIAL_TEMPERATURE, TRUE_PARAMETERS, paper_forcing, paper_model, twin_space

    space = twin_space()
    forcing = paper_forcing()
    model = paper_model()
    designs = design_grid(
        np.asarray(depths_cm, float) / 100.0,
        noise,
        sizes=sizes,
        record_lengths=(None if hours is None else int(hours) + 1,),
    )
    return design_sweep(model, forcing, space, TRUE_PARAMETERS, designs, initial=INITIAL_TEMPERATURE)


def add_parser(subparsers):
    """Add the ``identify`` subcommand to an argparse subparsers object."""
    from pathlib import Path

    p = subparsers.add_parser(
        "identify", help="observation-design sweep of the synthetic case: which depths identify the parameters"
    )
    p.add_argument("--depths", type=float, nargs="+", default=list(DEFAULT_DEPTHS_CM), help="candidate depths [cm]")
    p.add_argument("--noise", type=float, nargs="+", default=list(DEFAULT_NOISE_K), help="temperature noise levels [K]")
    p.add_argument("--sizes", type=int, nargs="+", default=[1, 2], help="numbers of depths per design (default 1 2)")
    p.add_argument("--hours", type=int, default=None, help="record length [h] (default: the whole 100 h)")
    p.add_argument(
        "--rank-by", default="max_target_std", help=f"ranking: one of {CRITERIA} or a quantity (default max_target_std)"
    )
    p.add_argument("--top", type=int, default=15, help="designs shown (default 15)")
    p.add_argument(
        "--out", type=Path, default=Path("results/identify"), help="output folder (default results/identify)"
    )
    p.add_argument("--no-figure", action="store_true", help="do not draw the figure")
    return p


def run(args) -> int:
    """Run ``jlsm identify``: sweep, print the ranked table, write NetCDF and a figure to ``--out``."""
    t0 = _time.perf_counter()
    if args.top < 1:
        raise InputError(f"identify: --top must be >= 1, got {args.top}")
    sweep = synthetic_sweep(args.depths, args.noise, sizes=tuple(args.sizes), hours=args.hours)
    ranked = rank_designs(sweep, by=args.rank_by)
    print(
        f"{sweep.sizes['design']} designs of the synthetic case (true parameters), one batched computation: "
        f"{sweep.attrs['wall_seconds']:.2f} s including compilation (Jacobian {sweep.attrs['jacobian_seconds']:.2f} s)"
    )
    print("Cramer-Rao relative standard deviations (h and beta alone: inf, only h_eff = h (1 + 1/beta) is seen)")
    print(design_table(ranked, args.top))
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "design_sweep.nc"
    try:
        ranked.to_netcdf(path)
        print(f"results: {path}")
    except (ImportError, ValueError) as err:
        alt = path.with_suffix(".json")
        alt.write_text(json.dumps(ranked.to_dict(data="list"), default=str))
        print(f"(NetCDF not written: {err}; wrote {alt})")
    if not args.no_figure:
        try:
            fig = design_figure(sweep)
            fig.savefig(args.out / "design_sweep.png", dpi=120)
            print(f"figure: {args.out / 'design_sweep.png'}")
        except (ImportError, InputError) as err:
            print(f"(figure not drawn: {err})")
    print(f"total {_time.perf_counter() - t0:.1f} s")
    return 0


__all__ = [
    "Design",
    "DERIVED_QUANTITIES",
    "TARGETS",
    "add_parser",
    "collinearity",
    "compare_with_gradient",
    "comparison_figure",
    "comparison_table",
    "describe_directions",
    "design_figure",
    "design_grid",
    "design_sweep",
    "design_table",
    "forward_equivalents",
    "local_analysis",
    "mean_output",
    "misfit_output",
    "profile_figure",
    "profile_likelihood",
    "rank_designs",
    "rmse_outputs",
    "run",
    "sampling_baseline",
    "sensitivities",
    "sobol_figure",
    "sobol_indices",
    "synthetic_sweep",
]
