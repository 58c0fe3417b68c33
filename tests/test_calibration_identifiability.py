"""Identifiability of the land model's parameters at a real site (jlsm.calibration.identifiability).

One window of CN-Cng (PLUMBER2, Ukkola et al. 2022) in July 2008, ten days at
30 min, grassland defaults: every test uses the same compiled Jacobian program
(same window length and number of parameters).
"""

import numpy as np
import pytest

from jlsm.calibration.identifiability import (
    default_variants,
    fisher_analysis,
    identifiability_table,
    land_jacobian,
    site_identifiability,
)
from jlsm.land import default_model, default_space
from jlsm.params import Parameter, ParameterSpace
from land_sites import CANOPY_HEIGHT, CN_CNG_FLUX, Z_REF, cn_cng_forcing, data_file

START, STEPS = 8688, 480  # 2008-07-01 00:00 UTC, ten days of half-hours
SPINUP = 0  # the tests analyse the window from the model's initial state (one compiled program)


@pytest.fixture(scope="module")
def window():
    import xarray as xr

    forcing = cn_cng_forcing(START, STEPS)
    flux = xr.open_dataset(data_file(CN_CNG_FLUX)).squeeze(drop=True).isel(time=slice(START, START + STEPS))
    obs = {v: np.asarray(flux[v].where(flux[f"{v}_qc"] == 0).values, float) for v in ("Qh", "Qle", "Ustar", "SWup")}
    model = default_model("GRA", z_ref=Z_REF, canopy_height=CANOPY_HEIGHT)
    return model, forcing, obs, flux["time"].values


@pytest.fixture(scope="module")
def analysis(window):
    model, forcing, obs, time = window
    return site_identifiability(model, forcing, obs, default_space("GRA"), variables=("qh", "qle", "ustar", "sw_up"),
                                spinup_years=SPINUP, time=time)


def test_real_window_finite(analysis):
    """Ten real days: every variant present, finite Fisher matrices and eigenvalues, named directions."""
    assert list(analysis["variant"].values) == list(default_variants(("qh", "qle", "ustar", "sw_up")))
    assert np.all(np.isfinite(analysis["fisher"].values))
    assert np.all(np.isfinite(analysis["eigenvalue"].values))
    assert np.all(np.isfinite(analysis["simulated"].values))
    assert int(analysis["n_observations"].sel(variant="qh+qle")) > 0.8 * 2 * STEPS
    # Fisher of Qh+Qle is the sum of the Qh-only and Qle-only informations (same mask, W diagonal)
    f = analysis["fisher"]
    np.testing.assert_allclose(f.sel(variant="qh+qle"), f.sel(variant="qh") + f.sel(variant="qle"),
                               rtol=1e-12, atol=1e-12 * float(np.abs(f).max()))
    names = analysis["direction_name"].sel(variant="qh+qle").values
    assert all(isinstance(s, str) and "log " in s for s in names)
    # adding observations never loses information: CR bounds do not grow
    cr = analysis["cr_std"]
    assert np.all(cr.sel(variant="qh+qle").values <= cr.sel(variant="qh").values * (1 + 1e-9))
    table = identifiability_table(analysis, site="CN-Cng")
    assert "rs_min" in table and "qh+qle" in table


def test_fisher_equals_finite_differences(window, analysis):
    """F from the forward-mode Jacobian equals J^T W J with J by central differences in log p."""
    model, forcing, obs, _ = window
    space = default_space("GRA")
    x0 = space.read(model)
    variables = [str(v) for v in analysis["variable"].values]
    h = 1e-5
    cols = []
    for i in range(space.size):
        runs = []
        for s in (1.0, -1.0):
            x = x0.copy()
            x[i] = x0[i] * np.exp(s * h)
            values, _, _ = land_jacobian(model, forcing, space, x, variables=variables, spinup_years=SPINUP)
            runs.append(values)
        cols.append((runs[0] - runs[1]) / (2 * h))
    jac_fd = np.stack(cols, axis=-1)
    mask = np.isfinite(analysis["observed"].values)
    sigma = analysis["noise"].values
    fd = fisher_analysis(jac_fd, mask, sigma, space.names, variables)
    for v in ("qh", "qle", "qh+qle"):
        f_ad = analysis["fisher"].sel(variant=v).values
        f_fd = fd["fisher"].sel(variant=v).values
        scale = np.sqrt(np.outer(np.diag(f_ad), np.diag(f_ad)))
        assert np.max(np.abs(f_ad - f_fd) / scale) < 1e-5, v


def test_parameter_without_effect_is_not_identifiable(window):
    """A snow parameter in July (no snow) has no effect: zero eigenvalue, the weakest direction is that
    parameter alone, its Cramer-Rao bound infinite; the other parameters keep finite bounds."""
    model, forcing, obs, _ = window
    base = default_space("GRA")
    params = list(base.parameters[:-1]) + [
        Parameter("snow_conductivity", (0.05, 0.7), "log-sigmoid", "W m-1 K-1", "snow.conductivity")]
    space = ParameterSpace({p.name: p for p in params})
    ds = site_identifiability(model, forcing, obs, space, variables=("qh", "qle", "ustar", "sw_up"),
                              spinup_years=SPINUP)  # same outputs as the module fixture: same program
    for v in ds["variant"].values:
        d = ds.sel(variant=v)
        w = d["eigenvalue"].values
        assert w[0] <= ds.attrs["rcond"] * w.max()
        assert d["direction_name"].values[0] == "1.00 log snow_conductivity"
        assert not np.isfinite(float(d["cr_std"].sel(parameter="snow_conductivity")))
        assert str(d["verdict"].sel(parameter="snow_conductivity").values) == "not identifiable"
    assert np.isfinite(float(ds["cr_std"].sel(variant="qh+qle", parameter="rs_min")))


def test_ustar_pins_roughness(analysis):
    """Measured u* pins the momentum roughness: z0m/h_c identified with it, its CR bound far smaller."""
    cr = analysis["cr_std"].sel(parameter="z0m_ratio")
    without, with_ustar = float(cr.sel(variant="qh+qle")), float(cr.sel(variant="qh+qle+ustar"))
    assert with_ustar < 0.1
    assert with_ustar < without / 5
    assert bool(analysis["identified"].sel(variant="qh+qle+ustar", parameter="z0m_ratio"))
