"""Unit conversion of source variables to jlsm's canonical SI units."""

from __future__ import annotations

import numpy as np

from jlsm.errors import InputError

from ._common import _CANONICAL_UNITS, _KIND


_UNIT_TABLE: dict[str, dict[str, tuple[float, float]]] = {
    "flux": {u: (1.0, 0.0) for u in ("w/m2", "wm-2", "w/m-2", "wm**-2", "w.m-2")},
    "temperature": {
        **{u: (1.0, 0.0) for u in ("k", "kelvin", "degk", "degreek")},
        **{
            u: (1.0, 273.15)
            for u in ("degc", "c", "°c", "deg_c", "degreec", "degreesc",
                      "degree_celsius", "degrees_celsius", "celsius", "degreecelsius")
        },
    },
    "humidity": {
        **{u: (1.0, 0.0) for u in ("kg/kg", "kgkg-1", "1", "-")},
        **{u: (1e-3, 0.0) for u in ("g/kg", "gkg-1")},
    },
    "pressure": {
        "pa": (1.0, 0.0), "hpa": (100.0, 0.0), "mbar": (100.0, 0.0),
        "mb": (100.0, 0.0), "kpa": (1000.0, 0.0),
    },
    "speed": {u: (1.0, 0.0) for u in ("m/s", "ms-1")},
    "precip": {
        **{u: (1.0, 0.0) for u in ("kg/m2/s", "kgm-2s-1", "mm/s", "mms-1", "kg/m2s")},
        **{u: (1.0 / 3600.0, 0.0) for u in ("mm/h", "mmh-1", "mm/hr")},
    },
    "fraction": {
        **{u: (1.0, 0.0) for u in ("m3/m3", "m3m-3", "1", "-")},
        **{u: (0.01, 0.0) for u in ("%", "percent")},
    },
    "lai": {u: (1.0, 0.0) for u in ("m2/m2", "m2m-2", "1", "-")},
    "ppfd": {u: (1.0, 0.0) for u in ("umol/m2/s", "umolm-2s-1", "µmolm-2s-1",
                                      "µmol/m2/s", "umolphotonm-2s-1")},
    "percent": {**{u: (1.0, 0.0) for u in ("%", "percent")}, "1": (100.0, 0.0), "-": (100.0, 0.0)},
}


def _norm_units(units) -> str:
    s = str(units).strip().lower()
    for a, b in (("^", ""), (" ", ""), ("**", ""), ("·", ""), ("per", "/")):
        s = s.replace(a, b)
    return s


def _infer_units(values: np.ndarray, kind: str) -> tuple[float, float, str]:
    """Guess (scale, offset, description) from plausible ranges."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 1.0, 0.0, "none (all missing)"
    med = float(np.median(finite))
    if kind == "temperature":
        if np.max(finite) < 150.0:
            return 1.0, 273.15, "degC (inferred: all values < 150)"
        return 1.0, 0.0, "K (inferred)"
    if kind == "pressure":
        if med > 20000.0:
            return 1.0, 0.0, "Pa (inferred)"
        if med > 200.0:
            return 100.0, 0.0, "hPa (inferred)"
        return 1000.0, 0.0, "kPa (inferred)"
    if kind == "fraction":
        if np.max(finite) > 1.5:
            return 0.01, 0.0, "% (inferred: values > 1.5)"
        return 1.0, 0.0, "m3 m-3 (inferred)"
    if kind == "humidity" and np.max(finite) > 1.0:
        return 1e-3, 0.0, "g kg-1 (inferred: values > 1)"
    return 1.0, 0.0, f"{_CANONICAL_UNITS[kind]} (assumed)"


def _convert(values, units, name: str, source, *, dt_seconds: float | None = None):
    """Convert ``values`` of variable ``name`` to canonical units.

    Returns (float64 array, description of the source units).
    """
    kind = _KIND[name]
    v = np.asarray(values, dtype=float)
    if units is None or str(units).strip() == "":
        scale, offset, desc = _infer_units(v, kind)
        return v * scale + offset, desc
    key = _norm_units(units)
    if kind == "precip" and key in ("mm", "kg/m2", "kgm-2"):
        if not dt_seconds:
            raise InputError(
                f"{source}: variable {name!r} is in {units!r} per time step but "
                "the time step is unknown"
            )
        return v / float(dt_seconds), f"{units} per {dt_seconds:g} s step"
    table = _UNIT_TABLE[kind]
    if key not in table:
        raise InputError(
            f"{source}: variable {name!r} has units {units!r}, which jlsm cannot "
            f"convert to {_CANONICAL_UNITS[kind]}; accepted: {sorted(table)}"
        )
    scale, offset = table[key]
    return v * scale + offset, str(units)
