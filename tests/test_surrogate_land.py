"""The land model behind the surrogate interface: same fluxes as simulate_land, features in order."""

import jax
import jax.numpy as jnp
import numpy as np

from jlsm.land import LandForcing, default_model, default_space, simulate_land
from jlsm.surrogate import generate_runs
from jlsm.surrogate.land import FORCING_FEATURES, LandInputs, forcing_features, land_simulator


def _forcing(n_days=2):
    T = 48 * n_days
    h = (np.arange(T) % 48) / 48
    sw = np.maximum(0.0, 800 * np.sin(2 * np.pi * (h - 0.25)))
    ta = 290 + 5 * np.sin(2 * np.pi * (h - 0.375))
    return LandForcing(sw, 330 + 0 * sw, ta, 0.008 + 0 * sw, 1e5 + 0 * sw, 3 + 0 * sw,
                       1e-4 * (np.arange(T) % 37 == 0), 2.0, dt=1800.0)


def test_land_simulator_matches_simulate_land():
    forcing = _forcing()
    model = default_model("GRA")
    space = default_space("GRA")
    x0 = space.read(model)
    lo, hi = space.lower, space.upper
    thetas = np.stack([x0, np.clip(x0 * 1.1, lo + 1e-9, hi - 1e-9)])
    sim = land_simulator(space, spinup_years=0, checkpoint_every=None)
    y = np.asarray(generate_runs(sim, thetas, LandInputs(model, forcing)))
    assert y.shape == (2, forcing.n_times, 2) and np.all(np.isfinite(y))
    ref = simulate_land(model, forcing, spinup_years=0, checkpoint_every=None)
    np.testing.assert_allclose(y[0, :, 0], ref.qh, rtol=1e-10, atol=1e-8)
    np.testing.assert_allclose(y[0, :, 1], ref.qle, rtol=1e-10, atol=1e-8)
    assert np.max(np.abs(y[1] - y[0])) > 1e-3  # the parameters reach the model


def test_forcing_features_order():
    forcing = _forcing(1)
    f = np.asarray(forcing_features(forcing))
    assert f.shape == (48, len(FORCING_FEATURES))
    for j, name in enumerate(FORCING_FEATURES):
        np.testing.assert_array_equal(f[:, j], np.asarray(getattr(forcing, name)))
    batched = jax.tree_util.tree_map(lambda a: jnp.stack([a, a]), forcing)
    assert forcing_features(batched).shape == (2, 48, 8)
