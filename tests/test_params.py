"""Parameter spaces: transforms, sampling, writing into a model, errors."""

import jax.numpy as jnp
import numpy as np
import pytest

from jlsm.errors import ParameterError
from jlsm.params import Parameter, ParameterSpace
from jlsm.synthetic import BOUNDS, paper_model


def test_round_trip_of_every_transform():
    space = ParameterSpace(
        {
            "albedo": (0.05, 0.5),
            "C": Parameter("heat_capacity", (1e6, 4e6), "log-sigmoid", "J m-3 K-1", "soil.heat_capacity"),
            "lambda": Parameter("conductivity", None, "log", "W m-1 K-1", "soil.conductivity"),
            "Tb": Parameter("bottom_temperature", None, "identity", "K", "bottom_temperature"),
        }
    )
    x = np.array([[0.2, 2.2e6, 0.8, 293.0], [0.06, 3.9e6, 2.5, 280.0]])
    u = space.to_unconstrained(x)
    np.testing.assert_allclose(np.asarray(space.to_physical(u)), x, rtol=1e-12)


def test_aliases_and_model_writing():
    space = ParameterSpace({"alpha": (0.05, 0.5), "lambda": (0.1, 3.0)}, fixed={"Tb": 290.0})
    assert space.names == ("albedo", "conductivity")
    model = space.physical_to_model(jnp.array([0.3, 1.7]), paper_model())
    assert float(model.radiation.albedo) == pytest.approx(0.3)
    assert float(model.soil.conductivity) == pytest.approx(1.7)
    assert float(model.bottom_temperature) == pytest.approx(290.0)
    np.testing.assert_allclose(space.read(model), [0.3, 1.7])


def test_h_eff_reparameterisation_keeps_beta():
    space = ParameterSpace({"h_eff": (5.0, 50.0)}, fixed={"beta": 2.0})
    model = space.physical_to_model(jnp.array([30.0]), paper_model())
    assert float(model.turbulence.beta) == pytest.approx(2.0)
    assert float(model.turbulence.h * (1 + 1 / model.turbulence.beta)) == pytest.approx(30.0)
    assert float(model.turbulence.h) == pytest.approx(20.0)


def test_sampling_is_seeded_inside_start_bounds():
    space = ParameterSpace({k: (0.5 * lo, 2 * hi) for k, (lo, hi) in BOUNDS.items()}, start_bounds=BOUNDS)
    a = space.sample(50, seed=3)
    b = space.sample(50, seed=3)
    c = space.sample(50, seed=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    for i, name in enumerate(space.names):
        lo, hi = BOUNDS[name]
        assert np.all((a[:, i] > lo) & (a[:, i] < hi))
    u = space.sample(16, seed=0, method="uniform")
    assert u.shape == (16, 6)


@pytest.mark.parametrize(
    "free, fixed, match",
    [
        ({"albedo": (0.5, 0.5)}, None, "lo < hi"),
        ({"albedo": (0.6, 0.2)}, None, "lo < hi"),
        ({"nonsense parameter": (0, 1)}, None, "unknown parameter"),
        ({"albedo": (0.1, 0.5)}, {"albedo": 0.2}, "both free and fixed"),
        ({"h": (1, 2), "h_eff": (1, 2)}, None, "h_eff replaces h"),
        ({}, None, "at least one free"),
        ({"C": Parameter("heat_capacity", (-1.0, 4e6), "log-sigmoid", "", "soil.heat_capacity")}, None, "positive"),
    ],
)
def test_bad_spaces(free, fixed, match):
    with pytest.raises(ParameterError, match=match):
        ParameterSpace(free, fixed=fixed)


def test_initial_value_outside_bounds_and_missing_path():
    space = ParameterSpace({"albedo": (0.05, 0.5)})
    with pytest.raises(ParameterError, match="albedo.*outside its bounds"):
        space.to_unconstrained(np.array([[0.7]]))
    bad = ParameterSpace({"soil.porosity": (0.1, 0.5)})
    with pytest.raises(ParameterError, match="soil.porosity.*does not exist"):
        bad.check_model(paper_model())


@pytest.mark.parametrize("d", [1, 2, 6, 13, 32, 33])
@pytest.mark.parametrize("seed", [0, 7, 2024])
def test_sobol_points_are_scipys(d, seed):
    """The sampler's own scrambled Sobol' points equal SciPy's, bit for bit (33 dims: SciPy's own)."""
    import warnings

    from scipy.stats import qmc

    from jlsm._sobol import scrambled_sobol

    for n in (1, 2, 50, 257):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = qmc.Sobol(d=d, scramble=True, seed=seed).random(n)
        np.testing.assert_array_equal(scrambled_sobol(n, d, seed), expected)


def test_sobol_points_stratify_every_coordinate():
    """A (t, s)-net property: 2**k scrambled Sobol' points put exactly one point in each of the
    2**k equal intervals of every coordinate; pseudo-random points almost never do."""
    from jlsm._sobol import scrambled_sobol

    q = scrambled_sobol(64, 8, seed=5)
    assert np.all((q >= 0) & (q < 1))
    for j in range(8):
        np.testing.assert_array_equal(np.bincount((q[:, j] * 64).astype(int), minlength=64), np.ones(64, int))
    u = np.random.default_rng(5).random((64, 8))
    assert not all(np.all(np.bincount((u[:, j] * 64).astype(int), minlength=64) == 1) for j in range(8))
