"""The version-2 land model over the example site collection in one vmap (slow: compiles the model)."""

from __future__ import annotations

from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jlsm.sites as sites
from jlsm import io

land = pytest.importorskip("jlsm.land", reason="the version-2 land model (jlsm.land) is not in this tree")

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sites.toml"


@pytest.mark.slow
def test_version2_model_runs_every_site_in_one_vmap():
    if io.data_dir() is None:
        pytest.skip("no data folder: set JLSM_DATA_DIR to the shared data (see its README)")
    batch = sites.load_collection(EXAMPLE)
    forcing = batch.land_forcing()  # unknown LAI: the PFT's monthly climatology
    assert forcing.sw_down.shape == batch.shape and forcing.dt == batch.dt
    unknown = np.isnan(batch.constants["lai"])
    assert unknown.any() and np.isfinite(np.asarray(forcing.lai)).all()
    models = [land.default_model(batch.pft[i], z_ref=batch.constants["z_ref"][i],
                                 canopy_height=batch.constants["canopy_height"][i])
              for i in range(len(batch.names))]
    stacked = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *models)
    window = jax.tree_util.tree_map(lambda a: a[:, :48] if getattr(a, "ndim", 0) == 2 else a, forcing)
    out = eqx.filter_jit(lambda m, f: land.simulate_batch(m, f, spinup_years=0))(stacked, window)
    qh = np.asarray(out.qh)
    assert qh.shape == (len(batch.names), 48) and np.isfinite(qh).all()
    # different sites give different fluxes (no site got another's forcing or model)
    assert len({round(float(v), 6) for v in qh.mean(axis=1)}) == len(batch.names)
