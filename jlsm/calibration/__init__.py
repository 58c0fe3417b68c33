"""Multi-site calibration of Qh and Qle: objectives, skill, baselines, transfer and reports.

The protocol of Xie, Li & Yoshimura (2025, egusphere-2025-3301), run directly
on the differentiable model: per-site objectives (:mod:`.objectives`), skill at
several time scales (:mod:`.skill`), PLUMBER empirical benchmarks
(:mod:`.benchmarks`), Sobol-256 and one-factor-at-a-time designs
(:mod:`.designs`), leave-one-site-out transfer (:mod:`.transfer`), reports
(:mod:`.report`) and the batched driver (:mod:`.calibrate`).
"""

from . import benchmarks, designs, objectives, report, skill, transfer
from .calibrate import CalibrationData, CalibrationInterrupted, calibrate, evaluate_sets, simulate_sets, stack_models

__all__ = [
    "CalibrationData",
    "CalibrationInterrupted",
    "benchmarks",
    "calibrate",
    "designs",
    "evaluate_sets",
    "objectives",
    "report",
    "simulate_sets",
    "skill",
    "stack_models",
    "transfer",
]
