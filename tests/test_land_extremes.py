"""The land column stays physical at extreme corners of the calibration space on a real site-year.

A parameter set of the joint Sobol' design at DE-Hai (shallow roots, slow hydraulic
conductivity, small residual-to-wilting gap) once ran away: the unmet latent heat of
evaporation demand heated the top soil layer to about 390 K within a few steps, the skin
followed, and beyond e_s = p / (1 - eps) the saturation specific humidity turned negative,
so the skin drew condensation (Qle about -8e6 W m-2) and stayed hot. With q_s bounded
(:func:`jlsm.physics.thermo.saturation_specific_humidity`) the run stays bounded.

Not fixed: the heating itself. Water limits evaporation after the energy solve, and the
latent heat of demand not met goes into the top soil layer (``energy_deficit``), which can
exceed 1,000 W m-2 for a step when a very unstable r_ah (a few s m-1) meets an almost
empty canopy store; the skin then reaches 390-400 K for a few steps.

Data: ICOS FLUXNET-format release for DE-Hai 2018 (CC BY 4.0, ICOS and the DE-Hai PIs).
"""

import dataclasses
from pathlib import Path

import jax
import numpy as np

from land_sites import data_file

COLLECTION = Path(__file__).resolve().parents[1] / "examples" / "sites.toml"
DE_HAI = "ICOS FLUXNET-format release for DE-Hai 2018 (CC BY 4.0), in the shared data folder (set JLSM_DATA_DIR)"

EXTREME = {  # joint Sobol' design of the surrogate comparison, DE-Hai, set 25
    "rs_min": 48.93842040565049, "rgl": 33.61435139385258, "hs": 32.1997173449141,
    "theta_wilt": 0.025320309726521373, "theta_crit": 0.28484149774536494, "b": 10.032112638880129,
    "k_sat": 7.624769582574786e-07, "theta_sat": 0.48084916174411774, "root_depth": 0.090104549161591,
    "evaporation_factor": 0.5891137143692363, "z0m_ratio": 0.15599600579997064, "kb_inv": 1.0487414994216433,
    "interception_per_lai": 0.052119218511602755,
}


def test_an_extreme_parameter_set_stays_bounded_through_a_site_year():
    data_file("de-hainich/Hainich_2018_fluxes.csv", DE_HAI)
    data_file("de-hainich/Hainich_2018_input.csv", DE_HAI)
    from jlsm.calibration.sites import calibration_data
    from jlsm.land import simulate_land
    from jlsm.sites import load_collection, read_collection

    collection = read_collection(COLLECTION)
    collection = dataclasses.replace(collection, sites=[s for s in collection.sites if s.name == "DE-Hai"])
    data = calibration_data(load_collection(collection), spinup_years=1, checkpoint_every=None)
    space = data.spaces[0]
    model = jax.tree_util.tree_map(lambda a: a[0] if hasattr(a, "ndim") and a.ndim >= 1 else a, data.models)
    forcing = jax.tree_util.tree_map(lambda a: a[0] if hasattr(a, "ndim") and a.ndim >= 1 else a, data.forcing)
    theta = np.array([EXTREME[n] for n in space.names])
    model = space.to_model(space.to_unconstrained(theta), model)
    out = simulate_land(model, forcing, spinup_years=1, outputs=("qh", "qle", "ts", "soil_temperature"))
    qh, qle, ts = (np.asarray(out.series[k]) for k in ("qh", "qle", "ts"))
    ok = np.isfinite(np.asarray(forcing.t_air))
    assert np.all(np.isfinite(qh[ok])) and np.all(np.isfinite(qle[ok]))
    assert np.max(np.abs(qh[ok])) < 5000.0 and np.max(np.abs(qle[ok])) < 5000.0  # was 5e6 and -8e6 W m-2
    # no persistent runaway: the skin is above 330 K in fewer than 24 of the 8,760 hours (it was above
    # 450 K from June on). Transients of a few steps remain (see the module docstring).
    assert np.sum(ts[ok] > 330.0) < 24
