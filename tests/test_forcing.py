"""Forcing construction and its input checks."""

import numpy as np
import pytest
import xarray as xr

from jlsm.errors import ForcingError, JlsmError
from jlsm.forcing import Forcing, regular_time_step


def tiny_dataset(n=6, time=None, **overrides):
    """A half-hourly ALMA-named dataset; a variable set to None is left out."""
    if time is None:
        time = np.datetime64("2012-05-01T00:00") + np.arange(n) * np.timedelta64(30, "m")
    data = {
        "SWdown": np.linspace(0.0, 500.0, n),
        "LWdown": np.full(n, 350.0),
        "Tair": np.full(n, 300.0),
        "Qair": np.full(n, 0.01),
        "PSurf": np.full(n, 1.0e5),
        "Wind_N": np.full(n, 3.0),
        "Wind_E": np.full(n, 4.0),
    }
    data.update(overrides)
    data = {k: v for k, v in data.items() if v is not None}
    return xr.Dataset({k: ("time", v) for k, v in data.items()}, coords={"time": time})


def test_from_xarray():
    f = Forcing.from_xarray(tiny_dataset())
    assert f.n_times == 6 and f.dt == 1800.0
    np.testing.assert_allclose(f.wind, 5.0)
    np.testing.assert_allclose(f.sw_down, np.linspace(0, 500, 6))
    assert f.rainf is None and f.top_temperature is None


def test_from_xarray_top_temperature_variable():
    ds = tiny_dataset(Tsoil=np.full(6, 295.0))
    f = Forcing.from_xarray(ds, top_temperature="Tsoil")
    np.testing.assert_allclose(f.top_temperature, 295.0)
    with pytest.raises(ForcingError, match="Tskin"):
        Forcing.from_xarray(ds, top_temperature="Tskin")


def test_missing_variable():
    with pytest.raises(ForcingError, match="missing forcing variable.*LWdown"):
        Forcing.from_xarray(tiny_dataset(LWdown=None))


def test_nan_reports_variable_and_time():
    sw = np.linspace(0.0, 500.0, 6)
    sw[3] = np.nan
    with pytest.raises(ForcingError, match=r"SWdown.*NaN.*2012-05-01T01:30") as err:
        Forcing.from_xarray(tiny_dataset(SWdown=sw))
    assert isinstance(err.value, JlsmError) and isinstance(err.value, ValueError)


def test_nan_in_direct_construction():
    with pytest.raises(ForcingError, match="lw_down.*time index 2"):
        Forcing([0.0] * 4, [300.0, 300.0, np.nan, 300.0], [290.0] * 4, dt=3600.0)


def test_air_temperature_in_celsius():
    with pytest.raises(ForcingError, match="Tair.*Celsius"):
        Forcing.from_xarray(tiny_dataset(Tair=np.full(6, 21.5)))
    with pytest.raises(ForcingError, match="t_air.*Celsius"):
        Forcing([0.0] * 3, [300.0] * 3, [20.0] * 3, dt=3600.0)


def test_implausible_value():
    with pytest.raises(ForcingError, match="lw_down = 5000.*time index 1"):
        Forcing([0.0] * 3, [300.0, 5000.0, 300.0], [290.0] * 3, dt=3600.0)


def test_irregular_time():
    time = np.datetime64("2012-05-01T00:00") + np.array([0, 30, 60, 120, 150, 180]) * np.timedelta64(1, "m")
    with pytest.raises(ForcingError, match="irregular time step at index 3"):
        Forcing.from_xarray(tiny_dataset(time=time))


def test_non_increasing_time():
    time = np.datetime64("2012-05-01T00:00") + np.array([0, 30, 60, 60, 90, 120]) * np.timedelta64(1, "m")
    with pytest.raises(ForcingError, match="time is not increasing at index 3"):
        Forcing.from_xarray(tiny_dataset(time=time))
    with pytest.raises(ForcingError, match="time is not increasing"):
        regular_time_step([0.0, 10.0, 5.0])


def test_numeric_time_axis():
    assert regular_time_step(np.arange(5) * 900.0) == 900.0


def test_bad_shapes_and_step():
    with pytest.raises(ForcingError, match="dt"):
        Forcing([0.0] * 3, [300.0] * 3, [290.0] * 3, dt=0.0)
    with pytest.raises(ForcingError, match="t_air has 2 time steps"):
        Forcing([0.0] * 3, [300.0] * 3, [290.0] * 2, dt=60.0)
    with pytest.raises(ForcingError, match="at least 2"):
        Forcing([0.0], [300.0], [290.0], dt=60.0)


def test_window():
    f = Forcing(np.arange(10.0), np.full(10, 300.0), np.full(10, 290.0), dt=60.0)
    w = f.window(2, 5)
    assert w.n_times == 3 and w.dt == 60.0
    np.testing.assert_array_equal(w.sw_down, [2.0, 3.0, 4.0])
    with pytest.raises(ForcingError, match="window"):
        f.window(5, 5)
