"""JSON summary schema, markdown tables and figures of the multi-site protocol."""

import json

import numpy as np
import pandas as pd
import pytest

from jlsm.calibration import report, skill


@pytest.fixture(scope="module")
def skill_ds():
    rng = np.random.default_rng(1)
    time = pd.date_range("2011-01-01", "2011-12-31 23:30", freq="30min").to_numpy()
    n = time.size
    obs = {"Qh": 50 + 60 * rng.standard_normal((2, n)), "Qle": 80 + 70 * rng.standard_normal((2, n))}
    obs["Qh"][:, ::3] = np.nan
    sims = {m: {v: obs[v] + (k + 1) * 5 * rng.standard_normal((2, n)) for v in obs}
            for k, m in enumerate(report.METHODS)}
    fit = np.broadcast_to(np.arange(n) < 2 * n // 3, (2, n))
    return skill.collection_skill(np.stack([time, time]), sims, obs, {"fit": fit, "test": ~fit},
                                  sites=["DE-Tha", "FR-Pue"], pft=["evergreen forest"] * 2)


def test_json_schema_keys(skill_ds, tmp_path):
    s = report.summary_json(skill_ds, timing={"calibrated": 12.5, "sobol256": 3.0}, model_runs={"sobol256": 512})
    assert set(s) >= {"sites", "timing", "summary", "model_runs"}
    assert set(s["sites"]) == {"DE-Tha", "FR-Pue"}
    site = s["sites"]["DE-Tha"]
    assert site["pft"] == "evergreen forest"
    assert set(site) == {"pft", "fit", "test"}
    assert set(site["test"]) == set(report.METHODS)
    for method in report.METHODS:
        for var in ("qh", "qle"):
            block = site["test"][method][var]
            assert {"rmse", "kge"} <= set(block)
            assert {"daily", "monthly"} <= set(block)
            assert isinstance(block["rmse"], float) and block["rmse"] > 0
    want = float(skill_ds["skill"].sel({"site": "FR-Pue", "method": "calibrated", "window": "fit",
                                        "scale": "daily", "variable": "Qle", "metric": "kge"}))
    assert s["sites"]["FR-Pue"]["fit"]["calibrated"]["qle"]["daily"]["kge"] == pytest.approx(want)
    assert s["timing"]["calibrated"] == 12.5
    path = report.write_json(tmp_path / "summary.json", s)
    assert json.loads(path.read_text()) == s


def test_nan_becomes_null(skill_ds):
    ds = skill_ds.copy(deep=True)
    ds["skill"][0, 0, 0, 0, 0, :] = np.nan
    s = report.summary_json(ds)
    json.dumps(s, allow_nan=False)  # raises on NaN


def test_markdown_tables(skill_ds):
    md = report.markdown_report(skill_ds, timing={"calibrated": 1.0}, model_runs={"calibrated": 32})
    assert "| DE-Tha | evergreen forest | calibrated |" in md
    assert "## daily" in md and "## monthly" in md and "## Timing" in md
    # the default row's change against itself is 0 %
    row = next(line for line in md.splitlines() if line.startswith("| DE-Tha | evergreen forest | default |"))
    assert "| 0.0 % |" in row


def test_figures_have_units_and_legends(skill_ds):
    pytest.importorskip("matplotlib")
    fig = report.plot_skill_by_scale(skill_ds)
    ax = fig.axes[0]
    assert "W m-2" in ax.get_ylabel()
    assert fig.axes[-1].get_legend() is not None
    time = pd.date_range("2011-01-01", periods=96 * 40, freq="30min").to_numpy()
    obs = np.sin(np.arange(time.size) / 48 * np.pi) * 100
    fig2 = report.plot_time_series(time, obs, {"calibrated": obs + 1}, site="X", variable="Qh")
    assert all("W m-2" in a.get_ylabel() for a in fig2.axes)
    cyc = {"observed": skill.mean_diurnal_cycle(time, obs), "calibrated": skill.mean_diurnal_cycle(time, obs + 3)}
    fig3 = report.plot_diurnal_cycles(cyc, site="X")
    assert "W m-2" in fig3.axes[0].get_ylabel() and fig3.axes[-1].get_legend() is not None
    from jlsm.calibration import designs

    fig4 = report.plot_oat(designs.oat_table(np.arange(1.0, 9.0), 4.0, ["p", "q"]))
    assert "%" in fig4.axes[0].get_ylabel() and fig4.axes[0].get_legend() is not None
    import xarray as xr

    vals = xr.DataArray([[0.2, 5.0], [0.3, 7.0]], dims=("site", "parameter"), coords={"parameter": ["a", "b"]})
    fig5 = report.plot_parameters_by_pft(vals, [0.0, 0.0], [1.0, 10.0], pft=["forest", "crop"])
    assert fig5.axes[0].get_legend() is not None
    import matplotlib.pyplot as plt

    plt.close("all")


def test_mean_rows_use_the_sites_each_method_has(skill_ds):
    ds = skill_ds.copy(deep=True)
    sites = [str(s) for s in ds["site"].values]
    methods = [str(m) for m in ds["method"].values]
    other = [m for m in methods if m != "default"][0]
    ds["skill"].loc[{"site": sites[0], "method": other}] = np.nan  # no value at the first site
    md = report.markdown_report(ds).split("## daily")[0]
    row = next(line for line in md.splitlines() if line.startswith(f"| mean ({len(sites) - 1} of {len(sites)} sites) |  | {other} |"))
    cells = [c.strip() for c in row.split("|")]
    sk = ds["skill"].sel(window="test", scale=str(ds["scale"].values[0]), metric="rmse")
    rest = sites[1:]
    tot = float(sk.sel({"method": other, "site": rest}).sum("variable").mean("site"))
    base = float(sk.sel({"method": "default", "site": rest}).sum("variable").mean("site"))
    assert float(cells[6]) == pytest.approx(tot, abs=0.06)
    assert float(cells[7].rstrip(" %")) == pytest.approx(100 * (tot / base - 1), abs=0.06)
    assert any(line.startswith("| mean |  | default |") for line in md.splitlines())
