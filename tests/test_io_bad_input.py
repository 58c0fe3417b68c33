"""Bad flux-site files: every one a one-line error naming the file, the variable or column,
and the time where one applies. Small bad files are written to tmp_path."""

from __future__ import annotations

import zipfile

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from jlsm import io
from jlsm.errors import DataFileError, ForcingError, InputError, ObservationError
from jlsm.io.ameriflux import read_ameriflux_base
from jlsm.io.fluxnet2015 import read_fluxnet2015


def _one_line(exc_info, *parts):
    msg = str(exc_info.value)
    assert "\n" not in msg, msg
    for p in parts:
        assert p in msg, (p, msg)
    return msg


def _fluxnet_frame(n=96, start="201507010000"):
    t0 = pd.to_datetime(start, format="%Y%m%d%H%M")
    t = pd.date_range(t0, periods=n, freq="30min")
    h = t.hour + t.minute / 60
    return pd.DataFrame({
        "TIMESTAMP_START": t.strftime("%Y%m%d%H%M").astype(np.int64),
        "TIMESTAMP_END": (t + pd.Timedelta("30min")).strftime("%Y%m%d%H%M").astype(np.int64),
        "TA_F": 15 + 5 * np.sin(2 * np.pi * (h - 9) / 24), "TA_F_QC": 0,
        "SW_IN_F": np.maximum(0, 800 * np.sin(2 * np.pi * (h - 6) / 24)), "SW_IN_F_QC": 0,
        "VPD_F": 8.0, "VPD_F_QC": 0, "PA_F": 98.0, "PA_F_QC": 0, "P_F": 0.0, "P_F_QC": 0,
        "WS_F": 2.0, "WS_F_QC": 0, "H_F_MDS": 50.0, "H_F_MDS_QC": 0,
    })


def test_missing_column(tmp_path):
    p = tmp_path / "FLX_XX-Bad_FLUXNET2015_SUBSET_HH_2015-2015.csv"
    _fluxnet_frame().drop(columns=["TA_F", "TA_F_QC"]).to_csv(p, index=False)
    with pytest.raises(DataFileError) as err:
        read_fluxnet2015(p)
    _one_line(err, str(p), "TA_F", "Tair")


def test_unit_the_reader_cannot_interpret(tmp_path):
    p = tmp_path / "site.csv"
    _fluxnet_frame().to_csv(p, index=False)
    cmap = {"TA_F": {"variable": "Tair", "units": "degF"}, "SW_IN_F": {"variable": "SWdown", "units": "W m-2"}}
    with pytest.raises(InputError) as err:
        io.read_csv_columns(p, cmap, time_column="TIMESTAMP_START")
    _one_line(err, str(p), "'TA_F'", "'Tair'", "'degF'")


@pytest.mark.parametrize("how", ["duplicate", "reversed"])
def test_bad_time_axis(tmp_path, how):
    df = _fluxnet_frame()
    if how == "duplicate":
        df.loc[10, "TIMESTAMP_START"] = df.loc[9, "TIMESTAMP_START"]
        stamp, word = "2015-07-01T04:30", "repeats"
    else:
        df = df.iloc[::-1].reset_index(drop=True)
        stamp, word = "2015-07-02T23:00", "backwards"
    p = tmp_path / f"FLX_XX-Bad_{how}.csv"
    df.to_csv(p, index=False)
    with pytest.raises(DataFileError) as err:
        read_fluxnet2015(p)
    _one_line(err, str(p), "TIMESTAMP_START", stamp, word)


def test_met_and_flux_not_overlapping(tmp_path):
    met, flux = tmp_path / "met.csv", tmp_path / "flux.csv"
    _fluxnet_frame().to_csv(met, index=False)
    _fluxnet_frame(start="201608010000").to_csv(flux, index=False)
    forcing, _ = io.read_csv_columns(met, {"TA_F": {"variable": "Tair", "units": "degC"}},
                                     time_column="TIMESTAMP_START")
    _, obs = io.read_csv_columns(flux, {"TA_F": {"variable": "Tair", "units": "degC"},
                                        "H_F_MDS": {"variable": "Qh", "units": "W m-2"}},
                                 time_column="TIMESTAMP_START")
    with pytest.raises(ObservationError) as err:
        io.align(forcing, obs)
    _one_line(err, "do not overlap", str(met), str(flux), "2015-07-01T00:00:00", "2016-08-01T00:00:00")


def test_met_and_flux_with_different_steps(tmp_path):
    met, flux = tmp_path / "met.csv", tmp_path / "flux.csv"
    _fluxnet_frame().to_csv(met, index=False)
    _fluxnet_frame().iloc[::2].to_csv(flux, index=False)
    forcing, _ = io.read_csv_columns(met, {"TA_F": {"variable": "Tair", "units": "degC"}},
                                     time_column="TIMESTAMP_START")
    _, obs = io.read_csv_columns(flux, {"TA_F": {"variable": "Tair", "units": "degC"},
                                        "H_F_MDS": {"variable": "Qh", "units": "W m-2"}},
                                 time_column="TIMESTAMP_START")
    with pytest.raises(ObservationError) as err:
        io.align(forcing, obs)
    _one_line(err, str(flux), "3600 s", "1800 s")


def test_zip_without_the_expected_csv(tmp_path):
    z = tmp_path / "AMF_XX-Bad_BASE-BADM_1-1.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("README.txt", "no data here")
        zf.writestr("AMF_XX-Bad_BASE_HH_1-1.txt", "TIMESTAMP_START,TA\n")
    with pytest.raises(DataFileError) as err:
        read_ameriflux_base(z)
    _one_line(err, str(z), "AMF_<site>_BASE_HH", "README.txt")


def test_column_map_naming_a_column_that_is_not_there(tmp_path):
    p = tmp_path / "site.csv"
    _fluxnet_frame().to_csv(p, index=False)
    cmap = {"TA_F": {"variable": "Tair", "units": "degC"}, "LW_IN_F": {"variable": "LWdown", "units": "W m-2"}}
    with pytest.raises(DataFileError) as err:
        io.read_csv_columns(p, cmap, time_column="TIMESTAMP_START")
    _one_line(err, str(p), "'LW_IN_F'", "LWdown")


def test_column_map_with_unknown_variable():
    with pytest.raises(InputError) as err:
        io.column_map({"TA_F": {"variable": "AirTemp", "units": "degC"}}, source="sites.toml")
    _one_line(err, "sites.toml", "'TA_F'", "'AirTemp'")


def test_gap_longer_than_allowed(tmp_path):
    df = _fluxnet_frame(n=48 * 12)
    df.loc[100:100 + 48 * 3, "WS_F"] = -9999
    p = tmp_path / "FLX_XX-Gap_FLUXNET2015_SUBSET_HH_2015-2015.csv"
    df.to_csv(p, index=False)
    forcing, _ = read_fluxnet2015(p, utc_offset_hours=0)
    with pytest.raises(ForcingError) as err:
        io.complete_forcing(forcing, latitude=45.0, longitude=0.0, elevation=200.0, max_gap_hours=24.0)
    _one_line(err, str(p), "'Wind'", "2015-07-03T02:00:00", "2015-07-06T02:00:00", "max_gap_hours=24")


def test_non_numeric_value(tmp_path):
    df = _fluxnet_frame()
    df["TA_F"] = df["TA_F"].astype(object)
    df.loc[7, "TA_F"] = "n/a?"
    p = tmp_path / "FLX_XX-Txt.csv"
    df.to_csv(p, index=False)
    with pytest.raises(DataFileError) as err:
        read_fluxnet2015(p)
    _one_line(err, str(p), "'TA_F'", "row 9")


def test_implausible_value_names_the_time(tmp_path):
    df = _fluxnet_frame()
    df.loc[20, "PA_F"] = 980.0  # hPa written in a kPa column
    p = tmp_path / "FLX_XX-Pa.csv"
    df.to_csv(p, index=False)
    with pytest.raises(ForcingError) as err:
        read_fluxnet2015(p)
    _one_line(err, str(p), "'PSurf'", "2015-07-01T10:00:00")


def test_missing_stamps_become_missing_values(tmp_path):
    df = _fluxnet_frame().drop(index=[30, 31, 32]).reset_index(drop=True)
    p = tmp_path / "FLX_XX-Hole.csv"
    df.to_csv(p, index=False)
    forcing, _ = read_fluxnet2015(p)
    assert forcing.sizes["time"] == 96
    assert np.isnan(forcing["Tair"].values[30:33]).all() and (forcing["Tair_qc"].values[30:33] == 9).all()


def test_interval_label_unknown_refused():
    ds = xr.Dataset({"Tair": ("time", np.ones(3))},
                    coords={"time": np.arange(3) * np.timedelta64(30, "m") + np.datetime64("2020-01-01", "ns")},
                    attrs={"source": "x.csv", "time_label": "unknown"})
    with pytest.raises(InputError) as err:
        io.to_interval_start(ds)
    _one_line(err, "x.csv", "time_label")
