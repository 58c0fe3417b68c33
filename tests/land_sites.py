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


FLUXNET2015_SUBSET = "FLUXNET2015 subset shipped in the shared data folder (set JLSM_DATA_DIR)"
EVERGREEN_FILES = {
    "DE-Tha": "de-tharandt/FLX_DE-Tha_FLUXNET2015_SUBSET_HH_2010-2010.csv.gz",
    "FR-Pue": "fr-puechabon/FLX_FR-Pue_FLUXNET2015_SUBSET_HH_2005-2005.csv.gz",
}
"""The two FLUXNET2015-subset sites (evergreen forest) of examples/sites.toml."""
EXAMPLE_COLLECTION = Path(__file__).resolve().parents[1] / "examples" / "sites.toml"


def data_root() -> Path:
    """The shared data folder: JLSM_DATA_DIR, else ../shared/data next to the project."""
    return Path(os.environ.get("JLSM_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))


def data_file(name: str, source: str = SOURCE) -> Path:
    """Path of a shared data file; skips naming the file and where it comes from (``source``) if absent."""
    path = data_root() / name
    if not path.is_file():
        pytest.skip(f"{path} not found: {source}")
    return path


def require_evergreen_pair() -> Path:
    """The shared data folder, once both :data:`EVERGREEN_FILES` are there (skip otherwise);
    sets JLSM_DATA_DIR if unset, so that the example collection finds them."""
    folder = data_root()
    for name in EVERGREEN_FILES.values():
        data_file(name, FLUXNET2015_SUBSET)
    os.environ.setdefault("JLSM_DATA_DIR", str(folder))
    return folder


def cn_cng_collection(folder: Path, period, test_start: str | None = None) -> Path:
    """A one-site collection TOML (``folder``/cng.toml) of CN-Cng at 30 min over ``period`` (two dates)."""
    met, flux = data_file(CN_CNG_MET), data_file(CN_CNG_FLUX)
    path = Path(folder) / "cng.toml"
    text = ('[defaults]\nstep = "30min"\n[[sites]]\nname = "CN-Cng"\nformat = "plumber2"\n'
            f'files = ["{met}", "{flux}"]\nperiod = ["{period[0]}", "{period[1]}"]\n')
    if test_start is not None:
        text += f'split = {{ test_start = "{test_start}" }}\n'
    path.write_text(text)
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
