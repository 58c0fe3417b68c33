"""Local identifiability of the version-2 land model's parameters from tower fluxes at real sites.

Which parameter combinations do measured Qh and Qle pin down at a site, and which
do they leave free (equifinality)? The Fisher information of the observed series
in log-parameter coordinates q = log p, ``F = J^T W J`` with ``J = d y / d q``
(forward mode through :func:`jlsm.land.simulate_land`, one pass carrying P
tangents) and ``W = diag(1 / sigma^2)`` over the measured times, gives the
Cramer-Rao bounds (Fisher 1925; Rao 1945) of the relative errors of the
parameters, their correlations, the eigen-directions of F named as parameter
combinations (``"0.80 log rs_min - 0.55 log lai_scale"``: moving along it changes
the observations least) and the collinearity index of parameter subsets (Brun,
Reichert & Kuensch 2001, Water Resour. Res. 37, 1015-1030). The linear algebra
is that of :mod:`jlsm.identify` (``_summarise``, :func:`jlsm.identify.collinearity`,
:func:`jlsm.identify.describe_directions`); the Jacobian of the land model is here.

A parameter is called *identified* when its relative Cramer-Rao standard
deviation is below :data:`IDENTIFIED_CR` (0.1: the data fix it to about +-10 %
at one sigma, the bound being a lower bound on the error of any unbiased
estimator); *weak* when the bound is finite but larger; *not identifiable*
when part of its direction lies in the null space of F (eigenvalue below
``rcond`` times the largest). The analysis is local and linear: it holds at the
analysis point (PFT defaults or an estimate) for the noise levels given, and
ignores model error unless ``noise="rmse"`` (the residual RMSE at the point as
the error level, a posteriori).

Observation variants from one Jacobian: Qh only, Qle only, Qh + Qle, and Qh +
Qle with u* (Ustar) and/or reflected shortwave (SWup) where measured: u* pins
the momentum roughness z0m (through the log wind profile), SWup the albedo.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from jlsm._compile import jit as _jit
from jlsm.errors import InputError, ObservationError, ParameterError
from jlsm.identify.collinearity import collinearity
from jlsm.identify.coordinates import NULL_TOL, RCOND, _log_mask, _physical_vector, _require_float64
from jlsm.identify.fisher import _summarise, describe_directions

__all__ = [
    "DEFAULT_NOISE",
    "IDENTIFIED_CR",
    "OBSERVED",
    "default_variants",
    "fisher_analysis",
    "land_jacobian",
    "identifiability_table",
    "site_identifiability",
    "sites_identifiability",
]

OBSERVED = {"qh": "Qh", "qle": "Qle", "ustar": "Ustar", "sw_up": "SWup", "rnet": "Rnet", "qg": "Qg"}
"""Model output name -> observation name (ALMA) of the variables the analysis can use."""

DEFAULT_NOISE = {"qh": 20.0, "qle": 20.0, "ustar": 0.05, "sw_up": 10.0, "rnet": 15.0, "qg": 15.0}
"""Default observation error standard deviations [W m-2; m s-1 for ustar]. Qh, Qle: the
random error of half-hourly eddy-covariance fluxes, which grows with the flux and is of
order 10-30 W m-2 at midday (Richardson et al. 2006, Agric. For. Meteorol. 136, 1-18);
20 W m-2 is a round middle value. Ustar 0.05 m s-1 (about 10-20 % of daytime u* over
short vegetation), SWup 10 W m-2 (pyranometer class of net radiometers, about 5-10 %
of daily totals), Rnet and Qg 15 W m-2: this module's choices, stated here."""

IDENTIFIED_CR = 0.1
"""A parameter is identified when its relative Cramer-Rao standard deviation is below this."""


def _canonical_variable(name: str) -> str:
    low = str(name).strip()
    for out, obs in OBSERVED.items():
        if low in (out, obs) or low.lower() == out:
            return out
    raise InputError(f"unknown variable {name!r}; expected one of {sorted(OBSERVED)} (or {sorted(OBSERVED.values())})")


def default_variants(variables: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Qh only, Qle only, Qh + Qle, and Qh + Qle with each extra variable and with all extras."""
    v = [_canonical_variable(x) for x in variables]
    out = {x: (x,) for x in ("qh", "qle") if x in v}
    base = tuple(x for x in ("qh", "qle") if x in v)
    if len(base) == 2:
        out["qh+qle"] = base
    extras = [x for x in v if x not in ("qh", "qle")]
    for x in extras:
        out["+".join(base + (x,))] = base + (x,)
    if len(extras) > 1:
        out["+".join(base + tuple(extras))] = base + tuple(extras)
    return out


# ============================================================ Jacobian (forward mode)


def _jacobian_program(model, forcing, tangents, spinup_forcing, initial, spinup_years, outputs):
    """(values (T, V), Jacobian (T, V, P)) of the outputs by forward mode: one pass, P tangents."""
    from jlsm.land import simulate_land

    dyn, static = eqx.partition(model, eqx.is_inexact_array)

    def run(d):
        m = eqx.combine(d, static)
        start, cycles = initial, spinup_years
        if spinup_forcing is not None:
            # spinup_years cycles of the spin-up forcing's first year, then the window from there
            start = simulate_land(m, spinup_forcing, initial=initial, spinup_years=spinup_years - 1,
                                  checkpoint_every=None, outputs=(outputs[0],)).final
            cycles = 0
        out = simulate_land(m, forcing, initial=start, spinup_years=cycles, checkpoint_every=None, outputs=outputs)
        return jnp.stack([out.series[k] for k in outputs], axis=1)

    return jax.vmap(lambda t: jax.jvp(run, (dyn,), (t,)), out_axes=(None, 2))(tangents)


_program = _jit(_jacobian_program)


def _tangents(space, model, x, log_mask):
    """Model-shaped tangents (leading axis P): d model / d q_i, q = log p (or p where linear)."""
    lm = jnp.asarray(log_mask)

    def to_dyn(q):
        xx = jnp.where(lm, jnp.exp(jnp.where(lm, q, 0.0)), q)
        return eqx.filter(space.physical_to_model(xx, model), eqx.is_inexact_array)

    q0 = jnp.asarray(np.where(log_mask, np.log(np.where(log_mask, x, 1.0)), x))
    jac = jax.jacfwd(to_dyn)(q0)
    return jax.tree_util.tree_map(lambda a: jnp.moveaxis(a, -1, 0), jac)


def land_jacobian(model, forcing, space, x=None, *, variables=("qh", "qle"), spinup_years: int = 1,
                  spinup_forcing=None, initial=None):
    """Simulated outputs and their derivatives with respect to the log-parameters.

    Args:
        model: a :class:`jlsm.land.LandModel` (float64).
        forcing: :class:`jlsm.land.LandForcing` of one site, fields (T,).
        space: the free parameters (:class:`jlsm.ParameterSpace`, e.g. :func:`jlsm.land.default_space`).
        x: physical values (P,) or name -> value (default: the model's own values).
        variables: model outputs (``qh``, ``qle``, ``ustar``, ``sw_up``, ``rnet``, ``qg``).
        spinup_years: spin-up cycles before the window, differentiated (0: none).
        spinup_forcing: forcing whose first year is cycled ``spinup_years`` times before the
            window (default: the window's own first year, as :func:`jlsm.land.simulate_land`).
        initial: start state (:class:`jlsm.land.LandState`) before the spin-up; held fixed.

    Returns:
        (values (T, V) [output units], Jacobian (T, V, P) [output units per e-fold of each
        parameter, or per parameter unit where the parameter enters linearly], log mask (P,)).
    """
    _require_float64("land_jacobian")
    outputs = tuple(_canonical_variable(v) for v in variables)
    if not outputs:
        raise InputError("land_jacobian: no variable given")
    if int(spinup_years) != spinup_years or spinup_years < 0:
        raise ParameterError(f"land_jacobian: spinup_years must be a non-negative integer, got {spinup_years!r}")
    if spinup_forcing is not None and spinup_years < 1:
        raise ParameterError("land_jacobian: a spinup_forcing needs spinup_years >= 1")
    space.check_model(model)
    model = space.apply_fixed(model)
    x = space.read(model) if x is None else _physical_vector(space, x)
    lm = _log_mask(space, x)
    model = space.physical_to_model(jnp.asarray(x), model)
    tangents = _tangents(space, model, x, lm)
    values, jac = _program(model, forcing, tangents, spinup_forcing, initial, int(spinup_years), outputs)
    values, jac = np.asarray(values), np.asarray(jac)
    if not (np.all(np.isfinite(values)) and np.all(np.isfinite(jac))):
        raise ObservationError("land_jacobian: the model run or its derivatives are not finite at "
                               f"{dict(zip(space.names, np.round(x, 6).tolist()))}")
    return values, jac, lm


# ====================================================== Fisher analysis (linear algebra)


def _default_subsets(names):
    """Every pair, and the process groups present (stomata, soil water, aerodynamics, all)."""
    groups = [("rs_min", "rgl", "hs"), ("rs_min", "lai_scale"),
              ("theta_wilt", "theta_crit", "b", "k_sat", "theta_sat", "root_depth"),
              ("z0m_ratio", "kb_inv"), tuple(names)]
    subsets = [tuple(c) for c in itertools.combinations(names, 2)]
    for g in groups:
        g = tuple(n for n in g if n in names)
        if len(g) > 2 and g not in subsets:
            subsets.append(g)
    return subsets


def fisher_analysis(jac, mask, noise, names, variables, *, variants=None, values=None, units=None,
                    log_mask=None, threshold: float = IDENTIFIED_CR, subsets=None, rcond: float = RCOND,
                    null_tol: float = NULL_TOL) -> xr.Dataset:
    """Fisher information, eigen-directions, Cramer-Rao bounds and collinearity per observation variant.

    Args:
        jac: sensitivities (T, V, P) in q = log p (see :func:`land_jacobian`).
        mask: (T, V) bool, True where the variable is observed.
        noise: (V,) observation error standard deviations [variable units].
        names: the P parameter names; ``variables``: the V variable names.
        variants: name -> tuple of variables (default :func:`default_variants`); a variant
            with a variable never observed is left out.
        values, units: parameter values and units for the coordinates (optional).
        log_mask: (P,) True where q = log p (default all).
        threshold: relative Cramer-Rao std below which a parameter is identified.
        subsets: parameter-name tuples for the collinearity index (default: every pair and
            the process groups).
        rcond, null_tol: as :func:`jlsm.identify.local_analysis`.

    Returns:
        Dataset over (variant, direction, parameter/row/column, subset): ``fisher``,
        ``eigenvalue``, ``eigenvector``, ``direction_name``, ``direction_std``, ``cr_std``,
        ``identified``, ``verdict``, ``correlation``, ``collinearity``, ``rank``,
        ``condition_number``, ``n_observations``.
    """
    jac = np.asarray(jac, float)
    t, v, p = jac.shape
    names = [str(n) for n in names]
    variables = [_canonical_variable(x) for x in variables]
    mask = np.asarray(mask, bool)
    sigma = np.asarray(noise, float)
    if mask.shape != (t, v) or sigma.shape != (v,) or len(names) != p or len(variables) != v:
        raise InputError(f"fisher_analysis: shapes disagree: jac {jac.shape}, mask {mask.shape}, noise {sigma.shape}, "
                         f"{len(names)} names, {len(variables)} variables")
    if not np.all(np.isfinite(sigma) & (sigma > 0)):
        raise InputError(f"fisher_analysis: noise levels must be positive and finite, got {sigma.tolist()}")
    lm = np.ones(p, bool) if log_mask is None else np.asarray(log_mask, bool)
    variants = default_variants(variables) if variants is None else {
        k: tuple(_canonical_variable(x) for x in vs) for k, vs in dict(variants).items()}
    observed = mask.any(axis=0)
    kept = {k: vs for k, vs in variants.items() if all(x in variables and observed[variables.index(x)] for x in vs)}
    if not kept:
        raise ObservationError(f"fisher_analysis: no variant {list(variants)} has all its variables observed")
    subsets = _default_subsets(names) if subsets is None else subsets

    per = {k: [] for k in ("fisher", "eigenvalue", "eigenvector", "cr_std", "correlation", "rank", "cond", "n",
                           "gamma", "dname", "dstd")}
    labels = None
    for vs in kept.values():
        idx = [variables.index(x) for x in vs]
        whitened = jac[:, idx, :] * (mask[:, idx] / sigma[idx])[:, :, None]
        s = whitened.reshape(-1, p)
        fisher = s.T @ s
        summ = {k: np.asarray(val) for k, val in
                _summarise(jnp.asarray(fisher), jnp.asarray(np.eye(p)), rcond, null_tol).items()}
        per["fisher"].append(fisher)
        per["eigenvalue"].append(summ["eigenvalue"])
        per["eigenvector"].append(summ["eigenvector"])
        per["cr_std"].append(summ["cr_std"])
        per["correlation"].append(summ["correlation"])
        per["rank"].append(int(summ["rank"]))
        per["cond"].append(float(summ["condition_number"]))
        per["n"].append(int(mask[:, idx].sum()))
        col = collinearity(s, names, subsets)
        labels = col["subset"].values
        per["gamma"].append(col["collinearity"].values)
        w = summ["eigenvalue"]
        cut = max(rcond * float(w.max()), np.finfo(float).tiny)
        per["dstd"].append(np.where(w > cut, 1.0 / np.sqrt(np.where(w > cut, w, 1.0)), np.inf))
    scale = np.where(lm, "log", "linear")
    cr = np.stack(per["cr_std"])
    verdict = np.where(cr < threshold, "identified", np.where(np.isfinite(cr), "weak", "not identifiable"))
    ds = xr.Dataset(
        {
            "fisher": (("variant", "row", "column"), np.stack(per["fisher"]),
                       {"long_name": "Fisher information J^T W J in q = log p", "units": "1"}),
            "eigenvalue": (("variant", "direction"), np.stack(per["eigenvalue"]),
                           {"long_name": "eigenvalues of F, ascending"}),
            "eigenvector": (("variant", "direction", "row"), np.stack(per["eigenvector"]),
                            {"long_name": "unit eigenvectors of F in q, weakest first"}),
            "direction_std": (("variant", "direction"), np.stack(per["dstd"]),
                              {"long_name": "Cramer-Rao std along the eigen-direction, 1/sqrt(eigenvalue) "
                                            "(inf below the cutoff)", "units": "1"}),
            "cr_std": (("variant", "parameter"), cr,
                       {"long_name": "Cramer-Rao std of log p (relative error of p)", "units": "1"}),
            "identified": (("variant", "parameter"), cr < threshold,
                           {"long_name": f"relative Cramer-Rao std below {threshold}"}),
            "verdict": (("variant", "parameter"), verdict.astype(object)),
            "correlation": (("variant", "row", "column"), np.stack(per["correlation"]),
                            {"long_name": "correlation from F (eigenvalues floored at rcond * max)"}),
            "collinearity": (("variant", "subset"), np.stack(per["gamma"]),
                             {"long_name": "collinearity index gamma_K (Brun et al. 2001)", "units": "1"}),
            "rank": (("variant",), np.array(per["rank"])),
            "condition_number": (("variant",), np.array(per["cond"])),
            "n_observations": (("variant",), np.array(per["n"])),
        },
        coords={
            "variant": list(kept),
            "variant_variables": ("variant", [",".join(vs) for vs in kept.values()]),
            "parameter": names,
            "row": names,
            "column": names,
            "scale": ("parameter", scale),
            "direction": np.arange(p),
            "subset": labels,
            "subset_size": ("subset", np.array([len(str(s).split(",")) for s in labels], int)),
        },
        attrs={"threshold": threshold, "rcond": rcond, "null_tol": null_tol,
               "variants_left_out": ",".join(k for k in variants if k not in kept)},
    )
    if values is not None:
        ds = ds.assign_coords(value=("parameter", np.asarray(values, float)))
        ds["cr_std_absolute"] = (("variant", "parameter"), np.where(lm, cr * np.abs(ds["value"].values), cr))
    if units is not None:
        ds = ds.assign_coords(units=("parameter", list(units)))
    ds["direction_name"] = (("variant", "direction"), np.array(
        [describe_directions(ds.isel(variant=i), count=p, digits=2) for i in range(len(kept))], dtype=object))
    return ds


# ============================================================ one site


def _noise_levels(noise, variables, values, observed, mask):
    if noise is None:
        noise = DEFAULT_NOISE
    if isinstance(noise, str):
        if noise != "rmse":
            raise InputError(f"site_identifiability: noise must be a mapping, a number or 'rmse', got {noise!r}")
        out = []
        for j, name in enumerate(variables):
            m = mask[:, j]
            r = float(np.sqrt(np.mean((values[m, j] - observed[m, j]) ** 2))) if m.any() else np.nan
            out.append(r if np.isfinite(r) and r > 0 else DEFAULT_NOISE[name])
        return np.array(out)
    if np.isscalar(noise):
        return np.full(len(variables), float(noise))
    given = {_canonical_variable(k): float(val) for k, val in dict(noise).items()}
    return np.array([given.get(v, DEFAULT_NOISE[v]) for v in variables])


def site_identifiability(model, forcing, observations: Mapping, space, *, x=None, noise=None,
                         variables=("qh", "qle"), variants=None, spinup_years: int = 1, spinup_forcing=None,
                         initial=None, time=None, threshold: float = IDENTIFIED_CR, subsets=None,
                         rcond: float = RCOND) -> xr.Dataset:
    """Local identifiability of the land model's parameters at one site from its measured fluxes.

    Args:
        model: the site's :class:`jlsm.land.LandModel` (float64).
        forcing: :class:`jlsm.land.LandForcing` (T,) of the analysed window.
        observations: name (``"Qh"`` or ``"qh"``, ...) -> (T,) measured values, NaN where
            not measured; only where they are finite do they enter F (and the RMSE noise).
        space: the free parameters (:func:`jlsm.land.default_space`).
        x: physical values (P,) or name -> value (default: the model's own values).
        noise: name -> error std [W m-2; m s-1], a number for all, ``"rmse"`` (residual RMSE
            at ``x`` per variable), or None (:data:`DEFAULT_NOISE`).
        variables: outputs used (those with no measurement in the window are dropped).
        variants: name -> tuple of variables (default :func:`default_variants`).
        spinup_years, spinup_forcing, initial: spin-up, differentiated (see :func:`land_jacobian`).
        time: optional (T,) datetimes of the window for the ``time`` coordinate.
        threshold: relative Cramer-Rao std below which a parameter counts as identified.
        subsets, rcond: see :func:`fisher_analysis`.

    Returns:
        :func:`fisher_analysis` dataset plus ``simulated``, ``observed`` (time, variable),
        ``sensitivity`` (time, variable, row) and ``noise`` (variable); attrs give the RMSE
        of each variable at ``x``.
    """
    obs = {}
    for k, val in dict(observations).items():
        obs[_canonical_variable(k)] = np.asarray(val, float)
    wanted = [_canonical_variable(v) for v in variables]
    n = forcing.n_times
    for k, val in obs.items():
        if val.shape != (n,):
            raise ObservationError(f"site_identifiability: observations[{OBSERVED[k]!r}] has shape {val.shape}, "
                                   f"expected ({n},) like the forcing")
    used = [v for v in wanted if v in obs and np.isfinite(obs[v]).any()]
    if not used:
        raise ObservationError(f"site_identifiability: none of {wanted} is measured in the window")
    values, jac, lm = land_jacobian(model, forcing, space, x, variables=used, spinup_years=spinup_years,
                                    spinup_forcing=spinup_forcing, initial=initial)
    observed = np.stack([obs[v] for v in used], axis=1)
    mask = np.isfinite(observed)
    sigma = _noise_levels(noise, used, values, observed, mask)
    xv = space.read(space.apply_fixed(model)) if x is None else _physical_vector(space, x)
    ds = fisher_analysis(jac, mask, sigma, space.names, used, variants=variants, values=xv, units=space.units,
                         log_mask=lm, threshold=threshold, subsets=subsets, rcond=rcond)
    tcoord = np.arange(n) if time is None else np.asarray(time)
    ds["simulated"] = (("time", "variable"), values)
    ds["observed"] = (("time", "variable"), observed)
    ds["sensitivity"] = (("time", "variable", "row"), jac,
                         {"long_name": "d output / d log p", "units": "output units per e-fold"})
    ds["noise"] = (("variable",), sigma, {"long_name": "observation error std used in W"})
    ds = ds.assign_coords(variable=used, time=tcoord)
    for j, v in enumerate(used):
        m = mask[:, j]
        ds.attrs[f"rmse_{v}"] = float(np.sqrt(np.mean((values[m, j] - observed[m, j]) ** 2)))
        ds.attrs[f"n_{v}"] = int(m.sum())
    return ds


# ============================================================ sites of a collection


def _window_start(fit_row, time_row, month):
    """First index of the fit window, or of its first day in ``month`` (1-12)."""
    idx = np.flatnonzero(fit_row)
    if idx.size == 0:
        return None
    if month is None:
        return int(idx[0])
    months = (time_row[idx].astype("datetime64[M]").astype(int) % 12) + 1
    hit = idx[months == int(month)]
    return int(hit[0]) if hit.size else None


def sites_identifiability(batch, *, estimates=None, days: float = 30.0, month: int | None = None,
                          variables=("qh", "qle", "ustar", "sw_up"), extra: bool = True, noise=None,
                          spinup_years: int = 1, soil: str = "LOAM", corrected: bool = False,
                          threshold: float = IDENTIFIED_CR, subsets=None) -> dict[str, xr.Dataset]:
    """:func:`site_identifiability` at every site of a collection, over ``days`` of its fit window.

    Per site: the land-model problem of :func:`jlsm.calibration.sites.calibration_data`
    (PFT defaults, site heights, LAI, deep temperature), the default space of its type
    (with ``extra``: also LAI scale and vegetation albedo, so that SWup can speak), the
    analysis point ``estimates[site]`` (name -> physical value; default the PFT
    defaults). The state at the window start comes from one forward run of the whole
    collection with ``spinup_years`` cycles of each record's first year (the
    calibration's spin-up) and is held fixed: the Fisher information is that of the
    window given that state (parameters act through the window's own dynamics).

    Args:
        batch: a :class:`jlsm.sites.SiteBatch`.
        estimates: site name -> (name -> physical value), or None.
        days: window length [d] (the same for every site: one compiled program).
        month: start at the first day of this month (1-12) in the fit window (default: the
            window's start); a site without it is left out.
        variables, noise, threshold, subsets: see :func:`site_identifiability`.
        soil, corrected: see :func:`jlsm.calibration.sites.calibration_data`.

    Returns:
        site name -> dataset (attrs: site, pft, window start, spin-up).
    """
    from jlsm.land import default_space, simulate_batch

    from .calibrate import stack_models
    from .sites import calibration_data

    wanted = [_canonical_variable(v) for v in variables]
    obs_names = [OBSERVED[v] for v in wanted]
    types = [str(g) for g in (batch.igbp[i] or batch.pft[i] for i in range(len(batch.names)))]
    spaces = [default_space(t, extra=extra) for t in types]
    data = calibration_data(batch, spaces=spaces, soil=soil, corrected=corrected, spinup_years=spinup_years,
                            variables=tuple(obs_names))
    n_s = len(data.sites)
    unstack = lambda tree, i: jax.tree_util.tree_map(lambda a: a[i], tree)  # noqa: E731
    models = []
    for i in range(n_s):
        m = unstack(data.models, i)
        est = (estimates or {}).get(data.sites[i])
        if est is not None:
            m = spaces[i].physical_to_model(jnp.asarray(_physical_vector(spaces[i], est)), m)
        models.append(m)
    stacked = stack_models(models)
    state_names = ("ts", "soil_temperature", "soil_moisture", "canopy_water", "swe")
    run = simulate_batch(stacked, data.forcing, spinup_years=spinup_years, checkpoint_every=None,
                         outputs=state_names)
    steps = int(round(days * 86400.0 / batch.dt))
    out = {}
    for i in range(n_s):
        k0 = _window_start(data.fit[i], data.time[i], month)
        if k0 is None or k0 + steps > int(batch.mask[i].sum()):
            continue
        if k0 == 0:
            initial = unstack(run.initial, i)
        else:
            s = {k: np.asarray(run.series[k][i, k0 - 1]) for k in state_names}
            initial = type(run.initial)(s["ts"], s["soil_temperature"], s["soil_moisture"], s["canopy_water"],
                                        s["swe"])
        forcing = unstack(data.forcing, i).window(k0, k0 + steps)
        obs = {k: np.asarray(data.obs[k][i, k0:k0 + steps]) for k in obs_names if k in data.obs}
        ds = site_identifiability(models[i], forcing, obs, spaces[i], noise=noise, variables=wanted,
                                  spinup_years=0, initial=initial, time=data.time[i, k0:k0 + steps],
                                  threshold=threshold, subsets=subsets)
        ds.attrs.update(site=data.sites[i], pft=types[i], start=str(data.time[i, k0])[:16], days=float(days),
                        point="estimate" if (estimates or {}).get(data.sites[i]) is not None else "PFT defaults",
                        spinup=f"{spinup_years} cycle(s) of the record's first year, then the record to the "
                               "window start (forward, state held fixed)")
        out[data.sites[i]] = ds
    return out


# ============================================================ text report


def identifiability_table(analyses, *, site: str | None = None, weakest: int = 3, strongest: int = 3) -> str:
    """Plain-text table: relative Cramer-Rao std per parameter and variant (``*`` identified),
    then the best- and least-determined combinations per variant.

    Args:
        analyses: one dataset of :func:`site_identifiability` or site -> dataset.
        site: the heading when one dataset is given.
        weakest, strongest: how many eigen-directions to name at each end.
    """
    if isinstance(analyses, xr.Dataset):
        analyses = {site or analyses.attrs.get("site", "site"): analyses}
    lines = []
    for name, ds in analyses.items():
        variants = [str(v) for v in ds["variant"].values]
        head = f"{name}"
        if "pft" in ds.attrs:
            head += f" ({ds.attrs['pft']}, {ds.attrs.get('point', '')}, from {ds.attrs.get('start', '')} "
            head += f"for {ds.attrs.get('days', ''):g} d)"
        lines.append(head)
        if "variable" in ds.coords:
            lines.append("  noise: " + ", ".join(f"{v} {s:.3g} (n={ds.attrs.get(f'n_{v}', '?')}, "
                                                 f"rmse {ds.attrs.get(f'rmse_{v}', np.nan):.3g})"
                                                 for v, s in zip(ds["variable"].values, ds["noise"].values)))
        width = max(12, *(len(v) + 1 for v in variants))
        lines.append(f"  {'parameter':<21}{'value':>10}" + "".join(f"{v:>{width}}" for v in variants))
        for p in ds["parameter"].values:
            val = float(ds["value"].sel(parameter=p)) if "value" in ds.coords else np.nan
            cells = []
            for v in variants:
                c = float(ds["cr_std"].sel(variant=v, parameter=p))
                mark = "*" if bool(ds["identified"].sel(variant=v, parameter=p)) else " "
                cells.append(f"{c:>{width - 1}.3g}{mark}" if np.isfinite(c) else f"{'inf':>{width - 1}} ")
            lines.append(f"  {p:<21}{val:>10.4g}" + "".join(cells))
        for v in variants:
            d = ds.sel(variant=v)
            names, stds = d["direction_name"].values, d["direction_std"].values
            n_id = int(d["identified"].sum())
            lines.append(f"  [{v}] rank {int(d['rank'])}, {n_id} of {ds.sizes['parameter']} parameters identified; "
                         f"{int(np.sum(stds < ds.attrs['threshold']))} directions with std < {ds.attrs['threshold']}")
            order = np.argsort(stds)
            for k in order[:strongest]:
                lines.append(f"      pinned   std {stds[k]:8.3g}: {names[k]}")
            for k in np.argsort(-stds)[:weakest]:
                lines.append(f"      unpinned std {stds[k]:8.3g}: {names[k]}")
        lines.append("")
    return "\n".join(lines)
