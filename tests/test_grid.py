"""SoilGrid geometry, interpolation and layered properties."""

import numpy as np
import pytest

from jlsm.errors import GridError
from jlsm.grid import SoilGrid
from jlsm.physics import SoilThermal


@pytest.mark.parametrize(
    "grid",
    [SoilGrid.uniform(1.0, 101), SoilGrid.uniform(2.5, 7), SoilGrid.stretched(1.0, 51, 1.08), SoilGrid.stretched(3.0, 20, 0.9)],
)
def test_thickness_sums_to_depth(grid):
    assert grid.thickness.shape == (grid.n,)
    assert np.all(grid.thickness > 0)
    np.testing.assert_allclose(grid.thickness.sum(), grid.depth, rtol=1e-14)
    assert grid.z[0] == 0.0
    np.testing.assert_allclose(grid.z[-1], grid.depth, rtol=1e-14)


def test_uniform_grid():
    grid = SoilGrid.uniform(1.0, 101)
    assert grid.n == 101 and grid.is_uniform
    np.testing.assert_allclose(grid.spacing, 0.01, rtol=1e-12)
    np.testing.assert_allclose(grid.thickness[[0, 50, -1]], [0.005, 0.01, 0.005], rtol=1e-12)


@pytest.mark.parametrize("ratio", [1.05, 1.2, 0.95])
def test_stretched_spacing_ratio(ratio):
    grid = SoilGrid.stretched(2.0, 30, ratio)
    dz = grid.spacing
    np.testing.assert_allclose(dz[1:] / dz[:-1], ratio, rtol=1e-10)
    np.testing.assert_allclose(grid.depth, 2.0, rtol=1e-14)
    assert not grid.is_uniform


@pytest.mark.parametrize("grid", [SoilGrid.uniform(1.0, 11), SoilGrid.stretched(1.0, 25, 1.15)])
def test_interpolation_exact_for_linear_profile(grid):
    depths = np.array([0.0, 0.013, 0.05, 0.3333, 0.5, 0.999, 1.0])
    index, weight = grid.interpolation(depths)
    assert np.all((weight >= 0) & (weight <= 1))
    profile = 290.0 + 7.5 * grid.z
    values = (1 - weight) * profile[index] + weight * profile[index + 1]
    np.testing.assert_allclose(values, 290.0 + 7.5 * depths, rtol=0, atol=1e-12)
    # A node depth is reproduced exactly.
    i, w = grid.interpolation(grid.z[3])
    np.testing.assert_allclose((1 - w) * profile[i] + w * profile[i + 1], profile[3], atol=1e-12)


def test_layered_properties():
    grid = SoilGrid.uniform(1.0, 11)
    soil = SoilThermal.layered(grid, [0.3], conductivity=[0.5, 1.5], heat_capacity=[1.5e6, 2.5e6])
    lam = np.asarray(soil.conductivity)
    np.testing.assert_allclose(lam[:3], 0.5)
    np.testing.assert_allclose(lam[3:], 1.5)  # a node on the boundary belongs to the layer below
    k = np.asarray(soil.interface_conductance(grid, np.float64))
    np.testing.assert_allclose(k[2], 2 * 0.5 * 1.5 / 2.0 / 0.1)  # harmonic mean over spacing
    cv = np.asarray(soil.node_capacity(grid, np.float64))
    np.testing.assert_allclose(cv.sum(), 0.25 * 1.5e6 + 0.75 * 2.5e6, rtol=1e-12)


def test_layered_bad_boundaries():
    grid = SoilGrid.uniform(1.0, 11)
    with pytest.raises(GridError, match="boundaries"):
        SoilThermal.layered(grid, [1.2], [0.5, 1.0], [2e6, 2e6])
    with pytest.raises(GridError, match="conductivity"):
        SoilThermal.layered(grid, [0.3], [0.5], [2e6, 2e6])


def test_non_positive_spacing():
    with pytest.raises(GridError, match=r"spacing.*depths\[2\]"):
        SoilGrid([0.0, 0.5, 0.5, 1.0])
    with pytest.raises(GridError, match="depths"):
        SoilGrid([0.0, 0.6, 0.4, 1.0])


def test_bad_grid_arguments():
    with pytest.raises(GridError, match="surface"):
        SoilGrid([0.1, 0.5, 1.0])
    with pytest.raises(GridError, match="depth"):
        SoilGrid.uniform(-1.0, 10)
    with pytest.raises(GridError, match="number of nodes"):
        SoilGrid.uniform(1.0, 2)
    with pytest.raises(GridError, match="ratio"):
        SoilGrid.stretched(1.0, 10, 0.0)


def test_observation_depth_outside_column():
    grid = SoilGrid.uniform(1.0, 11)
    with pytest.raises(GridError, match="observation depth 2.0 m"):
        grid.interpolation([0.05, 2.0])
    with pytest.raises(GridError, match="observation depth"):
        grid.interpolation([-0.01])
