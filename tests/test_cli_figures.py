"""Figures of the commands (jlsm.plot): units on every axis, legends, bounds, best start, no offset text."""

import numpy as np
import pytest

pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def twin_result():
    from jlsm.inverse import invert
    from jlsm.synthetic import twin_case

    model, forcing, obs, space, initial = twin_case("surface+5cm")
    result = invert(model, forcing, obs, space, starts=4, initial=initial, polish=20)
    return result, space


def _drawn(fig):
    fig.canvas.draw()
    return fig


def test_estimates_figure_is_self_explanatory(twin_result):
    from jlsm.plot import estimates_figure
    from jlsm.synthetic import TRUE_PARAMETERS

    result, space = twin_result
    bounds = {n: (lo, hi) for n, lo, hi in zip(space.names, space.lower, space.upper)}
    fig = _drawn(estimates_figure(result, dict(TRUE_PARAMETERS), bounds))
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.axison]
    assert len(panels) == result.sizes["parameter"] + 1
    for ax in panels:
        assert "[" in ax.get_xlabel() or ax.get_xlabel() == "iteration"
        assert "[" in ax.get_ylabel() and "]" in ax.get_ylabel()
        # no offset or exponent text (it used to overlap the titles)
        assert ax.yaxis.get_offset_text().get_text() == "" and ax.xaxis.get_offset_text().get_text() == ""
    heat = next(ax for ax in panels if ax.get_title().startswith("heat_capacity"))
    assert "1e6 J m-3 K-1" in heat.get_ylabel()  # the power of ten is in the unit
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert {"best basin", "best start", "true value", "search bounds"} <= set(labels)
    # the bounds are drawn: dotted lines at both bounds of the conductivity
    cond = next(ax for ax in panels if ax.get_title().startswith("conductivity"))
    levels = sorted(line.get_ydata()[0] for line in cond.get_lines() if line.get_linestyle() == ":")
    assert levels == pytest.approx(sorted(bounds["conductivity"]))
    assert fig._suptitle is not None and "starts" in fig._suptitle.get_text()


def test_timeseries_figure_has_units_and_a_legend():
    from jlsm.plot import timeseries_figure

    t = np.arange("2012-05-01T00", "2012-05-03T00", dtype="datetime64[h]")
    obs = {"ts": 300 + 10 * np.sin(np.arange(t.size) / 4), "turbulent": 100 + 50 * np.cos(np.arange(t.size) / 4)}
    sim = {k: v + 1.0 for k, v in obs.items()}
    fig = _drawn(timeseries_figure(t, obs, sim, split=t[30], reference={k: v - 1 for k, v in obs.items()},
                                   reference_label="defaults", title="a run"))
    assert [ax.get_ylabel() for ax in fig.axes] == ["ts\n[K]", "turbulent\n[W m-2]"]
    for ax in fig.axes:
        assert ax.yaxis.get_offset_text().get_text() == ""
    labels = [x.get_text() for x in fig.legends[0].get_texts()]
    assert labels == ["observed", "best estimate", "defaults", "end of fit window"]
