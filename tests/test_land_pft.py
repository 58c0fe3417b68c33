"""PFT defaults and the default calibration space of the version-2 land model."""

import jax.numpy as jnp
import numpy as np
import pytest

from jlsm.errors import ParameterError
from jlsm.land import PFTS, SOIL_TEXTURES, LandForcing, default_model, default_parameters, default_space, monthly_lai
from jlsm.land.forcing import lai_series


@pytest.mark.parametrize("pft", PFTS)
def test_every_default_lies_strictly_inside_the_default_space(pft):
    space = default_space(pft)
    assert 12 <= space.size <= 15
    model = default_model(pft)
    x = space.read(model)
    assert np.all(x > space.lower) and np.all(x < space.upper), dict(zip(space.names, x))
    u = space.to_unconstrained(x)
    np.testing.assert_allclose(space.to_physical(jnp.asarray(u)), x, rtol=1e-10)
    # positive quantities have positive bounds
    assert np.all(space.lower > 0)


@pytest.mark.parametrize("texture", list(SOIL_TEXTURES))
def test_every_texture_lies_inside_the_space(texture):
    space = default_space("GRA")
    x = space.read(default_model("GRA", soil=texture))
    assert np.all(x > space.lower) and np.all(x < space.upper), texture


def test_table_values_as_published():
    # Noah VEGPARM.TBL MODIFIED_IGBP_MODIS_NOAH, grasslands (class 10) and ENF (class 1)
    gra, enf = default_parameters("GRA"), default_parameters("ENF")
    assert (gra["rs_min"], gra["rgl"], gra["hs"]) == (40.0, 100.0, 36.35)
    assert (enf["rs_min"], enf["rgl"], enf["hs"]) == (125.0, 30.0, 47.35)
    assert gra["root_depth"] == 1.0 and enf["root_depth"] == 2.0  # NROOT 3 and 4
    # Noah-MP MPTABLE: grassland LAI in July 3.5, z0m 0.06 m over 0.5 m
    assert monthly_lai("GRA")[6] == 3.5
    assert gra["z0m_ratio"] == pytest.approx(0.12)


def test_unknown_pft_and_texture_are_clear_errors():
    with pytest.raises(ParameterError, match="plant functional type 'XYZ'"):
        default_model("XYZ")
    with pytest.raises(ParameterError, match="soil texture 'PEAT'"):
        default_model("GRA", soil="PEAT")


def test_monthly_lai_is_interpolated_periodically():
    times = np.array(["2008-01-15T12", "2008-07-16T00", "2008-12-31T23"], dtype="datetime64[ns]")
    lai = lai_series(monthly_lai("GRA"), times)
    assert lai[0] == pytest.approx(0.4, abs=0.01)
    assert lai[1] == pytest.approx(3.5, abs=0.05)
    assert 0.4 <= lai[2] <= 0.45  # between December (0.4) and January (0.4)


def test_batched_forcing_fields_and_window():
    n = 10
    one = dict(sw_down=np.zeros(n), lw_down=np.full(n, 300.0), t_air=np.full(n, 280.0), q_air=np.full(n, 0.005),
               p_surf=np.full(n, 1e5), wind=np.full(n, 2.0), precip=np.zeros(n), lai=1.0)
    f = LandForcing(**one, dt=1800.0)
    both = LandForcing.stack([f, f])
    assert both.t_air.shape == (2, n) and both.n_times == n
    assert both.window(2, 5).t_air.shape == (2, 3)
