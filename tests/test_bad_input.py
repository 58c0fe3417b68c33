"""A catalogue of bad inputs across the public API, the readers and the command line.

Each must raise a jlsm error (rooted in JlsmError) whose message names what is
wrong and where; the command line prints it on one line and exits non-zero.
"""

import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

import jlsm
from jlsm import errors
from jlsm.inverse import invert
from jlsm.observe import Observations
from jlsm.params import ParameterSpace
from jlsm.synthetic import paper_forcing, paper_model, twin_case


def _ds(**over):
    time = np.arange("2012-05-01T00:00", "2012-05-01T06:00", np.timedelta64(1, "h"), dtype="datetime64[ns]")
    data = {"SWdown": np.linspace(0, 400, 6), "LWdown": np.full(6, 350.0), "Tair": np.full(6, 295.0)}
    data.update(over)
    return xr.Dataset({k: ("time", v) for k, v in data.items() if v is not None}, coords={"time": time})


def _forcing(**over):
    args = dict(sw_down=np.zeros(4), lw_down=np.full(4, 300.0), t_air=np.full(4, 290.0), dt=3600.0)
    args.update(over)
    return dict(args)


CASES = [
    # forcing
    ("missing forcing variable", lambda: jlsm.Forcing.from_xarray(_ds(LWdown=None)), errors.ForcingError, "LWdown"),
    ("NaN in forcing", lambda: jlsm.Forcing.from_xarray(_ds(Tair=np.array([295, 295, np.nan, 295, 295, 295.0]))), errors.ForcingError, "Tair.*2012-05-01T02"),
    ("Inf in forcing", lambda: jlsm.Forcing(**_forcing(sw_down=np.array([0, np.inf, 0, 0.0]))), errors.ForcingError, "sw_down.*index 1"),
    ("air temperature in deg C", lambda: jlsm.Forcing.from_xarray(_ds(Tair=np.full(6, 22.0))), errors.ForcingError, "Tair.*Celsius"),
    ("implausible longwave", lambda: jlsm.Forcing(**_forcing(lw_down=np.full(4, 3000.0))), errors.ForcingError, "lw_down.*plausible"),
    ("wrong shape", lambda: jlsm.Forcing(**_forcing(t_air=np.full((4, 2), 290.0))), errors.ForcingError, "t_air.*1-D"),
    ("length mismatch", lambda: jlsm.Forcing(**_forcing(t_air=np.full(5, 290.0))), errors.ForcingError, "t_air has 5"),
    ("non-positive time step", lambda: jlsm.Forcing(**_forcing(dt=0.0)), errors.ForcingError, "dt"),
    ("irregular time", lambda: jlsm.Forcing.from_xarray(_ds().isel(time=[0, 1, 2, 4, 5])), errors.ForcingError, "irregular"),
    ("time not increasing", lambda: jlsm.Forcing.from_xarray(_ds().isel(time=[0, 1, 3, 2, 4, 5])), errors.ForcingError, "not increasing"),
    ("empty forcing window", lambda: paper_forcing().window(50, 50), errors.ForcingError, "window"),
    # grid and model
    ("non-positive grid spacing", lambda: jlsm.SoilGrid([0.0, 0.1, 0.1, 0.3]), errors.GridError, "spacing must be positive"),
    ("grid not starting at the surface", lambda: jlsm.SoilGrid([0.1, 0.2, 0.3]), errors.GridError, "surface"),
    ("negative conductivity", lambda: jlsm.LandSurfaceModel(soil=jlsm.SoilThermal(-0.5, 2e6)), errors.ParameterError, "conductivity"),
    ("zero heat capacity", lambda: jlsm.LandSurfaceModel(soil=jlsm.SoilThermal(0.8, 0.0)), errors.ParameterError, "heat_capacity"),
    ("albedo above one", lambda: jlsm.LandSurfaceModel(radiation=jlsm.Radiation(1.3)), errors.ParameterError, "albedo"),
    ("bottom temperature in deg C", lambda: jlsm.LandSurfaceModel(bottom_temperature=20.0), errors.ParameterError, "bottom_temperature"),
    ("unknown boundary", lambda: jlsm.LandSurfaceModel(top="sunny"), errors.ParameterError, "top must be"),
    ("per-node values of the wrong length", lambda: jlsm.LandSurfaceModel(soil=jlsm.SoilThermal(np.ones(7), 2e6)), errors.ParameterError, "one value per node"),
    ("observation depth outside the column", lambda: jlsm.simulate(paper_model(), paper_forcing(hours=4), depths=(2.0,)), errors.GridError, "2.0 m is outside"),
    ("initial temperature in deg C", lambda: jlsm.simulate(paper_model(), paper_forcing(hours=4), initial=20.0), errors.ParameterError, "kelvin"),
    ("prescribed top without temperature", lambda: jlsm.simulate(jlsm.LandSurfaceModel(top="prescribed"), paper_forcing(hours=4)), errors.ParameterError, "top_temperature"),
    # parameters and observations
    ("bounds lo >= hi", lambda: ParameterSpace({"albedo": (0.5, 0.1)}), errors.ParameterError, "albedo.*lo < hi"),
    ("unknown parameter", lambda: ParameterSpace({"porosity": (0.1, 0.5)}).check_model(paper_model()), errors.ParameterError, "porosity"),
    ("unknown observable", lambda: Observations.from_dict({"soil_moisture": np.ones(3)}), errors.ObservationError, "soil_moisture"),
    ("observation with Inf", lambda: Observations.from_dict({"ts": np.array([290, np.inf, 291.0])}), errors.ObservationError, "ts.*Inf"),
    ("all observations missing", lambda: Observations.from_dict({"ts": np.full(3, np.nan)}), errors.ObservationError, "no observed"),
    ("observation errors not positive", lambda: Observations.from_dict({"ts": np.ones(3)}, errors=0.0), errors.ObservationError, "positive"),
    # readers
    ("unreadable file", lambda: jlsm.io.read_urban_plumber("/nonexistent/site_clean_observations_v1.nc"), errors.DataFileError, "nonexistent"),
]


@pytest.mark.parametrize("name, call, error, match", CASES, ids=[c[0] for c in CASES])
def test_bad_input_raises_a_named_jlsm_error(name, call, error, match):
    with pytest.raises(error, match=match) as info:
        call()
    assert isinstance(info.value, errors.JlsmError)


def test_catalogue_is_large():
    assert len(CASES) >= 20


def test_inversion_arguments_checked_before_compiling():
    model, forcing, obs, space, initial = twin_case("surface+5cm")
    bad_obs = Observations(np.asarray(obs.values)[:50], obs.observables, obs.scale)
    with pytest.raises(errors.ObservationError, match="50 times but the forcing has 101"):
        invert(model, forcing, bad_obs, space)
    with pytest.raises(errors.InputError, match="fit window"):
        invert(model, forcing, obs, space, fit=(10, 5))
    empty = Observations(np.full_like(np.asarray(obs.values), np.nan)[:, :1], obs.observables[:1], obs.scale[:1])
    with pytest.raises((errors.ObservationError, errors.InputError)):
        invert(model, forcing, empty, space)


def _cli(*args, tmp_path=None):
    return subprocess.run([sys.executable, "-m", "jlsm.cli", *args], capture_output=True, text=True, timeout=300)


def test_cli_reports_errors_in_one_line(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[data]\nformat = "urban-plumber"\nforcing = "x.nc"\ncolour = "blue"\n')
    for args in (["invert", str(cfg)], ["invert", str(tmp_path / "missing.toml")]):
        proc = _cli(*args)
        assert proc.returncode == 2, proc.stderr
        lines = [line for line in proc.stderr.strip().splitlines() if line]
        assert len(lines) == 1 and lines[0].startswith("jlsm: error:"), proc.stderr
        assert "Traceback" not in proc.stderr
    assert "colour" in _cli("invert", str(cfg)).stderr


# ---- configs and data files: errors name the config key or the files, and say what was expected

def _check(cfg):
    """``jlsm invert CFG --check``: (exit status, stdout, stderr)."""
    proc = _cli("invert", str(cfg), "--check")
    return proc.returncode, proc.stdout, proc.stderr


def _one_line_error(proc_err, *expected):
    lines = proc_err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("jlsm: error: "), proc_err
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


CONFIG_VALUE_CASES = [
    ("nodes = 21", "nodes = -5", "[model] nodes = -5: expected a positive integer"),
    ("nodes = 21", "nodes = 21\nemissivity = 95", "[model] emissivity = 95: expected a value in (0, 1]"),
    ("nodes = 21", "nodes = 21\ntheta = 0.2", "[model] theta = 0.2: expected a value in [0.5, 1]"),
    ("starts = 2", "starts = 0", "[inversion] starts = 0: expected a positive integer"),
    ("hourly = true", 'hourly = "yes"', '[data] hourly = "yes": expected true or false'),
]


@pytest.mark.parametrize("old, new, expected", CONFIG_VALUE_CASES, ids=[c[2].split(":")[0] for c in CONFIG_VALUE_CASES])
def test_config_value_errors_name_the_key(tmp_path, old, new, expected):
    from jlsm.config import load_config

    from config_cases import CONFIG, setup_case

    assert old in CONFIG
    cfg = setup_case(tmp_path, text=CONFIG.replace(old, new))
    with pytest.raises(errors.ConfigError) as info:
        load_config(cfg)
    assert expected in str(info.value) and str(cfg) in str(info.value)


def test_fixed_parameter_typo_lists_the_valid_names(tmp_path):
    from config_cases import CONFIG, setup_case

    cfg = setup_case(tmp_path, text=CONFIG.replace("fixed = {{ albedo", "fixed = {{ albdo"))
    status, out, err = _check(cfg)
    assert status == 2 and out == ""
    line = _one_line_error(err, "[parameters] fixed.albdo", "did you mean 'albedo'")
    for name in ("albedo", "conductivity", "heat_capacity", "h_eff", "bottom_temperature"):
        assert name in line


def test_forcing_entirely_missing_in_the_window(tmp_path):
    from config_cases import setup_case, up_dataset

    ds = up_dataset()
    ds["LWdown"][:] = np.nan
    status, _, err = _check(setup_case(tmp_path, ds=ds))
    assert status == 2
    _one_line_error(err, "'LWdown'", "entirely missing", "in the window 2012-04-30T", "UTC")


def test_plumber2_format_on_an_urban_plumber_file(tmp_path):
    from config_cases import CONFIG, setup_case

    cfg = setup_case(tmp_path, text=CONFIG.replace('format = "urban-plumber"', 'format = "plumber2"'))
    status, _, err = _check(cfg)
    assert status == 2
    line = _one_line_error(err, 'format = "plumber2" expects a PLUMBER2 met file', "looks like an Urban-PLUMBER file",
                           'use format = "urban-plumber"')
    assert "longitude to estimate" not in line


PLUMBER2_CONFIG = """
[data]
format = "plumber2"
forcing = "{met}"
fluxes = "{flux}"
[window]
start = "2008-07-02T00:00"
spinup_hours = 12
fit_hours = 48
[observations]
variables = {{ turbulent = "Qh+Qle" }}
[parameters]
free = {{ h_eff = [6.0, 60.0], conductivity = [0.1, 4.0] }}
fixed = {{ albedo = 0.2 }}
"""


@pytest.fixture(scope="module")
def plumber2_files(tmp_path_factory):
    """Five days of CN-Cng PLUMBER2 met and flux files, a flux file of the next year, an hourly flux file."""
    from jlsm.io import data_dir

    base = data_dir()
    met = base / "cn-changling" / "CN-Cng_2008-2009_FLUXNET2015_Met.nc" if base else None
    flux = base / "cn-changling" / "CN-Cng_2008-2009_FLUXNET2015_Flux.nc" if base else None
    if met is None or not met.exists() or not flux.exists():
        pytest.skip("needs cn-changling/CN-Cng_2008-2009_FLUXNET2015_{Met,Flux}.nc (PLUMBER2, Ukkola et al. 2022) "
                    "under $JLSM_DATA_DIR")
    d = tmp_path_factory.mktemp("plumber2")
    days = slice("2008-07-01", "2008-07-06")
    with xr.open_dataset(met) as m, xr.open_dataset(flux) as f:
        m.sel(time=days).to_netcdf(d / "CN-Cng_Met.nc")
        f.sel(time=days).to_netcdf(d / "CN-Cng_Flux.nc")
        f.sel(time=slice("2009-07-01", "2009-07-06")).to_netcdf(d / "CN-Cng_2009_Flux.nc")
        hourly = f.sel(time=days)
        hourly = hourly.isel(time=slice(0, None, 2))  # hourly stamps at the start of each hour
        hourly.to_netcdf(d / "CN-Cng_hourly_Flux.nc")
    return d


def _plumber2_config(d, flux):
    cfg = d / f"{flux}.toml"
    cfg.write_text(PLUMBER2_CONFIG.format(met=d / "CN-Cng_Met.nc", flux=d / flux))
    return cfg


def test_met_and_flux_files_that_do_not_overlap(plumber2_files):
    status, _, err = _check(_plumber2_config(plumber2_files, "CN-Cng_2009_Flux.nc"))
    assert status == 2
    _one_line_error(err, "do not overlap in time", "CN-Cng_Met.nc (2008-", "CN-Cng_2009_Flux.nc (2009-")


def test_hourly_fluxes_with_half_hourly_met_are_averaged_with_a_note(plumber2_files):
    status, out, err = _check(_plumber2_config(plumber2_files, "CN-Cng_hourly_Flux.nc"))
    assert status == 0, err
    notes = [line for line in err.splitlines() if "averaged to hourly" in line]
    assert len(notes) == 1 and "CN-Cng_hourly_Flux.nc is hourly" in notes[0] and "30-min" in notes[0]
    assert "48 steps of 1 h" not in out and "steps of 1 h" in out
    same_step, _, err_same = _check(_plumber2_config(plumber2_files, "CN-Cng_Flux.nc"))
    assert same_step == 0 and "averaged to hourly" not in err_same


def test_demo_refuses_negative_noise():
    proc = _cli("demo", "--noise", "-1", "--starts", "2")
    assert proc.returncode == 2
    _one_line_error(proc.stderr, "--noise -1", "expected a noise standard deviation >= 0")
