"""The Neural Physics synthetic case: forcing, model and the published observations."""

import equinox as eqx
import numpy as np
import pytest

from jlsm.errors import DataFileError, ParameterError
from jlsm.model import simulate
from jlsm.synthetic import (
    INITIAL_TEMPERATURE,
    OBSERVED_DEPTHS,
    load_published_observations,
    paper_forcing,
    paper_model,
)

_observe = eqx.filter_jit(lambda m, f: simulate(m, f, initial=INITIAL_TEMPERATURE, depths=OBSERVED_DEPTHS).temperature)


def test_paper_forcing():
    f = paper_forcing()
    assert f.n_times == 101 and f.dt == 3600.0
    sw = np.asarray(f.sw_down)
    hour = np.arange(101) % 24
    assert np.all(sw[(hour <= 7) | (hour >= 21)] == 0.0)
    assert np.all(sw[(hour > 7) & (hour < 21)] > 0.0)
    np.testing.assert_allclose(sw[hour == 14], 800.0)
    np.testing.assert_allclose(sw[10], sw[18])  # symmetric about 14:00
    np.testing.assert_array_equal(np.asarray(f.lw_down), 100.0)
    np.testing.assert_array_equal(np.asarray(f.t_air), 296.0)
    assert paper_forcing(hours=10, dt=900.0).n_times == 41


def test_paper_model_unknown_parameter():
    with pytest.raises(ParameterError, match="albedoo"):
        paper_model(albedoo=0.3)


def test_missing_observation_files(tmp_path):
    with pytest.raises(DataFileError, match="Target_T1_surface.txt"):
        load_published_observations(tmp_path)


@pytest.fixture(scope="module")
def published(paper_synthetic_dir):
    obs = load_published_observations(paper_synthetic_dir)
    assert obs.shape == (101, 2)
    return obs


@pytest.fixture(scope="module")
def jacobi_paper():
    return np.asarray(_observe(paper_model(solver="jacobi", tolerance=1e-4), paper_forcing()))


def test_jacobi_reproduces_published_observations(published, jacobi_paper):
    diff = np.abs(jacobi_paper - published).max(axis=0)
    print(f"Jacobi 1e-4 vs published: surface {diff[0]:.2e} K, 5 cm {diff[1]:.2e} K")
    np.testing.assert_array_equal(published[0], INITIAL_TEMPERATURE)
    assert np.all(diff < 1e-4)


def test_direct_solver_close_to_published_observations(published):
    direct = np.asarray(_observe(paper_model(), paper_forcing()))
    diff = np.abs(direct - published).max(axis=0)
    print(f"direct vs published: surface {diff[0]:.2e} K, 5 cm {diff[1]:.2e} K")
    assert np.all(diff < 0.02)


def test_jacobi_stopping_rule_error(jacobi_paper):
    """The study's stopping rule (largest change < 1e-4 K) leaves about 0.01 K of error."""
    tight = np.asarray(_observe(paper_model(solver="jacobi", tolerance=1e-11), paper_forcing()))
    diff = np.abs(jacobi_paper - tight).max()
    print(f"Jacobi 1e-4 vs Jacobi 1e-11: {diff:.4f} K")
    assert 0.001 < diff < 0.02
