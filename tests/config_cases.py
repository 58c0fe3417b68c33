"""Shared setup of the config tests: a small Urban-PLUMBER-like file and a config that reads it."""

import textwrap
from pathlib import Path

import numpy as np
import xarray as xr

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SIGMA = 5.670374419e-8


def up_dataset(days=6, start="2012-04-30T00:30"):
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


def setup_case(tmp_path, ds=None, text=CONFIG, name="case.toml", **fmt):
    """Write the data file (unless ds is False) and the config into tmp_path; the config's path."""
    data = tmp_path / "XX-Test_clean_observations_v1.nc"
    if ds is not False:
        (ds if ds is not None else up_dataset()).to_netcdf(data)
    cfg = tmp_path / name
    cfg.write_text(textwrap.dedent(text.format(data=data, **fmt)))
    return cfg


def message(err) -> str:
    """The text of a pytest.raises result."""
    return str(err.value)
