"""Config files (jlsm.config): schema, ``extends``, evaluation, and bad input.

Bad input must raise a jlsm error naming the file, the variable and the times;
the command line prints it on one line and exits with status 2.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from jlsm import config as C
from jlsm.errors import ConfigError, DataFileError, ForcingError, JlsmError, ObservationError

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SIGMA = 5.670374419e-8


def _up_dataset(days=6, start="2012-04-30T00:30"):
    """A small Urban-PLUMBER-like file: UTC stamps at interval ends, local = UTC-7."""
    n = days * 48
    t = np.datetime64(start, "ns") + np.arange(n) * np.timedelta64(30, "m")
    local_hours = (np.arange(n) / 2.0 + 0.5 - 7.0) % 24
    day = np.sin(2 * np.pi * (local_hours - 6.5) / 24)
    flux = {"units": "W/m2"}
    ts = 303 + 12 * day
    lwd = 340 + 15 * day
    data = {
        "SWdown": ("time", np.clip(1000 * np.sin(np.pi * (local_hours - 6.5) / 13), 0, None), flux),
        "LWdown": ("time", lwd, flux),
        "Tair": ("time", 299 + 5 * day, {"units": "K"}),
        "Qair": ("time", np.full(n, 0.006), {"units": "kg/kg"}),
        "PSurf": ("time", np.full(n, 97000.0), {"units": "Pa"}),
        "SWup": ("time", 0.17 * np.clip(1000 * np.sin(np.pi * (local_hours - 6.5) / 13), 0, None), flux),
        "LWup": ("time", 0.95 * SIGMA * ts**4 + 0.05 * lwd, flux),
        "Qh": ("time", 100 + 80 * day, flux),
        "Qle": ("time", 20 + 10 * day, flux),
        "SoilTemp": ("time", 305 + 10 * np.sin(2 * np.pi * (local_hours - 7.5) / 24), {"units": "K", "depth": "0.02 m"}),
    }
    ds = xr.Dataset(data, coords={"time": t})
    for v in list(data):
        ds[v].attrs["ancillary_variables"] = f"{v}_qc"
        ds[f"{v}_qc"] = ("time", np.zeros(n, dtype=np.int8))
    ds.attrs.update({"sitename": "XX-Test", "time_shown_in": "UTC", "local_utc_offset_hours": -7.0})
    return ds


CONFIG = """
[data]
format = "urban-plumber"
forcing = "{data}"
hourly = true

[window]
start = "2012-05-01T00:00"
spinup_hours = 24
fit_hours = 48
test_hours = 24

[model]
depth = 0.5
nodes = 21

[observations]
variables = {{ ts = "Ts", "soil_temperature@0.02" = "SoilTemp@0.02" }}
evaluate = {{ lw_up = "LWup", turbulent = "Qh+Qle" }}

[parameters]
free = {{ h_eff = [6.0, 60.0], conductivity = [0.1, 4.0] }}
fixed = {{ albedo = 0.17 }}

[reference]
name = "defaults"
values = {{ h_eff = 17.0, conductivity = 0.6 }}

[inversion]
starts = 2
polish = 3
"""


def _setup(tmp_path, ds=None, text=CONFIG, name="case.toml", **fmt):
    data = tmp_path / "XX-Test_clean_observations_v1.nc"
    if ds is not False:
        (ds if ds is not None else _up_dataset()).to_netcdf(data)
    cfg = tmp_path / name
    cfg.write_text(textwrap.dedent(text.format(data=data, **fmt)))
    return cfg


def _message(err) -> str:
    return str(err.value)


# --------------------------------------------------------------------------
# good configs


def test_examples_load():
    for path in sorted(EXAMPLES.glob("*.toml")):
        if path.name == "sites.toml":  # a site collection (jlsm.sites), not an inversion config
            continue
        cfg = C.load_config(path)
        assert cfg["_path"] == str(path)
    wp = C.load_config(EXAMPLES / "west_phoenix.toml")
    surface = C.load_config(EXAMPLES / "west_phoenix_surface.toml")
    assert surface["observations"]["variables"] == {"ts": "Ts"}  # replaced, not merged
    assert surface["parameters"] == wp["parameters"] and surface["window"] == wp["window"]
    assert C.load_config(EXAMPLES / "west_phoenix_albedo_observed.toml")["parameters"]["fixed"] == {"albedo": "observed"}
    ref = wp["reference"]["values"]
    assert ref["h_eff"] == pytest.approx(12.5 * (1 + 1 / 2.75))


def test_run_problem_evaluates_fitted_evaluated_and_reference(tmp_path):
    run = C.run_problem(_setup(tmp_path))
    r = run.result
    assert list(r["evaluated"].values) == ["ts", "soil_temperature@0.02", "lw_up", "turbulent"]
    assert list(r["window"].values) == ["fit", "validation"]
    assert r["evaluation"].dims == ("start", "window", "evaluated", "metric")
    assert np.isfinite(r["evaluation"].sel(metric="rmse")).all()
    assert np.isfinite(r["reference_evaluation"].sel(metric="kge")).all()
    # the fitted variables' metrics agree with the inversion's own
    best = int(r["best_start"])
    for v in ("ts", "soil_temperature@0.02"):
        for w in ("fit", "validation"):
            assert float(r["evaluation"].sel(start=best, window=w, evaluated=v, metric="rmse")) == pytest.approx(
                float(r["metric_value"].sel(start=best, window=w, variable=v, metric="rmse")), rel=1e-6)
    # spin-up, fit and test windows: 24 + 48 + 24 hourly steps
    assert run.forcing.n_times == 96 and run.fit == (24, 72) and run.validate == (72, 96)
    # Ts is consistent with the model's LWup: eps sigma Ts^4 + (1 - eps) LWdown = LWup
    lw = 0.95 * SIGMA * run.obs_ds["Ts"].values ** 4 + 0.05 * run.forcing_ds["LWdown"].values
    np.testing.assert_allclose(lw, run.obs_ds["LWup"].values, rtol=1e-12)
    s = C.summarise(run)
    assert s["reference"]["name"] == "defaults" and "lw_up" in s["skill"]["validation"]
    assert "skill of the best start" in C.report(run)


def test_absorb_all_longwave_changes_ts(tmp_path):
    text = CONFIG.replace("nodes = 21", "nodes = 21\nabsorb_all_longwave = true")
    cfg = C.load_config(_setup(tmp_path, text=text))
    _, obs = C.read_data(cfg)
    np.testing.assert_allclose(0.95 * SIGMA * obs["Ts"].values ** 4, obs["LWup"].values, rtol=1e-12)


def test_observed_initial_profile_and_origin(tmp_path):
    text = CONFIG.replace("nodes = 21", 'nodes = 21\ntop = "prescribed"\ntop_temperature = "Tair"\norigin_depth = 0.0\ninitial = "observed"')
    # Tair is not an observation; the prescribed top must come from the observations
    cfg = C.load_config(_setup(tmp_path, text=text))
    forcing_ds, obs_ds = C.read_data(cfg)
    with pytest.raises(DataFileError, match="'Tair'"):
        C.build_problem(cfg, forcing_ds, obs_ds)
    text = CONFIG.replace("nodes = 21", 'nodes = 21\ntop = "prescribed"\ntop_temperature = "SoilTemp@0.02"\n'
                                        'origin_depth = 0.02\ninitial = "observed"\nbottom = "zero_flux"')
    text = text.replace('variables = {{ ts = "Ts", "soil_temperature@0.02" = "SoilTemp@0.02" }}',
                        'variables = {{ "soil_temperature@0.02" = "SoilTemp@0.02" }}')
    cfg = C.load_config(_setup(tmp_path, text=text, name="b.toml"))
    forcing_ds, obs_ds = C.read_data(cfg)
    model, forcing, obs, space, initial, fit, validate = C.build_problem(cfg, forcing_ds, obs_ds)
    assert obs.names == ("soil_temperature@0",)
    np.testing.assert_allclose(initial, obs_ds["SoilTemp"].values[0, 0])


def test_extends_replaces_keys(tmp_path):
    base = _setup(tmp_path)
    child = tmp_path / "child.toml"
    child.write_text('extends = "case.toml"\n[observations]\nvariables = { ts = "Ts" }\n')
    cfg = C.load_config(child)
    assert cfg["observations"]["variables"] == {"ts": "Ts"}
    assert cfg["observations"]["evaluate"] == C.load_config(base)["observations"]["evaluate"]
    loop = tmp_path / "loop.toml"
    loop.write_text('extends = "loop.toml"\n')
    with pytest.raises(ConfigError, match="cycle"):
        C.load_config(loop)


# --------------------------------------------------------------------------
# bad input: data


def test_file_lacking_a_forcing_variable(tmp_path):
    ds = _up_dataset().drop_vars(["LWdown", "LWdown_qc"])
    cfg = C.load_config(_setup(tmp_path, ds=ds))
    with pytest.raises(DataFileError) as err:
        C.read_data(cfg)
    assert "LWdown" in _message(err) and "XX-Test_clean_observations_v1.nc" in _message(err)


def test_file_lacking_an_observed_variable(tmp_path):
    ds = _up_dataset().drop_vars(["SoilTemp", "SoilTemp_qc"])
    cfg = C.load_config(_setup(tmp_path, ds=ds))
    forcing_ds, obs_ds = C.read_data(cfg)
    with pytest.raises(DataFileError) as err:
        C.build_problem(cfg, forcing_ds, obs_ds)
    assert "'SoilTemp'" in _message(err) and "XX-Test_clean_observations_v1.nc" in _message(err)


def test_qc_variable_of_wrong_length(tmp_path):
    ds = _up_dataset().drop_vars("LWup_qc")
    ds["LWup_qc"] = ("time_qc", np.zeros(ds.sizes["time"] - 3, dtype=np.int8))
    cfg = C.load_config(_setup(tmp_path, ds=ds))
    with pytest.raises(ObservationError) as err:
        C.read_data(cfg)
    msg = _message(err)
    assert "'LWup_qc'" in msg and "'LWup'" in msg and "XX-Test_clean_observations_v1.nc" in msg
    assert f"({ds.sizes['time'] - 3},)" in msg


def test_window_outside_the_time_span(tmp_path):
    text = CONFIG.replace('start = "2012-05-01T00:00"', 'start = "2012-06-01T00:00"')
    cfg = C.load_config(_setup(tmp_path, text=text))
    with pytest.raises(ObservationError) as err:
        C.read_data(cfg)
    msg = _message(err)
    assert "XX-Test_clean_observations_v1.nc" in msg and "outside the time span" in msg
    # the window asked for (from the start of the 24 h spin-up) and the file's span
    assert "2012-05-31T00:00" in msg and "2012-04-30" in msg


def test_forcing_gap_longer_than_the_allowed_fill(tmp_path):
    ds = _up_dataset()
    i = int(np.flatnonzero(ds["time"].values == np.datetime64("2012-05-01T20:00"))[0])
    ds["SWdown"][i : i + 8] = np.nan  # 4 h
    text = CONFIG.replace("hourly = true", "hourly = true\nmax_gap_steps = 2")
    cfg = C.load_config(_setup(tmp_path, ds=ds, text=text))
    with pytest.raises(ForcingError) as err:
        C.read_data(cfg)
    msg = _message(err)
    assert "'SWdown'" in msg and "XX-Test_clean_observations_v1.nc" in msg
    assert "2012-05-01T20:00:00" in msg and "max_gap_steps=2" in msg
    # a short gap is filled; without filling the gap is reported with its times
    ds["SWdown"][i + 2 : i + 8] = ds["SWdown"][i + 2 : i + 8].fillna(0.0) + 500.0
    cfg = C.load_config(_setup(tmp_path, ds=ds, text=text, name="short.toml"))
    forcing, _ = C.read_data(cfg)
    assert np.isfinite(forcing["SWdown"]).all()
    cfg = C.load_config(_setup(tmp_path, ds=ds, name="nofill.toml"))
    with pytest.raises(ForcingError, match=r"'SWdown'.*2012-05-01T20:00:00"):
        C.read_data(cfg)


def test_fitted_variable_missing_in_fit_window(tmp_path):
    ds = _up_dataset()
    ds["SoilTemp_qc"][:] = 3
    cfg = C.load_config(_setup(tmp_path, ds=ds))
    forcing_ds, obs_ds = C.read_data(cfg)
    with pytest.raises(ObservationError) as err:
        C.build_problem(cfg, forcing_ds, obs_ds)
    msg = _message(err)
    assert "SoilTemp@0.02" in msg and "XX-Test_clean_observations_v1.nc" in msg and "2012-05-01T07:00:00" in msg


def test_data_file_not_found(tmp_path):
    cfg = C.load_config(_setup(tmp_path, ds=False))
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
    assert "in.csv" in _message(err) and "Tair" in _message(err) and "TA_F" in _message(err)


# --------------------------------------------------------------------------
# bad input: the config itself


@pytest.mark.parametrize(
    "change, pattern",
    [
        (("[inversion]", "[inversion]\ncolour = 1"), r"unknown key\(s\) \['colour'\] in \[inversion\]"),
        (("[inversion]", "[inverse]"), r"unknown section\(s\) or key\(s\) \['inverse'\]"),
        (("[reference]", "[reference]\nweight = 2"), r"unknown key\(s\) \['weight'\] in \[reference\]"),
        (('start = "2012-05-01T00:00"', ""), r"\[window\] lacks required key\(s\) \['start'\]"),
        (('format = "urban-plumber"', ""), r"\[data\] lacks required key\(s\) \['format'\]"),
        (('format = "urban-plumber"', 'format = "csv"'), r"\[data\] format must be one of"),
        (('start = "2012-05-01T00:00"', 'start = "May 1st"'), r"\[window\] start 'May 1st' is not an ISO date-time"),
        (("fit_hours = 48", "fit_hours = -5"), r"\[window\] fit_hours must be > 0"),
        (("h_eff = [6.0, 60.0]", "h_eff = [60.0, 6.0]"), r"free.h_eff must be \[lo, hi\] with lo < hi"),
        (("h_eff = 17.0, ", ""), r"\[reference\] values must give a number for each free parameter"),
        (("[model]", "[model]\ninitial = \"warm\""), r"\[model\] initial must be"),
    ],
)
def test_bad_config(tmp_path, change, pattern):
    cfg = _setup(tmp_path, text=CONFIG.replace(*change))
    with pytest.raises(ConfigError, match=pattern) as err:
        C.load_config(cfg)
    assert str(cfg) in _message(err)


def test_unknown_model_parameter(tmp_path):
    cfg = C.load_config(_setup(tmp_path, text=CONFIG.replace("[model]", "[model.parameters]\nlamda = 1.0\n[model]")))
    forcing_ds, obs_ds = C.read_data(cfg)
    with pytest.raises(ConfigError, match=r"lamda.*\[model.parameters\]"):
        C.build_problem(cfg, forcing_ds, obs_ds)


def test_unreadable_config(tmp_path):
    missing = tmp_path / "nothing.toml"
    with pytest.raises(DataFileError, match="nothing.toml: config file not found"):
        C.load_config(missing)
    bad = tmp_path / "bad.toml"
    bad.write_text("[data\nformat = 1\n")
    with pytest.raises(ConfigError, match=r"bad.toml: not valid TOML"):
        C.load_config(bad)
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe")
    with pytest.raises(ConfigError, match=r"binary.toml: cannot read the config: not a UTF-8 text file"):
        C.load_config(binary)
    with pytest.raises(ConfigError, match="is a folder"):
        C.load_config(tmp_path)
    assert issubclass(ConfigError, JlsmError) and issubclass(DataFileError, JlsmError)


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "jlsm.cli", *args], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("kind", ["unknown key", "missing variable", "not toml"])
def test_cli_bad_config_one_line_exit_2(tmp_path, kind):
    if kind == "unknown key":
        cfg = _setup(tmp_path, text=CONFIG.replace("[inversion]", "[inversion]\ncolour = 1"), name="bad.toml")
        expected = "colour"
    elif kind == "missing variable":
        cfg = _setup(tmp_path, ds=_up_dataset().drop_vars(["LWdown", "LWdown_qc"]), name="bad.toml")
        expected = "LWdown"
    else:
        cfg = tmp_path / "bad.toml"
        cfg.write_text("this is not = = toml")
        expected = "not valid TOML"
    proc = _cli("invert", str(cfg), "--no-progress", "--out", str(tmp_path / "out"))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("jlsm: error: ") and expected in lines[0]
    assert "Traceback" not in proc.stderr and proc.stdout == ""
