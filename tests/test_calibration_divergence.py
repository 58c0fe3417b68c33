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
    for s in ("A", "B"):
        np.testing.assert_allclose(res3["final"].sel(site=s).values, res["final"].sel(site=s).values, rtol=1e-9)
        np.testing.assert_allclose(res3["final_loss"].sel(site=s).values, res["final_loss"].sel(site=s).values,
                                   rtol=1e-9)
