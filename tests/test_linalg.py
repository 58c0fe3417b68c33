"""The Levenberg-Marquardt steps' small symmetric positive definite solve."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jlsm._linalg import spd_solve


def _damped_normal_matrix(rng, p, spread):
    """J^T J + mu diag(J^T J) of a Jacobian whose columns differ in scale by ``spread``."""
    jac = rng.normal(size=(40, p)) * np.logspace(0, np.log10(spread), p)
    jtj = jac.T @ jac
    return jtj + 1e-3 * np.diag(np.diag(jtj))


@pytest.mark.parametrize("p", [1, 2, 3, 6, 9])
def test_spd_solve_matches_a_direct_solve(p):
    rng = np.random.default_rng(p)
    a = _damped_normal_matrix(rng, p, spread=1e5)
    b = rng.normal(size=p)
    x = np.asarray(spd_solve(jnp.asarray(a), jnp.asarray(b)))
    expected = np.linalg.solve(a, b)
    np.testing.assert_allclose(x, expected, rtol=1e-9, atol=1e-12 * np.max(np.abs(expected)))
    # the residual is at round-off relative to the matrix and the solution
    assert np.max(np.abs(a @ x - b)) <= 1e-12 * np.max(np.abs(a)) * np.max(np.abs(x)) * p


def test_spd_solve_reads_only_the_lower_triangle():
    rng = np.random.default_rng(7)
    a = _damped_normal_matrix(rng, 5, spread=10.0)
    b = rng.normal(size=5)
    garbage = a + np.triu(rng.normal(size=(5, 5)) * 1e3, 1)
    np.testing.assert_allclose(spd_solve(jnp.asarray(garbage), jnp.asarray(b)), np.linalg.solve(a, b), rtol=1e-10)


def test_spd_solve_under_vmap_and_grad():
    rng = np.random.default_rng(3)
    a = jnp.asarray(np.stack([_damped_normal_matrix(rng, 4, 100.0) for _ in range(6)]))
    b = jnp.asarray(rng.normal(size=(6, 4)))
    np.testing.assert_allclose(jax.vmap(spd_solve)(a, b), np.linalg.solve(a, b[..., None])[..., 0], rtol=1e-10)
    # d(w . x)/db = A^-1 w for symmetric A
    w = jnp.asarray(rng.normal(size=4))
    g = jax.grad(lambda bb: w @ spd_solve(a[0], bb))(b[0])
    np.testing.assert_allclose(g, np.linalg.solve(a[0], w), rtol=1e-10)


def test_spd_solve_of_an_indefinite_matrix_is_not_finite():
    x = spd_solve(jnp.asarray([[1.0, 2.0], [2.0, 1.0]]), jnp.asarray([1.0, 1.0]))
    assert not np.any(np.isfinite(np.asarray(x)))
