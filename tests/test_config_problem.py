"""Building a config's problem (jlsm.config.problem): observed initial profile, origin depth, bad observations."""

import numpy as np
import pytest

from config_cases import CONFIG, message, setup_case, up_dataset
from jlsm import config as C
from jlsm.errors import ConfigError, DataFileError, ObservationError


def test_observed_initial_profile_and_origin(tmp_path):
    text = CONFIG.replace("nodes = 21", 'nodes = 21\ntop = "prescribed"\ntop_temperature = "Tair"\norigin_depth = 0.0\ninitial = "observed"')
    # Tair is not an observation; the prescribed top must come from the observations
    cfg = C.load_config(setup_case(tmp_path, text=text))
    forcing_ds, obs_ds = C.read_data(cfg)
    with pytest.raises(DataFileError, match="'Tair'"):
        C.build_problem(cfg, forcing_ds, obs_ds)
    text = CONFIG.replace("nodes = 21", 'nodes = 21\ntop = "prescribed"\ntop_temperature = "SoilTemp@0.02"\n'
                                        'origin_depth = 0.02\ninitial = "observed"\nbottom = "zero_flux"')
    text = text.replace('variables = {{ ts = "Ts", "soil_temperature@0.02" = "SoilTemp@0.02" }}',
                        'variables = {{ "soil_temperature@0.02" = "SoilTemp@0.02" }}')
    cfg = C.load_config(setup_case(tmp_path, text=text, name="b.toml"))
    forcing_ds, obs_ds = C.read_data(cfg)
    model, forcing, obs, space, initial, fit, validate = C.build_problem(cfg, forcing_ds, obs_ds)
    assert obs.names == ("soil_temperature@0",)
    np.testing.assert_allclose(initial, obs_ds["SoilTemp"].values[0, 0])


def test_file_lacking_an_observed_variable(tmp_path):
    ds = up_dataset().drop_vars(["SoilTemp", "SoilTemp_qc"])
    cfg = C.load_config(setup_case(tmp_path, ds=ds))
    forcing_ds, obs_ds = C.read_data(cfg)
    with pytest.raises(DataFileError) as err:
        C.build_problem(cfg, forcing_ds, obs_ds)
    assert "'SoilTemp'" in message(err) and "XX-Test_clean_observations_v1.nc" in message(err)


def test_fitted_variable_missing_in_fit_window(tmp_path):
    ds = up_dataset()
    ds["SoilTemp_qc"][:] = 3
    cfg = C.load_config(setup_case(tmp_path, ds=ds))
    forcing_ds, obs_ds = C.read_data(cfg)
    with pytest.raises(ObservationError) as err:
        C.build_problem(cfg, forcing_ds, obs_ds)
    msg = message(err)
    assert "SoilTemp@0.02" in msg and "XX-Test_clean_observations_v1.nc" in msg and "2012-05-01T07:00:00" in msg


def test_unknown_model_parameter(tmp_path):
    cfg = C.load_config(setup_case(tmp_path, text=CONFIG.replace("[model]", "[model.parameters]\nlamda = 1.0\n[model]")))
    forcing_ds, obs_ds = C.read_data(cfg)
    with pytest.raises(ConfigError, match=r"lamda.*\[model.parameters\]"):
        C.build_problem(cfg, forcing_ds, obs_ds)
