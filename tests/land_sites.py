"""Real-site forcing for the land-model tests: CN-Cng (PLUMBER2), read with xarray directly."""

import os
from pathlib import Path

import numpy as np
import pytest

from jlsm.land import LandForcing, monthly_lai

CN_CNG_MET = "cn-changling/CN-Cng_2008-2009_FLUXNET2015_Met.nc"
CN_CNG_FLUX = "cn-changling/CN-Cng_2008-2009_FLUXNET2015_Flux.nc"
SOURCE = "PLUMBER2 (Ukkola et al. 2022, doi:10.25914/5fdb0902607e1), in the shared data folder"
# CN-Cng site constants from the PLUMBER2 flux file (reference_height, canopy_height)
Z_REF, CANOPY_HEIGHT = 2.0, 0.75


def data_file(name: str) -> Path:
    """Path of a shared data file; skips naming the file and where it comes from if absent."""
    root = Path(os.environ.get("JLSM_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))
    path = root / name
    if not path.is_file():
        pytest.skip(f"{path} not found: {SOURCE}")
    return path


def cn_cng_dataset(start: int = 0, steps: int | None = None):
    """The CN-Cng met dataset (half-hourly), time indices [start, start + steps)."""
    import xarray as xr

    ds = xr.open_dataset(data_file(CN_CNG_MET))
    stop = None if steps is None else start + steps
    return ds.isel(time=slice(start, stop))


def cn_cng_forcing(start: int = 0, steps: int | None = None) -> LandForcing:
    """CN-Cng forcing with the grassland LAI climatology."""
    return LandForcing.from_xarray(cn_cng_dataset(start, steps), lai=monthly_lai("GRA"))


def cn_cng_fluxes(times):
    """Observed Qh, Qle [W m-2] at ``times`` (NaN where the flux is not measured, qc != 0)."""
    import xarray as xr

    flux = xr.open_dataset(data_file(CN_CNG_FLUX)).squeeze(drop=True)
    out = {}
    for name in ("Qh", "Qle"):
        v = flux[name].where(flux[f"{name}_qc"] == 0)
        out[name] = np.asarray(v.reindex(time=times).values, dtype=float)
    return out
