"""Observation operators and masked observations.

An observable is named by a short string:

==========================  =============================================  =========
name                        model quantity                                 units
==========================  =============================================  =========
``ts``                      surface (top node) temperature                 K
``soil_temperature@0.05``   soil temperature at 0.05 m (linear interp.)    K
``lw_up``                   upwelling longwave                             W m-2
``sw_up``                   reflected shortwave                            W m-2
``sensible``                sensible heat flux H                           W m-2
``latent``                  latent heat flux LE                            W m-2
``turbulent``               H + LE                                         W m-2
``ground``                  ground heat flux G0                            W m-2
==========================  =============================================  =========

Observations hold values of shape (T, V) on the forcing's time axis, NaN
meaning missing, and one error scale per variable used to weight the misfit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .errors import ObservationError

_FIELDS = {
    "ts": ("ts", "K"),
    "lw_up": ("lw_up", "W m-2"),
    "sw_up": ("sw_up", "W m-2"),
    "sensible": ("sensible", "W m-2"),
    "latent": ("latent", "W m-2"),
    "ground": ("ground", "W m-2"),
    "turbulent": (None, "W m-2"),
}
SOIL = "soil_temperature"


@dataclasses.dataclass(frozen=True)
class Observable:
    """A model quantity that can be compared with an observation.

    Attributes:
        kind: one of ``ts, lw_up, sw_up, sensible, latent, turbulent, ground, soil_temperature``.
        depth: depth [m] for ``soil_temperature``, else None.
    """

    kind: str
    depth: float | None = None

    @classmethod
    def parse(cls, name: str) -> "Observable":
        """From a name such as ``"ts"`` or ``"soil_temperature@0.05"`` (depth in m)."""
        if not isinstance(name, str):
            raise ObservationError(f"observable names are strings, got {name!r}")
        if "@" in name:
            kind, _, depth = name.partition("@")
            if kind.strip() != SOIL:
                raise ObservationError(f"observable {name!r}: only {SOIL}@DEPTH takes a depth")
            try:
                d = float(depth)
            except ValueError:
                raise ObservationError(f"observable {name!r}: depth {depth!r} is not a number of metres") from None
            return cls(SOIL, d)
        kind = name.strip()
        if kind not in _FIELDS:
            known = ", ".join(list(_FIELDS) + [f"{SOIL}@DEPTH"])
            raise ObservationError(f"unknown observable {name!r}; known: {known}")
        return cls(kind)

    @property
    def name(self) -> str:
        return f"{SOIL}@{self.depth:g}" if self.kind == SOIL else self.kind

    @property
    def units(self) -> str:
        return "K" if self.kind == SOIL else _FIELDS[self.kind][1]

    def extract(self, output, depths: Sequence[float]):
        """This quantity from a model :class:`~jlsm.model.Output`, shape (T,)."""
        if self.kind == SOIL:
            return output.temperature[:, list(depths).index(self.depth)]
        if self.kind == "turbulent":
            return output.sensible + output.latent
        return getattr(output, _FIELDS[self.kind][0])


def soil_depths(observables: Sequence[Observable]) -> tuple[float, ...]:
    """The depths [m] the model must report for these observables, in first-seen order."""
    out = []
    for o in observables:
        if o.kind == SOIL and o.depth not in out:
            out.append(o.depth)
    return tuple(out)


class Observations(eqx.Module):
    """Observed values (T, V) with NaN as missing, and one error scale per variable.

    Attributes:
        values: observations, shape (T, V), in the observables' units.
        scale: error scale sigma_v per variable (V,), in the same units; the
            misfit divides residuals by it.
        observables: what each column is (static).
    """

    values: jnp.ndarray
    scale: jnp.ndarray
    observables: tuple[Observable, ...] = eqx.field(static=True)

    def __init__(self, values, observables, scale):
        self.observables = tuple(observables)
        _check_temperatures(values, self.observables)
        self.values = _as_array(values)
        self.scale = _as_array(scale)

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, np.ndarray],
        *,
        errors: Mapping[str, float] | float | None = None,
        weighting: str = "variance",
    ) -> "Observations":
        """Observations from ``{name: series}``; each series of the same length T.

        Args:
            data: observable name -> values (NaN = missing).
            errors: observation error standard deviation per variable (or one
                for all), in the variable's units. Overrides ``weighting``.
            weighting: without ``errors``: ``"variance"`` (scale = standard
                deviation of the observed values, so each variable weighs the
                same) or ``"equal"`` (scale = 1 in the variable's units).
        """
        if not data:
            raise ObservationError("Observations: no observed variables given")
        observables = [Observable.parse(k) for k in data]
        columns = []
        length = None
        for obs, (key, series) in zip(observables, data.items()):
            v = np.asarray(series, dtype=float)
            if v.ndim != 1:
                raise ObservationError(f"Observations: {key} must be a 1-D time series, got shape {v.shape}")
            if length is None:
                length = v.size
            elif v.size != length:
                raise ObservationError(f"Observations: {key} has {v.size} times, the first variable has {length}")
            if np.any(np.isinf(v)):
                raise ObservationError(f"Observations: {key} contains Inf at index {int(np.flatnonzero(np.isinf(v))[0])}")
            if not np.any(np.isfinite(v)):
                raise ObservationError(f"Observations: {key} has no observed (non-NaN) value")
            columns.append(v)
        values = np.stack(columns, axis=1)
        scale = _scales(values, observables, errors, weighting)
        return cls(values, observables, scale)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.observables)

    @property
    def depths(self) -> tuple[float, ...]:
        return soil_depths(self.observables)

    @property
    def n_times(self) -> int:
        return self.values.shape[0]

    def simulated(self, output):
        """The model counterpart of each observed variable, shape (T, V)."""
        depths = output.depths
        return jnp.stack([o.extract(output, depths) for o in self.observables], axis=1)

    def window(self, start: int, stop: int) -> "Observations":
        """Observations restricted to time indices [start, stop); others set missing."""
        v = np.array(self.values, dtype=float)
        mask = np.zeros(v.shape[0], bool)
        mask[start:stop] = True
        v[~mask] = np.nan
        return Observations(v, self.observables, self.scale)

    def with_noise(self, std: float | Mapping[str, float], seed: int = 0) -> "Observations":
        """A copy with seeded Gaussian noise of standard deviation ``std`` added."""
        rng = np.random.default_rng(seed)
        stds = np.array([std.get(n, 0.0) if isinstance(std, Mapping) else std for n in self.names], float)
        if np.any(~np.isfinite(stds)) or np.any(stds < 0):
            raise ObservationError(
                f"Observations.with_noise: noise standard deviation must be >= 0 and finite, got "
                f"{dict(zip(self.names, stds.tolist()))}"
            )
        v = np.asarray(self.values, dtype=float) + rng.standard_normal(self.values.shape) * stds
        return Observations(v, self.observables, self.scale)


PLAUSIBLE_TEMPERATURE = (150.0, 400.0)
"""Range [K] outside which a whole temperature series is taken for a unit mistake."""


def _check_temperatures(values, observables) -> None:
    """One-line error when a temperature series lies wholly outside ``PLAUSIBLE_TEMPERATURE`` (K)."""
    columns = [i for i, o in enumerate(observables) if o.units == "K"]
    if not columns:
        return
    if isinstance(values, jax.core.Tracer):  # abstract values under a transformation
        return
    v = np.asarray(values, dtype=float)
    if v.ndim != 2 or v.shape[1] != len(observables):
        return
    lo, hi = PLAUSIBLE_TEMPERATURE
    for i in columns:
        x = v[:, i][np.isfinite(v[:, i])]
        if x.size == 0:
            continue
        name = observables[i].name
        if np.max(x) < lo:
            raise ObservationError(
                f"Observations: {name} lies between {np.min(x):.4g} and {np.max(x):.4g}, below {lo:g} K: "
                "looks like deg C: convert to K (+273.15)"
            )
        if np.min(x) > hi:
            raise ObservationError(
                f"Observations: {name} lies between {np.min(x):.4g} and {np.max(x):.4g}, above {hi:g} K: "
                "expected temperatures in K"
            )


def _as_array(x):
    """``jnp.asarray(x)``; a NumPy array is transferred directly (no compiled staging step)."""
    return jax.device_put(x) if isinstance(x, np.ndarray) else jnp.asarray(x)


def error_vector(errors, names: Sequence[str], where: str = "Observations", what: str = "error") -> np.ndarray:
    """Observation error std per variable (V,) from one value or a name -> std mapping; checked positive.

    ``where`` and ``what`` word the error messages (e.g. ``what="noise level"``).
    """
    if errors is None:
        raise ObservationError(f"{where}: an observation {what} (standard deviation) is required")
    if isinstance(errors, Mapping):
        unknown = set(errors) - set(names)
        if unknown:
            raise ObservationError(f"{where}: {what} given for unobserved variable(s) {sorted(unknown)}")
        missing = [n for n in names if n not in errors]
        if missing:
            raise ObservationError(f"{where}: no {what} given for {missing}")
        scale = np.array([float(errors[n]) for n in names])
    else:
        scale = np.full(len(names), float(errors))
    if np.any(~np.isfinite(scale)) or np.any(scale <= 0):
        raise ObservationError(f"{where}: observation {what}s must be positive and finite, got {dict(zip(names, scale.tolist()))}")
    return scale


def _scales(values, observables, errors, weighting):
    names = [o.name for o in observables]
    if errors is not None:
        return error_vector(errors, names)
    if weighting == "equal":
        return np.ones(len(names))
    if weighting == "variance":
        std = np.nanstd(values, axis=0)
        # a constant series has no variance: fall back to one unit
        return np.where(std > 0, std, 1.0)
    raise ObservationError(f"Observations: weighting must be 'variance' or 'equal', got {weighting!r}")
