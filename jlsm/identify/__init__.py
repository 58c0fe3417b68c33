"""Identifiability: which parameters the observations pin down, and which design would.

Five tools, all on the same differentiable model:

* :func:`local_analysis`: Jacobian (forward mode through the scan) of every
  observed output with respect to the free parameters in log space, the Fisher
  information ``F = J^T Sigma^-1 J``, its eigen-directions (named combinations
  such as ``0.93 log beta + 0.37 log h``), Cramer-Rao standard deviations,
  correlations, the condition number and the collinearity index of every
  parameter subset;
* :func:`profile_likelihood`: chi-square profile of one parameter, the others
  re-optimised at every grid value (all grid values and starts in one batched
  Levenberg-Marquardt run), and its confidence interval;
* :func:`design_sweep`: the local analysis for many observation designs
  (depths, noise, record length) from one Jacobian, as one batched
  computation; :func:`rank_designs`, :func:`design_figure`;
* :func:`sobol_indices`: global (variance-based) sensitivity over the bounds,
  with SALib (the ``analysis`` extra);
* :func:`sampling_baseline` and :func:`compare_with_gradient`: calibration
  by Sobol sampling against the gradient-based multi-start inversion, with the
  cost of both counted in forward-run equivalents.

Modules
-------
* :mod:`~jlsm.identify.coordinates`: q = log p, derived quantities, default cut-offs;
* :mod:`~jlsm.identify.fisher`: sensitivities, Fisher information, :func:`local_analysis`;
* :mod:`~jlsm.identify.collinearity`: collinearity index of parameter subsets;
* :mod:`~jlsm.identify.profiles`: :func:`profile_likelihood`;
* :mod:`~jlsm.identify.designs`: :class:`Design`, :func:`design_sweep`, ranking, :func:`synthetic_sweep`;
* :mod:`~jlsm.identify.sensitivity`: :func:`sobol_indices` and its output functions;
* :mod:`~jlsm.identify.sampling`: :func:`sampling_baseline`;
* :mod:`~jlsm.identify.cost`: :func:`forward_equivalents`;
* :mod:`~jlsm.identify.comparison`: :func:`compare_with_gradient`, :func:`comparison_table`;
* :mod:`~jlsm.identify.figures`: the figures (optional matplotlib);
* the ``jlsm identify`` command: :mod:`jlsm.cli.identify`.

Coordinates of the local analysis
---------------------------------
A free parameter ``p`` enters as ``q = log p`` when its value is positive and
its lower bound (if any) is not negative; columns of the Jacobian are then
relative sensitivities (output units per e-fold of ``p``) and Cramer-Rao
standard deviations are relative (0.01 = 1 %). This includes the bottom
temperature, taken as the log of its value in kelvin: its relative standard
deviation times the value gives kelvin. A parameter that may be negative or
zero enters as itself (``scale = "linear"``), with absolute standard deviations.

Singular Fisher matrices
------------------------
Eigen-directions of F with eigenvalue below ``rcond * max(eigenvalue)``
(default ``rcond = 1e-10``) carry no information: they are the
non-identifiable directions. A quantity with gradient ``g`` (in q) is
identifiable when the part of ``g`` along those directions is below
``null_tol * |g|`` (default 1e-6); its Cramer-Rao variance is then
``g^T F^+ g`` with the pseudo-inverse ``F^+`` restricted to the kept
directions. Otherwise its Cramer-Rao standard deviation is infinite. The
correlation matrix comes from the inverse with eigenvalues floored at
``rcond * max(eigenvalue)``, so parameters that move together along a
non-identifiable direction show a correlation of +-1.
"""

from __future__ import annotations

from .collinearity import collinearity
from .comparison import compare_with_gradient, comparison_table
from .coordinates import DERIVED_QUANTITIES, NULL_TOL, RCOND, TARGETS
from .cost import forward_equivalents
from .designs import (
    CRITERIA,
    DEFAULT_DEPTHS_CM,
    DEFAULT_NOISE_K,
    Design,
    design_grid,
    design_sweep,
    design_table,
    rank_designs,
    synthetic_sweep,
)
from .figures import comparison_figure, design_figure, profile_figure, sobol_figure
from .fisher import describe_directions, local_analysis, sensitivities
from .profiles import profile_likelihood
from .sampling import sampling_baseline
from .sensitivity import mean_output, misfit_output, rmse_outputs, sobol_indices

_COMMAND = ("add_parser", "run")


def __getattr__(name):
    # the ``jlsm identify`` command lives in jlsm.cli.identify; its two functions
    # stay reachable here (imported on first use: jlsm.cli imports this package)
    if name in _COMMAND:
        from ..cli import identify as command

        return getattr(command, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Design",
    "DERIVED_QUANTITIES",
    "TARGETS",
    "add_parser",
    "collinearity",
    "compare_with_gradient",
    "comparison_figure",
    "comparison_table",
    "describe_directions",
    "design_figure",
    "design_grid",
    "design_sweep",
    "design_table",
    "forward_equivalents",
    "local_analysis",
    "mean_output",
    "misfit_output",
    "profile_figure",
    "profile_likelihood",
    "rank_designs",
    "rmse_outputs",
    "run",
    "sampling_baseline",
    "sensitivities",
    "sobol_figure",
    "sobol_indices",
    "synthetic_sweep",
    "CRITERIA",
    "DEFAULT_DEPTHS_CM",
    "DEFAULT_NOISE_K",
    "NULL_TOL",
    "RCOND",
]
