"""Reading a config's data (jlsm.config.data): Ts from LWup, and bad data files named by file, variable and time."""

import numpy as np
import pandas as pd
import pytest

from config_cases import CONFIG, SIGMA, message, setup_case, up_dataset
from jlsm import config as C
from jlsm.errors import DataFileError, ForcingError, ObservationError


def test_absorb_all_longwave_changes_ts(tmp_path):
    text = CONFIG.replace("nodes = 21", "nodes = 21\nabsorb_all_longwave = true")
    cfg = C.load_config(setup_case(tmp_path, text=text))
    _, obs = C.read_data(cfg)
    np.testing.assert_allclose(0.95 * SIGMA * obs["Ts"].values ** 4, obs["LWup"].values, rtol=1e-12)


def test_file_lacking_a_forcing_variable(tmp_path):
    ds = up_dataset().drop_vars(["LWdown", "LWdown_qc"])
    cfg = C.load_config(setup_case(tmp_path, ds=ds))
    with pytest.raises(DataFileError) as err:
        C.read_data(cfg)
    assert "LWdown" in message(err) and "XX-Test_clean_observations_v1.nc" in message(err)


def test_qc_variable_of_wrong_length(tmp_path):
    ds = up_dataset().drop_vars("LWup_qc")
    ds["LWup_qc"] = ("time_qc", np.zeros(ds.sizes["time"] - 3, dtype=np.int8))
    cfg = C.load_config(setup_case(tmp_path, ds=ds))
    with pytest.raises(ObservationError) as err:
        C.read_data(cfg)
    msg = message(err)
    assert "'LWup_qc'" in msg and "'LWup'" in msg and "XX-Test_clean_observations_v1.nc" in msg
    assert f"({ds.sizes['time'] - 3},)" in msg


def test_window_outside_the_time_span(tmp_path):
    text = CONFIG.replace('start = "2012-05-01T00:00"', 'start = "2012-06-01T00:00"')
    cfg = C.load_config(setup_case(tmp_path, text=text))
    with pytest.raises(ObservationError) as err:
        C.read_data(cfg)
    msg = message(err)
    assert "XX-Test_clean_observations_v1.nc" in msg and "outside the time span" in msg
    # the window asked for (from the start of the 24 h spin-up) and the file's span
    assert "2012-05-31T00:00" in msg and "2012-04-30" in msg


def test_forcing_gap_longer_than_the_allowed_fill(tmp_path):
    ds = up_dataset()
    i = int(np.flatnonzero(ds["time"].values == np.datetime64("2012-05-01T20:00"))[0])
    ds["SWdown"][i : i + 8] = np.nan  # 4 h
    text = CONFIG.replace("hourly = true", "hourly = true\nmax_gap_steps = 2")
    cfg = C.load_config(setup_case(tmp_path, ds=ds, text=text))
    with pytest.raises(ForcingError) as err:
        C.read_data(cfg)
    msg = message(err)
    assert "'SWdown'" in msg and "XX-Test_clean_observations_v1.nc" in msg
    assert "2012-05-01T20:00:00" in msg and "max_gap_steps=2" in msg
    # a short gap is filled; without filling the gap is reported with its times
    ds["SWdown"][i + 2 : i + 8] = ds["SWdown"][i + 2 : i + 8].fillna(0.0) + 500.0
    cfg = C.load_config(setup_case(tmp_path, ds=ds, text=text, name="short.toml"))
    forcing, _ = C.read_data(cfg)
    assert np.isfinite(forcing["SWdown"]).all()
    cfg = C.load_config(setup_case(tmp_path, ds=ds, name="nofill.toml"))
    with pytest.raises(ForcingError, match=r"'SWdown'.*2012-05-01T20:00:00"):
        C.read_data(cfg)


def test_data_file_not_found(tmp_path):
    cfg = C.load_config(setup_case(tmp_path, ds=False))
    with pytest.raises(DataFileError, match="XX-Test_clean_observations_v1.nc.*not found"):
        C.read_data(cfg)


def test_fluxnet_csv_lacking_a_column(tmp_path):
    t = pd.date_range("2018-07-01 01:00", periods=96, freq="h")
    pd.DataFrame({"Date.Time": t.strftime("%Y-%m-%d %H:%M:%S"), "SW_IN_F": 0.0, "LW_IN_F": 330.0}).to_csv(tmp_path / "in.csv", index=False)
    pd.DataFrame({"Date.Time": t.strftime("%Y-%m-%d %H:%M:%S"), "TS_F_MDS_1": 15.0}).to_csv(tmp_path / "flux.csv", index=False)
    text = f"""
[data]
format = "fluxnet-csv"
forcing = "{tmp_path / 'in.csv'}"
fluxes = "{tmp_path / 'flux.csv'}"
utc_offset_hours = 1
[window]
start = "2018-07-01T06:00"
fit_hours = 24
[observations]
variables = {{ "soil_temperature@0.05" = "SoilTemp@0.05" }}
[parameters]
free = {{ diffusivity = [1e-8, 1e-6] }}
"""
    cfg = tmp_path / "csv.toml"
    cfg.write_text(text)
    with pytest.raises(DataFileError) as err:
        C.read_data(C.load_config(cfg))
    assert "in.csv" in message(err) and "Tair" in message(err) and "TA_F" in message(err)
