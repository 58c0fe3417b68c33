"""jlsm.enable_loop_kernels: what it does to XLA_FLAGS, and that XLA applies it with unchanged results."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from jlsm import loop_kernels
from jlsm.loop_kernels import DEFAULT_MAX_BYTES, enable_loop_kernels

OPTION = "--xla_backend_extra_options=xla_cpu_small_while_loop_byte_threshold="


@pytest.fixture
def fresh(monkeypatch):
    """A process state in which JAX has not started its backends."""
    monkeypatch.setattr(loop_kernels, "_backends_started", lambda: False)
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    return monkeypatch


def test_it_sets_the_threshold_in_xla_flags(fresh):
    assert enable_loop_kernels() is True
    assert os.environ["XLA_FLAGS"] == f"{OPTION}{DEFAULT_MAX_BYTES}"


def test_it_keeps_the_users_other_flags(fresh):
    fresh.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=4")
    assert enable_loop_kernels(4096) is True
    assert os.environ["XLA_FLAGS"] == f"--xla_force_host_platform_device_count=4 {OPTION}4096"


def test_a_second_call_changes_nothing(fresh):
    assert enable_loop_kernels() is True
    assert enable_loop_kernels(4096) is True
    assert os.environ["XLA_FLAGS"] == f"{OPTION}{DEFAULT_MAX_BYTES}"


def test_the_users_own_backend_options_win(fresh):
    mine = "--xla_backend_extra_options=xla_cpu_small_while_loop_byte_threshold=1024"
    fresh.setenv("XLA_FLAGS", mine)
    assert enable_loop_kernels() is True  # the threshold is set: the user's value
    assert os.environ["XLA_FLAGS"] == mine
    other = "--xla_backend_extra_options=xla_cpu_disable_loop_unrolling"
    fresh.setenv("XLA_FLAGS", other)
    assert enable_loop_kernels() is False
    assert os.environ["XLA_FLAGS"] == other


def test_it_changes_nothing_once_jax_has_started(monkeypatch):
    monkeypatch.setattr(loop_kernels, "_backends_started", lambda: True)
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_enable_fast_math=false")
    assert enable_loop_kernels() is False
    assert os.environ["XLA_FLAGS"] == "--xla_cpu_enable_fast_math=false"


@pytest.mark.parametrize("bad", [0, -1, 2.5, "262144", True, None])
def test_a_bad_threshold_is_named(fresh, bad):
    with pytest.raises(ValueError, match="max_bytes must be a positive integer"):
        enable_loop_kernels(bad)
    assert "XLA_FLAGS" not in os.environ


def test_the_backends_check_sees_this_process():
    import jax.numpy as jnp

    jnp.zeros(1).block_until_ready()  # the test process has started JAX by now
    assert loop_kernels._backends_started() is True


_PROBE = textwrap.dedent(
    """
    import json, sys
    import jlsm
    applied = jlsm.enable_loop_kernels() if sys.argv[1] == "on" else False
    import jax, jax.numpy as jnp, numpy as np
    jax.config.update("jax_enable_x64", True)
    from jlsm.synthetic import twin_case
    model, forcing, observations, space, initial = twin_case("surface+5cm")
    run = jax.jit(lambda m: jlsm.simulate(m, forcing, initial=initial, depths=(0.05,)).temperature)
    text = run.lower(model).compile().as_text()
    temperature = np.asarray(run(model))
    print(json.dumps(dict(applied=applied, one_kernel="xla_cpu_small_call" in text, temperature=temperature.tolist())))
    """
)


def _probe(mode):
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    proc = subprocess.run([sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_xla_compiles_the_time_loop_as_one_kernel_with_the_same_results():
    import numpy as np

    on, off = _probe("on"), _probe("off")
    assert on["applied"] is True
    assert on["one_kernel"] is True  # XLA turned the time loop into a single-kernel call
    assert off["one_kernel"] is False  # at XLA's default threshold it stays a loop of kernels
    np.testing.assert_allclose(on["temperature"], off["temperature"], rtol=0, atol=1e-9)


def test_cpu_devices_are_set_in_xla_flags(fresh):
    assert loop_kernels.set_cpu_devices(1) is True
    assert "XLA_FLAGS" not in os.environ  # one device is JAX's default: nothing to set
    assert loop_kernels.set_cpu_devices(3) is True
    assert os.environ["XLA_FLAGS"] == "--xla_force_host_platform_device_count=3"
    assert loop_kernels.set_cpu_devices(3) is True  # already there
    assert loop_kernels.set_cpu_devices(2) is False  # the first value stays
    assert os.environ["XLA_FLAGS"] == "--xla_force_host_platform_device_count=3"


def test_cpu_devices_change_nothing_once_jax_has_started(monkeypatch):
    monkeypatch.setattr(loop_kernels, "_backends_started", lambda: True)
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    assert loop_kernels.set_cpu_devices(2) is False
    assert "XLA_FLAGS" not in os.environ


@pytest.mark.parametrize("bad", [0, -2, 1.5, "2", True, None])
def test_a_bad_device_count_is_named(fresh, bad):
    with pytest.raises(ValueError, match="count must be a positive integer"):
        loop_kernels.set_cpu_devices(bad)


def test_the_command_gives_jax_the_devices_it_is_asked_for():
    code = textwrap.dedent(
        """
        import sys
        import importlib
        cli = importlib.import_module("jlsm.cli.main")
        seen = {}
        def run(args):
            import jax
            seen["n"] = len(jax.devices())
            return 0
        cli.COMMANDS["data"].run = run
        code = cli.main(["--cpu-devices", sys.argv[1], "data", "report", "x.toml"])
        print(seen["n"])
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    out = subprocess.run([sys.executable, "-c", code, "3"], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "3"
    bad = subprocess.run([sys.executable, "-m", "jlsm", "--cpu-devices", "none", "data", "report", "x.toml"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert bad.returncode == 2
    assert "--cpu-devices" in bad.stderr and "positive integer or 'auto'" in bad.stderr
