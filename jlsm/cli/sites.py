"""What the flux-site commands share: loading the chosen sites of a collection, short windows,
data citations, and checking an output folder before any computation."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from ..errors import ConfigError, InputError

#: Citation of each folder of the shared data set (``$JLSM_DATA_DIR/README.md``), used when
#: :data:`jlsm.io.DATA_SOURCES` has none.
CITATIONS = {
    "cn-changling": "PLUMBER2 CN-Cng, Ukkola et al. (2022), PLUMBER2 forcing and evaluation datasets, "
                    "doi:10.25914/5fdb0902607e1; FLUXNET2015 (CC BY 4.0)",
    "de-hainich": "ICOS FLUXNET-format release for DE-Hai 2018 (CC BY 4.0, ICOS and the DE-Hai PIs), "
                  "aggregated to hourly (eap-fes-unigoe/canopy-model)",
    "us-crt": "AmeriFlux BASE US-CRT, doi:10.17190/AMF/1246156 (CC BY 4.0) and the site PIs",
    "de-tharandt": "FLUXNET2015 DE-Tha, Pastorello et al. (2020), doi:10.1038/s41597-020-0534-3 (CC BY 4.0); "
                   "the DE-Tha PIs",
    "fr-puechabon": "FLUXNET2015 FR-Pue, Pastorello et al. (2020), doi:10.1038/s41597-020-0534-3 (CC BY 4.0); "
                    "the FR-Pue PIs",
    "es-lasmajadas": "ES-LMa, El-Madany et al. (2018), Zenodo record 1314194 (Max Planck Institute for "
                     "Biogeochemistry)",
    "west-phoenix": "Urban-PLUMBER US-WestPhoenix, Lipson et al. (2022), doi:10.5281/zenodo.5517550",
}


def citation(source) -> str:
    """The citation of a data file (path) from its folder name; a plain note if unknown."""
    if not source:
        return "source not recorded"
    folder = Path(str(source)).parent.name
    if folder in CITATIONS:
        return CITATIONS[folder]
    try:
        from ..io import DATA_SOURCES

        if folder in DATA_SOURCES:
            return DATA_SOURCES[folder]
    except ImportError:
        pass
    return f"{Path(str(source)).name} (cite the data provider)"


def check_writable(folder, what: str = "--out") -> Path:
    """Create ``folder`` and write/remove a probe file: InputError now rather than after the computation."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".jlsm_write_probe"
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        raise InputError(f"{what} {folder}: cannot write there ({err.strerror or err})") from None
    return folder


def select(collection, names=None):
    """The :class:`jlsm.sites.Collection` at ``collection`` (path) with only the sites ``names``."""
    from ..sites import read_collection

    c = read_collection(collection)
    if not names:
        return c
    have = [s.name for s in c.sites]
    unknown = [n for n in names if n not in have]
    if unknown:
        raise ConfigError(f"{collection}: no site {', '.join(map(repr, unknown))}; the collection has {', '.join(have)}")
    return dataclasses.replace(c, sites=[s for s in c.sites if s.name in names])


def load_sites(collection, names=None, *, window_days=None, window_start=None):
    """Read the chosen sites of a collection into a :class:`jlsm.sites.SiteBatch`.

    ``window_days``: keep only a short window of each site (for trying a command
    quickly): ``window_days`` days starting at ``window_start`` (a local date,
    "YYYY-MM-DD"), the last third of it as the test window; without
    ``window_start``, the window straddles the collection's fit/test boundary
    (two thirds before it, one third after), or, for a run of a split record that
    lies on one side of it, covers the run's last days (the last third of them
    for testing). Returns ``(collection, batch)``.
    """
    from ..sites import build_batch, prepare_site

    c = select(collection, names)
    prepared = []
    for spec in c.sites:
        prepared.extend(prepare_site(spec, c.step_seconds))
    if window_days is not None:
        prepared = [_window(p, float(window_days), window_start, c.step_seconds) for p in prepared]
    return c, build_batch(prepared, c.step_seconds)


def _window(p, days, start, dt):
    if not days > 0:
        raise InputError(f"--window-days must be positive, got {days:g}")
    t = p.forcing["time"].values
    span = np.timedelta64(int(round(days * 86400)), "s")
    if start is not None:
        try:
            local = np.datetime64(str(start), "ns")
        except ValueError:
            raise InputError(f"--window-start {start!r} is not a date (YYYY-MM-DD)") from None
        a = local - np.timedelta64(int(round(p.report["utc_offset_hours"] * 3600)), "s")
        test_start = a + (span * 2) // 3
    else:
        test_start = np.datetime64(p.test_start, "ns")
        a = test_start - (span * 2) // 3
        if not t[0] < test_start <= t[-1]:  # a run of a split record on one side of the test start
            a = max(t[0], t[-1] + np.timedelta64(int(dt), "s") - span)
            test_start = a + (min(span, t[-1] - a) * 2) // 3
    a = max(a, t[0])
    keep = (t >= a) & (t < a + span)
    if keep.sum() < 2 or not (t[keep][0] < test_start <= t[keep][-1]):
        raise InputError(f"site {p.name}: a {days:g}-day window from {str(a)[:16]} UTC has no fit and test "
                         f"part within the record {str(t[0])[:16]} to {str(t[-1])[:16]} UTC")
    return dataclasses.replace(p, forcing=p.forcing.isel(time=keep), obs=p.obs.isel(time=keep),
                               test_start=test_start)


def site_type(batch, i) -> str:
    """IGBP type (else PFT) of entry ``i`` of a batch."""
    for attr in ("igbp", "pft"):
        v = getattr(batch, attr)[i]
        if v:
            return str(v)
    raise InputError(f"site {batch.names[i]} has neither an IGBP type nor a PFT; give igbp in the collection")
