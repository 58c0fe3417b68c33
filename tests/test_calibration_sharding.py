"""The calibration's site x start axis over 4 local devices and over two jax.distributed processes.

Each configuration runs in a fresh Python (the device count and the
distributed runtime are fixed when JAX starts), calibrates synthetic twins of
the toy model and saves its results; they must equal the single-device run of
this process to round-off. Run as a script, this file is that worker:
``python test_calibration_sharding.py OUT SITES [PROCESS_ID PORT]``.
"""

import functools
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

SETTINGS = dict(starts=3, steps=20, polish=2, seed=0, chunk=10)  # 3 starts: padded to the device grid
FIELDS = ("initial", "final", "final_loss", "status", "iterations", "loss", "best", "sim_Qh", "sim_Qle")
RTOL = 1e-12
SITES = ("A", "B")  # 2 sites x 3 starts (padded to 4) on a 2 x 2 device grid
TIMEOUT = 180.0  # s, for every wait on a worker (the machine may be busy)


def _calibrate(sites, **kwargs):
    from calibration_toy import twin_data
    from jlsm.calibration.calibrate import calibrate

    return calibrate(twin_data(sites=tuple(sites), days=6), **SETTINGS, **kwargs)


@functools.lru_cache(maxsize=1)
def _reference():
    """The single-device run in this process (computed once, while the first workers run)."""
    import jax

    assert len(jax.devices()) == 1, "the reference run needs one device"
    return _calibrate(SITES)


def _save(res, out: Path):
    out.mkdir(parents=True, exist_ok=True)
    for f in FIELDS:
        np.save(out / f"{f}.npy", res[f].values)


def _worker(argv):
    out, sites = Path(argv[0]), argv[1].split(",")
    import jax

    jax.config.update("jax_enable_x64", True)
    if len(argv) > 2:
        from jlsm.calibration.distributed import initialize

        index, count = initialize(f"127.0.0.1:{argv[3]}", 2, int(argv[2]))
        assert (index, count) == (int(argv[2]), 2) and len(jax.devices()) == 2 * len(jax.local_devices())
    from jlsm.calibration.distributed import Layout

    assert Layout(len(sites), SETTINGS["starts"]).sharded  # the run below is spread over every device
    res = _calibrate(sites)
    _save(res, out)
    if len(argv) == 2:  # interrupted after the first chunk and resumed from the sharded run's checkpoint
        from jlsm.calibration.calibrate import CalibrationInterrupted

        def stop(info):
            raise KeyboardInterrupt

        try:
            _calibrate(sites, checkpoint=out / "checkpoint", progress=stop)
        except CalibrationInterrupted:
            _save(_calibrate(sites, checkpoint=out / "checkpoint", resume=True), out / "resumed")
    (out / "devices").write_text(f"{len(jax.devices())} {jax.process_count()}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(commands, devices_per_process, meanwhile):
    """Start the workers, call ``meanwhile()`` while they run, wait for all (bounded); kill every
    child on failure or timeout. Returns what ``meanwhile`` returned."""
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices_per_process}",
               JAX_PLATFORMS="cpu")
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent), env.get("PYTHONPATH", "")])
    procs = [subprocess.Popen([sys.executable, __file__, *c], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for c in commands]
    deadline = time.monotonic() + TIMEOUT
    try:
        result = meanwhile()
        for p in procs:
            log = p.communicate(timeout=max(deadline - time.monotonic(), 1.0))[0]
            if p.returncode != 0:
                raise AssertionError(f"worker failed ({p.returncode}):\n{log[-3000:]}")
    except subprocess.TimeoutExpired:
        raise AssertionError(f"workers did not finish within {TIMEOUT} s") from None
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)
    return result


def _compare(reference, out: Path):
    for f in FIELDS:
        got, want = np.load(out / f"{f}.npy"), reference[f].values
        assert got.shape == want.shape, f
        if np.issubdtype(want.dtype, np.floating):
            np.testing.assert_allclose(got, want, rtol=RTOL, atol=0, equal_nan=True, err_msg=f)
        else:
            np.testing.assert_array_equal(got, want, err_msg=f)


@pytest.mark.skipif(sys.platform == "win32", reason="subprocess workers with forced host devices: POSIX only")
def test_four_local_devices_give_the_single_device_result(tmp_path):
    out = tmp_path / "four"
    reference = _run([[str(out), ",".join(SITES)]], 4, _reference)
    assert (out / "devices").read_text() == "4 1"
    assert reference["loss"].shape[1] == SETTINGS["starts"]  # the padding start is dropped
    _compare(reference, out)
    _compare(reference, out / "resumed")  # interrupted after one chunk and resumed on 4 devices


@pytest.mark.skipif(sys.platform == "win32", reason="jax.distributed workers on 127.0.0.1: POSIX only")
def test_two_processes_calibrate_together_as_one(tmp_path):
    port = _free_port()
    outs = [tmp_path / f"process{i}" for i in range(2)]
    # each process holds one site row of the 2 x 2 grid: the sites are split across processes
    reference = _run([[str(o), ",".join(SITES), str(i), str(port)] for i, o in enumerate(outs)], 2, _reference)
    for o in outs:
        assert (o / "devices").read_text() == "4 2"
        _compare(reference, o)


def test_initialize_reads_arguments_then_jax_then_slurm_variables(monkeypatch):
    import jax

    from jlsm.calibration import distributed
    from jlsm.errors import InputError

    calls = []
    monkeypatch.setattr(jax.distributed, "initialize", lambda **kw: calls.append(kw))
    slurm = {"SLURM_NTASKS": "8", "SLURM_PROCID": "3"}
    distributed.initialize(environ={**slurm, "JAX_COORDINATOR_ADDRESS": "node1:1234"})
    assert calls[-1] == dict(coordinator_address="node1:1234", num_processes=8, process_id=3)
    distributed.initialize(environ={**slurm, "JAX_COORDINATOR_ADDRESS": "node1:1234", "JAX_PROCESS_ID": "5"})
    assert calls[-1]["process_id"] == 5
    distributed.initialize("h:1", 2, 1, environ=slurm)
    assert calls[-1] == dict(coordinator_address="h:1", num_processes=2, process_id=1)
    distributed.initialize(environ=slurm)  # no address: JAX's own cluster detection
    assert calls[-1] == {}
    with pytest.raises(InputError, match="JAX_NUM_PROCESSES"):
        distributed.initialize(environ={"JAX_COORDINATOR_ADDRESS": "h:1"})
    with pytest.raises(InputError, match="SLURM_NTASKS"):
        distributed.initialize(environ={"JAX_COORDINATOR_ADDRESS": "h:1", "SLURM_NTASKS": "two", "SLURM_PROCID": "0"})


def test_layout_grid_and_padding():
    import jax

    from jlsm.calibration.distributed import Layout

    devices = [jax.devices()[0]] * 4  # the grid's shape only depends on the count
    for sites, starts, grid, padded in [(2, 3, (2, 2), 4), (3, 5, (1, 4), 8), (6, 16, (2, 2), 16), (4, 1, (4, 1), 1)]:
        lay = Layout(sites, starts, devices)
        assert lay.mesh.devices.shape == grid and lay.padded == padded
        u = np.arange(sites * starts, dtype=float).reshape(sites, starts)
        p = lay.pad(u)
        assert p.shape == (sites, padded)
        np.testing.assert_array_equal(p[:, :starts], u)
        np.testing.assert_array_equal(p[:, starts:], np.repeat(u[:, -1:], padded - starts, axis=1))
    assert not Layout(2, 3, devices[:1]).sharded

if __name__ == "__main__":
    _worker(sys.argv[1:])
