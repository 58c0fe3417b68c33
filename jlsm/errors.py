"""Exceptions raised by jlsm for problems with the user's input.

Every error jlsm raises on purpose derives from :class:`JlsmError`, so a caller
can catch them all with one ``except``. Messages name the variable, the place
(file, time, index) and what was expected.
"""

from __future__ import annotations


class JlsmError(Exception):
    """Base class of all jlsm errors."""


class InputError(JlsmError, ValueError):
    """An argument or data value is malformed: wrong shape, unit, range or NaN."""


class ForcingError(InputError):
    """The meteorological forcing is missing, gappy or physically implausible."""


class GridError(InputError):
    """The soil grid or an observation depth is invalid."""


class ParameterError(InputError):
    """A model parameter, bound, path or transform is invalid."""


class ObservationError(InputError):
    """Observations do not fit the forcing (time axis, variable, depth)."""


class ConfigError(InputError):
    """A configuration file has unknown keys, missing keys or bad values."""


class DataFileError(JlsmError, OSError):
    """A data file cannot be read or lacks a needed variable."""
