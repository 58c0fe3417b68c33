"""Forcing of the version-2 land model: ALMA meteorology plus leaf area index.

All fields are instants aligned with the model's steps: step n uses the
forcing at index n and produces the state and fluxes reported at index n.
Fields have shape (T,) for one site or (S, T) for a batch of sites (vmap over
the leading axis); the time step ``dt`` is static and shared.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..errors import ForcingError
from ..forcing import regular_time_step

FIELDS = ("sw_down", "lw_down", "t_air", "q_air", "p_surf", "wind", "precip", "lai")
"""Field names of :class:`LandForcing`, in order."""

# field -> (ALMA names in order of preference, plausible range, units)
_ALMA = {
    "sw_down": (("SWdown",), (-20.0, 1500.0), "W m-2"),
    "lw_down": (("LWdown",), (50.0, 700.0), "W m-2"),
    "t_air": (("Tair",), (150.0, 350.0), "K"),
    "q_air": (("Qair",), (0.0, 0.1), "kg kg-1"),
    "p_surf": (("Psurf", "PSurf"), (3.0e4, 1.2e5), "Pa"),
    "wind": (("Wind",), (0.0, 100.0), "m s-1"),
    "precip": (("Rainf", "Precip"), (0.0, 1.0), "kg m-2 s-1"),
    "lai": (("LAI",), (0.0, 15.0), "m2 m-2"),
}


class LandForcing(eqx.Module):
    """Meteorological forcing and leaf area index, each of shape (T,) or (S, T).

    Attributes:
        sw_down: downwelling shortwave radiation [W m-2].
        lw_down: downwelling longwave radiation [W m-2].
        t_air: air temperature at the reference height [K].
        q_air: specific humidity at the reference height [kg kg-1].
        p_surf: surface air pressure [Pa].
        wind: wind speed at the reference height [m s-1].
        precip: total precipitation, liquid + solid [kg m-2 s-1] (the model
            splits it by air temperature).
        lai: leaf area index [m2 m-2] (one-sided, green).
        dt: time step [s] (static).
    """

    sw_down: jnp.ndarray
    lw_down: jnp.ndarray
    t_air: jnp.ndarray
    q_air: jnp.ndarray
    p_surf: jnp.ndarray
    wind: jnp.ndarray
    precip: jnp.ndarray
    lai: jnp.ndarray
    dt: float = eqx.field(static=True)

    def __init__(self, sw_down, lw_down, t_air, q_air, p_surf, wind, precip, lai, *, dt, check=True,
                 source="LandForcing"):
        if not (np.isscalar(dt) and np.isfinite(dt) and dt > 0):
            raise ForcingError(f"{source}: time step dt must be a positive number of seconds, got {dt!r}")
        self.dt = float(dt)
        values = dict(sw_down=sw_down, lw_down=lw_down, t_air=t_air, q_air=q_air, p_surf=p_surf,
                      wind=wind, precip=precip)
        shape = np.shape(sw_down)
        lai = jnp.broadcast_to(jnp.asarray(lai), shape) if np.ndim(lai) < len(shape) else lai
        values["lai"] = lai
        for name, v in values.items():
            if np.shape(v) != shape:
                raise ForcingError(f"{source}: {name} has shape {np.shape(v)}, expected {shape} like sw_down")
            if check and not isinstance(v, jax.core.Tracer):
                _check(name, np.asarray(v, dtype=float), source)
            setattr(self, name, jnp.asarray(v))
        if len(shape) not in (1, 2) or shape[-1] < 2:
            raise ForcingError(f"{source}: fields must have shape (T,) or (S, T) with T >= 2, got {shape}")

    @property
    def n_times(self) -> int:
        """Number of time steps T."""
        return self.sw_down.shape[-1]

    def window(self, start: int, stop: int) -> "LandForcing":
        """The forcing at time indices [start, stop) (last axis)."""
        if not (0 <= start < stop <= self.n_times):
            raise ForcingError(f"LandForcing.window: [{start}, {stop}) is not within 0..{self.n_times}")
        return jax.tree_util.tree_map(lambda a: a[..., start:stop], self)

    @classmethod
    def stack(cls, forcings) -> "LandForcing":
        """Sites stacked on a leading axis (S, T); all must have the same T and dt."""
        forcings = list(forcings)
        dts = {f.dt for f in forcings}
        lengths = {f.n_times for f in forcings}
        if len(dts) != 1 or len(lengths) != 1:
            raise ForcingError(f"LandForcing.stack: sites differ in dt {sorted(dts)} or length {sorted(lengths)}")
        return jax.tree_util.tree_map(lambda *a: jnp.stack(a), *forcings)

    @classmethod
    def from_xarray(cls, ds, *, lai=None, source: str | None = None) -> "LandForcing":
        """Forcing from an xarray Dataset with ALMA names.

        Reads SWdown, LWdown, Tair, Qair, Psurf (or PSurf), Wind, and Rainf
        (plus Snowf when present) or Precip. LAI comes from the variable
        ``LAI`` if present, else from ``lai``: a number (site constant), 12
        monthly values (a seasonal cycle, January first, interpolated
        linearly between mid-month days; e.g. :func:`jlsm.land.pft.monthly_lai`)
        or an array of T values. The time step comes from the ``time``
        coordinate (regular and increasing).

        Raises:
            ForcingError: a missing variable, NaN/Inf (naming the variable and
                its first bad time) or values out of a plausible range.
        """
        source = source or ds.attrs.get("source", "forcing dataset")
        if "time" not in ds.coords:
            raise ForcingError(f"{source}: no 'time' coordinate")
        times = ds["time"].values
        dt = regular_time_step(times, source)
        fields = {}
        for field, (names, _, units) in _ALMA.items():
            name = next((n for n in names if n in ds), None)
            if name is None:
                if field == "lai":
                    continue
                raise ForcingError(
                    f"{source}: missing forcing variable {names[0]} [{units}]"
                    f"{' (or ' + ', '.join(names[1:]) + ')' if len(names) > 1 else ''}; "
                    f"have {', '.join(sorted(map(str, ds.data_vars)))}"
                )
            values = _series(ds[name], source)
            if field == "precip" and name == "Rainf" and "Snowf" in ds:
                snow = _series(ds["Snowf"], source)
                _check("precip", snow, source, times, "Snowf")
                values = values + snow
            _check(field, values, source, times, name)
            fields[field] = values
        if "lai" not in fields:
            if lai is None:
                raise ForcingError(
                    f"{source}: no LAI variable; pass lai= (a constant, 12 monthly values, "
                    "e.g. jlsm.land.pft.monthly_lai(pft), or T values)"
                )
            fields["lai"] = lai_series(lai, times, source)
            _check("lai", fields["lai"], source, times, "lai")
        return cls(**fields, dt=dt, check=False, source=source)


def lai_series(lai, times, source: str = "lai") -> np.ndarray:
    """LAI [m2 m-2] at ``times`` from a constant, 12 monthly values or T values.

    Monthly values are taken at mid-month (day of year 15.2 + 30.4 k) and
    interpolated linearly and periodically over the year.
    """
    v = np.asarray(lai, dtype=float)
    t = np.asarray(times)
    if v.ndim == 0:
        return np.full(t.shape, float(v))
    if v.shape == (12,):
        if not np.issubdtype(t.dtype, np.datetime64):
            raise ForcingError(f"{source}: 12 monthly LAI values need datetime times")
        year_start = t.astype("datetime64[Y]")
        doy = (t - year_start) / np.timedelta64(1, "D")
        mid = 15.2 + 30.44 * np.arange(12)
        return np.interp(doy, mid, v, period=365.25)
    if v.shape == t.shape:
        return v
    raise ForcingError(f"{source}: lai must be a number, 12 monthly values or {t.size} values, got shape {v.shape}")


def _series(da, source):
    values = np.asarray(da.squeeze().values, dtype=float)
    if values.ndim != 1:
        raise ForcingError(f"{source}: variable {da.name} should be a time series, has dims {da.dims}")
    return values


def _check(field, values, source, times=None, label=None):
    """ForcingError naming the variable and its first bad time for NaN/Inf or implausible values."""
    shown = label or field
    _, (lo, hi), units = _ALMA[field]
    v = np.asarray(values, dtype=float)
    flat = v.reshape(-1, v.shape[-1]) if v.ndim else v.reshape(1, 1)

    def where(i):
        site, k = divmod(int(i), flat.shape[1])
        place = f"time {times[k]}" if times is not None else f"time index {k}"
        return place + (f" of site {site}" if v.ndim == 2 else "")

    bad = ~np.isfinite(flat.ravel())
    if np.any(bad):
        raise ForcingError(f"{source}: {shown} has {int(bad.sum())} NaN/Inf value(s), first at {where(np.flatnonzero(bad)[0])}")
    out = (flat.ravel() < lo) | (flat.ravel() > hi)
    if np.any(out):
        i = int(np.flatnonzero(out)[0])
        raise ForcingError(
            f"{source}: {shown} = {flat.ravel()[i]:g} at {where(i)} is outside the plausible range [{lo:g}, {hi:g}] {units}"
        )
