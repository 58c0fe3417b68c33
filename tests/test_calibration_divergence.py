"""A site whose loss diverges (NaN forcing) does not affect the other sites of the batch."""

import numpy as np

from calibration_toy import twin_data
from jlsm.calibration.calibrate import STATUS_NAMES, calibrate


def test_diverging_site_does_not_affect_the_others():
    res = calibrate(twin_data(), starts=3, steps=60, seed=0, chunk=30)
    bad = twin_data(sites=("A", "B", "A*"), nan_forcing_site="A*")
    res3 = calibrate(bad, starts=3, steps=60, seed=0, chunk=30)
    status = res3["status"].sel(site="A*").values
    assert np.all(status == STATUS_NAMES.index("diverged"))
    assert np.all(res3["divergence"].sel(site="A*").values == 1)  # the loss itself was NaN
    assert np.all(res3["divergence"].sel(site="A").values == 0)
    for s in ("A", "B"):
        np.testing.assert_allclose(res3["final"].sel(site=s).values, res["final"].sel(site=s).values, rtol=1e-9)
        np.testing.assert_allclose(res3["final_loss"].sel(site=s).values, res["final_loss"].sel(site=s).values,
                                   rtol=1e-9)


def test_nan_gradient_behind_a_finite_loss_is_flagged():
    # NaN forcing where nothing is observed: the loss stays finite, its gradient does not
    data = twin_data(sites=("A", "A*"), nan_forcing_site="A*")
    data.obs["Qh"][1, 100:] = np.nan
    data.obs["Qle"][1, 100:] = np.nan
    res = calibrate(data, starts=3, steps=60, seed=0, chunk=30)
    assert np.all(res["status"].values[1] == STATUS_NAMES.index("diverged"))
    assert np.all(res["divergence"].values[1] == 2)  # gradient
    assert np.all(res["status"].values[0] != STATUS_NAMES.index("diverged"))
    # the finite loss at the starting point still counts: start 0 (the defaults) keeps it
    assert np.isfinite(res["final_loss"].values[1, 0])
