"""Multi-site calibration of Qh and Qle: objectives, skill, baselines, transfer and reports.

The protocol of Xie, Li & Yoshimura (2025, egusphere-2025-3301), run directly
on the differentiable model: per-site objectives (:mod:`.objectives`), skill at
several time scales (:mod:`.skill`), PLUMBER empirical benchmarks
(:mod:`.benchmarks`), Sobol-256 and one-factor-at-a-time designs
(:mod:`.designs`), leave-one-site-out transfer (:mod:`.transfer`), reports
(:mod:`.report`), the batched driver (:mod:`.calibrate`) and the whole protocol
(:mod:`.protocol`); :mod:`.sites` builds the land-model problem of a site collection.

``jlsm.calibration.calibrate`` is the driver module; its function is
``from jlsm.calibration.calibrate import calibrate``.
"""

from . import benchmarks, designs, objectives, report, skill, transfer
from . import calibrate
from .calibrate import CalibrationData, CalibrationInterrupted, evaluate_sets, simulate_sets, stack_models
from .protocol import ProtocolResult, run_protocol

__all__ = [
    "CalibrationData",
    "CalibrationInterrupted",
    "ProtocolResult",
    "benchmarks",
    "calibrate",
    "designs",
    "evaluate_sets",
    "objectives",
    "report",
    "run_protocol",
    "simulate_sets",
    "skill",
    "stack_models",
    "transfer",
]
