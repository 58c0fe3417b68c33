"""A year at the CN-Cng grassland with grassland defaults: the daily Qle and Qh follow the observed."""

import jax
import numpy as np
import pytest
from land_sites import CANOPY_HEIGHT, Z_REF, cn_cng_dataset, cn_cng_fluxes, cn_cng_forcing

from jlsm.land import default_model, simulate_land

YEAR = 17520  # 2008 at 30 min (from 2008-01-01 00:00 local standard time)


def skill(model, obs):
    ok = np.isfinite(obs) & np.isfinite(model)
    m, o = model[ok], obs[ok]
    return {
        "n": int(ok.sum()),
        "r": float(np.corrcoef(m, o)[0, 1]),
        "rmse": float(np.sqrt(np.mean((m - o) ** 2))),
        "bias": float(np.mean(m - o)),
    }


def daily(x, steps_per_day=48, min_valid=36):
    """Daily means of the days with at least ``min_valid`` measured steps (others NaN)."""
    x = x[: len(x) // steps_per_day * steps_per_day].reshape(-1, steps_per_day)
    valid = np.isfinite(x).sum(axis=1)
    with np.errstate(invalid="ignore"):
        means = np.nanmean(np.where(np.isfinite(x), x, np.nan), axis=1)
    return np.where(valid >= min_valid, means, np.nan)


def test_cn_cng_year_with_grassland_defaults():
    forcing = cn_cng_forcing(0, YEAR)
    times = cn_cng_dataset(0, YEAR)["time"].values
    obs = cn_cng_fluxes(times)
    model = default_model("GRA", z_ref=Z_REF, canopy_height=CANOPY_HEIGHT)
    # one spin-up year (the same year), as a user would run it
    out = jax.jit(lambda m, f: simulate_land(m, f, spinup_years=1, outputs=("qh", "qle")))(model, forcing)
    lines = []
    results = {}
    for name, key in (("Qle", "qle"), ("Qh", "qh")):
        sim = np.asarray(out.series[key])
        assert np.all(np.isfinite(sim))
        half = skill(sim, obs[name])
        day = skill(daily(sim), daily(obs[name]))
        results[name] = (half, day)
        for label, s in (("half-hourly", half), ("daily", day)):
            lines.append(f"CN-Cng 2008 {name} {label:11s}: n {s['n']:5d}  r {s['r']:.3f}  RMSE {s['rmse']:6.1f}  bias {s['bias']:6.1f} W m-2")
    print("\n" + "\n".join(lines))
    for name in ("Qle", "Qh"):
        assert results[name][1]["n"] > 100
        assert results[name][1]["r"] > 0.0, f"daily {name} does not correlate with the observed"


@pytest.mark.parametrize("bad", ["missing", "nan"])
def test_bad_forcing_is_a_one_line_error(bad):
    from jlsm.errors import ForcingError
    from jlsm.land import LandForcing

    ds = cn_cng_dataset(0, 96)
    if bad == "missing":
        ds = ds.drop_vars("Qair")
        match = "Qair"
    else:
        ds["Wind"][10] = np.nan
        match = "Wind has 1 NaN/Inf value.*first at time 2008-01-01T05:00"
    with pytest.raises(ForcingError, match=match) as info:
        LandForcing.from_xarray(ds, lai=1.0)
    assert "\n" not in str(info.value)
