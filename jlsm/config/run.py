"""Running a config: read the data, build the problem, invert, evaluate (:func:`run_problem`, :class:`Run`)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np

from .data import read_data
from .evaluation import evaluate, evaluation_observations, reference_vector, simulate_points
from .offsets import offset_profile
from .problem import build_problem
from .schema import load_config


@dataclasses.dataclass
class Run:
    """A config's problem and its inversion result (``result`` includes the evaluation)."""

    cfg: dict
    forcing_ds: object
    obs_ds: object
    model: object
    forcing: object
    observations: object
    space: object
    initial: object
    fit: tuple[int, int]
    validate: tuple[int, int] | None
    result: object

    @property
    def best(self) -> np.ndarray:
        """Physical values of the best start's free parameters (P,)."""
        return self.result["final"].sel(start=int(self.result["best_start"])).values[: self.space.size]

    def series(self, x=None) -> dict:
        """Observed and simulated series of the fitted and evaluated variables.

        Returns ``{"time", "observed": {name: (T,)}, "best": {...}, "reference": {...} or None}``;
        ``x`` (P,) physical values replace the best estimate.
        """
        obs = evaluation_observations(self.cfg, self.obs_ds)
        names = list(obs.names)
        points = [self.best if x is None else np.asarray(x, float)]
        ref = reference_vector(self.cfg, self.space)
        if ref is not None:
            points.append(ref)
        sims = simulate_points(self.model, self.forcing, obs, self.space, self.initial, np.stack(points))
        values = np.asarray(obs.values)
        return {
            "time": self.forcing_ds["time"].values,
            "observed": {n: values[:, i] for i, n in enumerate(names)},
            "best": {n: sims[0, :, i] for i, n in enumerate(names)},
            "reference": {n: sims[1, :, i] for i, n in enumerate(names)} if ref is not None else None,
        }


def run_problem(cfg, *, starts=None, polish=None, progress=False, checkpoint=None, resume=False, data=None) -> Run:
    """Read the data of a config (path or loaded dict), invert and evaluate; returns a :class:`Run`.

    ``starts`` and ``polish`` override the config's ``[inversion]`` values;
    ``checkpoint``/``resume`` are passed to :func:`jlsm.inverse.invert`;
    ``data``: the (forcing, observation) datasets of :func:`read_data`, if already read.
    """
    from ..inverse import invert

    if not isinstance(cfg, dict):
        cfg = load_config(cfg)
    forcing_ds, obs_ds = read_data(cfg) if data is None else data
    model, forcing, observations, space, initial, fit, validate = build_problem(cfg, forcing_ds, obs_ds)
    inv = cfg.get("inversion", {})
    result = invert(
        model,
        forcing,
        observations,
        space,
        starts=int(starts if starts is not None else inv.get("starts", 20)),
        seed=int(inv.get("seed", 0)),
        sampler=inv.get("sampler", "sobol"),
        initial=initial,
        fit=fit,
        validate=validate,
        steps=int(inv.get("steps", 0)),
        learning_rate=float(inv.get("learning_rate", 0.05)),
        polish=int(polish if polish is not None else inv.get("polish", 40)),
        polish_method=inv.get("polish_method", "gauss-newton"),
        chunk=int(inv.get("chunk", 50)),
        progress=progress,
        time=forcing_ds["time"].values,
        checkpoint=checkpoint,
        resume=resume,
        reference=reference_vector(cfg, space),
    )
    ev = evaluate(cfg, result, model, forcing, space, initial, fit, validate, obs_ds)
    attrs = {**result.attrs, **ev.attrs}
    result = result.merge(ev, join="exact")
    result.attrs = attrs
    result.attrs["fixed_values"] = json.dumps({k: float(v) for k, v in space.fixed.items()})
    result.attrs["window_start_local"] = str(cfg["window"]["start"])
    run = Run(cfg, forcing_ds, obs_ds, model, forcing, observations, space, initial, fit, validate, result)
    if inv.get("offset_profile", False):
        prof = offset_profile(run)
        result.attrs["offset_profile_estimate"] = prof["estimate"]
        result.attrs["offset_profile_offsets"] = json.dumps(prof["offsets"])
    return run
