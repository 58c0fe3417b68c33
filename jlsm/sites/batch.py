"""SiteBatch: the sites of a collection as one batched structure for ``jax.vmap``.

Arrays are numpy (float64; convert with ``jnp.asarray``), shaped ``(S, T)``:
S sites (or runs), T the longest record; shorter records are padded at the
end. Forcing is padded with each site's last value (finite, so a model run
over the padding stays finite), observations with NaN, ``mask`` is False
there. Every site has the same step ``dt``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from jlsm.io.complete import RUN_FORCING
from jlsm.io.qc import QC_MISSING

from .load import BATCH_OBSERVATIONS, PreparedSite

#: Per-site constants of a batch, each a float array (S,) [unit]; NaN = unknown.
CONSTANTS = {
    "z_ref": "m", "canopy_height": "m", "lat": "degrees_north", "lon": "degrees_east",
    "elevation": "m", "lai": "m2 m-2", "utc_offset_hours": "h",
}


@dataclass(frozen=True)
class SiteBatch:
    """Forcing, observations, masks and constants of S sites on a common step.

    Attributes:
        names: site (or run: ``"US-CRT#2"``) names, length S.
        sites: site code of each entry (runs of one site share it).
        dt: time step [s], common to all sites.
        time: (S, T) datetime64[ns], UTC, start of each interval; NaT in the padding.
        forcing: ALMA name -> (S, T) float: SWdown, LWdown [W m-2], Tair [K],
            Qair [kg kg-1], PSurf [Pa], Wind [m s-1], Rainf [kg m-2 s-1]
            (total precipitation: Rainf + Snowf where a file separates them), LAI [m2 m-2] (the file's series, else the
            site constant, NaN if unknown).
        forcing_qc: ALMA name -> (S, T) int8 flags (:mod:`jlsm.io.qc`; 9 in the padding).
        obs: Qh, Qle, Rnet, Qg, SWup [W m-2], Ustar [m s-1], Qh_cor, Qle_cor
            -> (S, T) float, NaN where not measured.
        mask: (S, T) bool, True on the record.
        fit_mask, test_mask: (S, T) bool, the fit and test windows (within ``mask``).
        constants: name -> (S,) float (see :data:`CONSTANTS`): z_ref (measurement
            height), canopy_height, lat, lon, elevation, lai, utc_offset_hours.
        pft, igbp, pft_group: per-site strings (S,).
        provenance: per site, constant -> where its value came from.
        reports: per site, the data-preparation report (gaps, estimates, notes).
    """

    names: tuple
    sites: tuple
    dt: float
    time: np.ndarray
    forcing: dict
    forcing_qc: dict
    obs: dict
    mask: np.ndarray
    fit_mask: np.ndarray
    test_mask: np.ndarray
    constants: dict
    pft: tuple
    igbp: tuple
    pft_group: tuple
    provenance: tuple
    reports: tuple
    _datasets: tuple

    @property
    def shape(self) -> tuple[int, int]:
        """(S, T)."""
        return self.mask.shape

    @property
    def lengths(self) -> np.ndarray:
        """Number of steps of each site (S,)."""
        return self.mask.sum(axis=1)

    def site(self, i: int) -> xr.Dataset:
        """Site ``i`` (index or name) as one xarray Dataset: forcing, flags, observations,
        ``fit``/``test`` masks on its own time axis, constants as attributes."""
        if isinstance(i, str):
            if i not in self.names:
                raise KeyError(f"no site {i!r} in the batch; have {', '.join(self.names)}")
            i = self.names.index(i)
        return self._datasets[i]

    def land_forcing(self, *, lai=None, unknown_lai: str = "pft"):
        """The forcing as a :class:`jlsm.land.LandForcing` of shape (S, T).

        ``lai`` (S,) or (S, T) [m2 m-2] replaces the batch's LAI. Where the batch's
        LAI is unknown (NaN), ``unknown_lai="pft"`` takes the monthly climatology of
        the site's PFT (Noah-MP MPTABLE LAIM, :func:`jlsm.land.pft.monthly_lai`) at
        local time; ``"error"`` refuses.
        """
        from jlsm.errors import ForcingError
        from jlsm.land import LandForcing
        from jlsm.land.forcing import lai_series
        from jlsm.land.pft import monthly_lai

        if lai is not None:
            lai_arr = np.broadcast_to(np.asarray(lai, dtype=float).reshape(len(self.names), -1), self.mask.shape)
        else:
            lai_arr = self.forcing["LAI"].copy()
            for i, row in enumerate(lai_arr):
                if not np.isnan(row).any():
                    continue
                if unknown_lai != "pft":
                    raise ForcingError(f"LAI unknown for site {self.names[i]}; pass lai= or unknown_lai='pft'")
                n = int(self.mask[i].sum())
                local = self.time[i, :n] + np.timedelta64(int(round(self.constants["utc_offset_hours"][i] * 3600)), "s")
                series = lai_series(monthly_lai(self.pft[i]), local)
                lai_arr[i] = _pad(series, lai_arr.shape[1], series[-1])
        f = self.forcing
        return LandForcing(f["SWdown"], f["LWdown"], f["Tair"], f["Qair"], f["PSurf"], f["Wind"], f["Rainf"],
                           lai_arr, dt=self.dt, source="SiteBatch")


def _pad(a: np.ndarray, n: int, fill) -> np.ndarray:
    out = np.full(n, fill, dtype=a.dtype)
    out[: len(a)] = a
    return out


def build_batch(prepared: list[PreparedSite], dt: float) -> SiteBatch:
    """Stack prepared sites into a :class:`SiteBatch` (padding to the longest)."""
    S = len(prepared)
    T = max(p.forcing.sizes["time"] for p in prepared)
    time = np.full((S, T), np.datetime64("NaT"), dtype="datetime64[ns]")
    mask = np.zeros((S, T), dtype=bool)
    forcing = {v: np.zeros((S, T)) for v in (*RUN_FORCING, "LAI")}
    fqc = {v: np.full((S, T), QC_MISSING, dtype=np.int8) for v in (*RUN_FORCING, "LAI")}
    obs = {v: np.full((S, T), np.nan) for v in BATCH_OBSERVATIONS}
    fit = np.zeros((S, T), dtype=bool)
    test = np.zeros((S, T), dtype=bool)
    const = {k: np.full(S, np.nan) for k in CONSTANTS}
    datasets = []
    for i, p in enumerate(prepared):
        n = p.forcing.sizes["time"]
        t = p.forcing["time"].values.astype("datetime64[ns]")
        time[i, :n] = t
        mask[i, :n] = True
        for v in RUN_FORCING:
            a = p.forcing[v].values.astype(float)
            q = p.forcing[f"{v}_qc"].values.astype(np.int8)
            if v == "Rainf" and "Snowf" in p.forcing and np.isfinite(p.forcing["Snowf"].values).all():
                a = a + p.forcing["Snowf"].values  # total precipitation, as the land model takes it
                q = np.maximum(q, p.forcing["Snowf_qc"].values.astype(np.int8))
            forcing[v][i] = _pad(a, T, a[-1])
            fqc[v][i] = _pad(q, T, QC_MISSING)
        c = p.constants
        if "LAI" in p.forcing and np.isfinite(p.forcing["LAI"].values).all():
            lai = p.forcing["LAI"].values.astype(float)
            forcing["LAI"][i] = _pad(lai, T, lai[-1])
            fqc["LAI"][i] = _pad(p.forcing["LAI_qc"].values.astype(np.int8), T, QC_MISSING)
        else:
            forcing["LAI"][i] = np.nan if c.get("lai") is None else float(c["lai"])
            fqc["LAI"][i, :n] = 4 if c.get("lai") is not None else QC_MISSING
        for v in BATCH_OBSERVATIONS:
            if v in p.obs:
                obs[v][i, :n] = p.obs[v].values.astype(float)
        fit[i, :n] = t < p.test_start
        test[i, :n] = t >= p.test_start
        for k, src in (("z_ref", "measurement_height"), ("canopy_height", "canopy_height"),
                       ("lat", "latitude"), ("lon", "longitude"), ("elevation", "elevation"), ("lai", "lai")):
            if c.get(src) is not None:
                const[k][i] = float(c[src])
        const["utc_offset_hours"][i] = float(p.report["utc_offset_hours"])
        ds = xr.merge([p.forcing, p.obs[[v for v in p.obs.data_vars]]], compat="override",
                      combine_attrs="override")
        ds["fit"] = ("time", fit[i, :n])
        ds["test"] = ("time", test[i, :n])
        ds.attrs.update({k: v for k, v in c.items() if v is not None})
        ds.attrs.update(site=p.site, run=p.name, timestep_seconds=dt, test_start=str(p.test_start))
        datasets.append(ds)
    return SiteBatch(
        names=tuple(p.name for p in prepared), sites=tuple(p.site for p in prepared), dt=float(dt),
        time=time, forcing=forcing, forcing_qc=fqc, obs=obs, mask=mask, fit_mask=fit, test_mask=test,
        constants=const, pft=tuple(p.constants.get("pft") for p in prepared),
        igbp=tuple(p.constants.get("igbp") for p in prepared),
        pft_group=tuple(p.constants.get("pft_group") for p in prepared),
        provenance=tuple(p.provenance for p in prepared), reports=tuple(p.report for p in prepared),
        _datasets=tuple(datasets),
    )
