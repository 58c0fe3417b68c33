"""Energy-balance closure of flux observations: the Bowen-ratio-preserving correction.

Eddy-covariance H + LE usually falls 10-30 % short of Rn - G. The correction of
Twine et al. (2000, Agric. For. Meteorol. 103, 279) scales H and LE by one
factor, keeping their ratio (the Bowen ratio): here the factor at each step is
sum(Rn - G) / sum(H + LE) over the steps within +-``window_days`` where all
four terms are measured (a moving window, as the FLUXNET2015 ``H_CORR`` /
``LE_CORR`` use, Pastorello et al. 2020; their exact window and selection rules
differ). Calibrate to measured fluxes by default; use this as an option and
say so.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from jlsm.errors import ObservationError

from ._common import _make_var


def bowen_ratio_closure(obs: xr.Dataset, *, window_days: float = 15.0, rnet=None,
                        min_steps: int = 48) -> xr.Dataset:
    """``obs`` with ``Qh_cor``, ``Qle_cor`` [W m-2] = Qh, Qle times the closure factor.

    ``rnet`` [W m-2] replaces ``obs["Rnet"]`` (e.g. from the four radiation
    components). The factor is NaN where the window holds fewer than
    ``min_steps`` steps with all four terms measured; it is stored as
    ``closure_factor`` [-]. Raises :class:`ObservationError` if Qh, Qle, Qg or
    Rnet is missing.
    """
    source = obs.attrs.get("source", "observations")
    rn = obs["Rnet"].values if rnet is None and "Rnet" in obs else rnet
    missing = [v for v in ("Qh", "Qle", "Qg") if v not in obs] + (["Rnet"] if rn is None else [])
    if missing:
        raise ObservationError(f"{source}: Bowen-ratio closure needs {', '.join(missing)}")
    t = obs["time"].values.astype("datetime64[ns]").astype("int64")
    avail = np.asarray(rn, float) - obs["Qg"].values
    turb = obs["Qh"].values + obs["Qle"].values
    ok = np.isfinite(avail) & np.isfinite(turb)
    ca = np.concatenate(([0.0], np.cumsum(np.where(ok, avail, 0.0))))
    ct = np.concatenate(([0.0], np.cumsum(np.where(ok, turb, 0.0))))
    cn = np.concatenate(([0], np.cumsum(ok)))
    half = np.int64(round(window_days * 86400e9))
    lo = np.searchsorted(t, t - half, side="left")
    hi = np.searchsorted(t, t + half, side="right")
    n = cn[hi] - cn[lo]
    sa, st = ca[hi] - ca[lo], ct[hi] - ct[lo]
    factor = np.where((n >= min_steps) & (st > 0), sa / np.where(st > 0, st, 1.0), np.nan)
    out = obs.copy()
    note = (f"Qh, Qle x closure_factor (Bowen ratio kept; Twine et al. 2000), window +-{window_days:g} days")
    for v in ("Qh", "Qle"):
        out[f"{v}_cor"] = _make_var(f"{v}_cor", obs[v].values * factor, obs["time"].values,
                                    f"{v}, Rnet, Qg", "W m-2", {"comment": note, "closure": "bowen"})
    out["closure_factor"] = xr.DataArray(factor, dims=("time",), coords={"time": obs["time"]},
                                         attrs={"units": "1", "long_name": "energy-balance closure factor"})
    return out


def net_radiation(obs: xr.Dataset, forcing: xr.Dataset | None = None):
    """(Rn [W m-2] on the observations' time axis, note): the observed Rnet, else
    SWdown - SWup + LWdown - LWup where the four are measured (forcing flags 0), else None."""
    if "Rnet" in obs:
        return obs["Rnet"].values, None
    if forcing is None or not ({"SWup", "LWup"} <= set(obs.data_vars)
                               and {"SWdown", "LWdown"} <= set(forcing.data_vars)):
        return None, None
    from .qc import qc_of

    measured = (qc_of(forcing, "SWdown") == 0) & (qc_of(forcing, "LWdown") == 0)
    rn = np.where(measured, forcing["SWdown"].values - obs["SWup"].values
                  + forcing["LWdown"].values - obs["LWup"].values, np.nan)
    return rn, "Rn from the four radiation components (no Rnet in the files)"
