"""Site collections: many flux sites read the same way into one batch for ``jax.vmap``.

    jlsm/sites/
      collection.py  the collection TOML: sites, files, formats, metadata, windows, options
      table.py       the shared site table (sites.csv) as defaults
      load.py        one site: read, UTC, align, fill and estimate, common step, runs
      batch.py       SiteBatch: (S, T) forcing, observations, masks, constants
      report.py      the data report: coverage, gaps, estimates, energy-balance closure

Typical use::

    batch = jlsm.sites.load_collection("examples/sites.toml")
    batch.forcing["Tair"].shape          # (S, T)
    batch.site("DE-Tha")                 # one site as an xarray Dataset
    text, info = jlsm.sites.data_report("examples/sites.toml")
"""

from __future__ import annotations

from .batch import CONSTANTS, SiteBatch, build_batch
from .collection import Collection, SiteSpec, read_collection
from .load import BATCH_OBSERVATIONS, PreparedSite, prepare_site
from .report import data_report

__all__ = [
    "BATCH_OBSERVATIONS",
    "CONSTANTS",
    "Collection",
    "PreparedSite",
    "SiteBatch",
    "SiteSpec",
    "build_batch",
    "data_report",
    "load_collection",
    "prepare_collection",
    "prepare_site",
    "read_collection",
]


def prepare_collection(collection) -> tuple[Collection, list[PreparedSite]]:
    """Read every site of a collection (path or :class:`Collection`): ``(collection, prepared)``."""
    c = collection if isinstance(collection, Collection) else read_collection(collection)
    prepared = []
    for spec in c.sites:
        prepared.extend(prepare_site(spec, c.step_seconds))
    return c, prepared


def load_collection(collection) -> SiteBatch:
    """Load a site collection (TOML path or :class:`Collection`) into one :class:`SiteBatch`."""
    c, prepared = prepare_collection(collection)
    return build_batch(prepared, c.step_seconds)
