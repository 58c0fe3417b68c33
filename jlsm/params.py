"""Parameter spaces: named model parameters, bounds and transforms.

Optimisation runs in an unconstrained space ``u`` (one real number per free
parameter). A :class:`ParameterSpace` maps ``u`` to physical values through
per-parameter transforms and writes them into a model with ``eqx.tree_at``,
so one learning rate serves C ~ 1e6 and alpha ~ 0.2 alike.

Transforms (physical value x from unconstrained u):

* ``"sigmoid"``: x = lo + (hi - lo) sigmoid(u), for bounds (lo, hi) (default);
* ``"log-sigmoid"``: log x = log lo + log(hi / lo) sigmoid(u), for 0 < lo < hi;
* ``"log"``: x = exp(u), positive, unbounded;
* ``"identity"``: x = u.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ._sobol import BITS as SOBOL_BITS
from ._sobol import scrambled_sobol
from .errors import ParameterError

TRANSFORMS = ("sigmoid", "log-sigmoid", "log", "identity")


def _get(path: str):
    parts = path.split(".")

    def getter(model):
        obj = model
        for p in parts:
            obj = getattr(obj, p)
        return obj

    return getter


# name -> (path into LandSurfaceModel, units, long name)
KNOWN = {
    "albedo": ("radiation.albedo", "1", "shortwave albedo"),
    "emissivity": ("radiation.emissivity", "1", "longwave emissivity"),
    "h": ("turbulence.h", "W m-2 K-1", "sensible heat exchange coefficient"),
    "beta": ("turbulence.beta", "1", "Bowen ratio"),
    "conductivity": ("soil.conductivity", "W m-1 K-1", "soil thermal conductivity"),
    "heat_capacity": ("soil.heat_capacity", "J m-3 K-1", "soil volumetric heat capacity"),
    "bottom_temperature": ("bottom_temperature", "K", "bottom boundary temperature"),
}
ALIASES = {"alpha": "albedo", "lambda": "conductivity", "C": "heat_capacity", "Tb": "bottom_temperature"}

# Physical ranges of the known quantities: (lowest, highest, open at the low end), what the
# model's formulas need: positive scales (they divide or take roots), fractions in [0, 1].
PHYSICAL_RANGE = {
    "conductivity": (0.0, np.inf, True),
    "heat_capacity": (0.0, np.inf, True),
    "h": (0.0, np.inf, True),
    "h_eff": (0.0, np.inf, True),
    "beta": (0.0, np.inf, True),
    "diffusivity": (0.0, np.inf, True),
    "bottom_temperature": (0.0, np.inf, True),
    "albedo": (0.0, 1.0, False),
    "emissivity": (0.0, 1.0, False),
}


def _physical_name(name: str, path: str | None) -> str:
    """The known quantity a parameter sets (by name, or by its path into the model)."""
    if name in PHYSICAL_RANGE:
        return name
    for known, (known_path, _, _) in KNOWN.items():
        if path == known_path:
            return known
    return name


def check_physical(name: str, values, what: str, path: str | None = None) -> None:
    """Raise ParameterError if ``values`` of a known quantity leave its physical range."""
    key = _physical_name(name, path)
    if key not in PHYSICAL_RANGE:
        return
    lo, hi, open_low = PHYSICAL_RANGE[key]
    v = np.asarray(values, dtype=float).ravel()
    bad = (v <= lo if open_low else v < lo) | (v > hi)
    if np.any(bad):
        expected = "> 0" if np.isinf(hi) else f"within [{lo:g}, {hi:g}]"
        shown = tuple(float(x) for x in v) if v.size == 2 else float(v[bad][0])
        raise ParameterError(f"ParameterSpace: {what} {shown} of {name}: {key} must be {expected}")


def _set_h_eff(model, value):
    beta = model.turbulence.beta
    return eqx.tree_at(lambda m: m.turbulence.h, model, value / (1.0 + 1.0 / beta))


def _set_diffusivity(model, value):
    cap = model.soil.heat_capacity
    return eqx.tree_at(lambda m: m.soil.conductivity, model, value * cap)


# Re-parameterisations: name -> (setter(model, value), getter(model), units, long name).
# A re-parameterised value is written after the direct ones, so it sees their values.
DERIVED = {
    "h_eff": (
        _set_h_eff,
        lambda m: m.turbulence.h * (1.0 + 1.0 / m.turbulence.beta),
        "W m-2 K-1",
        "effective exchange coefficient h (1 + 1/beta)",
    ),
    "diffusivity": (
        _set_diffusivity,
        lambda m: m.soil.conductivity / m.soil.heat_capacity,
        "m2 s-1",
        "thermal diffusivity lambda / C",
    ),
}


@dataclasses.dataclass(frozen=True)
class Parameter:
    """One free parameter.

    Attributes:
        name: short name (``"albedo"``, ``"h_eff"``, ...).
        bounds: (lo, hi) in physical units; required for sigmoid transforms
            and for sampling starts.
        transform: one of ``TRANSFORMS``.
        units: physical units.
        path: dotted path into the model (e.g. ``"soil.conductivity"``), or
            None for a re-parameterisation from ``DERIVED``.
    """

    name: str
    bounds: tuple[float, float] | None
    transform: str = "sigmoid"
    units: str = ""
    path: str | None = None

    def to_physical(self, u):
        lo, hi = self.bounds if self.bounds is not None else (None, None)
        if self.transform == "sigmoid":
            return lo + (hi - lo) * jax.nn.sigmoid(u)
        if self.transform == "log-sigmoid":
            # clipped: lo * (hi / lo) can round to just above hi
            return jnp.clip(lo * jnp.exp(np.log(hi / lo) * jax.nn.sigmoid(u)), lo, hi)
        if self.transform == "log":
            return jnp.exp(u)
        return u

    def to_unconstrained(self, x):
        """Inverse transform (NumPy, outside jit)."""
        x = np.asarray(x, dtype=float)
        lo, hi = self.bounds if self.bounds is not None else (None, None)
        if self.transform == "sigmoid":
            p = (x - lo) / (hi - lo)
            return np.log(p) - np.log1p(-p)
        if self.transform == "log-sigmoid":
            p = np.log(x / lo) / np.log(hi / lo)
            return np.log(p) - np.log1p(-p)
        if self.transform == "log":
            return np.log(x)
        return x


class ParameterSpace:
    """Free parameters of a model, their bounds and transforms; fixed ones.

    Args:
        free: mapping name -> bounds ``(lo, hi)`` or a :class:`Parameter`.
            Names from ``KNOWN`` (aliases alpha, lambda, C, Tb accepted),
            ``DERIVED`` (h_eff, diffusivity) or a dotted path into the model.
        fixed: mapping name -> value written into the model before the free
            parameters (e.g. albedo fixed from observed SWup / SWdown).
        transform: default transform for bounded parameters.
        start_bounds: optional mapping name -> (lo, hi) from which starting
            points are sampled, when narrower than the optimisation bounds
            (e.g. a published sampling range whose edge is the true value).

    Example:
        >>> space = ParameterSpace({"h_eff": (5, 45), "lambda": (0.2, 2.5)}, fixed={"albedo": 0.172})
    """

    def __init__(
        self,
        free: Mapping[str, tuple[float, float] | Parameter],
        fixed: Mapping[str, float] | None = None,
        *,
        transform: str = "sigmoid",
        start_bounds: Mapping[str, tuple[float, float]] | None = None,
    ):
        if transform not in TRANSFORMS:
            raise ParameterError(f"ParameterSpace: transform must be one of {TRANSFORMS}, got {transform!r}")
        if not free:
            raise ParameterError("ParameterSpace: at least one free parameter is needed")
        params = []
        for name, spec in free.items():
            params.append(self._make(name, spec, transform))
        names = [p.name for p in params]
        if len(set(names)) != len(names):
            raise ParameterError(f"ParameterSpace: a parameter is listed twice: {names}")
        self.parameters: tuple[Parameter, ...] = tuple(params)
        self.fixed: dict[str, float] = {}
        for name, value in (fixed or {}).items():
            canonical = ALIASES.get(name, name)
            if canonical in names:
                raise ParameterError(f"ParameterSpace: {canonical!r} is both free and fixed")
            if not np.all(np.isfinite(np.asarray(value, dtype=float))):
                raise ParameterError(f"ParameterSpace: fixed value of {canonical!r} is not finite: {value}")
            check_physical(canonical, value, "fixed value")
            self.fixed[canonical] = value
        if "h_eff" in names and "h" in names:
            raise ParameterError("ParameterSpace: h_eff replaces h; free one or the other")
        self.start_bounds: dict[str, tuple[float, float]] = {}
        for name, b in (start_bounds or {}).items():
            canonical = ALIASES.get(name, name)
            if canonical not in names:
                raise ParameterError(f"ParameterSpace: start bounds given for {name!r}, which is not free")
            p = self.parameters[names.index(canonical)]
            lo, hi = (float(v) for v in b)
            plo, phi = p.bounds if p.bounds is not None else (-np.inf, np.inf)
            if not (lo < hi and lo >= plo and hi <= phi):
                raise ParameterError(
                    f"ParameterSpace: start bounds ({lo}, {hi}) of {canonical} must satisfy lo < hi "
                    f"within its bounds ({plo}, {phi})"
                )
            self.start_bounds[canonical] = (lo, hi)

    @staticmethod
    def _make(name, spec, default_transform) -> Parameter:
        if isinstance(spec, Parameter):
            p = spec
        else:
            canonical = ALIASES.get(name, name)
            if canonical in KNOWN:
                path, units, _ = KNOWN[canonical]
            elif canonical in DERIVED:
                path, units = None, DERIVED[canonical][2]
            elif "." in canonical or canonical.isidentifier():
                path, units = canonical, ""
            else:
                raise ParameterError(f"ParameterSpace: unknown parameter {name!r}")
            bounds = None if spec is None else tuple(float(b) for b in spec)
            transform = default_transform if bounds is not None else "identity"
            p = Parameter(canonical, bounds, transform, units, path)
        if p.transform not in TRANSFORMS:
            raise ParameterError(f"ParameterSpace: {p.name}: transform must be one of {TRANSFORMS}, got {p.transform!r}")
        if p.transform in ("sigmoid", "log-sigmoid"):
            if p.bounds is None or len(p.bounds) != 2:
                raise ParameterError(f"ParameterSpace: {p.name}: a {p.transform} transform needs bounds (lo, hi)")
            lo, hi = p.bounds
            if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
                raise ParameterError(f"ParameterSpace: {p.name}: bounds must satisfy lo < hi, got ({lo}, {hi})")
            if p.transform == "log-sigmoid" and lo <= 0:
                raise ParameterError(f"ParameterSpace: {p.name}: log-sigmoid bounds must be positive, got ({lo}, {hi})")
        if p.bounds is not None:
            check_physical(p.name, p.bounds, "bounds", p.path)
        return p

    # ----------------------------------------------------------------- basics

    @property
    def names(self) -> tuple[str, ...]:
        """Names of the free parameters, in order."""
        return tuple(p.name for p in self.parameters)

    @property
    def units(self) -> tuple[str, ...]:
        return tuple(p.units for p in self.parameters)

    @property
    def size(self) -> int:
        return len(self.parameters)

    @property
    def lower(self) -> np.ndarray:
        return np.array([p.bounds[0] if p.bounds else -np.inf for p in self.parameters])

    @property
    def upper(self) -> np.ndarray:
        return np.array([p.bounds[1] if p.bounds else np.inf for p in self.parameters])

    def _key(self):
        fixed = tuple(
            (k, np.shape(v), tuple(np.ravel(np.asarray(v, dtype=float)).tolist())) for k, v in sorted(self.fixed.items())
        )
        return (self.parameters, fixed, tuple(sorted(self.start_bounds.items())))

    def __eq__(self, other):
        return isinstance(other, ParameterSpace) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        free = ", ".join(f"{p.name}{list(p.bounds) if p.bounds else ''}" for p in self.parameters)
        return f"ParameterSpace(free=[{free}], fixed={self.fixed})"

    # ------------------------------------------------------------- transforms

    def to_physical(self, u):
        """Physical values, shape (..., P), from unconstrained ``u`` (..., P)."""
        u = jnp.asarray(u)
        return jnp.stack([p.to_physical(u[..., i]) for i, p in enumerate(self.parameters)], axis=-1)

    def to_unconstrained(self, x) -> np.ndarray:
        """Unconstrained values from physical ``x`` (..., P); checks bounds."""
        x = np.asarray(x, dtype=float)
        if x.shape[-1] != self.size:
            raise ParameterError(f"ParameterSpace: expected {self.size} values ({', '.join(self.names)}), got shape {x.shape}")
        for i, p in enumerate(self.parameters):
            v = x[..., i]
            if p.bounds is not None and p.transform in ("sigmoid", "log-sigmoid"):
                lo, hi = p.bounds
                if np.any(~np.isfinite(v)) or np.any(v <= lo) or np.any(v >= hi):
                    bad = v[~((v > lo) & (v < hi))].ravel()[0]
                    raise ParameterError(
                        f"ParameterSpace: initial value {bad} of {p.name} is outside its bounds ({lo}, {hi})"
                    )
        return np.stack([p.to_unconstrained(x[..., i]) for i, p in enumerate(self.parameters)], axis=-1)

    def bound_position(self, x) -> np.ndarray:
        """Where physical values ``x`` (..., P) sit in their bounds, in [0, 1]: sigmoid(u) of
        the (log-)sigmoid transforms; NaN for unbounded parameters."""
        x = np.asarray(x, dtype=float)
        out = np.full(x.shape, np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            for i, p in enumerate(self.parameters):
                if p.bounds is None or p.transform not in ("sigmoid", "log-sigmoid"):
                    continue
                lo, hi = p.bounds
                if p.transform == "log-sigmoid":
                    out[..., i] = np.log(x[..., i] / lo) / np.log(hi / lo)
                else:
                    out[..., i] = (x[..., i] - lo) / (hi - lo)
        return out

    def apply_fixed(self, model):
        """Write the fixed values into ``model``."""
        for name, value in self.fixed.items():
            model = _write(model, name, jnp.asarray(value))
        return model

    def to_model(self, u, model):
        """``model`` with fixed values and the free parameters from unconstrained ``u`` (P,)."""
        x = self.to_physical(u)
        return self.physical_to_model(x, model)

    def physical_to_model(self, x, model):
        """``model`` with fixed values and the free parameters set to physical ``x`` (P,)."""
        model = self.apply_fixed(model)
        order = sorted(range(self.size), key=lambda i: self.parameters[i].path is None)
        for i in order:
            p = self.parameters[i]
            model = _write(model, p.name, x[i], path=p.path)
        return model

    def check_model(self, model):
        """Raise ParameterError if a path of this space does not exist in ``model``."""
        for p in self.parameters:
            if p.path is not None:
                try:
                    _get(p.path)(model)
                except AttributeError:
                    raise ParameterError(f"ParameterSpace: parameter {p.name!r}: path {p.path!r} does not exist in the model") from None
        for name in self.fixed:
            if name not in DERIVED:
                path = KNOWN[name][0] if name in KNOWN else name
                try:
                    _get(path)(model)
                except AttributeError:
                    raise ParameterError(f"ParameterSpace: fixed parameter {name!r}: path {path!r} does not exist in the model") from None

    def read(self, model) -> np.ndarray:
        """Current physical values of the free parameters in ``model``."""
        return np.array([float(np.asarray(_read(model, p.name, p.path))) for p in self.parameters])

    # --------------------------------------------------------------- sampling

    def sample(self, n: int, *, seed: int = 0, method: str = "sobol") -> np.ndarray:
        """``n`` starting points (n, P) in physical units, inside the bounds.

        ``method``: ``"sobol"`` (scrambled, the points of
        ``scipy.stats.qmc.Sobol(d, scramble=True, seed=seed)``) or ``"uniform"``;
        log-sigmoid parameters are sampled uniformly in log space. Same seed,
        same points.
        """
        for p in self.parameters:
            if p.bounds is None:
                raise ParameterError(f"ParameterSpace.sample: {p.name} has no bounds to sample from")
        if n < 1:
            raise ParameterError(f"ParameterSpace.sample: number of starts must be >= 1, got {n}")
        if method == "sobol":
            if n > 2**SOBOL_BITS:
                raise ParameterError(f"ParameterSpace.sample: at most 2**{SOBOL_BITS} Sobol points, got {n}")
            # SciPy's points (any n is a valid low-discrepancy set; balance is best at
            # powers of 2), without the 0.5-1 s import of scipy.stats
            q = scrambled_sobol(n, self.size, seed)
        elif method == "uniform":
            q = np.random.default_rng(seed).random((n, self.size))
        else:
            raise ParameterError(f"ParameterSpace.sample: method must be 'sobol' or 'uniform', got {method!r}")
        # strictly inside the open interval, so the inverse transform is finite
        q = np.clip(q, 1e-6, 1 - 1e-6)
        out = np.empty_like(q)
        for i, p in enumerate(self.parameters):
            lo, hi = self.start_bounds.get(p.name, p.bounds)
            if p.transform == "log-sigmoid":
                out[:, i] = lo * np.exp(np.log(hi / lo) * q[:, i])
            else:
                out[:, i] = lo + (hi - lo) * q[:, i]
        return out


def _write(model, name, value, path=None):
    if name in DERIVED and path is None:
        return DERIVED[name][0](model, value)
    path = path or (KNOWN[name][0] if name in KNOWN else name)
    getter = _get(path)
    try:
        old = getter(model)
    except AttributeError:
        raise ParameterError(f"parameter {name!r}: path {path!r} does not exist in the model") from None
    value = jnp.asarray(value, dtype=jnp.result_type(old)) if eqx.is_array(old) else value
    return eqx.tree_at(getter, model, value)


def _read(model, name, path=None):
    if name in DERIVED and path is None:
        return DERIVED[name][1](model)
    path = path or (KNOWN[name][0] if name in KNOWN else name)
    return _get(path)(model)


DERIVED_UNITS = {"h_eff": "W m-2 K-1", "diffusivity": "m2 s-1", "thermal_inertia": "J m-2 K-1 s-1/2"}
"""Units of the derived quantities reported by :func:`derived_values`."""


def derived_values(names: Sequence[str], physical: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Derived quantities worth reporting, from arrays of physical values by name.

    h_eff = h (1 + 1/beta) when h and beta are free; diffusivity lambda / C
    [m2 s-1] and thermal inertia sqrt(lambda C) when conductivity and heat
    capacity are free (the combinations a temperature record sees best).
    """
    out = {}
    if "h" in physical and "beta" in physical and "h_eff" not in names:
        out["h_eff"] = physical["h"] * (1.0 + 1.0 / physical["beta"])
    if "conductivity" in physical and "heat_capacity" in physical:
        lam, cap = physical["conductivity"], physical["heat_capacity"]
        if "diffusivity" not in names:
            out["diffusivity"] = lam / cap
        out["thermal_inertia"] = np.sqrt(lam * cap)
    return out
