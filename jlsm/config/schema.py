"""The config file: its sections and keys, reading and validation (``jlsm invert CONFIG.toml``).

The full reference (type, default, unit and an example of every key) is
docs/config.md; ``examples/*.toml`` are documented examples. Top-level key ``extends``
(path relative to the config) takes another config as the base: each key of a
section given here replaces the base's key of that section (tables such as
``variables`` are replaced whole, not merged). Sections and keys:

``[data]``: ``format`` (``"urban-plumber"``, ``"plumber2"``, ``"fluxnet-csv"``),
``forcing`` (path; relative paths are looked up in ``$JLSM_DATA_DIR`` then
beside the config), ``fluxes`` (second file for PLUMBER2/FLUXNET CSV),
``hourly`` (average half-hourly data to hourly), ``utc_offset_hours``,
``max_gap_steps`` (linear gap filling of SWdown, LWdown, Tair up to this many
steps), ``qc_max``.

``[window]``: ``start`` (local standard time, ISO), ``fit_hours``,
``test_hours``, ``spinup_hours`` (run before the fit window, not fitted).

``[model]``: ``depth`` [m], ``nodes``, ``stretch`` (spacing ratio, 1 = uniform),
``top`` (``"energy_balance"`` or ``"prescribed"``), ``top_temperature``
(dataset variable for a prescribed top, e.g. ``"SoilTemp@0.02"``),
``origin_depth`` (sensor depth [m] of the model's top node, default 0; soil
observation depths are shifted by it), ``bottom`` (``"fixed"``/``"zero_flux"``),
``emissivity``, ``absorb_all_longwave``, ``initial`` (K, ``"bottom"``: uniform
at the bottom temperature, or ``"observed"``: the observed soil temperatures at
the first time, interpolated in depth, constant beyond the deepest sensor),
``theta``, and a table ``[model.parameters]`` of base values (albedo, h, beta,
conductivity, heat_capacity, bottom_temperature). The surface radiometric
temperature ``Ts`` is derived from hourly LWup and LWdown with the model's own
emissivity and longwave absorptivity, so it is consistent with the model's LWup.

``[observations]``: ``variables`` (fitted; table observable -> dataset
variable, e.g. ``"soil_temperature@0.05" = "SoilTemp@0.05"``, ``ts = "Ts"``,
``turbulent = "Qh+Qle"``), ``evaluate`` (same form: evaluated on the fit and
test windows, not fitted), ``errors`` (table observable -> std), ``weighting``.

``[parameters]``: ``free`` (table name -> [lo, hi]), ``fixed`` (table name ->
value, or ``"observed"`` for the albedo: median SWup / SWdown of the fit
window at SWdown > 200 W m-2), ``start_bounds`` (table), ``transform``.

``[reference]``: ``name``, ``values`` (a value for every free parameter) and
``description``: a parameter set evaluated with the same metrics next to the
estimates (e.g. published defaults).

``[inversion]``: ``starts``, ``seed``, ``sampler``, ``steps``,
``learning_rate``, ``polish``, ``polish_method``, ``chunk``, ``offset_profile``
(with one free parameter: also estimate it with a constant offset per fitted
variable as nuisance, see :func:`jlsm.config.offset_profile`).

``[output]``: ``dir``, ``name``.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataFileError

SCHEMA = {
    "data": {"format", "forcing", "fluxes", "hourly", "utc_offset_hours", "max_gap_steps", "qc_max"},
    "window": {"start", "fit_hours", "test_hours", "spinup_hours"},
    "model": {
        "depth",
        "nodes",
        "stretch",
        "top",
        "top_temperature",
        "origin_depth",
        "bottom",
        "emissivity",
        "absorb_all_longwave",
        "initial",
        "theta",
        "parameters",
    },
    "observations": {"variables", "evaluate", "errors", "weighting"},
    "parameters": {"free", "fixed", "start_bounds", "transform"},
    "reference": {"name", "values", "description"},
    "inversion": {"starts", "seed", "sampler", "steps", "learning_rate", "polish", "polish_method", "chunk", "offset_profile"},
    "output": {"dir", "name"},
}
TOP_LEVEL = {"extends"}
REQUIRED = {"data": {"format", "forcing"}, "window": {"start", "fit_hours"}, "observations": {"variables"}, "parameters": {"free"}}
FORMATS = ("urban-plumber", "plumber2", "fluxnet-csv")


def _read_toml(path: Path) -> dict:
    if not path.exists():
        raise DataFileError(f"{path}: config file not found")
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder, not a config file")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: cannot read the config: not a UTF-8 text file ({err.reason} at byte {err.start})") from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the config: {err.strerror or err}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None


def _check_keys(cfg: dict, path: Path) -> None:
    unknown = set(cfg) - set(SCHEMA) - TOP_LEVEL
    if unknown:
        raise ConfigError(f"{path}: unknown section(s) or key(s) {sorted(unknown)}; known sections: {sorted(SCHEMA)}")
    for section, keys in cfg.items():
        if section in TOP_LEVEL:
            continue
        if not isinstance(keys, dict):
            raise ConfigError(f"{path}: [{section}] must be a table")
        bad = set(keys) - SCHEMA[section]
        if bad:
            raise ConfigError(f"{path}: unknown key(s) {sorted(bad)} in [{section}]; known: {sorted(SCHEMA[section])}")


def _number(cfg, path, section, key, *, positive=False, minimum=None):
    value = cfg.get(section, {}).get(key)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise ConfigError(f"{path}: [{section}] {key} must be a number, got {value!r}")
    if positive and value <= 0:
        raise ConfigError(f"{path}: [{section}] {key} must be > 0, got {value!r}")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{path}: [{section}] {key} must be >= {minimum}, got {value!r}")


# (section, key) -> (check, what is expected); the defaults and units are in docs/config.md
_INT = lambda lo: (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= lo)  # noqa: E731
_NUM = lambda lo, hi, open_lo=False: (  # noqa: E731
    lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)
    and (v > lo if open_lo else v >= lo) and v <= hi
)
_BOOL = lambda v: isinstance(v, bool)  # noqa: E731
_ONE_OF = lambda *c: (lambda v: v in c)  # noqa: E731
VALUES = {
    ("data", "hourly"): (_BOOL, "true or false"),
    ("data", "qc_max"): (_INT(0), "an integer >= 0"),
    ("data", "max_gap_steps"): (_INT(0), "an integer >= 0"),
    ("data", "utc_offset_hours"): (_NUM(-14, 14), "a number of hours in [-14, 14]"),
    ("model", "depth"): (_NUM(0, np.inf, True), "a positive depth in m"),
    ("model", "nodes"): (_INT(3), "a positive integer >= 3"),
    ("model", "stretch"): (_NUM(0, np.inf, True), "a positive spacing ratio"),
    ("model", "top"): (_ONE_OF("energy_balance", "prescribed"), "'energy_balance' or 'prescribed'"),
    ("model", "bottom"): (_ONE_OF("fixed", "zero_flux"), "'fixed' or 'zero_flux'"),
    ("model", "origin_depth"): (_NUM(0, np.inf), "a depth >= 0 in m"),
    ("model", "emissivity"): (_NUM(0, 1, True), "a value in (0, 1]"),
    ("model", "absorb_all_longwave"): (_BOOL, "true or false"),
    # theta-method: unconditionally stable for 0.5 <= theta <= 1 (Crank and Nicolson 1947; Richtmyer and Morton 1967, sec. 8.2)
    ("model", "theta"): (_NUM(0.5, 1), "a value in [0.5, 1]"),
    ("observations", "weighting"): (_ONE_OF("variance", "equal"), "'variance' or 'equal'"),
    ("parameters", "transform"): (_ONE_OF("sigmoid", "log-sigmoid", "log", "identity"),
                                  "'sigmoid', 'log-sigmoid', 'log' or 'identity'"),
    ("inversion", "starts"): (_INT(1), "a positive integer"),
    ("inversion", "seed"): (_INT(0), "an integer >= 0"),
    ("inversion", "sampler"): (_ONE_OF("sobol", "uniform"), "'sobol' or 'uniform'"),
    ("inversion", "steps"): (_INT(0), "an integer >= 0"),
    ("inversion", "learning_rate"): (_NUM(0, np.inf, True), "a positive number"),
    ("inversion", "polish"): (_INT(0), "an integer >= 0"),
    ("inversion", "polish_method"): (_ONE_OF("gauss-newton", "lbfgs"), "'gauss-newton' or 'lbfgs'"),
    ("inversion", "chunk"): (_INT(1), "a positive integer"),
    ("inversion", "offset_profile"): (_BOOL, "true or false"),
}


def _parameter_names() -> list[str]:
    from ..params import ALIASES, DERIVED, KNOWN

    return sorted({*KNOWN, *DERIVED, *ALIASES})


def _check_parameter_names(cfg: dict, path: Path) -> None:
    import difflib

    valid = _parameter_names()
    for key in ("free", "fixed", "start_bounds"):
        table = cfg["parameters"].get(key, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: [parameters] {key} must be a table name = value")
        for name in table:
            if name not in valid:
                close = difflib.get_close_matches(name, valid, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise ConfigError(f"{path}: [parameters] {key}.{name}: unknown parameter; {hint}valid names: {', '.join(valid)}")
    # [model.parameters] (base values) is checked by build_problem, which knows its keys


def _toml(value) -> str:
    """A value as written in TOML (strings quoted, booleans lower case)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value)


def _check_values(cfg: dict, path: Path) -> None:
    for section, keys in REQUIRED.items():
        missing = keys - set(cfg.get(section, {}))
        if missing:
            raise ConfigError(f"{path}: [{section}] lacks required key(s) {sorted(missing)}")
    if cfg["data"]["format"] not in FORMATS:
        raise ConfigError(f"{path}: [data] format must be one of {FORMATS}, got {cfg['data']['format']!r}")
    try:
        np.datetime64(str(cfg["window"]["start"]), "ns")
    except ValueError:
        raise ConfigError(f"{path}: [window] start {cfg['window']['start']!r} is not an ISO date-time (e.g. 2012-05-01T00:00)") from None
    _number(cfg, path, "window", "fit_hours", positive=True)
    _number(cfg, path, "window", "test_hours", minimum=0)
    _number(cfg, path, "window", "spinup_hours", minimum=0)
    for (section, key), (ok, expected) in VALUES.items():
        value = cfg.get(section, {}).get(key)
        if value is not None and not ok(value):
            raise ConfigError(f"{path}: [{section}] {key} = {_toml(value)}: expected {expected}")
    for key in ("variables", "evaluate"):
        table = cfg["observations"].get(key, {})
        if not isinstance(table, dict) or (key == "variables" and not table):
            raise ConfigError(f"{path}: [observations] {key} must be a table observable = \"data variable\"")
        for k, v in table.items():
            if not isinstance(v, str):
                raise ConfigError(f"{path}: [observations] {key}.{k} must name a data variable (a string), got {v!r}")
    free = cfg["parameters"]["free"]
    if not isinstance(free, dict) or not free:
        raise ConfigError(f"{path}: [parameters] free must be a table name = [lo, hi]")
    _check_parameter_names(cfg, path)
    for k, b in free.items():
        if not (isinstance(b, list) and len(b) == 2 and all(isinstance(x, (int, float)) for x in b) and b[0] < b[1]):
            raise ConfigError(f"{path}: [parameters] free.{k} must be [lo, hi] with lo < hi, got {b!r}")
    init = cfg.get("model", {}).get("initial", "bottom")
    if not (init in ("bottom", "observed") or (isinstance(init, (int, float)) and not isinstance(init, bool))):
        raise ConfigError(f"{path}: [model] initial must be 'bottom', 'observed' or a temperature in K, got {init!r}")
    ref = cfg.get("reference")
    if ref is not None:
        values = ref.get("values")
        if not isinstance(values, dict) or set(values) != set(free):
            raise ConfigError(
                f"{path}: [reference] values must give a number for each free parameter {sorted(free)}, "
                f"got {sorted(values) if isinstance(values, dict) else values!r}"
            )


def load_config(path, *, _seen=()) -> dict:
    """Read and validate a config file (following ``extends``); errors name the file, section and key."""
    path = Path(path)
    cfg = _read_toml(path)
    _check_keys(cfg, path)
    parent = cfg.pop("extends", None)
    if parent is not None:
        if not isinstance(parent, str):
            raise ConfigError(f"{path}: extends must be the path of another config, got {parent!r}")
        base_path = (path.parent / parent).resolve()
        if base_path in _seen or base_path == path.resolve():
            raise ConfigError(f"{path}: extends {parent!r} makes a cycle")
        base = load_config(base_path, _seen=(*_seen, path.resolve()))
        merged = {k: dict(v) for k, v in base.items() if not k.startswith("_")}
        for section, keys in cfg.items():
            merged.setdefault(section, {}).update(keys)
        cfg = merged
        cfg["_extends"] = str(base_path)
    if _seen:
        return cfg
    _check_values(cfg, path)
    cfg["_path"] = str(path)
    return cfg


def config_text(cfg) -> str:
    """The text of a loaded config, with the base it extends (for provenance)."""
    text = Path(cfg["_path"]).read_text()
    if cfg.get("_extends"):
        text = f"# extends {cfg['_extends']}:\n{Path(cfg['_extends']).read_text()}\n# ---- then\n{text}"
    return text
