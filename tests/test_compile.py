"""Compiling jlsm's programs: filter-jit semantics without waiting, compiler options."""

import jax.numpy as jnp
import numpy as np

from jlsm import _compile


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
