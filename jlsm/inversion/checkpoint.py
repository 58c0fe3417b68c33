"""Checkpoints of a multi-start inversion, resuming, and stopping promptly on Ctrl-C.

A checkpoint is only ever a state between two optimisation steps: the state
of every start after ``done_in_phase`` steps of phase ``phase`` (or at the
start of a phase), with the loss history of exactly those steps. Resuming
continues from it on the same chunk grid (chunks of ``chunk`` steps counted
from the start of each phase), so the result is bit-identical to an
uninterrupted run on the same machine.

On Ctrl-C, :func:`sigint_as_flag` turns the signal into a flag that the
driver reads while it waits for a chunk of steps (:func:`fetch`); the
driver then keeps the last completed state, not the chunk in flight. When
checkpointing, the chunk in flight is short: :class:`Pacer` sizes the calls
so that each takes about half a second, whatever the problem (a chunk cannot be
cancelled once started, and the process finishes it before it exits). A
second Ctrl-C raises ``KeyboardInterrupt`` at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import signal
import threading
from pathlib import Path

import equinox as eqx
import jax
import numpy as np

from ..errors import InputError


class InversionInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`~jlsm.inverse.invert`.

    Attributes:
        partial: the results so far (an ``xarray.Dataset``; starts still
            optimising have status ``running``), or None before the first step.
        checkpoint: the folder to resume from (None without checkpointing).
        partial_path: where ``partial`` was written as NetCDF (None if not written).
    """

    def __init__(self, partial, checkpoint, partial_path=None):
        super().__init__("inversion interrupted")
        self.partial = partial
        self.checkpoint = checkpoint
        self.partial_path = partial_path


class _Flag:
    raised = False


@contextlib.contextmanager
def sigint_as_flag():
    """While inside, the first SIGINT sets ``flag.raised`` instead of raising.

    Only in the main thread and when SIGINT has Python's default handler;
    otherwise the flag never rises and Ctrl-C raises as usual.
    """
    flag = _Flag()
    if threading.current_thread() is not threading.main_thread() or (
        signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield flag
        return

    def handler(signum, frame):
        if flag.raised:  # a second Ctrl-C: stop at once
            raise KeyboardInterrupt
        flag.raised = True

    signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def wait(array, flag) -> None:
    """Return once ``array`` is computed; KeyboardInterrupt if ``flag`` rises first.

    A helper thread waits for the computation, so the main thread wakes as soon
    as it is done and reads the flag at least every 50 ms meanwhile.
    """
    if not array.is_ready():
        waiter = threading.Thread(target=array.block_until_ready, daemon=True)
        waiter.start()
        while waiter.is_alive():
            if flag.raised:
                raise KeyboardInterrupt
            waiter.join(0.05)


def fetch(array, flag) -> np.ndarray:
    """``np.asarray(array)`` once it is computed; KeyboardInterrupt if ``flag`` rises first (:func:`wait`)."""
    wait(array, flag)
    return np.asarray(array)


class Pacer:
    """Steps per call so that a call takes about ``target`` seconds (at most 8 times more than the last).

    ``target`` None: every call runs the whole chunk.
    """

    def __init__(self, target: float | None = 0.5):
        self.target = target
        self.per_step = None
        self.last = 1

    def steps(self, most: int) -> int:
        if self.target is None:
            return most
        if self.per_step is None:
            n = 1
        else:
            n = int(self.target / max(self.per_step, 1e-9))
            n = min(n, 8 * self.last)
        return max(1, min(n, most))

    def record(self, n: int, seconds: float) -> None:
        self.last = n
        self.per_step = seconds / max(n, 1)


def save_checkpoint(folder: Path, meta, state, histories, phase, done_in_phase, u0, state_phase):
    """Write state.eqx, history.npz and meta.json (each written to a temporary file, then renamed).

    meta.json, written last, records the SHA-256 of state.eqx and the number of
    history rows, so a checkpoint torn by a crash while saving is detected.
    """
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "state.eqx.tmp"
    eqx.tree_serialise_leaves(tmp, jax.device_get(state))
    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
    history = np.concatenate(histories, axis=0) if histories else np.zeros((0, u0.shape[0]))
    info = {
        **meta,
        "phase": int(phase),
        "done_in_phase": int(done_in_phase),
        "state_phase": int(state_phase),
        "versions": versions(),
        "dtype": str(np.asarray(u0).dtype),
        "state_sha256": digest,
        "history_rows": int(history.shape[0]),
    }
    np.savez(folder / "history.tmp.npz", history=history, u0=u0, lengths=np.array([h.shape[0] for h in histories]))
    (folder / "meta.json.tmp").write_text(json.dumps(info, indent=2))
    tmp.replace(folder / "state.eqx")
    (folder / "history.tmp.npz").replace(folder / "history.npz")
    (folder / "meta.json.tmp").replace(folder / "meta.json")


def load_checkpoint(folder: Path, meta, u0, template_for):
    """(state, histories, phase, done_in_phase, state_phase) of a checkpoint made by the same run.

    ``template_for(state_phase, dtype)`` gives a state of the saved layout.
    """
    path = folder / "meta.json"
    if not path.is_file():
        raise InputError(f"invert: no checkpoint to resume in {folder} (missing meta.json)")
    info = json.loads(path.read_text())
    for key, value in meta.items():
        if info.get(key) != value:
            raise InputError(
                f"invert: checkpoint {folder} was made with {key} = {info.get(key)!r}, this run has {value!r}"
            )
    saved = np.load(folder / "history.npz")
    if not np.array_equal(saved["u0"], u0):
        raise InputError(f"invert: checkpoint {folder} has other starting points than this run")
    state_file = folder / "state.eqx"
    torn = ("state_sha256" in info and hashlib.sha256(state_file.read_bytes()).hexdigest() != info["state_sha256"]) or (
        "history_rows" in info and saved["history"].shape[0] != info["history_rows"]
    )
    template = template_for(info["state_phase"], info["dtype"])
    try:
        if torn:
            raise ValueError("its files do not belong together (interrupted while saving?)")
        state = eqx.tree_deserialise_leaves(state_file, template)
    except Exception as err:  # a layout from another jlsm version: too few or differently shaped leaves
        raise InputError(
            f"invert: checkpoint {folder}/state.eqx does not match this version's optimiser state "
            f"({type(err).__name__}: {err}); it was written by jlsm {info.get('versions', {}).get('jlsm', '?')}"
        ) from err
    phase, done_in_phase = info["phase"], info["done_in_phase"]
    splits = np.cumsum(saved["lengths"])[:-1]
    histories = list(np.split(saved["history"], splits)) if saved["lengths"].size else []
    return state, histories, phase, done_in_phase, info["state_phase"]


def versions() -> dict:
    """Versions of jlsm and the libraries whose numerics a checkpoint depends on."""
    import optax

    from .. import __version__

    return {"jlsm": __version__, "jax": jax.__version__, "equinox": eqx.__version__, "optax": optax.__version__}
