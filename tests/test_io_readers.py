"""The readers of every shared flux-site format: values at known stamps read from the raw
files here, units, QC masking, time zones (skipped when a shared file is absent)."""

from __future__ import annotations

import gzip
import importlib.util
import sys
import zipfile

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from jlsm import io
from jlsm.errors import DataFileError
from jlsm.io import solar
from jlsm.io.ameriflux import read_ameriflux_base
from jlsm.io.fluxnet2015 import read_fluxnet2015

CN_MET = "cn-changling/CN-Cng_2008-2009_FLUXNET2015_Met.nc"
CN_FLUX = "cn-changling/CN-Cng_2008-2009_FLUXNET2015_Flux.nc"
DE_THA = "de-tharandt/FLX_DE-Tha_FLUXNET2015_SUBSET_HH_2010-2010.csv.gz"
FR_PUE = "fr-puechabon/FLX_FR-Pue_FLUXNET2015_SUBSET_HH_2005-2005.csv.gz"
ES_LMA = "es-lasmajadas/ES-LMa_2015-2018_HH.csv.gz"
US_CRT = "us-crt/AMF_US-CRT_BASE-BADM_2-5.zip"
DE_IN = "de-hainich/Hainich_2018_input.csv"
DE_FLUX = "de-hainich/Hainich_2018_fluxes.csv"
SITES = None


def _real(relative):
    """Path of a shared data file; skips naming the file and its source if absent."""
    try:
        return io.data_file(relative)
    except DataFileError as exc:
        pytest.skip(str(exc))


def _site(code):
    table = pd.read_csv(_real("sites.csv"))
    return table.set_index("site").loc[code]


def sw_centre_minutes(ds, longitude, sw=None):
    """SWdown-weighted centre of the day minus local solar noon [min], averaged over the
    record (time in UTC; each value placed at the middle of its interval)."""
    t = ds["time"].values.astype("datetime64[ns]")
    half = np.timedelta64(int(ds.attrs["timestep_seconds"] * 5e8), "ns")
    mid = t + half if ds.attrs["time_label"] == "start" else t - half
    hours = (mid - mid.astype("datetime64[D]")).astype("int64") / 3.6e12
    ang = 2 * np.pi * (hours - solar.solar_noon_utc_hours(mid, longitude)) / 24.0
    sw = ds["SWdown"].values if sw is None else sw
    ok = np.isfinite(sw)
    return float(np.arctan2(np.sum(sw[ok] * np.sin(ang[ok])), np.sum(sw[ok] * np.cos(ang[ok])))
                 * 24 * 60 / (2 * np.pi))


def _raw_csv(relative):
    return pd.read_csv(_real(relative), na_values=[-9999])


def _at(ds, stamp_local, offset_hours):
    """Index of the UTC step whose local stamp is ``stamp_local``."""
    t = np.datetime64(stamp_local, "ns") - np.timedelta64(int(offset_hours * 3600), "s")
    i = np.flatnonzero(ds["time"].values == t)
    assert i.size == 1, stamp_local
    return int(i[0])


# --------------------------------------------------------------------------
# FLUXNET2015 (DE-Tha, FR-Pue, ES-LMa)


@pytest.fixture(scope="module")
def tharandt():
    return read_fluxnet2015(_real(DE_THA), utc_offset_hours=1)


def test_fluxnet2015_values_units_and_time(tharandt):
    forcing, obs = tharandt
    raw = _raw_csv(DE_THA)
    assert forcing.sizes["time"] == len(raw) == 17520
    assert forcing.attrs["time_zone"] == "UTC" and forcing.attrs["time_label"] == "start"
    # first stamp 2010-01-01 00:00 local (UTC+1) is 2009-12-31 23:00 UTC
    assert str(forcing["time"].values[0])[:16] == "2009-12-31T23:00"
    for row in (0, 4321, 12000):
        stamp = pd.to_datetime(str(raw["TIMESTAMP_START"][row]), format="%Y%m%d%H%M")
        i = _at(forcing, stamp, 1)
        assert forcing["Tair"].values[i] == pytest.approx(raw["TA_F"][row] + 273.15)
        assert forcing["PSurf"].values[i] == pytest.approx(raw["PA_F"][row] * 1000.0)
        assert forcing["VPD"].values[i] == pytest.approx(raw["VPD_F"][row] * 100.0)
        assert forcing["Rainf"].values[i] == pytest.approx(raw["P_F"][row] / 1800.0)
        assert forcing["SWdown"].values[i] == pytest.approx(raw["SW_IN_F"][row])
        e = raw["VPD_F"][row] * 100.0
        es = 610.78 * np.exp(17.27 * raw["TA_F"][row] / (raw["TA_F"][row] + 237.3))
        q = 0.622 * (es - e) / (raw["PA_F"][row] * 1000.0 - 0.378 * (es - e))
        assert forcing["Qair"].values[i] == pytest.approx(q, rel=1e-9)
    assert forcing["Tair"].attrs["units"] == "K" and forcing["Tair"].attrs["source_units"] == "degC"
    assert forcing["Rainf"].attrs["source_variable"] == "P_F"
    # precipitation total is conserved: sum of mm per step
    assert forcing["Rainf"].values.sum() * 1800.0 == pytest.approx(raw["P_F"].sum(), rel=1e-12)
    assert "LWdown" not in forcing  # not in the file: estimated later, never invented here


def test_fluxnet2015_qc_honoured(tharandt):
    forcing, obs = tharandt
    raw = _raw_csv(DE_THA)
    qc = raw["H_F_MDS_QC"].values
    h = obs["Qh"].values
    assert np.all(np.isnan(h[qc > 0]))
    np.testing.assert_allclose(h[qc == 0], raw["H_F_MDS"].values[qc == 0])
    assert obs["Qh"].attrs["n_qc_masked"] == int((qc > 0).sum()) > 0
    np.testing.assert_array_equal(obs["Qh_qc"].values, qc)
    # forcing keeps provider-filled values, flagged 1
    tq = raw["TA_F_QC"].values
    np.testing.assert_array_equal(forcing["Tair_qc"].values == 1, tq > 0)
    assert np.isfinite(forcing["Tair"].values).all()
    # qc_max = 1 keeps the good-quality gap-filled values too
    _, loose = read_fluxnet2015(_real(DE_THA), utc_offset_hours=1, qc_max=1)
    assert np.isnan(loose["Qh"].values).sum() == int((qc > 1).sum())


@pytest.mark.parametrize("relative,code", [(DE_THA, "DE-Tha"), (FR_PUE, "FR-Pue")])
def test_fluxnet2015_time_zone_solar_noon(relative, code):
    site = _site(code)
    forcing, _ = read_fluxnet2015(_real(relative), utc_offset_hours=float(site["utc_offset_h"]))
    assert abs(sw_centre_minutes(forcing, site["lon"])) < 30.0


def test_es_lma_ppfd_time_stamps():
    """ES-LMa has PPFD but no SW_IN. Its stamps read as UTC+1 interval start put the
    daylight 31 min early; read as UTC interval end they fit solar noon."""
    site = _site("ES-LMa")
    forcing, obs = read_fluxnet2015(_real(ES_LMA), utc_offset_hours=1)
    assert "SWdown" not in forcing and "PPFD" in forcing and "LWdown" in forcing
    sw = io.shortwave_from_ppfd(forcing["PPFD"].values)
    assert sw_centre_minutes(forcing, site["lon"], sw) < -30.0
    utc = forcing.assign_coords(time=forcing["time"].values + np.timedelta64(1, "h"))
    utc.attrs.update(forcing.attrs, time_label="end")
    assert abs(sw_centre_minutes(utc, site["lon"], sw)) < 10.0
    # 2016 is a leap year: 2015-12-01 .. 2018-03-01 is 821 days of 48 steps
    assert forcing.sizes["time"] == 821 * 48
    # G_F_MDS has no flag column: kept, and said so
    assert "no flag column" in obs["Qg"].attrs["qc_note"]


# --------------------------------------------------------------------------
# AmeriFlux BASE (US-CRT)


@pytest.fixture(scope="module")
def curtice():
    return read_ameriflux_base(_real(US_CRT))


def _crt_raw():
    with zipfile.ZipFile(_real(US_CRT)) as z:
        return pd.read_csv(z.open("AMF_US-CRT_BASE_HH_2-5.csv"), comment="#", na_values=[-9999])


def test_ameriflux_values_units_and_badm(curtice):
    pytest.importorskip("openpyxl", reason="reading the BADM .xlsx needs openpyxl (extra 'sites')")
    forcing, obs = curtice
    raw = _crt_raw()
    assert forcing.attrs["badm"].startswith("read from AMF_US-CRT_BIF")
    assert forcing.attrs["igbp"] == "CRO" and forcing.attrs["utc_offset_hours"] == -5.0
    assert forcing.attrs["latitude"] == pytest.approx(41.628495)
    assert forcing.attrs["elevation"] == pytest.approx(180.0)
    in_2011 = [h for d, h in zip(forcing.attrs["canopy_height_dates"], forcing.attrs["canopy_height_m"])
               if d.startswith("2011")]
    assert max(in_2011) == pytest.approx(1.125)  # the BIF's 2011 soybean maximum
    # canopy height through the season, linear between the BADM dates
    i = _at(forcing, "2011-08-10T00:00", -5)
    assert forcing["canopy_height"].values[i] == pytest.approx(0.675)
    i = _at(forcing, "2011-08-14T12:00", -5)  # half-way to 0.975 on 2011-08-19
    assert forcing["canopy_height"].values[i] == pytest.approx(0.825)
    for row in (10, 9000, 15000):
        stamp = pd.to_datetime(str(raw["TIMESTAMP_START"][row]), format="%Y%m%d%H%M")
        i = _at(forcing, stamp, -5)
        assert forcing["Tair"].values[i] == pytest.approx(raw["TA"][row] + 273.15)
        assert forcing["LWdown"].values[i] == pytest.approx(raw["LW_IN"][row])
        assert forcing["RH"].values[i] == pytest.approx(raw["RH"][row])
        # G: mean of the two horizontal positions G_1_1_1 and G_2_1_1
        g = np.nanmean([raw["G_1_1_1"][row], raw["G_2_1_1"][row]])
        assert obs["Qg"].values[i] == pytest.approx(g)
        assert obs["SoilMoist"].values[i, 0] == pytest.approx(raw["SWC"][row] / 100.0)
    # not gap-filled: missing stays missing, flagged 9
    ws_missing = raw["WS"].isna().values
    assert np.isnan(forcing["Wind"].values[ws_missing]).all()
    assert (forcing["Wind_qc"].values[ws_missing] == 9).all()
    assert (forcing["Wind_qc"].values[~ws_missing] == 0).all()
    assert obs["Qg"].attrs["source_variable"].startswith("G_1_1_1, G_2_1_1")
    # the BIF has no VAR_INFO: the soil-temperature depth is unknown and said so
    assert np.isnan(obs["depth"].values).all() and "depth not given" in obs["SoilTemp"].attrs["depth_note"]


def test_ameriflux_time_zone_solar_noon(curtice):
    forcing, _ = curtice
    assert abs(sw_centre_minutes(forcing, -83.347086)) < 30.0


# --------------------------------------------------------------------------
# PLUMBER2 (CN-Cng)


@pytest.fixture(scope="module")
def changling():
    return io.read_plumber2(_real(CN_MET), _real(CN_FLUX))


def test_plumber2_flux_variables_and_flags(changling):
    forcing, obs = changling
    with xr.open_dataset(_real(CN_FLUX)) as raw:
        for v in ("Qh", "Qle", "Rnet", "Qg", "Ustar", "SWup"):
            val = raw[v].values.ravel().astype(float)
            qc = raw[f"{v}_qc"].values.ravel()
            np.testing.assert_allclose(obs[v].values[qc == 0], val[qc == 0], rtol=1e-6)
            assert np.isnan(obs[v].values[qc > 0]).all(), v
            np.testing.assert_array_equal(obs[f"{v}_qc"].values, qc)
        # the corrected fluxes are masked with the flags of Qh, Qle
        for v, base in (("Qh_cor", "Qh"), ("Qle_cor", "Qle")):
            qc = raw[f"{base}_qc"].values.ravel()
            assert np.isnan(obs[v].values[qc > 0]).all()
            np.testing.assert_allclose(obs[v].values[qc == 0], raw[v].values.ravel()[qc == 0], rtol=1e-6)
        ustar_units = raw["Ustar"].attrs["units"]
    assert obs["Ustar"].attrs["units"] == "m s-1" and obs["Ustar"].attrs["source_units"] == ustar_units
    assert forcing.attrs["elevation"] > 0 and forcing.attrs["igbp"] == "GRA"
    assert forcing.attrs["canopy_height"] == pytest.approx(0.75)
    # 2008 is a leap year: two years of 30 min steps, plus the closing stamp of the met file
    assert obs.sizes["time"] == (366 + 365) * 48


def test_plumber2_time_zone_solar_noon(changling):
    forcing, _ = changling
    assert abs(sw_centre_minutes(forcing, 123.5092)) < 30.0


# --------------------------------------------------------------------------
# CSV with a column map (DE-Hai)

HAINICH_MAP = {
    "TA_F": {"variable": "Tair", "units": "degC"},
    "SW_IN_F": {"variable": "SWdown", "units": "W m-2"},
    "LW_IN_F": {"variable": "LWdown", "units": "W m-2"},
    "VPD_F": {"variable": "VPD", "units": "hPa"},
    "PA_F": {"variable": "PSurf", "units": "kPa"},
    "P_F": {"variable": "Rainf", "units": "mm"},
    "WS_F": {"variable": "Wind", "units": "m s-1"},
    "PPFD_IN": {"variable": "PPFD", "units": "umol m-2 s-1"},
    "H_F_MDS": {"variable": "Qh", "units": "W m-2"},
    "LE_F_MDS": {"variable": "Qle", "units": "W m-2"},
    "G_F_MDS": {"variable": "Qg", "units": "W m-2"},
    "TS_F_MDS_1": {"variable": "SoilTemp", "units": "degC", "depth": 0.02},
    "TS_F_MDS_3": {"variable": "SoilTemp", "units": "degC", "depth": 0.10},
}


def test_column_map_reads_hainich_like_the_fluxnet_reader():
    files = [_real(DE_IN), _real(DE_FLUX)]
    forcing, obs = io.read_csv_columns(files, HAINICH_MAP, time_column="Date.Time", time_label="end",
                                       utc_offset_hours=1)
    ref_f, ref_o = io.read_fluxnet_csv(*files, utc_offset_hours=1)
    np.testing.assert_array_equal(forcing["time"].values, ref_f["time"].values)
    for v in ("Tair", "SWdown", "LWdown", "PSurf", "Rainf", "Wind", "Qair"):
        np.testing.assert_allclose(forcing[v].values, ref_f[v].values, rtol=1e-12, err_msg=v)
    for v in ("Qh", "Qle", "Qg"):
        np.testing.assert_allclose(obs[v].values, ref_o[v].values, rtol=1e-12, err_msg=v)
    np.testing.assert_allclose(obs["depth"].values, [0.02, 0.10])
    np.testing.assert_allclose(obs["SoilTemp"].values[:, 1], ref_o["SoilTemp"].values[:, 2])
    assert forcing.attrs["time_label"] == "end" and forcing.attrs["time_zone"] == "UTC"
    assert abs(sw_centre_minutes(forcing, _site("DE-Hai")["lon"])) < 30.0


def test_column_map_qc_and_missing_values(tmp_path):
    p = tmp_path / "site.csv.gz"
    df = pd.DataFrame({
        "time": pd.date_range("2020-03-01", periods=6, freq="30min").strftime("%Y-%m-%d %H:%M"),
        "t": [10.0, 11.0, -999.0, 12.0, 13.0, 14.0], "sw": [0, 10, 20, 30, 40, 50],
        "h": [5.0, 6.0, 7.0, 8.0, 9.0, 10.0], "hq": [0, 1, 0, 2, 0, 0],
    })
    with gzip.open(p, "wt") as fh:
        df.to_csv(fh, index=False)
    cmap = {"t": {"variable": "Tair", "units": "degC", "missing": -999},
            "sw": {"variable": "SWdown", "units": "W m-2"},
            "h": {"variable": "Qh", "units": "W m-2"}}
    forcing, obs = io.read_csv_columns(p, cmap, time_column="time")
    assert np.isnan(forcing["Tair"].values[2]) and forcing["Tair_qc"].values[2] == 9
    assert forcing["Tair"].values[0] == pytest.approx(283.15)
    np.testing.assert_allclose(obs["Qh"].values, df["h"].values)
    # with its flag column: only flag 0 means measured
    p2 = tmp_path / "site2.csv"
    df.to_csv(p2, index=False)
    cmap["h"].update(qc="hq", measured=[0])
    _, obs2 = io.read_csv_columns(p2, cmap, time_column="time")
    assert np.isnan(obs2["Qh"].values[[1, 3]]).all()
    np.testing.assert_allclose(obs2["Qh"].values[[0, 2, 4, 5]], [5, 7, 9, 10])
    assert obs2["Qh"].attrs["n_qc_masked"] == 2


# --------------------------------------------------------------------------
# AmeriFlux: BADM depths of positional suffixes, and reading without openpyxl


def _ameriflux_zip(tmp_path, with_badm=True):
    t = pd.date_range("2019-07-01", periods=96, freq="30min")
    h = t.hour + t.minute / 60
    df = pd.DataFrame({
        "TIMESTAMP_START": t.strftime("%Y%m%d%H%M"), "TIMESTAMP_END": (t + pd.Timedelta("30min")).strftime("%Y%m%d%H%M"),
        "TA": 20.0, "SW_IN": np.maximum(0, 800 * np.sin(2 * np.pi * (h - 6) / 24)), "RH": 60.0, "PA": 99.0,
        "TS_1_1_1": 18.0, "TS_1_2_1": 17.0, "TS_2_1_1": 19.0, "H": 50.0,
    })
    z = tmp_path / "AMF_XX-Bdm_BASE-BADM_1-1.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("AMF_XX-Bdm_BASE_HH_1-1.csv", "# Site: XX-Bdm\n# Version: 1-1\n" + df.to_csv(index=False))
        if with_badm:
            rows = [("GRP_IGBP", "IGBP", "GRA", 1), ("GRP_UTC_OFFSET", "UTC_OFFSET", -6, 2),
                    ("GRP_LOCATION", "LOCATION_LAT", 40.0, 3), ("GRP_LOCATION", "LOCATION_LONG", -90.0, 3),
                    ("GRP_VAR_INFO", "VAR_INFO_VARNAME", "TS_1_1_1", 4), ("GRP_VAR_INFO", "VAR_INFO_HEIGHT", -0.05, 4),
                    ("GRP_VAR_INFO", "VAR_INFO_VARNAME", "TS_2_1_1", 5), ("GRP_VAR_INFO", "VAR_INFO_HEIGHT", -0.05, 5),
                    ("GRP_VAR_INFO", "VAR_INFO_VARNAME", "TS_1_2_1", 6), ("GRP_VAR_INFO", "VAR_INFO_HEIGHT", -0.15, 6)]
            bif = pd.DataFrame([{"SITE_ID": "XX-Bdm", "GROUP_ID": g, "VARIABLE_GROUP": grp, "VARIABLE": var,
                                 "DATAVALUE": val} for grp, var, val, g in rows])
            import io as _io

            buf = _io.BytesIO()
            bif.to_excel(buf, index=False)
            zf.writestr("AMF_XX-Bdm_BIF_20200101.xlsx", buf.getvalue())
    return z


def test_ameriflux_positional_suffixes_mapped_to_badm_depths(tmp_path):
    pytest.importorskip("openpyxl", reason="writing and reading the BADM .xlsx needs openpyxl (extra 'sites')")
    forcing, obs = read_ameriflux_base(_ameriflux_zip(tmp_path))
    assert forcing.attrs["utc_offset_hours"] == -6.0 and forcing.attrs["igbp"] == "GRA"
    np.testing.assert_allclose(obs["depth"].values, [0.05, 0.15])
    # TS_1_1_1 and TS_2_1_1 share 5 cm: averaged; TS_1_2_1 at 15 cm
    np.testing.assert_allclose(obs["SoilTemp"].values[0], [18.5 + 273.15, 17.0 + 273.15])
    assert str(forcing["time"].values[0])[:16] == "2019-07-01T06:00"


def test_ameriflux_without_openpyxl_reads_the_data(tmp_path, monkeypatch):
    z = _ameriflux_zip(tmp_path, with_badm=importlib.util.find_spec("openpyxl") is not None)
    monkeypatch.setitem(sys.modules, "openpyxl", None)  # import openpyxl now raises ImportError
    forcing, obs = read_ameriflux_base(z, utc_offset_hours=-6)
    if "BIF" in " ".join(zipfile.ZipFile(z).namelist()):
        assert "not read: openpyxl is not installed" in forcing.attrs["badm"]
    assert "igbp" not in forcing.attrs and forcing.attrs["utc_offset_hours"] == -6.0
    assert np.isnan(obs["depth"].values).all()
    np.testing.assert_allclose(forcing["Tair"].values, 293.15)
    local, _ = read_ameriflux_base(z)
    assert local.attrs["time_zone"] == "local standard time"


def test_plumber2_forcing_flags_from_the_file(tmp_path):
    """A Met file with its own flags: values kept, flagged 1 (filled by the provider) where
    the file's flag exceeds qc_max; LAI read where present."""
    t = pd.date_range("2010-01-01", periods=8, freq="30min").values
    q = np.array([0, 0, 1, 2, 0, 0, 0, 0], dtype=float)

    def var(v, units):
        return (("time", "y", "x"), np.asarray(v, dtype=float).reshape(8, 1, 1), {"units": units})

    ds = xr.Dataset({"Tair": var(np.full(8, 270.0), "K"), "Tair_qc": var(q, "1"),
                     "SWdown": var(np.zeros(8), "W/m2"), "LWdown": var(np.full(8, 250.0), "W/m2"),
                     "LAI": var(np.full(8, 1.5), "1"),
                     "latitude": (("y", "x"), [[45.0]]), "longitude": (("y", "x"), [[7.5]])},
                    coords={"time": t, "x": [0.0], "y": [0.0]})
    p = tmp_path / "XX-Met_2010-2010_FLUXNET2015_Met.nc"
    ds.to_netcdf(p)
    forcing, _ = io.read_plumber2(p)
    np.testing.assert_array_equal(forcing["Tair_qc"].values, (q > 0).astype(int))
    np.testing.assert_allclose(forcing["Tair"].values, 270.0)
    np.testing.assert_allclose(forcing["LAI"].values, 1.5)
    assert forcing.attrs["utc_offset_hours"] == 0.0  # round(7.5 / 15)
    loose, _ = io.read_plumber2(p, qc_max=1)
    np.testing.assert_array_equal(loose["Tair_qc"].values, (q > 1).astype(int))
