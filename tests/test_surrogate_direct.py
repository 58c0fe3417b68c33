"""Whole-record windows of the surrogate comparison and path (d) read from a ``jlsm calibrate`` output.

Fast: only the collection is loaded (two FLUXNET2015-subset sites of the
example collection); the calibration files are written by the tests.
"""


import numpy as np
import pytest
from land_sites import EVERGREEN_FILES, EXAMPLE_COLLECTION, require_evergreen_pair

pytest.importorskip("jlsm.land", reason="jlsm.land (the version-2 land model) is not available")
xr = pytest.importorskip("xarray")

from jlsm.errors import InputError  # noqa: E402

FILES = EVERGREEN_FILES
EXAMPLE = EXAMPLE_COLLECTION


@pytest.fixture(scope="module")
def records():
    require_evergreen_pair()
    from jlsm.surrogate.compare import CompareSettings, compare_data

    st = CompareSettings(windows="records")
    data, batch = compare_data(EXAMPLE, st, sites=list(FILES))
    return data, batch


def _calibration_file(path, data, *, sites=None, names=None, lower=None, upper=None, best=None, attrs=None,
                      fit=None):
    """A calibration.nc with the layout of ``jlsm calibrate`` (the variables the loader reads)."""
    sites = list(map(str, data.sites)) if sites is None else sites
    names = list(map(str, data.names)) if names is None else names
    lo = np.asarray(data.lower, float) if lower is None else lower
    hi = np.asarray(data.upper, float) if upper is None else upper
    x = lo + 0.25 * (hi - lo) if best is None else best
    dims = ("site", "parameter")
    ds = xr.Dataset({"best": (dims, x), "lower": (dims, lo), "upper": (dims, hi), "default": (dims, data.defaults())},
                    coords={"site": sites, "parameter": names},
                    attrs={"model_runs": 1234, "wall_seconds": 56.5, "starts": 3, "steps": 7}
                    if attrs is None else attrs)
    ds["fit_mask"] = (("site", "step"), np.asarray(data.fit if fit is None else fit, np.int8))
    ds["test_mask"] = (("site", "step"), np.asarray(data.test, np.int8))
    ds.to_netcdf(path)
    return x


def test_records_keep_the_collection_split(records):
    """windows='records': the collection's own periods and fit/test split, as jlsm calibrate sees them."""
    from jlsm.calibration.sites import calibration_data
    from jlsm.sites import load_collection, read_collection

    data, _ = records
    col = read_collection(EXAMPLE)
    col = type(col)(**{**col.__dict__, "sites": [s for s in col.sites if s.name in FILES]})
    ref = calibration_data(load_collection(col), spinup_years=1, checkpoint_every=None)
    np.testing.assert_array_equal(data.fit, ref.fit)
    np.testing.assert_array_equal(data.test, ref.test)
    assert data.n_times == ref.n_times
    # whole records: the fit window starts at the first step of each record (no lead-in) and the
    # two windows cover every valid step
    valid = ~np.isnat(np.asarray(data.time))
    np.testing.assert_array_equal(np.argmax(data.fit, axis=1), np.argmax(valid, axis=1))
    assert not np.any(data.fit & data.test)
    assert data.test.sum() > 0


def test_records_burn_in_leaves_out_the_surrogate_start(records):
    from jlsm.surrogate.compare import _burned_in, _fit_obs

    data, _ = records
    obs = _fit_obs(data)
    cut = _burned_in(obs, data, 48)
    first = np.argmax(~np.isnat(np.asarray(data.time)), axis=1)
    for i in range(data.n_sites):
        assert np.all(np.isnan(cut[i, first[i]:first[i] + 48]))
        later = slice(first[i] + 48, None)
        np.testing.assert_array_equal(np.isnan(cut[i, later]), np.isnan(obs[i, later]))


def test_windows_setting_checked():
    from jlsm.surrogate.compare import CompareSettings, compare_data

    with pytest.raises(InputError, match="windows"):
        CompareSettings(windows="seasons")
    with pytest.raises(InputError, match="starts"):
        compare_data(EXAMPLE, CompareSettings(windows="records"), sites=list(FILES), starts={"DE-Tha": "2010-05-01"})


def test_direct_from_file(records, tmp_path):
    from jlsm.surrogate.direct import load_direct

    data, _ = records
    path = tmp_path / "calibration.nc"
    x = _calibration_file(path, data)
    best, cost, source = load_direct(path, data)
    np.testing.assert_allclose(best, x, rtol=1e-12)
    assert cost == {"model_runs": 1234, "surrogate_training_s": 0.0, "calibration_s": 56.5, "total_s": 56.5}
    assert source["file"] == str(path) and source["re_run"] is False
    assert source["attrs"]["starts"] == 3 and source["attrs"]["steps"] == 7


@pytest.mark.parametrize("what", ["site", "parameter", "lower", "upper", "outside", "attribute", "window", "missing"])
def test_direct_from_file_mismatch(records, tmp_path, what):
    from jlsm.surrogate.direct import load_direct

    data, _ = records
    path = tmp_path / "calibration.nc"
    lo, hi = np.asarray(data.lower, float), np.asarray(data.upper, float)
    kwargs, expect = {}, []
    if what == "site":
        kwargs["sites"] = list(map(str, data.sites))[::-1]
        expect = ["'best'", "sites", str(data.sites[0])]
    elif what == "parameter":
        names = list(map(str, data.names))
        kwargs["names"] = names[:-1] + ["not_a_parameter"]
        expect = ["'best'", "parameters", "not_a_parameter"]
    elif what == "lower":
        lower = lo.copy()
        lower[1, 2] = lo[1, 2] + 0.1 * (hi[1, 2] - lo[1, 2])
        kwargs["lower"] = lower
        expect = ["'lower'", str(data.sites[1]), str(data.names[2])]
    elif what == "upper":
        upper = hi.copy()
        upper[0, 0] = hi[0, 0] * 2
        kwargs["upper"] = upper
        expect = ["'upper'", str(data.sites[0]), str(data.names[0])]
    elif what == "outside":
        best = lo + 0.5 * (hi - lo)
        best[0, 1] = hi[0, 1] + (hi[0, 1] - lo[0, 1])
        kwargs["best"] = best
        expect = ["'best'", "outside", str(data.names[1])]
    elif what == "window":
        fit = np.array(data.fit)
        fit[1, np.argmax(fit[1])] = False  # one step less in the second site's fit window
        kwargs["fit"] = fit
        expect = ["'fit_mask'", "1 steps differ", str(data.sites[1])]
    elif what == "attribute":
        kwargs["attrs"] = {"model_runs": 10}
        expect = ["wall_seconds"]
    if what == "missing":
        path = tmp_path / "none.nc"
        expect = ["no such file"]
    else:
        _calibration_file(path, data, **kwargs)
    with pytest.raises(InputError) as err:
        load_direct(path, data)
    msg = str(err.value)
    assert str(path) in msg and "\n" not in msg
    for e in expect:
        assert e in msg, (e, msg)


def test_cli_direct_from_missing_file(records, tmp_path, capsys):
    """A bad --direct-from is refused with one line naming the file, before any model run."""
    from jlsm.cli.main import main

    missing = tmp_path / "calibration.nc"
    code = main(["surrogate", "compare", str(EXAMPLE), "--windows", "records", "--sites", *FILES,
                 "--direct-from", str(missing), "--out", str(tmp_path / "out")])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(missing) in err[0] and "--direct-from" in err[0]


def test_leave_one_site_out_keeps_split_records_together():
    """The two runs of a split record (US-CRT#1, US-CRT#2) share a site: each one's fold leaves out both."""
    from jlsm.surrogate.generators_loo import loo_weights

    w = loo_weights(["CN-Cng", "US-CRT", "US-CRT", "DE-Tha"])
    expected = np.array([[0, 1, 1, 1], [1, 0, 0, 1], [1, 0, 0, 1], [1, 1, 1, 0]], float)
    np.testing.assert_array_equal(w, expected)


def test_diverged_runs_found_on_valid_steps_only():
    from jlsm.surrogate.compare import DIVERGED_WM2, diverged_runs

    rng = np.random.default_rng(0)
    y = rng.normal(0.0, 100.0, size=(2, 3, 10, 2))
    valid = np.ones((2, 10), bool)
    valid[1, 8:] = False  # padding of the second site
    y[0, 1, 4, 1] = 2 * DIVERGED_WM2  # a blown-up run
    y[1, 2, 3, 0] = np.nan  # a non-finite run
    y[1, 0, 9, 0] = 1e9  # huge, but on padding: not judged
    expected = np.array([[False, True, False], [False, False, True]])
    np.testing.assert_array_equal(diverged_runs(y, valid), expected)
