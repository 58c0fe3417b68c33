"""Compiling jlsm's programs: the persistent cache switch and the compiler options."""

import subprocess
import sys
import textwrap

import jax.numpy as jnp
import numpy as np

from jlsm import _compile


def test_enable_compilation_cache_is_explicit(tmp_path):
    code = textwrap.dedent(
        f"""
        import os, jax
        import jlsm
        assert jax.config.jax_compilation_cache_dir is None  # importing jlsm changes nothing
        folder = jlsm.enable_compilation_cache({str(tmp_path / "xla")!r})
        assert jax.config.jax_compilation_cache_dir == str(folder) and folder.is_dir()
        assert jax.config.jax_persistent_cache_min_compile_time_secs == 0.0
        jax.jit(lambda x: x * 2.0)(jax.numpy.ones(3)).block_until_ready()
        assert os.listdir(folder), "nothing cached"
        os.environ["JLSM_CACHE_DIR"] = ""
        assert jlsm.enable_compilation_cache() is None
        print("ok")
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "ok"


def test_jit_traces_arrays_holds_the_rest_static_and_survives_an_unknown_option(monkeypatch):
    @_compile.jit
    def scaled(x, factor, name):
        return {"y": x * factor, "name": name}

    out = scaled(jnp.arange(3.0), 2.0, "a")
    np.testing.assert_array_equal(np.asarray(out["y"]), [0.0, 2.0, 4.0])
    assert out["name"] == "a"
    monkeypatch.setattr(_compile, "COMPILER_OPTIONS", {"xla_no_such_option_in_any_version": True})
    monkeypatch.setattr(_compile, "_supported", [True])
    out = scaled(np.arange(3.0), 3.0, "b")  # the unknown option is dropped, not an error
    np.testing.assert_array_equal(np.asarray(out["y"]), [0.0, 3.0, 6.0])
    assert _compile._supported == [False]


def test_jit_pauses_the_garbage_collector_only_during_the_call():
    import gc

    seen = []

    @_compile.jit
    def traced(x):
        seen.append(gc.isenabled())
        return x + 1.0

    assert gc.isenabled()
    traced(jnp.ones(2))
    assert seen == [False] and gc.isenabled()
    gc.disable()
    try:
        traced(jnp.ones(3))  # a new shape: traced again, and the collector stays off after
        assert seen == [False, False] and not gc.isenabled()
    finally:
        gc.enable()


def test_importing_jlsm_leaves_the_garbage_collector_as_it_was():
    code = "import gc, sys; on = sys.argv[1] == 'on'; (gc.enable if on else gc.disable)(); import jlsm; print(gc.isenabled() == on)"
    for state in ("on", "off"):
        proc = subprocess.run([sys.executable, "-c", code, state], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert proc.stdout.strip() == "True"
