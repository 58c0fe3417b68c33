"""Batched calibration of every site x start in one jitted computation.

A :class:`CalibrationData` holds S sites padded to a common length T: the
forcing and the base (PFT default) models stacked along a leading site axis,
observations (S, T) per flux, fit and test masks (S, T), and a parameter
space per site. Optimisation runs in the unconstrained space u of each
site's bounds, x = lo + (hi - lo) sigmoid(u) (log-sigmoid: log x linear in
sigmoid(u)), with the bounds passed as (S, P) arrays, so that one ``vmap``
over sites (outer) and starts (inner) covers sites whose spaces differ in bounds.

Each (site, start) pair advances independently: one step is a ``vmap`` of
value-and-gradient of the per-site objective (:mod:`.objectives`) and an Optax
update; a chunk of steps is a jitted loop. A start whose loss or gradient
becomes NaN/Inf is frozen at its last finite point with status ``diverged``;
the others go on (the same bookkeeping as :func:`jlsm.inverse.invert`).
The compiled pieces are in :mod:`.engine`. Phases: Adam (``optax.adam`` with cosine decay, after ``clip_by_global_norm``)
from Sobol' starts, then optionally an L-BFGS polish (``optax.lbfgs`` with its
zoom line search). Spin-up before the fit window is the simulate function's
(for :func:`jlsm.land.simulate_land`: ``spinup_years`` repetitions of the
first year of the forcing, inside the differentiated computation).
The site x start axis is spread over every device ``jax.devices()`` sees,
of all processes after :func:`jax.distributed.initialize`
(:mod:`.distributed`, docs/cluster.md); the results do not depend on it.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time as _time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from jlsm.errors import InputError, ObservationError, ParameterError
from jlsm.inversion.checkpoint import sigint_as_flag, wait
from jlsm.params import ParameterSpace

from . import designs
from .distributed import Layout, gather
from .engine import (
    DIVERGED,
    DIVERGENCE_CAUSES,
    MAX_STEPS,
    OUTPUT_FIELDS,
    RUNNING,
    STATUS_NAMES,
    _chunk,
    _dtype,
    _init,
    _physical,
    _problem,
    _simulate_sets,
    _site_arrays,
    _Spec,
    evaluate_sets,
    simulate_sets,
)

__all__ = [
    "OUTPUT_FIELDS",
    "STATUS_NAMES",
    "CalibrationData",
    "CalibrationInterrupted",
    "calibrate",
    "evaluate_sets",
    "simulate_sets",
    "stack_models",
]



def stack_models(models: Sequence[Any]):
    """Stack per-site models (same structure) along a new leading site axis."""
    return jax.tree_util.tree_map(lambda *a: jnp.stack([jnp.asarray(x) for x in a]), *models)


@dataclasses.dataclass
class CalibrationData:
    """S sites of a calibration, padded to a common length T.

    Attributes:
        sites: site names (S,).
        pft: PFT group of each site (S,).
        forcing: forcing pytree whose time-varying arrays have shape (S, T).
        models: base models stacked along a leading site axis (:func:`stack_models`).
        spaces: a :class:`~jlsm.params.ParameterSpace` per site (same parameter
            names and transforms; bounds may differ); its fixed values must
            already be written into the base models.
        simulate: ``simulate(model, forcing) -> output`` for one site, with
            fields ``qh``, ``qle`` (T,) [W m-2] (and ``rnet``, ``qg`` if observed).
        obs: observed fluxes, name -> (S, T) [W m-2], NaN = not measured
            (``Qh``, ``Qle``; ``Rnet``, ``Qg`` optional, for skill).
        fit, test: (S, T) bool masks of the fit and test windows (False on padding).
        time: (S, T) datetime64 (NaT on padding) or None.
        met: forcing series for the empirical benchmarks, ALMA name -> (S, T)
            (SWdown [W m-2], Tair [K], Qair [kg kg-1], PSurf [Pa]).
        sigma: optional flux uncertainties name -> (S, T) [W m-2] for the ``wls`` objective.
        offset_hours: per-site UTC offset of ``time`` [h] (local days), or None.
        site_ids: the site of each entry (runs of one split record share it;
            leave-one-out never uses an entry's own site), default ``sites``.
        causal_steps: if not None, cutting the record after any step n >= this
            leaves the simulated outputs up to n unchanged (no spin-up or derived
            constant reads beyond it); lets ``calibrate(truncate="auto")`` skip
            the steps after the last fit step. None: unknown, never cut.
    """

    sites: list
    pft: list
    forcing: Any
    models: Any
    spaces: list
    simulate: Callable
    obs: dict
    fit: np.ndarray
    test: np.ndarray
    time: np.ndarray | None = None
    met: dict | None = None
    sigma: dict | None = None
    offset_hours: np.ndarray | None = None
    site_ids: list | None = None
    causal_steps: int | None = None

    def __post_init__(self):
        s = len(self.sites)
        if self.site_ids is None:
            self.site_ids = list(self.sites)
        if len(self.pft) != s or len(self.spaces) != s:
            raise InputError(f"CalibrationData: {s} sites but {len(self.pft)} PFTs and {len(self.spaces)} spaces")
        self.fit = np.asarray(self.fit, bool)
        self.test = np.asarray(self.test, bool)
        if self.fit.ndim != 2 or self.fit.shape[0] != s or self.test.shape != self.fit.shape:
            raise InputError(f"CalibrationData: fit {self.fit.shape} and test {self.test.shape} masks must be (S={s}, T)")
        for v, a in self.obs.items():
            if np.shape(a) != self.fit.shape:
                raise ObservationError(f"CalibrationData: observations {v!r} have shape {np.shape(a)}, expected {self.fit.shape}")
        names = self.spaces[0].names
        for site, sp in zip(self.sites, self.spaces):
            if sp.names != names:
                raise ParameterError(f"CalibrationData: site {site} has parameters {sp.names}, site {self.sites[0]} {names}")
            designs.space_bounds(sp)
        for i, site in enumerate(self.sites):
            for v in ("Qh", "Qle"):
                if v in self.obs and not np.any(np.isfinite(np.asarray(self.obs[v][i], float)) & self.fit[i]):
                    raise ObservationError(f"CalibrationData: site {site} has no measured {v} in its fit window")

    @property
    def n_sites(self) -> int:
        return len(self.sites)

    @property
    def n_times(self) -> int:
        return self.fit.shape[1]

    @property
    def names(self) -> tuple[str, ...]:
        return self.spaces[0].names

    @property
    def log(self) -> tuple[bool, ...]:
        return tuple(p.transform == "log-sigmoid" for p in self.spaces[0].parameters)

    @property
    def lower(self) -> np.ndarray:
        return np.stack([sp.lower for sp in self.spaces])

    @property
    def upper(self) -> np.ndarray:
        return np.stack([sp.upper for sp in self.spaces])

    def defaults(self) -> np.ndarray:
        """Physical values (S, P) of the free parameters in the base models."""
        out = []
        for i, sp in enumerate(self.spaces):
            m = jax.tree_util.tree_map(lambda a: a[i] if eqx.is_array(a) and a.ndim else a, self.models)
            out.append(sp.read(m))
        return np.asarray(out)


@functools.lru_cache(maxsize=16)
def _optimizer(steps, learning_rate, clip):
    """Adam with cosine decay after global-norm clipping (cached: equal settings reuse compiled chunks)."""
    import optax

    schedule = optax.cosine_decay_schedule(learning_rate, max(steps, 1), alpha=0.05)
    return optax.chain(optax.clip_by_global_norm(clip), optax.adam(schedule))


def _starting_points(data: CalibrationData, starts, seed, include_default):
    lower, upper, log = data.lower, data.upper, np.asarray(data.log)
    x0 = designs.sobol_design((lower, upper, log), int(starts), seed=seed)  # (S, K, P)
    if include_default:
        span = upper - lower
        x0[:, 0, :] = np.clip(data.defaults(), lower + 1e-6 * span, upper - 1e-6 * span)
    from .transfer import to_unconstrained

    u0 = to_unconstrained(x0, lower[:, None, :], upper[:, None, :], log)
    return x0, u0


@functools.lru_cache(maxsize=1)
def _lbfgs():
    import optax

    return optax.lbfgs()


class CalibrationInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`calibrate`; ``partial`` holds the results so far (also saved with a checkpoint)."""

    def __init__(self, partial, checkpoint):
        super().__init__("calibration interrupted")
        self.partial = partial
        self.checkpoint = checkpoint


# ---------------------------------------------------------------- driver


def calibrate(
    batch,
    *,
    starts: int = 16,
    steps: int = 300,
    objective: str | Callable = "mdpl",
    seed: int = 0,
    spaces: Sequence[ParameterSpace] | None = None,
    progress: bool | Callable[[dict], None] | None = None,
    checkpoint: str | Path | None = None,
    polish: int = 0,
    learning_rate: float = 0.1,
    clip: float = 10.0,
    chunk: int = 50,
    ftol: float = 1e-9,
    patience: int = 20,
    include_default: bool = True,
    variables: Sequence[str] = ("Qh", "Qle"),
    truncate: bool | str = "auto",
    resume: bool = False,
) -> xr.Dataset:
    """Calibrate every site of ``batch`` from ``starts`` Sobol' starts, all in one batched computation.

    Args:
        batch: a :class:`CalibrationData` (or a site collection converted by
            :func:`jlsm.calibration.protocol.calibration_data`).
        starts: starts per site (scrambled Sobol' points in each site's bounds).
        steps: Adam iterations.
        objective: ``"mdpl"`` (RMSE(Qh) + RMSE(Qle) [W m-2]), ``"normalised"``,
            ``"kge"``, ``"wls"`` or a callable (see :mod:`.objectives`).
        seed: seed of the Sobol' scrambling; same seed, same result.
        spaces: per-site spaces replacing ``batch.spaces`` (same names).
        progress: True for a tqdm bar, or a callable receiving a dict
            (phase, iteration, best (S,), status (S, K)) after each chunk.
        checkpoint: folder for the optimiser state (saved after every chunk,
            at the end and on Ctrl-C); with ``resume`` the run continues from it.
        polish: L-BFGS iterations after Adam (0: none).
        learning_rate: Adam's initial step in the unconstrained space (cosine-decayed to 5 %).
        clip: global-norm gradient clipping.
        chunk: iterations per compiled chunk (progress/checkpoint granularity).
        ftol, patience: a start converges when the relative loss change stays
            below ``ftol`` for ``patience`` steps.
        include_default: start 0 of every site is its default parameters, so
            the calibrated fit loss is never above the default's.
        variables: observed fluxes in the objective (names of ``batch.obs``).
        truncate: run the optimisation only up to the end of the latest fit
            window (saves the test steps' cost; the best start's series are then
            simulated over the whole record). Valid only if the simulation is
            causal *including its spin-up and derived constants*.
            ``"auto"`` (default): cut when ``batch.causal_steps`` says it is
            valid (:func:`jlsm.calibration.sites.calibration_data` sets it:
            with :func:`jlsm.land.simulate_land` the spin-up cycles over the
            first year of the forcing given, so a record cut within its first
            year changes the model); True: always; False: never.
        resume: continue from ``checkpoint``.

    Returns:
        ``xarray.Dataset`` with dims site, start, parameter, iteration, step:
        ``initial``/``final`` (site, start, parameter) physical values,
        ``final_loss``, ``status``, ``iterations``, ``divergence`` (what was
        not finite: loss, gradient or update) (site, start), ``loss``
        (site, start, iteration), ``best_start`` (site), ``best`` and
        ``default`` (site, parameter), ``lower``/``upper``, and the observed
        and simulated series at the best start ``obs_<var>``/``sim_<var>``
        (site, step) with ``fit_mask``, ``test_mask``, ``time``.
    """
    t0 = _time.perf_counter()
    if spaces is not None:
        batch = dataclasses.replace(batch, spaces=list(spaces))
    data: CalibrationData = batch
    if steps < 0 or polish < 0 or steps + polish < 1:
        raise InputError(f"calibrate: steps ({steps}) and polish ({polish}) must be >= 0 with at least one iteration")
    if starts < 1 or chunk < 1:
        raise InputError(f"calibrate: starts ({starts}) and chunk ({chunk}) must be >= 1")
    missing = [v for v in variables if v not in data.obs]
    if missing:
        raise ObservationError(f"calibrate: variables {missing} not observed; have {sorted(data.obs)}")
    problem = _problem(data, objective, variables)
    last_fit = int(np.max(np.nonzero(np.any(data.fit, axis=0))[0])) + 1
    if truncate == "auto":
        truncate = data.causal_steps is not None and last_fit >= data.causal_steps
    elif not isinstance(truncate, bool):
        raise InputError(f"calibrate: truncate must be True, False or 'auto', got {truncate!r}")
    stop = last_fit if truncate else data.n_times
    site = _site_arrays(data, variables, stop)
    dtype = _dtype(data.forcing)
    x0, u0 = _starting_points(data, starts, seed, include_default)
    u0 = jnp.asarray(u0, dtype)
    # the site x start axis over every device (jlsm.calibration.distributed); on one device nothing moves
    layout = Layout(data.n_sites, int(starts))
    site = layout.put_sites(site)
    u_start = layout.put_states(layout.pad(u0).astype(dtype)) if layout.sharded else u0

    phases = []
    if steps:
        phases.append(("adam", _optimizer(int(steps), float(learning_rate), float(clip)), steps))
    if polish:
        phases.append(("lbfgs", _lbfgs(), polish))
    meta = {"sites": [str(s) for s in data.sites], "parameters": list(data.names), "starts": int(starts),
            "seed": int(seed), "steps": int(steps), "polish": int(polish), "chunk": int(chunk),
            "truncate": int(bool(truncate)),
            "objective": objective if isinstance(objective, str) else getattr(objective, "__name__", "custom")}
    folder = Path(checkpoint) if checkpoint is not None else None
    state, histories, start_phase, start_done = None, [], 0, 0
    if resume:
        if folder is None:
            raise InputError("calibrate: resume=True needs checkpoint=PATH")
        state, histories, start_phase, start_done = _load(folder, meta, phases, u0)
        if layout.sharded:
            state = layout.put_states(jax.tree_util.tree_map(layout.pad, state))
    bar, callback = _progress(progress, sum(p[2] for p in phases), data.n_sites, starts)
    done = sum(h.shape[0] for h in histories)
    i, remaining = start_phase, 0
    with sigint_as_flag() as flag:  # Ctrl-C stops between chunks (see jlsm.inversion.checkpoint)
        try:
            for i, (kind, opt, n_steps) in enumerate(phases):
                if i < start_phase:
                    continue
                if state is None or i > start_phase or start_done == 0:
                    state = _init(opt, u_start if state is None else state)
                    if i > 0:  # every non-diverged start goes on in the polish
                        state = eqx.tree_at(lambda s: s.status, state,
                                            jnp.where(state.status == DIVERGED, DIVERGED, RUNNING).astype(jnp.int32))
                spec = _Spec(opt, problem, kind, float(ftol), int(patience))
                remaining = n_steps - (start_done if i == start_phase else 0)
                length = min(chunk, n_steps)
                while remaining > 0 and bool(np.any(gather(state.status) == RUNNING)):
                    if flag.raised:
                        raise KeyboardInterrupt
                    k = min(length, remaining)
                    new_state, losses = _chunk(state, site, jnp.asarray(k, jnp.int32), length, spec)
                    wait(losses, flag)  # Ctrl-C while a chunk runs: the state before it is kept
                    rows = gather(losses)[:k, :, :starts]
                    state = new_state
                    histories.append(rows)
                    remaining -= k
                    done += k
                    if folder is not None:
                        _save(folder, meta, layout.host(state), histories, i, n_steps - remaining)
                    info = {"phase": kind, "iteration": done, "best": np.min(gather(state.best_loss)[:, :starts], axis=1),
                            "status": gather(state.status)[:, :starts]}
                    if bar is not None:
                        bar.update(k)
                        bar.set_postfix(best=f"{float(np.nanmean(np.where(np.isfinite(info['best']), info['best'], np.nan))):.4g}")
                    if callback is not None:
                        callback(info)
                if folder is not None:
                    _save(folder, meta, layout.host(state), histories, i + 1, 0)
            if flag.raised:  # Ctrl-C after the last chunk's check: still an interruption, never ignored
                raise KeyboardInterrupt
        except KeyboardInterrupt:
            partial = None
            if state is not None:
                state = layout.host(state)
                partial = _results(data, problem, x0, state, histories, variables)
                partial.attrs["interrupted_after_iteration"] = done
                if folder is not None:
                    _save(folder, meta, state, histories, i, phases[i][2] - remaining)
                    partial.to_netcdf(folder / "partial.nc")
            raise CalibrationInterrupted(partial, folder) from None
        finally:
            if bar is not None:
                bar.close()
    state = layout.host(state)
    result = _results(data, problem, x0, state, histories, variables)
    result.attrs.update({**{k: v for k, v in meta.items() if not isinstance(v, list)},
                         "wall_seconds": _time.perf_counter() - t0,
                         "model_runs": int(np.sum(np.asarray(state.iterations))) + data.n_sites,
                         "model_runs_note": "gradient evaluations (one forward + one reverse pass each; L-BFGS "
                                            "line-search evaluations not counted) + one forward run per site at the best start",
                         "spinup": "as the simulate function does it (jlsm.land.simulate_land: spinup_years cycles of the first year)",
                         "run_steps": stop, "devices": len(jax.devices()), "processes": jax.process_count()})
    return result


def _results(data, problem, x0, state, histories, variables) -> xr.Dataset:
    status = np.asarray(state.status)
    status = np.where(status == RUNNING, MAX_STEPS, status)
    best_loss = np.asarray(state.best_loss)
    lower, upper = data.lower, data.upper
    dtype = _dtype(data.forcing)
    final = np.asarray(_physical(state.best_u, jnp.asarray(lower, dtype), jnp.asarray(upper, dtype), data.log))
    history = np.concatenate(histories, axis=0) if histories else np.zeros((0,) + best_loss.shape)
    finite = np.where(np.isfinite(best_loss), best_loss, np.inf)
    best_start = np.argmin(finite, axis=1)
    best = final[np.arange(data.n_sites), best_start]
    all_vars = [v for v in data.obs if v in OUTPUT_FIELDS]
    full = _site_arrays(data, variables)
    sims = np.asarray(_simulate_sets(dataclasses.replace(problem, fields=tuple(OUTPUT_FIELDS[v] for v in all_vars)),
                                     full, jnp.asarray(best[:, None, :], dtype)))[:, 0]
    ds = xr.Dataset(
        {
            "initial": (("site", "start", "parameter"), x0, {"long_name": "starting value"}),
            "final": (("site", "start", "parameter"), final, {"long_name": "estimate (lowest loss reached)"}),
            "final_loss": (("site", "start"), best_loss, {"long_name": "lowest objective reached on the fit window"}),
            "status": (("site", "start"), status.astype(np.int8),
                       {"flag_values": np.arange(4, dtype=np.int8), "flag_meanings": " ".join(STATUS_NAMES)}),
            "iterations": (("site", "start"), np.asarray(state.iterations)),
            "divergence": (("site", "start"), np.asarray(state.cause).astype(np.int8),
                           {"flag_values": np.arange(len(DIVERGENCE_CAUSES), dtype=np.int8),
                            "flag_meanings": " ".join(DIVERGENCE_CAUSES),
                            "long_name": "what was not finite when the start diverged"}),
            "loss": (("site", "start", "iteration"), np.moveaxis(history, 0, -1), {"long_name": "objective per iteration"}),
            "best_start": (("site",), best_start),
            "best": (("site", "parameter"), best, {"long_name": "estimate of the best start"}),
            "default": (("site", "parameter"), data.defaults(), {"long_name": "base (PFT default) value"}),
            "lower": (("site", "parameter"), lower),
            "upper": (("site", "parameter"), upper),
            "fit_mask": (("site", "step"), data.fit),
            "test_mask": (("site", "step"), data.test),
        },
        coords={"site": [str(s) for s in data.sites], "start": np.arange(x0.shape[1]),
                "parameter": list(data.names), "iteration": np.arange(history.shape[0]),
                "units": ("parameter", list(data.spaces[0].units)), "pft": ("site", [str(p) for p in data.pft]),
                "log_transform": ("parameter", np.asarray(data.log))},
    )
    for j, v in enumerate(all_vars):
        ds[f"obs_{v}"] = (("site", "step"), np.asarray(data.obs[v], float), {"units": "W m-2"})
        ds[f"sim_{v}"] = (("site", "step"), sims[..., j], {"units": "W m-2", "long_name": f"{v} at the best start"})
    if data.time is not None:
        ds["time"] = (("site", "step"), np.asarray(data.time, dtype="datetime64[ns]"))
    return ds


# ------------------------------------------------------- progress, checkpoints


def _progress(progress, total, n_sites, starts):
    if progress is None or progress is False:
        return None, None
    if callable(progress):
        return None, progress
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None, None
    return tqdm(total=total, desc=f"calibrating {n_sites} sites x {starts} starts", unit="it"), None


def _save(folder: Path, meta, state, histories, phase, done_in_phase):
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "state.eqx.tmp"
    eqx.tree_serialise_leaves(tmp, jax.device_get(state))
    tmp.replace(folder / "state.eqx")
    hist = np.concatenate(histories, axis=0) if histories else np.zeros((0,))
    np.savez(folder / "history.tmp.npz", history=hist, lengths=np.array([h.shape[0] for h in histories]))
    (folder / "history.tmp.npz").replace(folder / "history.npz")
    (folder / "meta.json").write_text(json.dumps({**meta, "phase": int(phase), "done_in_phase": int(done_in_phase)}, indent=2))


def _load(folder: Path, meta, phases, u0):
    path = folder / "meta.json"
    if not path.is_file():
        raise InputError(f"calibrate: no checkpoint to resume in {folder} (missing meta.json)")
    info = json.loads(path.read_text())
    for key, value in meta.items():
        if info.get(key) != value:
            raise InputError(f"calibrate: checkpoint {folder} was made with {key} = {info.get(key)!r}, this run has {value!r}")
    phase, done = int(info["phase"]), int(info["done_in_phase"])
    state_phase = min(phase if done else phase - 1, len(phases) - 1)
    template = _init(phases[max(state_phase, 0)][1], u0)
    state = eqx.tree_deserialise_leaves(folder / "state.eqx", template)
    saved = np.load(folder / "history.npz")
    splits = np.cumsum(saved["lengths"])[:-1]
    histories = list(np.split(saved["history"], splits)) if saved["lengths"].size else []
    if phase >= len(phases):
        done = 0
    return state, histories, phase, done
