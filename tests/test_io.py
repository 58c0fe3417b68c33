"""Tests of jlsm.io: the three real data sets (skipped if absent) and synthetic files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from jlsm import io
from jlsm.errors import DataFileError, ForcingError, InputError, ObservationError

WP = "west-phoenix/US-WestPhoenix_clean_observations_v1.nc"
CN_MET = "cn-changling/CN-Cng_2008-2009_FLUXNET2015_Met.nc"
CN_FLUX = "cn-changling/CN-Cng_2008-2009_FLUXNET2015_Flux.nc"
DE_IN = "de-hainich/Hainich_2018_input.csv"
DE_FLUX = "de-hainich/Hainich_2018_fluxes.csv"
DE_HAI_LONGITUDE = 10.4530  # degrees east


def _real(relative):
    """Path of a shared data file; skips naming the file and its source if absent."""
    try:
        return io.data_file(relative)
    except DataFileError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def west_phoenix():
    return io.read_urban_plumber(_real(WP))


@pytest.fixture(scope="module")
def changling():
    return io.read_plumber2(_real(CN_MET), _real(CN_FLUX))


@pytest.fixture(scope="module")
def hainich():
    return io.read_fluxnet_csv(_real(DE_IN), _real(DE_FLUX), utc_offset_hours=1.0)


def _solar_noon_offset_minutes(ds, longitude):
    """Minutes between the SWdown-weighted centre of the day (UTC) and solar noon."""
    t = pd.DatetimeIndex(ds["time"].values)
    step_h = ds.attrs["timestep_seconds"] / 3600.0
    hour = t.hour + t.minute / 60.0
    # centre of each averaging interval
    hour = hour + {"end": -0.5, "start": 0.5}[ds.attrs["time_label"]] * step_h
    sw = ds["SWdown"].values
    ok = np.isfinite(sw)
    ang = 2 * np.pi * hour[ok] / 24.0
    centre = np.arctan2(np.sum(sw[ok] * np.sin(ang)), np.sum(sw[ok] * np.cos(ang))) * 24 / (2 * np.pi)
    noon = 12.0 - longitude / 15.0
    return ((centre - noon + 12.0) % 24.0 - 12.0) * 60.0


# --------------------------------------------------------------------------
# real files


def test_west_phoenix_variables_and_units(west_phoenix):
    forcing, obs = west_phoenix
    assert set(io.FORCING_VARIABLES) <= set(forcing.data_vars)
    for v in ("SWup", "LWup", "Qh", "Qle", "SoilTemp", "Ts"):
        assert v in obs
    assert forcing.sizes["time"] == obs.sizes["time"] == 18313
    tair = forcing["Tair"].values
    assert 230.0 < np.nanmin(tair) and np.nanmax(tair) < 330.0
    assert forcing["Tair"].attrs["units"] == "K"
    assert forcing["PSurf"].attrs["units"] == "Pa" and 9.0e4 < np.nanmedian(forcing["PSurf"]) < 1.0e5
    assert forcing["Wind"].attrs["source_variable"] == "Wind_N, Wind_E"
    assert np.nanmin(forcing["Wind"]) >= 0.0
    assert forcing.attrs["utc_offset_hours"] == -7.0 and forcing.attrs["time_zone"] == "UTC"
    assert str(forcing.time.values[0])[:16] == "2011-12-16T18:30"
    assert obs["SoilTemp"].dims == ("time", "depth")
    np.testing.assert_allclose(obs["depth"].values, [0.02])
    assert obs["depth"].attrs["units"] == "m"
    assert forcing.attrs["albedo_midday"] == pytest.approx(0.172)
    ts = obs["Ts"].values
    assert 260.0 < np.nanmin(ts) and np.nanmax(ts) < 345.0
    # gaps are kept in the forcing and counted
    assert forcing["Tair"].attrs["n_missing"] == int(np.isnan(tair).sum()) > 0


def test_west_phoenix_qc_masking(west_phoenix):
    netCDF4 = pytest.importorskip("netCDF4")
    _, obs = west_phoenix
    with netCDF4.Dataset(_real(WP)) as nc:
        nc.set_auto_mask(False)
        raw = np.asarray(nc["SoilTemp"][:], dtype=float)
        qc = np.asarray(nc["SoilTemp_qc"][:])
    # raw values hold no NaN (missing is -999); flagged values become NaN
    assert np.isnan(raw).sum() == 0
    n_nan = int(np.isnan(obs["SoilTemp"].values).sum())
    assert n_nan > np.isnan(raw).sum()
    assert n_nan == int((qc > 0).sum())
    # in this file every flagged value (qc 3) is already missing
    assert obs["SoilTemp"].attrs["n_qc_masked"] == 0


def test_west_phoenix_hourly_and_window(west_phoenix):
    forcing, obs = west_phoenix
    hourly = io.to_hourly(forcing)
    assert abs(hourly.sizes["time"] - forcing.sizes["time"] / 2) <= 1
    assert hourly.attrs["timestep_seconds"] == 3600.0
    # end-labelled: the hour stamped 19:00 averages the stamps 18:30 and 19:00
    assert str(hourly.time.values[0])[:16] == "2011-12-16T19:00"
    np.testing.assert_allclose(hourly["Tair"].values[0], forcing["Tair"].values[:2].mean())
    win = io.select_window(hourly, "2012-05-01 00:00", 150)  # local = UTC-7
    assert win.sizes["time"] == 150
    assert str(win.time.values[0])[:16] == "2012-05-01T07:00"
    assert str(win.time.values[-1])[:16] == "2012-05-07T12:00"
    obs_win = io.select_window(io.to_hourly(obs), "2012-05-01 00:00", 150, utc_offset_hours=-7)
    np.testing.assert_array_equal(obs_win.time.values, win.time.values)
    # the forcing, soil and surface temperatures are complete in this window
    io.check_forcing(win)
    for v in ("SoilTemp", "Ts", "LWup", "Qh", "Qle"):
        assert not np.isnan(obs_win[v].values).any(), v
    # SWup is missing at night
    assert np.isnan(obs_win["SWup"].values).any()


def test_west_phoenix_window_outside_span(west_phoenix):
    forcing, _ = west_phoenix
    with pytest.raises(ObservationError) as err:
        io.select_window(forcing, "2014-01-01T00:00", 24)
    msg = str(err.value)
    assert "US-WestPhoenix_clean_observations_v1.nc" in msg and "2011-12-16T18:30" in msg


def test_changling(changling):
    forcing, obs = changling
    assert set(io.FORCING_VARIABLES) <= set(forcing.data_vars)
    assert forcing["PSurf"].attrs["source_variable"] == "Psurf"
    assert forcing["Rainf"].attrs["source_variable"] == "Precip"
    tair = forcing["Tair"].values
    assert 230.0 < np.nanmin(tair) and np.nanmax(tair) < 330.0
    assert forcing.attrs["utc_offset_hours"] == 8.0
    # file time 2008-01-01 00:00 local (UTC+8)
    assert str(forcing.time.values[0])[:16] == "2007-12-31T16:00"
    assert forcing.sizes["time"] == 35089 and obs.sizes["time"] == 35088
    for v in ("Qh", "Qle", "Qg", "Rnet", "SWup"):
        assert v in obs and obs[v].attrs["units"] == "W m-2"
    assert "SoilTemp" not in obs and "Ts" not in obs
    # no gaps in this gap-filled forcing
    io.check_forcing(forcing)


def test_changling_qc_masking(changling):
    _, obs = changling
    with xr.open_dataset(_real(CN_FLUX)) as raw:
        qh = raw["Qh"].values.ravel()
        qc = raw["Qh_qc"].values.ravel()
    assert np.isnan(qh).sum() == 0
    n_nan = int(np.isnan(obs["Qh"].values).sum())
    assert n_nan == int((qc > 0).sum()) > 0
    assert obs["Qh"].attrs["n_qc_masked"] == n_nan
    _, loose = io.read_plumber2(_real(CN_MET), _real(CN_FLUX), qc_max=5)
    assert np.isnan(loose["Qh"].values).sum() == 0


def test_hainich(hainich):
    forcing, obs = hainich
    assert set(io.FORCING_VARIABLES) <= set(forcing.data_vars)
    tair = forcing["Tair"].values
    assert 230.0 < tair.min() and tair.max() < 330.0
    assert 9.0e4 < forcing["PSurf"].values.mean() < 1.0e5
    q = forcing["Qair"].values
    assert 0.0 < q.min() and q.max() < 0.03
    # P_F is mm per hour: 510.6 mm in 2018
    assert forcing["Rainf"].values.sum() * 3600.0 == pytest.approx(510.6, rel=1e-6)
    np.testing.assert_allclose(obs["depth"].values, [0.02, 0.05, 0.10, 0.20, 0.50])
    np.testing.assert_allclose(obs["depth_swc"].values, [0.05, 0.15, 0.30])
    assert obs["SoilTemp"].dims == ("time", "depth")
    st = obs["SoilTemp"].values
    assert 260.0 < st.min() and st.max() < 310.0
    sm = obs["SoilMoist"].values
    assert 0.05 < sm.min() and sm.max() < 0.6
    for v in ("Qg", "Qh", "Qle", "SWup", "LWup", "Ts"):
        assert v in obs
    # Date.Time marks the end of the hour in local standard time (UTC+1)
    assert forcing.attrs["time_label"] == "end"
    assert str(forcing.time.values[0])[:16] == "2018-01-01T00:00"
    io.check_forcing(forcing)
    # already hourly
    assert io.to_hourly(forcing).sizes["time"] == forcing.sizes["time"]


def test_hainich_local_time_without_offset():
    forcing, _ = io.read_fluxnet_csv(_real(DE_IN))
    assert forcing.attrs["time_zone"] == "local standard time"
    assert "utc_offset_hours" not in forcing.attrs
    assert str(forcing.time.values[0])[:16] == "2018-01-01T01:00"
    win = io.select_window(forcing, "2018-06-01T00:00", 48)
    assert str(win.time.values[0])[:16] == "2018-06-01T00:00"


def test_time_zones_match_solar_noon(west_phoenix, changling, hainich):
    """After conversion to UTC the daylight is centred on solar noon."""
    cases = [
        (west_phoenix[0], west_phoenix[0].attrs["longitude"]),
        (changling[0], changling[0].attrs["longitude"]),
        (hainich[0], DE_HAI_LONGITUDE),
    ]
    for ds, lon in cases:
        assert abs(_solar_noon_offset_minutes(ds, lon)) < 15.0, ds.attrs["source"]


# --------------------------------------------------------------------------
# synthetic files


def _times(n, step_minutes=30, start="2012-05-01T00:00"):
    return np.datetime64(start, "ns") + np.arange(n) * np.timedelta64(step_minutes, "m")


def _up_dataset(n=48):
    """A small Urban-PLUMBER-like dataset (UTC, local = UTC-7)."""
    t = _times(n)
    hours = np.arange(n) / 2.0
    rng = np.random.default_rng(0)
    flux = {"units": "W/m2"}
    data = {
        "SWdown": ("time", np.clip(800 * np.sin(2 * np.pi * (hours - 13) / 24), 0, None), flux),
        "LWdown": ("time", 350 + 10 * np.sin(2 * np.pi * hours / 24), flux),
        "Tair": ("time", 295 + 5 * np.sin(2 * np.pi * hours / 24), {"units": "K"}),
        "Qair": ("time", np.full(n, 0.006), {"units": "kg/kg"}),
        "PSurf": ("time", np.full(n, 97000.0), {"units": "Pa"}),
        "Rainf": ("time", np.zeros(n), {"units": "kg/m2/s"}),
        "Wind_N": ("time", np.full(n, 3.0), {"units": "m/s"}),
        "Wind_E": ("time", np.full(n, 4.0), {"units": "m/s"}),
        "LWup": ("time", 450 + rng.normal(0, 5, n), flux),
        "Qh": ("time", 100 + rng.normal(0, 10, n), flux),
        "SoilTemp": ("time", 300 + np.sin(2 * np.pi * hours / 24), {"units": "K", "depth": "0.02 m"}),
    }
    ds = xr.Dataset(data, coords={"time": t})
    for v in list(data):
        ds[v].attrs["ancillary_variables"] = f"{v}_qc"
        ds[f"{v}_qc"] = ("time", np.zeros(n, dtype=np.int8))
    ds.attrs.update({"sitename": "XX-Test", "time_shown_in": "UTC", "local_utc_offset_hours": -7.0})
    return ds


def _write(ds, path):
    ds.to_netcdf(path)
    return path


def test_read_urban_plumber_synthetic_qc(tmp_path):
    ds = _up_dataset()
    ds["Qh_qc"][5:8] = 1
    ds["SoilTemp_qc"][10] = 2
    ds["Tair_qc"][3] = 1
    p = _write(ds, tmp_path / "XX-Test_clean_observations_v1.nc")
    forcing, obs = io.read_urban_plumber(p)
    assert np.isnan(obs["Qh"].values[5:8]).all()
    assert np.isnan(obs["Qh"].values).sum() == 3
    assert obs["Qh"].attrs["n_qc_masked"] == 3
    assert np.isnan(obs["SoilTemp"].values).sum() == 1
    # forcing values are kept, the flag is counted
    assert not np.isnan(forcing["Tair"].values).any()
    assert forcing["Tair"].attrs["n_flagged"] == 1
    np.testing.assert_allclose(forcing["Wind"].values, 5.0)
    _, loose = io.read_urban_plumber(p, qc_max=2)
    assert not np.isnan(loose["Qh"].values).any()
    assert not np.isnan(loose["SoilTemp"].values).any()


def test_read_urban_plumber_units_conversion(tmp_path):
    ds = _up_dataset()
    ds["Tair"] = ds["Tair"] - 273.15
    ds["Tair"].attrs = {"units": "degC"}
    ds["PSurf"] = ds["PSurf"] / 100.0
    ds["PSurf"].attrs = {"units": "hPa"}
    forcing, _ = io.read_urban_plumber(_write(ds, tmp_path / "c.nc"))
    np.testing.assert_allclose(forcing["Tair"].values, _up_dataset()["Tair"].values)
    np.testing.assert_allclose(forcing["PSurf"].values, 97000.0)
    assert forcing["Tair"].attrs["source_units"] == "degC"


def test_read_urban_plumber_singleton_xy_and_local_time(tmp_path):
    ds = _up_dataset().expand_dims(y=[1.0], x=[1.0]).transpose("time", "y", "x")
    ds.attrs["time_shown_in"] = "local"
    forcing, obs = io.read_urban_plumber(_write(ds, tmp_path / "xy.nc"))
    assert forcing["Tair"].dims == ("time",)
    assert str(forcing.time.values[0])[:16] == "2012-05-01T07:00"
    assert obs["SoilTemp"].shape == (48, 1)


def test_unknown_units_raise(tmp_path):
    ds = _up_dataset()
    ds["Tair"].attrs["units"] = "furlongs"
    with pytest.raises(InputError, match="Tair"):
        io.read_urban_plumber(_write(ds, tmp_path / "u.nc"))


def test_implausible_values_raise(tmp_path):
    ds = _up_dataset()
    ds["Tair"].attrs["units"] = "K"
    ds["Tair"] = ds["Tair"] - 273.15  # deg C labelled as K
    ds["Tair"].attrs["units"] = "K"
    with pytest.raises(ForcingError, match="Tair"):
        io.read_urban_plumber(_write(ds, tmp_path / "k.nc"))


def test_missing_file():
    with pytest.raises(DataFileError, match="nowhere.nc"):
        io.read_urban_plumber("/nonexistent/nowhere.nc")
    with pytest.raises(DataFileError, match="nowhere_Met.nc"):
        io.read_plumber2("/nonexistent/nowhere_Met.nc")
    with pytest.raises(DataFileError, match="nowhere.csv"):
        io.read_fluxnet_csv("/nonexistent/nowhere.csv")


def test_not_a_netcdf(tmp_path):
    p = tmp_path / "notes.nc"
    p.write_text("this is not a NetCDF file\n")
    with pytest.raises(DataFileError, match="notes.nc"):
        io.read_urban_plumber(p)


def test_file_lacking_a_variable(tmp_path):
    ds = _up_dataset().drop_vars(["LWdown", "LWdown_qc"])
    p = _write(ds, tmp_path / "nolw.nc")
    with pytest.raises(DataFileError) as err:
        io.read_urban_plumber(p)
    assert "LWdown" in str(err.value) and "nolw.nc" in str(err.value)


def test_qc_of_wrong_length(tmp_path):
    ds = _up_dataset().drop_vars("Qh_qc")
    ds["Qh_qc"] = ("time_qc", np.zeros(47, dtype=np.int8))
    p = _write(ds, tmp_path / "badqc.nc")
    with pytest.raises(ObservationError) as err:
        io.read_urban_plumber(p)
    assert "'Qh'" in str(err.value) and "'Qh_qc'" in str(err.value)


def test_soil_depth_missing_and_given(tmp_path):
    ds = _up_dataset()
    del ds["SoilTemp"].attrs["depth"]
    p = _write(ds, tmp_path / "nodepth.nc")
    with pytest.raises(ObservationError, match="SoilTemp"):
        io.read_urban_plumber(p)
    _, obs = io.read_urban_plumber(p, soil_depth=0.05)
    np.testing.assert_allclose(obs["depth"].values, [0.05])


def test_surface_temperature_from_lwup():
    eps, ts, lwd = 0.95, np.array([280.0, 300.0, 320.0]), np.array([300.0, 350.0, 400.0])
    lwup = eps * io.SIGMA * ts**4 + (1 - eps) * lwd
    np.testing.assert_allclose(io.surface_temperature_from_lwup(lwup, lwd, eps), ts, rtol=1e-12)
    np.testing.assert_allclose(io.surface_temperature_from_lwup(io.SIGMA * ts**4, lwd, 1.0), ts)
    out = io.surface_temperature_from_lwup(np.array([np.nan, -5.0]), np.array([300.0, 300.0]))
    assert np.isnan(out).all()
    with pytest.raises(InputError, match="emissivity"):
        io.surface_temperature_from_lwup(lwup, lwd, 1.5)


def test_humidity_helpers():
    t, p = 293.15, 101325.0
    es = io.saturation_vapour_pressure(t)
    assert es == pytest.approx(2337.8, rel=1e-3)  # Tetens at 20 deg C
    q_sat = io.specific_humidity_from_rh(100.0, t, p)
    assert io.specific_humidity_from_vpd(0.0, t, p) == pytest.approx(q_sat)
    q50 = io.specific_humidity_from_rh(50.0, t, p)
    e = 0.5 * es
    assert q50 == pytest.approx(0.622 * e / (p - 0.378 * e))
    assert 0.0071 < q50 < 0.0074
    assert io.specific_humidity_from_vpd(es / 2, t, p) == pytest.approx(q50)
    with pytest.raises(InputError, match="deg C"):
        io.specific_humidity_from_rh(50.0, 20.0, p)
    with pytest.raises(InputError, match="hPa"):
        io.specific_humidity_from_vpd(10.0, t, 1013.25)
    with pytest.raises(InputError, match="fraction"):
        io.specific_humidity_from_rh(np.array([0.5, 0.6]), t, p)


def _fluxnet_frames(n=48):
    start = pd.Timestamp("2018-07-01 00:00")
    ts = pd.date_range(start, periods=n, freq="30min")
    hours = np.arange(n) / 2.0
    inp = pd.DataFrame({
        "TIMESTAMP_START": ts.strftime("%Y%m%d%H%M").astype(np.int64),
        "TA_F": 20 + 5 * np.sin(2 * np.pi * hours / 24),
        "SW_IN_F": np.clip(700 * np.sin(2 * np.pi * (hours - 6) / 24), 0, None),
        "LW_IN_F": np.full(n, 330.0),
        "RH": np.full(n, 60.0),
        "PA_F": np.full(n, 96.0),
        "WS_F": np.full(n, 2.0),
        "P_F": np.where(np.arange(n) == 3, 1.8, 0.0),
    })
    flux = pd.DataFrame({
        "TIMESTAMP_START": inp["TIMESTAMP_START"],
        "LW_OUT": np.full(n, 420.0),
        "H_F_MDS": np.full(n, 50.0),
        "TS_F_MDS_1": np.full(n, 15.0),
        "TS_F_MDS_2": np.full(n, 14.0),
        "SWC_F_MDS_1": np.full(n, 0.31),
    })
    return inp, flux


def test_fluxnet_csv_synthetic(tmp_path):
    inp, flux = _fluxnet_frames()
    inp.loc[5, "TA_F"] = -9999
    flux.loc[7, "H_F_MDS"] = -9999
    pi, pf = tmp_path / "in.csv", tmp_path / "flux.csv"
    inp.to_csv(pi, index=False)
    flux.to_csv(pf, index=False)
    forcing, obs = io.read_fluxnet_csv(pi, pf, utc_offset_hours=2.0, soil_depths=[0.05, 0.1])
    assert forcing.attrs["time_label"] == "start"
    assert str(forcing.time.values[0])[:16] == "2018-06-30T22:00"
    assert np.isnan(forcing["Tair"].values[5]) and np.isnan(forcing["Qair"].values[5])
    assert forcing["Tair"].attrs["n_missing"] == 1
    assert np.isnan(obs["Qh"].values[7])
    np.testing.assert_allclose(forcing["PSurf"].values, 96000.0)
    # 1.8 mm in a 30 min step
    assert forcing["Rainf"].values[3] == pytest.approx(1.8 / 1800.0)
    expected_q = io.specific_humidity_from_rh(60.0, forcing["Tair"].values, 96000.0)
    np.testing.assert_allclose(forcing["Qair"].values, expected_q)
    np.testing.assert_allclose(obs["depth"].values, [0.05, 0.1])
    np.testing.assert_allclose(obs["SoilTemp"].values[0], [288.15, 287.15])
    # already a fraction: kept
    np.testing.assert_allclose(obs["SoilMoist"].values, 0.31)
    assert "Ts" in obs
    with pytest.raises(ForcingError, match="Tair"):
        io.check_forcing(forcing)
    _, obs_pct = io.read_fluxnet_csv(pi, pf, soil_depths=[0.05, 0.1], swc_units="%")
    np.testing.assert_allclose(obs_pct["SoilMoist"].values, 0.0031)
    with pytest.raises(InputError, match="time_label"):
        io.read_fluxnet_csv(pi, time_label="middle")


def test_fluxnet_csv_missing_column(tmp_path):
    inp, _ = _fluxnet_frames()
    p = tmp_path / "in.csv"
    inp.drop(columns="TA_F").to_csv(p, index=False)
    with pytest.raises(DataFileError) as err:
        io.read_fluxnet_csv(p)
    assert "Tair" in str(err.value) and "TA_F" in str(err.value) and "in.csv" in str(err.value)


def test_fluxnet_csv_too_many_soil_levels(tmp_path):
    inp, flux = _fluxnet_frames()
    pi, pf = tmp_path / "in.csv", tmp_path / "flux.csv"
    inp.to_csv(pi, index=False)
    flux.to_csv(pf, index=False)
    with pytest.raises(ObservationError, match="soil_depths"):
        io.read_fluxnet_csv(pi, pf, soil_depths=[0.05])


def test_fluxnet_csv_no_time_column(tmp_path):
    p = tmp_path / "notime.csv"
    pd.DataFrame({"TA_F": [1.0, 2.0], "SW_IN_F": [0.0, 1.0]}).to_csv(p, index=False)
    with pytest.raises(DataFileError, match="time column"):
        io.read_fluxnet_csv(p)


# --------------------------------------------------------------------------
# time axis, gaps and checks


def _forcing(n=48, step_minutes=30, **attrs):
    t = _times(n, step_minutes)
    hours = np.arange(n) * step_minutes / 60.0
    ds = xr.Dataset(
        {
            "SWdown": ("time", np.clip(800 * np.sin(2 * np.pi * (hours - 6) / 24), 0, None), {"units": "W m-2"}),
            "LWdown": ("time", np.full(n, 350.0), {"units": "W m-2"}),
            "Tair": ("time", 290 + np.arange(n, dtype=float) * 0.1, {"units": "K"}),
        },
        coords={"time": t},
        attrs={"source": "synthetic.nc", "time_zone": "UTC", **attrs},
    )
    return ds


def test_to_hourly_labels():
    ds = _forcing(7, time_label="end")
    ds["Tair"][3] = np.nan
    ds["Tair"].attrs["n_missing"] = 1
    h = io.to_hourly(ds)
    # stamps 00:00 .. 03:00; (H-1, H] bins: 00:00 alone is incomplete and dropped
    assert [str(t)[11:16] for t in h.time.values] == ["01:00", "02:00", "03:00"]
    np.testing.assert_allclose(h["Tair"].values[0], 290.15)
    assert np.isnan(h["Tair"].values[1])  # one half missing
    assert h["Tair"].attrs["n_missing"] == 1
    s = io.to_hourly(ds, label="start")
    assert [str(t)[11:16] for t in s.time.values] == ["00:00", "01:00", "02:00"]
    np.testing.assert_allclose(s["Tair"].values[0], 290.05)
    with pytest.raises(InputError, match="does not divide"):
        io.to_hourly(_forcing(6, step_minutes=40))


def test_to_hourly_keeps_depth_dimension():
    t = _times(4)
    ds = xr.Dataset({"SoilTemp": (("time", "depth"), np.arange(8.0).reshape(4, 2))},
                    coords={"time": t, "depth": [0.02, 0.05]}, attrs={"time_label": "start"})
    h = io.to_hourly(ds)
    assert h["SoilTemp"].dims == ("time", "depth")
    np.testing.assert_allclose(h["SoilTemp"].values, [[1.0, 2.0], [5.0, 6.0]])
    np.testing.assert_allclose(h["depth"].values, [0.02, 0.05])


def test_select_window_synthetic():
    ds = _forcing(48, step_minutes=60, utc_offset_hours=-7.0)
    w = io.select_window(ds, "2012-05-01T00:00", 10)
    assert str(w.time.values[0])[:16] == "2012-05-01T07:00" and w.sizes["time"] == 10
    w = io.select_window(ds, "2012-05-01T00:00", 48, utc_offset_hours=0)
    assert w.sizes["time"] == 48
    with pytest.raises(ObservationError, match="synthetic.nc"):
        io.select_window(ds, "2012-05-01T00:00", 49, utc_offset_hours=0)
    with pytest.raises(ObservationError, match="my forcing"):
        io.select_window(ds, "2013-01-01", 5, name="my forcing")
    no_offset = _forcing(48, step_minutes=60)
    with pytest.raises(InputError, match="utc_offset_hours"):
        io.select_window(no_offset, "2012-05-01T00:00", 5)
    holed = ds.isel(time=[i for i in range(48) if i != 10])
    with pytest.raises(ObservationError, match="missing time steps"):
        io.select_window(holed, "2012-05-01T00:00", 10)


def test_fill_gaps_linear():
    ds = _forcing(20)
    truth = ds["Tair"].values.copy()
    ds["Tair"][[3, 4, 5]] = np.nan
    ds["SWdown"][10] = np.nan
    filled, report = io.fill_gaps(ds, max_gap_steps=3)
    np.testing.assert_allclose(filled["Tair"].values, truth, rtol=0, atol=1e-9)
    assert report == {"SWdown": 1, "LWdown": 0, "Tair": 3}
    assert filled["Tair"].attrs["n_filled"] == 3
    sw = ds["SWdown"].values
    assert filled["SWdown"].values[10] == pytest.approx((sw[9] + sw[11]) / 2)
    # the input is not modified
    assert np.isnan(ds["Tair"].values[3])
    io.check_forcing(filled)


def test_fill_gaps_two_dimensional():
    t = _times(6)
    v = np.c_[np.arange(6.0), 10 + 2 * np.arange(6.0)]
    v[2, 1] = np.nan
    ds = xr.Dataset({"SoilTemp": (("time", "depth"), v)}, coords={"time": t, "depth": [0.02, 0.05]})
    filled, report = io.fill_gaps(ds)
    assert filled["SoilTemp"].values[2, 1] == pytest.approx(14.0)
    assert report == {"SoilTemp": 1}


def test_fill_gaps_long_gap_raises():
    ds = _forcing(20)
    ds["Tair"][4:10] = np.nan
    with pytest.raises(ForcingError) as err:
        io.fill_gaps(ds, max_gap_steps=4)
    msg = str(err.value)
    assert "'Tair'" in msg and "6 steps" in msg and "2012-05-01T02:00" in msg
    # only the named variable is filled
    filled, report = io.fill_gaps(ds, variables=["SWdown"], max_gap_steps=4)
    assert report == {"SWdown": 0}


def test_fill_gaps_edge_gap_raises():
    ds = _forcing(20)
    ds["LWdown"][0] = np.nan
    with pytest.raises(ForcingError, match="'LWdown'.*start"):
        io.fill_gaps(ds)
    with pytest.raises(ForcingError, match="'Qair' not found"):
        io.fill_gaps(_forcing(5), variables=["Qair"])


def test_gap_report():
    ds = _forcing(20)
    ds["Tair"][[3, 4, 9]] = np.nan
    rep = io.gap_report(ds)
    assert rep["Tair"] == [("2012-05-01T01:30:00", 2), ("2012-05-01T04:30:00", 1)]
    assert rep["SWdown"] == []


def test_check_forcing_errors():
    good = _forcing(10)
    assert io.check_forcing(good) is good
    with pytest.raises(ForcingError) as err:
        io.check_forcing(good.drop_vars("LWdown"), source="site.nc")
    msg = str(err.value)
    assert "site.nc" in msg and "'LWdown'" in msg and "LW_IN_F" in msg
    bad = good.copy(deep=True)
    bad["SWdown"][4] = np.nan
    with pytest.raises(ForcingError, match="'SWdown'.*2012-05-01T02:00"):
        io.check_forcing(bad)
    cold = good.copy(deep=True)
    cold["Tair"] = cold["Tair"] - 273.15
    with pytest.raises(ForcingError, match="deg C"):
        io.check_forcing(cold)
    t = good.time.values.copy()
    t[5], t[6] = t[6], t[5]
    with pytest.raises(ForcingError, match="not strictly increasing at 2012-05-01T02:30"):
        io.check_forcing(good.assign_coords(time=t))
    t = good.time.values.copy()
    t[7:] += np.timedelta64(10, "m")
    with pytest.raises(ForcingError, match="irregular at 2012-05-01T03:40"):
        io.check_forcing(good.assign_coords(time=t))
    hot = good.copy(deep=True)
    hot["Tair"][2] = 400.0
    with pytest.raises(ForcingError, match="Tair"):
        io.check_forcing(hot)


def test_data_dir_env(monkeypatch, tmp_path):
    monkeypatch.setenv("JLSM_DATA_DIR", str(tmp_path))
    assert io.data_dir() == tmp_path
    with pytest.raises(DataFileError) as err:
        io.data_file("west-phoenix/US-WestPhoenix_clean_observations_v1.nc")
    assert "US-WestPhoenix_clean_observations_v1.nc" in str(err.value)
    assert "zenodo" in str(err.value)
    (tmp_path / "a.txt").write_text("x")
    assert io.data_file("a.txt") == tmp_path / "a.txt"
    monkeypatch.setenv("JLSM_DATA_DIR", str(tmp_path / "absent"))
    assert io.data_dir() is None
