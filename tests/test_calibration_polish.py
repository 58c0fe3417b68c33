"""The L-BFGS polish after Adam: it runs for every (site, start) and never worsens the best loss."""

import numpy as np

from calibration_toy import twin_data
from jlsm.calibration.calibrate import calibrate


def test_polish_phase_lowers_the_loss():
    data = twin_data(days=8)
    res = calibrate(data, starts=2, steps=40, polish=8, seed=0, chunk=40)
    assert res.sizes["iteration"] > 40  # Adam 40 + L-BFGS iterations
    loss = res["loss"].values
    after_adam = loss[..., 39]
    best = np.nanmin(loss, axis=-1)
    ok = np.isfinite(after_adam)
    assert np.all(best[ok] <= after_adam[ok] + 1e-12)
    # on these twins the polish improves the best start of every site clearly
    assert np.all(res["final_loss"].min("start").values < 0.5 * np.nanmin(after_adam, axis=1))
