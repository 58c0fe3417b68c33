"""Compiling jlsm's programs: the persistent cache switch and the compiler options."""

import subprocess
import sys
import textwrap

import jax
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


def test_ahead_compiles_once_for_the_later_call_and_falls_back_on_other_shapes():
    from jax._src import monitoring

    traces = []

    @_compile.jit
    def affine(x, shift, name):
        traces.append(x.shape)
        return {"y": 2.0 * x + shift, "name": name}

    compiles = []

    def listen(event, duration, fun_name="", **kwargs):
        if event.endswith("backend_compile_duration") and fun_name == "jit(affine)":
            compiles.append(event)

    monitoring.register_event_duration_secs_listener(listen)
    try:
        abstract = affine.ahead(jax.ShapeDtypeStruct((4,), jnp.float32), np.float32(1.0), "a")
        assert abstract["y"].shape == (4,) and abstract["y"].dtype == jnp.float32 and abstract["name"] == "a"
        out = affine(np.arange(4, dtype=np.float32), np.float32(1.0), "a")  # the program compiled ahead
        np.testing.assert_array_equal(np.asarray(out["y"]), [1.0, 3.0, 5.0, 7.0])
        assert out["name"] == "a" and traces == [(4,)] and len(compiles) == 1
        out = affine(np.arange(3, dtype=np.float32), np.float32(1.0), "a")  # another shape: compiled now
        np.testing.assert_array_equal(np.asarray(out["y"]), [1.0, 3.0, 5.0])
        out = affine(np.arange(4, dtype=np.float32), np.float32(1.0), "b")  # another static part: compiled now
        assert out["name"] == "b" and len(compiles) == 3
    finally:
        monitoring.unregister_event_duration_listener(listen)


def test_an_inversion_compiles_each_program_once_and_imports_no_scipy():
    # the programs compiled ahead (while the starting points are drawn) are
    # the ones the inversion then runs: nothing is compiled twice; neither
    # the starting points (scipy.stats) nor the Levenberg-Marquardt solve
    # (JAX's LAPACK bindings load scipy.linalg) import SciPy
    code = textwrap.dedent(
        """
        import collections
        import sys
        import jax
        from jax._src import monitoring
        jax.config.update("jax_enable_x64", True)
        from jlsm.inverse import invert
        from jlsm.synthetic import twin_case
        model, forcing, obs, space, initial = twin_case("surface+5cm")
        seen = collections.Counter()
        monitoring.register_event_duration_secs_listener(
            lambda event, d, fun_name="", **kw: seen.update([fun_name]) if event.endswith("backend_compile_duration") else None)
        r = invert(model, forcing, obs, space, starts=3, initial=initial, steps=2, polish=2, fit=(0, 70), validate=(70, 101))
        programs = {k: v for k, v in seen.items() if k.startswith("jit(_")}
        print(sorted(m for m in sys.modules if m == "scipy" or m.startswith("scipy.")))
        print(sorted(programs.items()))
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    *_, scipy_modules, programs = proc.stdout.strip().splitlines()
    assert eval(scipy_modules) == []
    programs = dict(eval(programs))
    assert set(programs) >= {"jit(_init_state)", "jit(_run_chunk)", "jit(_to_physical)", "jit(_simulate_starts)"}
    # one set-up and one chunk program per phase (Adam, then Gauss-Newton), one of each of the rest
    assert programs == {"jit(_init_state)": 2, "jit(_run_chunk)": 2, "jit(_to_physical)": 1, "jit(_simulate_starts)": 1}
