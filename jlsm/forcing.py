"""Meteorological forcing: a pytree of time series on a regular time axis.

Values are instants aligned with the model's output times: the model state at
time index n is computed from the state at n - 1 with the forcing at n (and,
for Crank-Nicolson, at n - 1).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .errors import ForcingError

# ALMA / PLUMBER name -> Forcing field; alternatives in order of preference.
ALMA_NAMES = {
    "sw_down": ("SWdown",),
    "lw_down": ("LWdown",),
    "t_air": ("Tair",),
    "q_air": ("Qair",),
    "p_surf": ("PSurf", "Psurf"),
    "wind": ("Wind",),
    "rainf": ("Rainf", "Precip"),
}
REQUIRED = ("sw_down", "lw_down", "t_air")


class Forcing(eqx.Module):
    """Forcing time series, each of shape (T,).

    Attributes:
        sw_down: downwelling shortwave radiation [W m-2].
        lw_down: downwelling longwave radiation [W m-2].
        t_air: air temperature [K].
        q_air: specific humidity [kg kg-1] or None.
        p_surf: surface pressure [Pa] or None.
        wind: wind speed [m s-1] or None.
        rainf: rainfall rate [kg m-2 s-1] or None.
        top_temperature: prescribed temperature of the top node [K] or None
            (used when the model's top boundary is ``"prescribed"``).
        dt: time step [s] (static).
    """

    sw_down: jnp.ndarray
    lw_down: jnp.ndarray
    t_air: jnp.ndarray
    q_air: jnp.ndarray | None = None
    p_surf: jnp.ndarray | None = None
    wind: jnp.ndarray | None = None
    rainf: jnp.ndarray | None = None
    top_temperature: jnp.ndarray | None = None
    dt: float = eqx.field(static=True, default=3600.0)

    def __init__(
        self,
        sw_down,
        lw_down,
        t_air,
        *,
        dt,
        q_air=None,
        p_surf=None,
        wind=None,
        rainf=None,
        top_temperature=None,
        source: str = "Forcing",
    ):
        if not (np.isscalar(dt) and np.isfinite(dt) and dt > 0):
            raise ForcingError(f"{source}: time step dt must be a positive number of seconds, got {dt!r}")
        self.dt = float(dt)
        arrays = dict(
            sw_down=sw_down,
            lw_down=lw_down,
            t_air=t_air,
            q_air=q_air,
            p_surf=p_surf,
            wind=wind,
            rainf=rainf,
            top_temperature=top_temperature,
        )
        length = None
        for name, value in arrays.items():
            if value is None:
                setattr(self, name, None)
                continue
            if not isinstance(value, jax.core.Tracer):
                _check_series(name, value, source)
            # a NumPy array is transferred directly (jnp.asarray stages it through a compiled copy)
            value = jax.device_put(value) if isinstance(value, np.ndarray) else jnp.asarray(value)
            if value.ndim != 1:
                raise ForcingError(f"{source}: {name} must be a 1-D time series, got shape {value.shape}")
            if length is None:
                length = value.shape[0]
            elif value.shape[0] != length:
                raise ForcingError(
                    f"{source}: {name} has {value.shape[0]} time steps but sw_down has {length}"
                )
            setattr(self, name, value)
        if length < 2:
            raise ForcingError(f"{source}: at least 2 time steps are needed, got {length}")

    @property
    def n_times(self) -> int:
        """Number of times T."""
        return self.sw_down.shape[0]

    def window(self, start: int, stop: int) -> "Forcing":
        """The forcing at time indices [start, stop)."""
        if not (0 <= start < stop <= self.n_times) or stop - start < 2:
            raise ForcingError(
                f"Forcing.window: [{start}, {stop}) is not a window of at least 2 steps within 0..{self.n_times}"
            )
        return jax.tree_util.tree_map(lambda a: a[start:stop], self)

    @classmethod
    def from_xarray(cls, ds, *, top_temperature=None, source: str | None = None) -> "Forcing":
        """Forcing from an xarray Dataset with ALMA/PLUMBER names.

        Reads SWdown, LWdown, Tair (required) and Qair, PSurf, Wind (or the
        magnitude of Wind_N, Wind_E), Rainf (or Precip) when present. The time
        step is taken from the ``time`` coordinate, which must be regular and
        increasing. ``top_temperature`` names a variable of ``ds`` (or gives an
        array) for a prescribed top boundary.
        """
        source = source or ds.attrs.get("source", "forcing dataset")
        if "time" not in ds.coords:
            raise ForcingError(f"{source}: no 'time' coordinate")
        dt = regular_time_step(ds["time"].values, source)
        fields = {}
        for field, names in ALMA_NAMES.items():
            for name in names:
                if name in ds:
                    fields[field] = _series(ds[name], source)
                    break
        if "wind" not in fields and "Wind_N" in ds and "Wind_E" in ds:
            fields["wind"] = np.hypot(_series(ds["Wind_N"], source), _series(ds["Wind_E"], source))
        missing = [ALMA_NAMES[f][0] for f in REQUIRED if f not in fields]
        if missing:
            raise ForcingError(
                f"{source}: missing forcing variable(s) {', '.join(missing)} "
                f"(have: {', '.join(sorted(map(str, ds.data_vars)))})"
            )
        if isinstance(top_temperature, str):
            if top_temperature not in ds:
                raise ForcingError(f"{source}: top-temperature variable {top_temperature!r} not found")
            top_temperature = _series(ds[top_temperature], source)
        times = ds["time"].values
        shown = {f: next((n for n in ALMA_NAMES[f] if n in ds), "Wind_N/Wind_E") for f in fields}
        for field, values in fields.items():
            _check_series(field, values, source, times=times, label=shown[field])
        return cls(**fields, dt=dt, top_temperature=top_temperature, source=source)


def regular_time_step(times, source: str = "data") -> float:
    """The constant step [s] of a time coordinate; error if irregular or not increasing."""
    t = np.asarray(times)
    if t.size < 2:
        raise ForcingError(f"{source}: the time axis needs at least 2 values, got {t.size}")
    if np.issubdtype(t.dtype, np.datetime64):
        seconds = (t - t[0]) / np.timedelta64(1, "s")
    else:
        seconds = t.astype(float)
    steps = np.diff(seconds)
    if np.any(steps <= 0):
        i = int(np.argmax(steps <= 0))
        raise ForcingError(f"{source}: time is not increasing at index {i + 1} ({t[i]} -> {t[i + 1]})")
    if not np.allclose(steps, steps[0], rtol=1e-6, atol=1e-3):
        i = int(np.argmax(~np.isclose(steps, steps[0], rtol=1e-6, atol=1e-3)))
        raise ForcingError(
            f"{source}: irregular time step at index {i + 1} ({t[i]} -> {t[i + 1]}): "
            f"{steps[i]} s where {steps[0]} s was expected"
        )
    return float(steps[0])


def _series(da, source):
    values = np.asarray(da.squeeze().values, dtype=float)
    if values.ndim != 1:
        raise ForcingError(f"{source}: variable {da.name} should be a time series, has dims {da.dims}")
    return values


_RANGES = {
    "sw_down": (-20.0, 1500.0, "W m-2"),
    "lw_down": (50.0, 700.0, "W m-2"),
    "t_air": (150.0, 350.0, "K"),
    "top_temperature": (150.0, 350.0, "K"),
    "q_air": (0.0, 0.1, "kg kg-1"),
    "p_surf": (3.0e4, 1.2e5, "Pa"),
    "wind": (0.0, 100.0, "m s-1"),
    "rainf": (0.0, 1.0, "kg m-2 s-1"),
}


def _check_series(name, values, source, times=None, label=None):
    """Raise ForcingError for NaN/Inf or implausible values; ``label`` is the name shown (default ``name``)."""
    shown = label or name
    v = np.asarray(values, dtype=float)
    where = (lambda i: f"time {times[i]}") if times is not None else (lambda i: f"time index {i}")
    bad = ~np.isfinite(v)
    if np.any(bad):
        i = np.flatnonzero(bad)
        raise ForcingError(
            f"{source}: {shown} has {i.size} NaN/Inf value(s), first at {where(i[0])}; "
            "fill gaps before running (see jlsm.io.fill_gaps)"
        )
    lo, hi, unit = _RANGES[name]
    if name in ("t_air", "top_temperature") and v.size and np.nanmax(v) < 100.0:
        raise ForcingError(
            f"{source}: {shown} looks like degrees Celsius (max {np.nanmax(v):.1f}); expected kelvin"
        )
    out = (v < lo) | (v > hi)
    if np.any(out):
        i = int(np.flatnonzero(out)[0])
        raise ForcingError(
            f"{source}: {shown} = {v[i]:g} at {where(i)} is outside the plausible range "
            f"[{lo:g}, {hi:g}] {unit}"
        )
