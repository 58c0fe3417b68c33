"""The published synthetic case of the Neural Physics soil-heat study.

100 hourly steps over a 1 m column of 101 nodes; SWdown = 800 cos(theta)
between sunrise (07:00) and sunset (21:00), zero at night, with theta running
from -pi/2 at sunrise through 0 at 14:00 to pi/2 at sunset; LWdown = 100 W m-2;
Ta = 296 K; initial profile 293 K; true parameters alpha 0.2, lambda 0.8
W m-1 K-1, Tb 293 K, C 2.2e6 J m-3 K-1, beta 1.5, h 15 W m-2 K-1, emissivity
0.95. The study absorbed all of LWdown (``absorb_all_longwave=True``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ._compile import jit as _jit
from .forcing import Forcing
from .grid import SoilGrid
from .model import LandSurfaceModel, simulate
from .physics.radiation import Radiation
from .physics.soil_heat import JacobiSolver, ModalSolver, SoilThermal, SpectralSolver, TridiagonalSolver
from .physics.turbulence import BowenRatioExchange

TRUE_PARAMETERS = {
    "albedo": 0.2,
    "h": 15.0,
    "beta": 1.5,
    "conductivity": 0.8,
    "bottom_temperature": 293.0,
    "heat_capacity": 2.2e6,
}
"""The study's true parameter values (units: -, W m-2 K-1, -, W m-1 K-1, K, J m-3 K-1)."""

BOUNDS = {
    "albedo": (0.05, 0.5),
    "h": (5.0, 20.0),
    "beta": (0.5, 5.0),
    "conductivity": (0.47, 0.8),
    "bottom_temperature": (290.0, 303.0),
    "heat_capacity": (2.0e6, 2.5e6),
}
"""The study's sampling bounds for the random starts."""

PAPER_SIGMA = 5.67e-8
"""The rounded Stefan-Boltzmann constant [W m-2 K-4] the study used."""

INITIAL_TEMPERATURE = 293.0
"""Initial profile [K] of the 2-depth experiment."""

OBSERVED_DEPTHS = (0.0, 0.05)
"""Depths [m] of the study's synthetic observations: surface and 5 cm."""

SYNTHETIC_FILES = ("Target_T1_surface.txt", "Target_T2_5cm.txt")


def paper_forcing(
    hours: int = 100,
    dt: float = 3600.0,
    sw_peak: float = 800.0,
    lw_down: float = 100.0,
    t_air: float = 296.0,
    sunrise_hour: float = 7.0,
    sunset_hour: float = 21.0,
    dtype=None,
) -> Forcing:
    """The study's idealised forcing at ``hours * 3600 / dt + 1`` times from t = 0 (midnight)."""
    n = int(round(hours * 3600.0 / dt)) + 1
    t = np.arange(n) * dt
    t24 = np.mod(t, 86400.0)
    rise, sset = sunrise_hour * 3600.0, sunset_hour * 3600.0
    theta = (2.0 * t24 - rise - sset) / (sset - rise) * (np.pi / 2)
    theta = np.clip(theta, -np.pi / 2, np.pi / 2)
    sw = sw_peak * np.cos(theta)
    sw = np.where(np.abs(theta) >= np.pi / 2, 0.0, sw)
    arrays = [sw, np.full(n, lw_down), np.full(n, t_air)]
    if dtype is not None:
        arrays = [a.astype(dtype) for a in arrays]
    return Forcing(*arrays, dt=dt, source="paper_forcing")


def paper_model(
    *,
    solver: str = "direct",
    tolerance: float = 1e-4,
    theta: float = 1.0,
    absorb_all_longwave: bool = True,
    grid: SoilGrid | None = None,
    **parameters,
) -> LandSurfaceModel:
    """The study's model at its true parameters (override any by keyword).

    Args:
        solver: ``"direct"`` (exact: :class:`SpectralSolver`, the grid's shared
            eigenbasis, falling back to the tridiagonal solve for per-node
            properties), ``"tridiagonal"`` (:class:`TridiagonalSolver`),
            ``"modal"`` (eigenbasis per parameter set) or ``"jacobi"`` (the study's solver).
        tolerance: Jacobi stopping tolerance [K].
        theta: 1 (backward Euler, the study) or 0.5 (Crank-Nicolson).
        absorb_all_longwave: absorb all of LWdown, as the study did.
        grid: defaults to 101 uniform nodes over 1 m.
        **parameters: any of ``TRUE_PARAMETERS`` keys.
    """
    unknown = set(parameters) - set(TRUE_PARAMETERS) - {"emissivity"}
    if unknown:
        from .errors import ParameterError

        raise ParameterError(f"paper_model: unknown parameter(s) {sorted(unknown)}; known: {sorted(TRUE_PARAMETERS)}")
    p = {**TRUE_PARAMETERS, "emissivity": 0.95, **parameters}
    if solver == "direct":
        step_solver = SpectralSolver(theta=theta)
    elif solver == "tridiagonal":
        step_solver = TridiagonalSolver(theta=theta)
    elif solver == "modal":
        step_solver = ModalSolver(theta=theta)
    elif solver == "jacobi":
        step_solver = JacobiSolver(theta=theta, tolerance=tolerance)
    else:
        from .errors import ParameterError

        raise ParameterError(
            f"paper_model: solver must be 'direct', 'tridiagonal', 'modal' or 'jacobi', got {solver!r}"
        )
    return LandSurfaceModel(
        grid=grid if grid is not None else SoilGrid.uniform(1.0, 101),
        soil=SoilThermal(p["conductivity"], p["heat_capacity"]),
        radiation=Radiation(
            p["albedo"], p["emissivity"], absorb_all_longwave=absorb_all_longwave, stefan_boltzmann=PAPER_SIGMA
        ),
        turbulence=BowenRatioExchange(p["h"], p["beta"]),
        bottom_temperature=p["bottom_temperature"],
        solver=step_solver,
    )


def load_published_observations(folder: str | os.PathLike | None = None) -> np.ndarray:
    """The study's synthetic observations [K], shape (101, 2): surface and 5 cm.

    Reads ``paper-synthetic/Target_T1_surface.txt`` and ``Target_T2_5cm.txt``
    from ``folder`` (default: :func:`data_dir`).
    """
    from .errors import DataFileError
    from ._paths import data_dir

    base = Path(folder) if folder is not None else (data_dir() or Path("."))
    base = base / "paper-synthetic" if (base / "paper-synthetic").is_dir() else base
    columns = []
    for name in SYNTHETIC_FILES:
        path = base / name
        if not path.is_file():
            raise DataFileError(
                f"{path}: not found; the study's synthetic observations come with the shared data folder "
                "(set JLSM_DATA_DIR)"
            )
        columns.append(np.loadtxt(path))
    return np.stack(columns, axis=1)


# ----------------------------------------------------------- twin experiment

SEARCH_BOUNDS = {
    "albedo": (0.01, 0.95),
    "h": (0.5, 100.0),
    "beta": (0.05, 20.0),
    "conductivity": (0.05, 5.0),
    "heat_capacity": (5.0e5, 5.0e6),
    "bottom_temperature": (260.0, 330.0),
}
"""Optimisation bounds of the twin experiment: physically plausible and wide.

The study's ``BOUNDS`` are where its random starts were drawn; its true
conductivity (0.8) sits on their edge, so the search space must be wider for
the truth to be an interior point. Starts are still drawn from ``BOUNDS``.
"""

TWIN_CONFIGURATIONS = {
    "5cm": {
        "observed": ("soil_temperature@0.05",),
        "initial": None,
        "description": "5 cm only; initial profile equal to the Tb parameter (as published)",
    },
    "surface+5cm": {
        "observed": ("soil_temperature@0", "soil_temperature@0.05"),
        "initial": INITIAL_TEMPERATURE,
        "description": "surface and 5 cm; initial profile 293 K",
    },
}


def twin_space():
    """The twin experiment's free parameters: all six, log-sigmoid for the positive scales."""
    from .params import Parameter, ParameterSpace, KNOWN

    transform = {
        "albedo": "sigmoid",
        "bottom_temperature": "sigmoid",
    }
    free = {
        name: Parameter(name, SEARCH_BOUNDS[name], transform.get(name, "log-sigmoid"), KNOWN[name][1], KNOWN[name][0])
        for name in TRUE_PARAMETERS
    }
    return ParameterSpace(free, start_bounds=BOUNDS)


def twin_case(
    configuration: str = "surface+5cm",
    *,
    noise: float = 0.0,
    seed: int = 0,
    solver: str = "direct",
    source: str = "model",
):
    """The synthetic twin: (model, forcing, observations, space, initial).

    Observations are made by the model at the true parameters (``solver``) for
    the configuration's observed depths (``source="model"``), or are the
    study's published synthetic files (``source="published"``: made by its
    Jacobi solver, about 0.01 K from the exact solution), plus seeded Gaussian
    noise of ``noise`` [K].
    """
    from .errors import InputError
    from .observe import Observations

    if configuration not in TWIN_CONFIGURATIONS:
        raise InputError(f"twin_case: configuration must be one of {list(TWIN_CONFIGURATIONS)}, got {configuration!r}")
    cfg = TWIN_CONFIGURATIONS[configuration]
    forcing = paper_forcing()
    truth = paper_model(solver=solver)
    initial = cfg["initial"]
    obs_depths = tuple(float(name.partition("@")[2]) for name in cfg["observed"])
    if source == "published":
        published = load_published_observations()
        columns = {0.0: published[:, 0], 0.05: published[:, 1]}
        data = {name: columns[d] for name, d in zip(cfg["observed"], obs_depths)}
    elif source == "model":
        temperature = np.asarray(_observed_temperature(truth, forcing, initial, obs_depths))
        data = {name: temperature[:, i] for i, name in enumerate(cfg["observed"])}
    else:
        raise InputError(f"twin_case: source must be 'model' or 'published', got {source!r}")
    observations = Observations.from_dict(data)
    if noise:
        observations = observations.with_noise(noise, seed=seed)
    model = paper_model(solver="direct")
    return model, forcing, observations, twin_space(), initial


@_jit
def _observed_temperature(model, forcing, initial, depths):
    """Temperatures (T, len(depths)) of a forward run, as one compiled program (not op by op)."""
    return simulate(model, forcing, initial=initial, depths=depths).temperature
