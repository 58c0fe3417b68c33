"""Site collections: the example collection of the six shared sites as one batch, its masks,
constants and windows, a vmapped model run over it, and the data report."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import equinox as eqx
import jax
import numpy as np
import pandas as pd
import pytest
import xarray as xr

import jlsm.sites as sites
from jlsm import io
from jlsm.errors import ConfigError, DataFileError, ObservationError

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sites.toml"
SIX = ("CN-Cng", "DE-Hai", "US-CRT", "DE-Tha", "FR-Pue", "ES-LMa")


@pytest.fixture(scope="module")
def batch():
    try:
        for code in ("cn-changling", "de-hainich", "us-crt", "de-tharandt", "fr-puechabon", "es-lasmajadas"):
            if io.data_dir() is None or not (io.data_dir() / code).is_dir():
                raise DataFileError(f"data folder {code} not found under JLSM_DATA_DIR ({io.DATA_SOURCES.get(code, 'see the data README')})")
    except DataFileError as exc:
        pytest.skip(str(exc))
    return sites.load_collection(EXAMPLE)


def test_six_sites_in_one_batch(batch):
    assert set(batch.sites) == set(SIX)
    # US-CRT is split around its 10-day gap of RH, WS and PA in April-May 2011
    assert batch.names.count("CN-Cng") == 1 and [n for n in batch.names if n.startswith("US-CRT")] == ["US-CRT#1", "US-CRT#2"]
    S, T = batch.shape
    assert S == len(batch.names) == 7 and batch.dt == 3600.0
    assert T == batch.lengths.max()
    for group in (batch.forcing, batch.forcing_qc, batch.obs):
        for v, a in group.items():
            assert a.shape == (S, T), v
    for k, a in batch.constants.items():
        assert a.shape == (S,), k
    for i in range(S):
        n = batch.lengths[i]
        assert batch.mask[i, :n].all() and not batch.mask[i, n:].any()
        assert np.isnat(batch.time[i, n:]).all()
        assert (np.diff(batch.time[i, :n]).astype("int64") == 3600 * 10**9).all()
    # forcing finite everywhere (padding repeats the last value); observations NaN off the record
    for v in ("SWdown", "LWdown", "Tair", "Qair", "PSurf", "Wind", "Rainf"):
        assert np.isfinite(batch.forcing[v]).all(), v
        assert (batch.forcing_qc[v][~batch.mask] == 9).all() and (batch.forcing_qc[v][batch.mask] < 9).all()
    for v, a in batch.obs.items():
        assert np.isnan(a[~batch.mask]).all(), v
    # fit and test windows: disjoint, within the record
    assert not (batch.fit_mask & batch.test_mask).any()
    assert ((batch.fit_mask | batch.test_mask) == batch.mask).all()


def test_fit_test_split_defaults(batch):
    offset = dict(zip(batch.names, batch.constants["utc_offset_hours"]))
    i = batch.names.index("CN-Cng")  # two years: the second held out
    first_test = batch.time[i][batch.test_mask[i]][0] + np.timedelta64(int(offset["CN-Cng"]), "h")
    assert str(first_test)[:16] == "2009-01-01T00:00"
    for name in ("DE-Tha", "FR-Pue", "ES-LMa", "DE-Hai"):  # one record: the last third held out
        i = batch.names.index(name)
        assert batch.test_mask[i].sum() / batch.mask[i].sum() == pytest.approx(1 / 3, abs=0.01)


def test_constants_and_provenance(batch):
    table = pd.read_csv(io.data_file("sites.csv")).set_index("site")
    i = batch.names.index("DE-Tha")
    assert batch.constants["z_ref"][i] == table.loc["DE-Tha", "measurement_height_m"]
    assert batch.constants["lai"][i] == table.loc["DE-Tha", "lai"]
    assert batch.provenance[i]["measurement_height"] == "site table"
    assert batch.pft[i] == "ENF" and batch.pft_group[i] == "evergreen forest"
    j = batch.names.index("DE-Hai")
    assert batch.constants["z_ref"][j] == 44.0 and batch.provenance[j]["measurement_height"] == "collection"
    k = batch.names.index("US-CRT#1")
    assert batch.constants["canopy_height"][k] == pytest.approx(1.125)  # the BADM's 2011 maximum
    assert batch.provenance[k]["measurement_height"].startswith("default")
    assert batch.constants["elevation"][k] == pytest.approx(180.0)
    # pressure-based elevation of DE-Tha is plausible (the tower stands at about 380 m)
    assert 250.0 < batch.constants["elevation"][i] < 550.0


def test_estimated_forcing_is_flagged(batch):
    for name, var in (("DE-Tha", "LWdown"), ("FR-Pue", "LWdown"), ("ES-LMa", "SWdown")):
        i = batch.names.index(name)
        m = batch.mask[i]
        assert (batch.forcing_qc[var][i][m] >= 4).all(), (name, var)
        assert var in batch.reports[i]["estimated"]
    i = batch.names.index("DE-Hai")
    assert (batch.forcing_qc["LWdown"][i][batch.mask[i]] == 0).all()


def test_hourly_means_of_half_hourly_sites(batch):
    """CN-Cng Tair at 1 h is the mean of the two half-hours of the raw file (start-stamped,
    local = UTC+8); Qh only where both half-hours are measured."""
    i = batch.names.index("CN-Cng")
    with xr.open_dataset(io.data_file("cn-changling/CN-Cng_2008-2009_FLUXNET2015_Met.nc")) as met, \
            xr.open_dataset(io.data_file("cn-changling/CN-Cng_2008-2009_FLUXNET2015_Flux.nc")) as flux:
        ta = met["Tair"].values.ravel().astype(float)
        qh = flux["Qh"].values.ravel().astype(float)
        qc = flux["Qh_qc"].values.ravel()
    for k in (0, 100, 5000):
        assert batch.forcing["Tair"][i, k] == pytest.approx(ta[2 * k: 2 * k + 2].mean(), rel=1e-6)
        both = (qc[2 * k: 2 * k + 2] == 0).all()
        if both:
            assert batch.obs["Qh"][i, k] == pytest.approx(qh[2 * k: 2 * k + 2].mean(), rel=1e-6)
        else:
            assert np.isnan(batch.obs["Qh"][i, k])
    assert str(batch.time[i, 0])[:16] == "2007-12-31T16:00"


def test_site_dataset_matches_the_arrays(batch):
    i = batch.names.index("FR-Pue")
    ds = batch.site("FR-Pue")
    n = batch.lengths[i]
    np.testing.assert_array_equal(ds["time"].values, batch.time[i, :n])
    np.testing.assert_array_equal(ds["Tair"].values, batch.forcing["Tair"][i, :n])
    np.testing.assert_array_equal(ds["Qle"].values, batch.obs["Qle"][i, :n])
    np.testing.assert_array_equal(ds["test"].values, batch.test_mask[i, :n])
    assert ds["LWdown"].attrs["estimated"].startswith("Brutsaert")
    assert ds.attrs["igbp"] == "EBF"
    with pytest.raises(KeyError):
        batch.site("XX-Nope")


def test_one_vmap_runs_every_site(batch):
    """The version-1 column model over a 48 h window of every site in one vmap, checked
    against site-by-site runs."""
    from jlsm.forcing import Forcing
    from jlsm.grid import SoilGrid
    from jlsm.model import simulate
    from jlsm.synthetic import paper_model

    model = paper_model(grid=SoilGrid.uniform(1.0, 11))
    sl = slice(0, 48)
    sw, lw, ta = (np.asarray(batch.forcing[v][:, sl]) for v in ("SWdown", "LWdown", "Tair"))

    def run(s, l, t):
        return simulate(model, Forcing(s, l, t, dt=batch.dt), initial=285.0).ts

    ts = eqx.filter_jit(jax.vmap(run))(sw, lw, ta)
    assert ts.shape == (len(batch.names), 48) and np.isfinite(ts).all()
    single = eqx.filter_jit(run)
    for i in (0, len(batch.names) - 1):
        np.testing.assert_allclose(ts[i], single(sw[i], lw[i], ta[i]), rtol=1e-12)


def test_data_report(batch, tmp_path):
    text, info = sites.data_report(EXAMPLE, batch=batch,
                                   figures_dir=tmp_path if importlib.util.find_spec("matplotlib") else None)
    for name in batch.names:
        assert f"## {name}" in text and name in info
    for name in ("CN-Cng", "US-CRT#1", "DE-Tha", "FR-Pue", "ES-LMa", "DE-Hai"):
        c = info[name]["closure"]
        # H + LE below Rn - G at every site (Wilson et al. 2002: slopes 0.55-0.99)
        assert 0.5 < c["slope"] < 1.0 and c["n"] > 1000, (name, c)
        print(f"{name}: closure slope {c['slope']:.3f}, intercept {c['intercept']:.1f} W m-2, "
              f"r2 {c['r2']:.3f}, n {c['n']}")
    assert "four radiation components" in info["DE-Hai"]["closure"]["note"]
    assert info["DE-Tha"]["forcing"]["LWdown"]["estimated"] == 1.0
    assert info["US-CRT#1"]["forcing"]["Wind"]["filled"] > 0.05
    assert info["CN-Cng"]["observations"]["Qh"]["measured"] == pytest.approx(
        np.isfinite(batch.obs["Qh"][0][batch.mask[0]]).mean())
    if importlib.util.find_spec("matplotlib"):
        assert all(Path(f).is_file() for n in batch.names for f in info[n]["figures"])
        assert len(list(tmp_path.glob("*.png"))) == len(batch.names)


# --------------------------------------------------------------------------
# collections with mistakes (small files in tmp_path)


def _frame(start, n=24 * 10):
    t = pd.date_range(pd.Timestamp(start), periods=n, freq="h")
    h = t.hour
    return pd.DataFrame({
        "time": t.strftime("%Y-%m-%d %H:%M"),
        "ta": 10 + 5 * np.sin(2 * np.pi * (h - 9) / 24), "sw": np.maximum(0, 700 * np.sin(2 * np.pi * (h - 6) / 24)),
        "lw": 320.0, "rh": 70.0, "pa": 101.0, "ws": 2.0, "p": 0.0, "h": 40.0,
    })


def _collection(tmp_path, met_start="2020-06-01", flux_start="2020-06-01", extra=""):
    _frame(met_start).drop(columns="h").to_csv(tmp_path / "met.csv", index=False)
    _frame(flux_start)[["time", "h"]].to_csv(tmp_path / "flux.csv", index=False)
    text = f"""
[defaults]
step = "1h"
site_table = "{tmp_path / 'none.csv'}"

[[sites]]
name = "XX-Tst"
format = "csv"
files = ["{tmp_path / 'met.csv'}", "{tmp_path / 'flux.csv'}"]
latitude = 45.0
longitude = 10.0
utc_offset_hours = 1
time = {{ column = "time", label = "end" }}
{extra}
[sites.columns]
ta = {{ variable = "Tair", units = "degC" }}
sw = {{ variable = "SWdown", units = "W m-2" }}
lw = {{ variable = "LWdown", units = "W m-2" }}
rh = {{ variable = "RH", units = "%" }}
pa = {{ variable = "PSurf", units = "kPa" }}
ws = {{ variable = "Wind", units = "m s-1" }}
p = {{ variable = "Rainf", units = "mm" }}
h = {{ variable = "Qh", units = "W m-2" }}
"""
    p = tmp_path / "c.toml"
    p.write_text(text)
    return p


def test_small_csv_collection_loads(tmp_path):
    (tmp_path / "none.csv").write_text("site,lat\n")
    b = sites.load_collection(_collection(tmp_path, extra='split = { test_start = "2020-06-08" }'))
    assert b.names == ("XX-Tst",) and b.shape == (1, 240)
    t_local = b.time[0] + np.timedelta64(1, "h")
    assert str(t_local[b.test_mask[0]][0])[:16] == "2020-06-08T00:00"
    np.testing.assert_allclose(b.obs["Qh"][0], 40.0)


def test_bowen_closure_option(tmp_path):
    (tmp_path / "none.csv").write_text("site,lat\n")
    p = _collection(tmp_path, extra='corrected = "bowen"')
    df = _frame("2020-06-01")[["time", "h"]].assign(le=60.0, rn=200.0, g=20.0)
    df.to_csv(tmp_path / "flux.csv", index=False)
    p.write_text(p.read_text() + 'le = { variable = "Qle", units = "W m-2" }\n'
                 'rn = { variable = "Rnet", units = "W m-2" }\ng = { variable = "Qg", units = "W m-2" }\n')
    b = sites.load_collection(p)
    # H + LE = 100 against Rn - G = 180: both scaled by 1.8
    np.testing.assert_allclose(b.obs["Qh_cor"][0], 72.0)
    np.testing.assert_allclose(b.obs["Qle_cor"][0], 108.0)
    assert any("Bowen" in n for n in b.reports[0]["notes"])


def test_met_and_flux_files_that_do_not_overlap(tmp_path):
    (tmp_path / "none.csv").write_text("site,lat\n")
    p = _collection(tmp_path, flux_start="2021-06-01")
    with pytest.raises(ObservationError) as err:
        sites.load_collection(p)
    msg = str(err.value)
    assert "\n" not in msg and "do not overlap" in msg and "met.csv" in msg and "flux.csv" in msg


@pytest.mark.parametrize("extra,words", [
    ('colour = "green"', ["unknown key", "colour"]),
    ('long_gaps = "ignore"', ["long_gaps", "ignore"]),
    ('period = ["2020-06-05", "2020-06-01"]', ["period", "not before"]),
    ('split = { test_days = 3 }', ["split", "test_start"]),
])
def test_collection_mistakes_are_named(tmp_path, extra, words):
    (tmp_path / "none.csv").write_text("site,lat\n")
    with pytest.raises(ConfigError) as err:
        sites.read_collection(_collection(tmp_path, extra=extra))
    msg = str(err.value)
    assert "\n" not in msg and "XX-Tst" in msg and "c.toml" in msg
    for w in words:
        assert w in msg, (w, msg)


def test_collection_with_a_missing_file(tmp_path):
    (tmp_path / "none.csv").write_text("site,lat\n")
    p = _collection(tmp_path)
    p.write_text(p.read_text().replace("flux.csv", "fluxes_2020.csv"))
    with pytest.raises(DataFileError) as err:
        sites.read_collection(p)
    assert "fluxes_2020.csv" in str(err.value) and "XX-Tst" in str(err.value)
