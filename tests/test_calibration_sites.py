"""From a site collection to the land-model calibration problem (real data, short windows, no model run)."""

import os

import numpy as np
import pytest
from land_sites import FLUXNET2015_SUBSET, data_file, data_root

pytest.importorskip("jlsm.land", reason="jlsm.land (the version-2 land model) is not available")

FILES = {
    "DE-Tha": "de-tharandt/FLX_DE-Tha_FLUXNET2015_SUBSET_HH_2010-2010.csv.gz",
    "FR-Pue": "fr-puechabon/FLX_FR-Pue_FLUXNET2015_SUBSET_HH_2005-2005.csv.gz",
}
TOML = """
[defaults]
step = "1h"
qc_max = 0

[[sites]]
name = "DE-Tha"
format = "fluxnet2015"
files = ["{DE-Tha}"]
period = ["2010-06-01", "2010-06-15"]

[[sites]]
name = "FR-Pue"
format = "fluxnet2015"
files = ["{FR-Pue}"]
period = ["2005-06-01", "2005-06-17"]
"""


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = data_root()
    for name in FILES.values():
        data_file(name, FLUXNET2015_SUBSET)
    os.environ.setdefault("JLSM_DATA_DIR", str(folder))
    path = tmp_path_factory.mktemp("sites") / "two.toml"
    text = TOML
    for k, v in FILES.items():
        text = text.replace("{" + k + "}", v)
    path.write_text(text)
    import jlsm.sites
    from jlsm.calibration.sites import calibration_data

    batch = jlsm.sites.load_collection(path)
    return batch, calibration_data(batch)


def test_problem_of_two_evergreen_sites(data):
    batch, d = data
    assert d.sites == ["DE-Tha", "FR-Pue"]
    assert d.pft == ["evergreen forest", "evergreen forest"]
    assert d.site_ids == ["DE-Tha", "FR-Pue"]
    assert len(d.names) >= 12 and all(sp.names == d.names for sp in d.spaces)
    x = d.defaults()
    assert x.shape == (2, len(d.names))
    assert np.all((x > d.lower) & (x < d.upper)), "PFT defaults must lie inside the calibration bounds"
    assert {"Qh", "Qle"} <= set(d.obs)
    # windows: disjoint, on the record only, fit before test
    assert not np.any(d.fit & d.test)
    assert not np.any((d.fit | d.test) & ~batch.mask)
    for i in range(2):
        assert np.flatnonzero(d.fit[i]).max() < np.flatnonzero(d.test[i]).min()
    # the forcing is finite everywhere (padding included) and LAI is known
    for name in ("sw_down", "t_air", "lai"):
        assert np.all(np.isfinite(np.asarray(getattr(d.forcing, name))))
    # the deep temperature is each site's own record mean, not the padded one
    t_deep = np.asarray(d.models.deep_temperature)
    for i in range(2):
        assert t_deep[i] == pytest.approx(np.mean(batch.forcing["Tair"][i][batch.mask[i]]))
    # simulate_land's spin-up reads the first year of the record: a cut after one year changes nothing
    assert d.causal_steps == round(365 * 86400 / batch.dt)


def test_benchmarks_on_real_sites(data):
    from jlsm.calibration import benchmarks

    _, d = data
    for i in range(2):
        met = {k: v[i] for k, v in d.met.items()}
        fluxes = {v: d.obs[v][i] for v in ("Qh", "Qle")}
        out = benchmarks.site_benchmarks(met, fluxes, d.fit[i])
        for v in ("Qh", "Qle"):
            test = d.test[i] & np.isfinite(fluxes[v])
            rmse = np.sqrt(np.mean((out["1lin"][v][test] - fluxes[v][test]) ** 2))
            spread = np.std(fluxes[v][test])
            assert np.isfinite(rmse) and rmse < spread  # SWdown explains part of the variance
