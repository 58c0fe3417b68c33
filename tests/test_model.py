"""LandSurfaceModel and simulate: outputs, gradients, vmap, tracing, bad input."""

import os
import subprocess
import sys

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from columns import GETTERS
from jlsm.errors import GridError, JlsmError, ParameterError
from jlsm.grid import SoilGrid
from jlsm.model import LandSurfaceModel, simulate
from jlsm.physics import SoilThermal
from jlsm.synthetic import INITIAL_TEMPERATURE, OBSERVED_DEPTHS, paper_forcing, paper_model

NAMES = ("albedo", "emissivity", "h", "beta", "conductivity", "heat_capacity", "bottom_temperature")


def parameter_vector(model):
    return jnp.stack([jnp.asarray(GETTERS[n](model)) for n in NAMES])


def with_parameters(model, p):
    """``model`` with the parameters of NAMES replaced by the entries of ``p``."""
    return eqx.tree_at(lambda m: [GETTERS[n](m) for n in NAMES], model, [p[i] for i in range(len(NAMES))])


def make_loss(model, forcing, checkpoint_every=None):
    def loss(p):
        out = simulate(
            with_parameters(model, p), forcing, initial=INITIAL_TEMPERATURE, depths=OBSERVED_DEPTHS,
            checkpoint_every=checkpoint_every,
        )
        return jnp.mean((out.temperature - 293.0) ** 2)

    return loss


def central_differences(loss, p, rel=1e-6):
    p = np.asarray(p, dtype=float)
    grad = np.zeros_like(p)
    for i in range(p.size):
        step = np.zeros_like(p)
        step[i] = rel * abs(p[i])
        grad[i] = (float(loss(p + step)) - float(loss(p - step))) / (2 * step[i])
    return grad


@pytest.fixture(scope="module")
def forcing48():
    return paper_forcing(hours=48)


@pytest.fixture(scope="module")
def backward_euler_case(forcing48):
    model = paper_model()
    loss = make_loss(model, forcing48)
    p0 = parameter_vector(model)
    jitted = jax.jit(loss)
    grad = np.asarray(jax.jit(jax.grad(loss))(p0))
    return dict(model=model, loss=loss, jitted=jitted, p0=p0, grad=grad, fd=central_differences(jitted, p0))


# ---------------------------------------------------------------- outputs


def test_output_shapes_and_initial_state(forcing48):
    model = paper_model()
    run = eqx.filter_jit(
        lambda m, f: simulate(m, f, initial=INITIAL_TEMPERATURE, depths=OBSERVED_DEPTHS, profile=True)
    )
    out = run(model, forcing48)
    t = forcing48.n_times
    assert out.temperature.shape == (t, 2) and out.profile.shape == (t, model.grid.n)
    for name in ("ts", "lw_up", "sw_up", "sensible", "latent", "ground", "bottom"):
        assert getattr(out, name).shape == (t,)
    np.testing.assert_array_equal(np.asarray(out.profile[0]), INITIAL_TEMPERATURE)
    np.testing.assert_allclose(out.ts, out.profile[:, 0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(out.temperature[:, 0], out.ts, rtol=0, atol=1e-12)
    np.testing.assert_allclose(out.temperature[:, 1], out.profile[:, 5], rtol=0, atol=1e-12)
    np.testing.assert_allclose(out.sw_up, 0.2 * np.asarray(forcing48.sw_down), rtol=1e-12)
    np.testing.assert_allclose(out.latent, np.asarray(out.sensible) / 1.5, rtol=1e-12)
    # Energy balance closes: absorbed - LWup emitted - H - LE - G = 0.
    rad = model.radiation
    residual = (
        (1 - 0.2) * forcing48.sw_down + forcing48.lw_down - rad.emitted(out.ts)
        - out.sensible - out.latent - out.ground
    )
    np.testing.assert_allclose(residual, 0.0, atol=1e-9)
    assert np.all(np.asarray(out.profile[:, -1]) == 293.0)


@pytest.mark.parametrize("theta", [1.0, 0.5])
def test_step_uses_forcing_at_its_end(forcing48, theta):
    """Step n (output n) uses forcing at n, and at n - 1 with Crank-Nicolson."""
    model = paper_model(grid=SoilGrid.uniform(1.0, 21), theta=theta)
    run = eqx.filter_jit(lambda m, f: simulate(m, f, initial=INITIAL_TEMPERATURE).ts)
    base = np.asarray(run(model, forcing48))

    def first_change(index):
        bumped = eqx.tree_at(lambda f: f.sw_down, forcing48, forcing48.sw_down.at[index].add(100.0))
        moved = np.flatnonzero(np.abs(np.asarray(run(model, bumped)) - base) > 1e-12)
        return moved[0] if moved.size else None

    assert first_change(30) == 30
    assert first_change(0) == (None if theta == 1.0 else 1)


# ---------------------------------------------------------------- gradients


def test_grad_matches_finite_differences(backward_euler_case):
    grad, fd = backward_euler_case["grad"], backward_euler_case["fd"]
    print("d loss / d", dict(zip(NAMES, grad)))
    assert np.all(fd != 0)
    np.testing.assert_allclose(grad, fd, rtol=1e-5)


def test_filter_grad_on_model_matches(backward_euler_case, forcing48):
    model, fd = backward_euler_case["model"], backward_euler_case["fd"]

    @eqx.filter_jit
    @eqx.filter_grad
    def model_grad(m):
        out = simulate(m, forcing48, initial=INITIAL_TEMPERATURE, depths=OBSERVED_DEPTHS)
        return jnp.mean((out.temperature - 293.0) ** 2)

    grads = model_grad(model)
    np.testing.assert_allclose(np.asarray(parameter_vector(grads)), fd, rtol=1e-5)


def test_jacfwd_matches_finite_differences(backward_euler_case):
    loss, p0, fd = (backward_euler_case[k] for k in ("loss", "p0", "fd"))
    np.testing.assert_allclose(np.asarray(jax.jit(jax.jacfwd(loss))(p0)), fd, rtol=1e-5)


def test_vmap_grad_matches_finite_differences(backward_euler_case):
    loss, jloss, p0 = (backward_euler_case[k] for k in ("loss", "jitted", "p0"))
    scales = np.array([[1.0] * 7, [1.2, 0.98, 0.8, 1.5, 0.7, 1.1, 1.01], [0.7, 1.02, 1.25, 0.6, 0.9, 0.95, 0.995]])
    batch = jnp.asarray(scales * np.asarray(p0))
    grads = np.asarray(jax.jit(jax.vmap(jax.grad(loss)))(batch))
    for i in range(batch.shape[0]):
        np.testing.assert_allclose(grads[i], central_differences(jloss, batch[i]), rtol=1e-5)


def test_checkpointed_gradient_equals_plain(backward_euler_case, forcing48):
    model, jloss, p0, plain = (backward_euler_case[k] for k in ("model", "jitted", "p0", "grad"))
    chunked_loss = make_loss(model, forcing48, checkpoint_every=7)  # 48 steps: 6 chunks and a tail
    value, grad = jax.jit(jax.value_and_grad(chunked_loss))(p0)
    np.testing.assert_allclose(float(value), float(jloss(p0)), rtol=1e-14)
    np.testing.assert_allclose(np.asarray(grad), plain, rtol=1e-12)


def test_crank_nicolson_grad_matches_finite_differences(forcing48):
    model = paper_model(theta=0.5)
    loss = make_loss(model, forcing48)
    p0 = parameter_vector(model)
    grad = np.asarray(jax.jit(jax.grad(loss))(p0))
    np.testing.assert_allclose(grad, central_differences(jax.jit(loss), p0), rtol=1e-5)


# ---------------------------------------------------------------- vmap and tracing


def _small_models():
    grid = SoilGrid.uniform(1.0, 21)
    values = [(0.2, 0.8, 2.2e6, 15.0), (0.3, 0.6, 1.9e6, 9.0), (0.12, 1.1, 2.6e6, 18.0)]
    return [
        paper_model(grid=grid, albedo=a, conductivity=k, heat_capacity=c, h=h) for a, k, c, h in values
    ]


def test_vmap_over_models_matches_loop(forcing48):
    models = _small_models()
    stacked = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *models)

    def run(m):
        return simulate(m, forcing48, initial=INITIAL_TEMPERATURE, depths=OBSERVED_DEPTHS, profile=True)

    batched = eqx.filter_jit(eqx.filter_vmap(run))(stacked)
    single = eqx.filter_jit(run)
    for i, model in enumerate(models):
        out = single(model)
        for name in ("temperature", "profile", "ground", "lw_up", "sensible"):
            np.testing.assert_allclose(getattr(batched, name)[i], getattr(out, name), rtol=1e-13, atol=1e-10)


def test_new_parameter_values_do_not_retrace(forcing48):
    @eqx.filter_jit
    @eqx.debug.assert_max_traces(max_traces=1)
    def run(model, forcing):
        return simulate(model, forcing, initial=INITIAL_TEMPERATURE, depths=(0.05,)).temperature

    results = [run(m, forcing48) for m in _small_models()]
    hotter = eqx.tree_at(lambda f: f.t_air, forcing48, forcing48.t_air + 2.0)
    results.append(run(_small_models()[0], hotter))
    assert eqx.debug.get_num_traces(run) == 1
    assert len({float(r[-1, 0]) for r in results}) == len(results)
    with pytest.raises(RuntimeError):  # a new grid is new configuration: it retraces
        run(paper_model(grid=SoilGrid.uniform(1.0, 11)), forcing48)


# ---------------------------------------------------------------- bad input


def test_negative_conductivity():
    with pytest.raises(ParameterError, match="soil.conductivity"):
        LandSurfaceModel(soil=SoilThermal(-0.5, 2e6))


def test_negative_heat_capacity():
    with pytest.raises(ParameterError, match="soil.heat_capacity"):
        LandSurfaceModel(soil=SoilThermal(0.8, -2e6))


def test_wrong_length_conductivity():
    grid = SoilGrid.uniform(1.0, 11)
    with pytest.raises(ParameterError, match=r"soil.conductivity.*\(11\)"):
        LandSurfaceModel(grid, SoilThermal(np.full(10, 0.8), 2e6))


def test_prescribed_top_without_top_temperature(forcing48):
    model = paper_model()
    model = LandSurfaceModel(model.grid, model.soil, model.radiation, model.turbulence, 293.0, top="prescribed")
    with pytest.raises(ParameterError, match="top_temperature"):
        simulate(model, forcing48)


def test_observation_depth_outside_column(forcing48):
    with pytest.raises(GridError, match="observation depth 2.0 m"):
        simulate(paper_model(), forcing48, depths=(2.0,))


def test_bad_configuration():
    with pytest.raises(ParameterError, match="top"):
        LandSurfaceModel(top="flux")
    with pytest.raises(ParameterError, match="bottom"):
        LandSurfaceModel(bottom="open")
    with pytest.raises(ParameterError, match="albedo"):
        paper_model(albedo=1.5)
    with pytest.raises(ParameterError, match="bottom_temperature"):
        paper_model(bottom_temperature=20.0)
    with pytest.raises(ParameterError, match="turbulence.beta"):
        paper_model(beta=0.0)
    with pytest.raises(ParameterError, match="initial"):
        simulate(paper_model(), paper_forcing(hours=2), initial=20.0)
    with pytest.raises(JlsmError):
        paper_model(solver="gauss")


def test_import_does_not_enable_float64():
    env = {k: v for k, v in os.environ.items() if k != "JAX_ENABLE_X64"}
    code = "import jlsm, jlsm.model, jlsm.synthetic, jax; assert not jax.config.jax_enable_x64"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
