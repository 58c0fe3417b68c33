"""Profile likelihood of one parameter, the others re-optimised (batched Levenberg-Marquardt)."""

from __future__ import annotations

import dataclasses
import time as _time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from .._linalg import spd_solve
from ..errors import InputError, ObservationError, ParameterError
from ..forcing import Forcing
from ..model import LandSurfaceModel, simulate
from ..objective import residuals
from ..observe import Observable, Observations, soil_depths
from ..params import ParameterSpace
from .coordinates import _canonical, _initial_array, _noise_vector, _require_float64

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
