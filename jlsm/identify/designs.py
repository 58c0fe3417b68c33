"""Observation designs: many depth/noise/record-length designs from one Jacobian, ranked.

Also :func:`synthetic_sweep`, the sweep of the published synthetic case that
``jlsm identify`` prints; figures of a sweep are in :mod:`jlsm.identify.figures`.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import time as _time
from collections.abc import Mapping, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from ..errors import InputError, ObservationError, ParameterError
from ..forcing import Forcing
from ..model import LandSurfaceModel
from ..observe import Observable
from ..params import ParameterSpace
from .coordinates import (
    NULL_TOL,
    RCOND,
    TARGETS,
    _canonical,
    _derived_table,
    _gradient_rows,
    _log_mask,
    _parse_observables,
    _physical_vector,
    _require_float64,
)
from .fisher import _summarise, _target_information, sensitivities

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


# ====================================================== the synthetic case

DEFAULT_DEPTHS_CM = (0, 1, 2, 5, 10, 15, 20, 30, 50)
DEFAULT_NOISE_K = (0.05, 0.1, 0.5)


def synthetic_sweep(depths_cm=DEFAULT_DEPTHS_CM, noise=DEFAULT_NOISE_K, *, sizes=(1, 2), hours=None) -> xr.Dataset:
    """The design sweep of the published synthetic case at its true parameters.

    Depths in cm, noise in K; all six parameters free (albedo, h, beta,
    conductivity, bottom temperature, heat capacity); initial profile 293 K.
    """
    from ..synthetic import INITIAL_TEMPERATURE, TRUE_PARAMETERS, paper_forcing, paper_model, twin_space

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
