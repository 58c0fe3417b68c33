"""Positional encoding: the documented frequencies, range and input checks."""

import numpy as np
import pytest

from jlsm.errors import InputError
from jlsm.surrogate import encoding_periods, encoding_size, positional_encoding


def _peak_period_days(signal, step_days):
    spec = np.abs(np.fft.rfft(signal - signal.mean()))
    freq = np.fft.rfftfreq(signal.size, d=step_days)  # cycles per day
    k = int(np.argmax(spec))
    return 1.0 / freq[k], freq[1]  # period and frequency resolution


def test_year_features_peak_at_documented_periods():
    L = 4
    step = np.timedelta64(3, "h")
    time = np.datetime64("2001-01-01") + np.arange(8 * 2922) * step  # 8 years
    enc = positional_encoding(time, L, dtype=np.float64)
    periods = encoding_periods(L)["year"]
    for k in range(L):
        for col in (4 * k, 4 * k + 1):  # sin, cos of 2^k phi_year
            period, df = _peak_period_days(enc[:, col], 3 / 24)
            # within one frequency bin of the stated 2^k cycles per year
            assert abs(1 / period - 1 / periods[k]) <= df, (k, col, period, periods[k])


def test_day_features_peak_at_documented_periods():
    L = 4
    time = np.datetime64("2021-06-01") + np.arange(48 * 40) * np.timedelta64(30, "m")
    enc = positional_encoding(time, L, dtype=np.float64)
    periods = encoding_periods(L)["day"]
    np.testing.assert_allclose(periods, [1.0, 0.5, 0.25, 0.125])
    for k in range(L):
        for col in (4 * k + 2, 4 * k + 3):
            period, df = _peak_period_days(enc[:, col], 1 / 48)
            assert abs(1 / period - 1 / periods[k]) <= 1e-9 + df / 2, (k, col, period)
            # a pure tone at an exact bin: the peak holds nearly all the power
            spec = np.abs(np.fft.rfft(enc[:, col])) ** 2
            assert spec.max() / spec.sum() > 0.99


def test_shape_range_and_phase_origin():
    time = np.array(["2000-01-01T00:00", "2000-01-01T06:00"], dtype="datetime64[m]")
    enc = positional_encoding(time, 3, dtype=np.float64)
    assert enc.shape == (2, encoding_size(3)) == (2, 12)
    assert np.all(np.abs(enc) <= 1.0)
    # at the epoch, midnight: every sine 0, every cosine 1
    np.testing.assert_allclose(enc[0, 0::2], 0.0, atol=1e-12)
    np.testing.assert_allclose(enc[0, 1::2], 1.0, atol=1e-12)
    # 06:00: day phase pi/2 -> sin 1, cos 0 for k = 0
    np.testing.assert_allclose(enc[1, 2:4], [1.0, 0.0], atol=1e-12)


def test_bad_time_axis_is_refused():
    with pytest.raises(InputError, match="datetime64"):
        positional_encoding(np.arange(10.0), 2)
    with pytest.raises(InputError, match="NaT"):
        positional_encoding(np.array(["2020-01-01", "NaT"], dtype="datetime64[s]"), 2)
    with pytest.raises(InputError, match="n_frequencies"):
        positional_encoding(np.array(["2020-01-01"], dtype="datetime64[s]"), 0)
