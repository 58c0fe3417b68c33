"""Analysis coordinates and shared pieces of the identifiability tools.

A free parameter ``p`` enters the local analyses as ``q = log p`` when it is
positive with a non-negative lower bound, else as itself (see :mod:`jlsm.identify`);
derived quantities (``h_eff = h (1 + 1/beta)`` [W m-2 K-1], diffusivity
``lambda / C`` [m2 s-1], thermal inertia ``sqrt(lambda C)`` [J m-2 K-1 s-1/2])
get their log-gradients in q here. Also: the default cut-offs and argument checks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import InputError, ObservationError, ParameterError
from ..observe import Observable, Observations, error_vector
from ..params import ALIASES, ParameterSpace

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


def _problem(model, forcing, observations, initial):
    """(model, forcing, observations, initial) after checking the observations against the forcing."""
    if not isinstance(observations, Observations):
        raise ObservationError(f"observations must be jlsm.Observations, got {type(observations).__name__}")
    if observations.n_times != forcing.n_times:
        raise ObservationError(f"observations have {observations.n_times} times but the forcing has {forcing.n_times}")
    return (model, forcing, observations, _initial_array(initial, forcing.t_air.dtype))
