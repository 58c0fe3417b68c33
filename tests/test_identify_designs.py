"""Observation designs (jlsm.identify.designs): one batched sweep over depth pairs and noise levels, ranking."""

import numpy as np
import pytest

from identify_cases import DEPTHS_CM, IDENTIFIABLE, NOISE, NOISE_LEVELS
from jlsm import identify as idf
from jlsm.errors import InputError, ObservationError
from jlsm.synthetic import INITIAL_TEMPERATURE, TRUE_PARAMETERS, paper_forcing, paper_model, twin_space


@pytest.fixture(scope="module")
def sweep():
    designs = idf.design_grid(np.array(DEPTHS_CM) / 100, NOISE_LEVELS, sizes=(1, 2))
    return idf.design_sweep(
        paper_model(), paper_forcing(), twin_space(), TRUE_PARAMETERS, designs, initial=INITIAL_TEMPERATURE
    )


def _select(sw, depths_cm, noise):
    d = np.sort(np.array(depths_cm, float) / 100)
    first, second = d[0], d[-1]
    hit = (
        np.isclose(sw["first_depth"], first)
        & np.isclose(sw["second_depth"], second)
        & (sw["n_depths"] == len(depths_cm))
        & np.isclose(sw["noise_level"], noise)
    )
    (index,) = np.flatnonzero(hit.values)
    return sw.isel(design=index)


def test_design_sweep_is_one_batch_over_all_pairs(sweep):
    assert sweep.sizes["design"] == (36 + 9) * 3
    assert sweep["cr_std"].dims == ("design", "parameter")
    assert int((sweep["n_depths"] == 2).sum()) == 36 * 3
    assert set(IDENTIFIABLE) <= set(sweep["parameter"].values)
    assert sweep.attrs["wall_seconds"] > 0
    # the paper's design reproduces the single local analysis
    paper = _select(sweep, (0, 5), NOISE)
    assert float(paper["cr_std"].sel(parameter="conductivity")) == pytest.approx(0.0111, rel=0.02)


def test_design_sweep_physics(sweep):
    cr = sweep["cr_std"]
    # CR std is proportional to the noise: less noise never hurts
    for depths in [(0, 5), (10,), (2, 30)]:
        stds = [float(_select(sweep, depths, s)["cr_std"].sel(parameter="h_eff")) for s in NOISE_LEVELS]
        assert stds[0] < stds[1] < stds[2]
        assert stds[2] / stds[1] == pytest.approx(5.0, rel=1e-6)
    # adding the surface temperature to any single depth sharpens h_eff and albedo
    for d in DEPTHS_CM[1:]:
        alone = _select(sweep, (d,), NOISE)["cr_std"]
        with_surface = _select(sweep, (0, d), NOISE)["cr_std"]
        for q in ("h_eff", "albedo"):
            assert float(with_surface.sel(parameter=q)) < float(alone.sel(parameter=q))
    # a single sensor identifies h_eff worse the deeper it is (the surface flux is damped with depth)
    singles = [float(_select(sweep, (d,), NOISE)["cr_std"].sel(parameter="h_eff")) for d in DEPTHS_CM]
    assert all(a < b for a, b in zip(singles[1:], singles[2:]))
    # h and beta are never separately identifiable from temperatures
    assert np.all(np.isinf(cr.sel(parameter=["h", "beta"]).values))
    # at every noise level the best design pairs the surface with a deeper sensor and beats any single depth
    ranked = idf.rank_designs(sweep, "max_target_std")
    for s in NOISE_LEVELS:
        at = ranked.isel(design=np.flatnonzero(np.isclose(ranked["noise_level"], s)))
        top = at.isel(design=0)
        assert float(top["first_depth"]) == 0.0 and int(top["n_depths"]) == 2
        best_single = float(at["score"].where(at["n_depths"] == 1).min())
        assert float(top["score"]) < 0.5 * best_single
    # lambda and C below 1 % at 0.05 K with the best pair
    assert float(ranked.isel(design=0)["score"]) < 0.01
    table = idf.design_table(ranked, 5)
    assert "0+" in table.splitlines()[2]


def test_design_ranking_options_and_figure(sweep, tmp_path):
    for by in ("target_information", "trace", "conductivity", "lambda"):
        r = idf.rank_designs(sweep, by)
        assert int(r["rank"][0]) == 1
        assert np.isfinite(float(r["score"][0]))
    with pytest.raises(InputError, match="by"):
        idf.rank_designs(sweep, "nonsense")
    pytest.importorskip("matplotlib")
    fig = idf.design_figure(sweep)
    fig.savefig(tmp_path / "sweep.png")
    assert (tmp_path / "sweep.png").stat().st_size > 1000


def test_design_arguments():
    with pytest.raises(InputError, match="depths"):
        idf.design_grid([0.05, -0.1], [0.1])
    with pytest.raises(ObservationError, match="noise"):
        idf.design_grid([0.05], [0.0])
    d = idf.Design(("soil_temperature@0", "lw_up"), {"soil_temperature@0": 0.1, "lw_up": 5.0}, n_times=50)
    assert d.noise_of("lw_up") == 5.0
    assert "50 times" in d.label
    with pytest.raises(ObservationError, match="no noise level"):
        idf.Design(("ts",), {"lw_up": 5.0}).noise_of("ts")
