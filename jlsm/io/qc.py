"""Quality flags of forcing values: measured, filled by the provider, filled or estimated by jlsm.

Forcing variables ``X`` get a companion ``X_qc`` (int8, CF ``flag_values`` /
``flag_meanings``). Codes grow with the distance from a measurement, so the
flag of a value derived from several inputs is the largest of their flags:

====  ===========================================================
0     measured (the file's own flag says measured, or no flag)
1     gap-filled by the data provider (file flag > measured)
2     short gap filled by jlsm: linear interpolation in time
3     longer gap filled by jlsm: mean diurnal course of neighbouring days
4     estimated by jlsm from other variables (see the ``estimated`` attributes)
9     missing (value is NaN)
====  ===========================================================

Observation flags (``Qh_qc``, ...) keep the file's own codes instead (FLUXNET:
0 measured, 1-3 gap-filled of decreasing quality); values not measured are NaN.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

QC_MEASURED = 0
QC_PROVIDER_FILLED = 1
QC_LINEAR = 2
QC_DIURNAL = 3
QC_ESTIMATED = 4
QC_MISSING = 9

FLAG_MEANINGS = {
    QC_MEASURED: "measured",
    QC_PROVIDER_FILLED: "gap_filled_by_provider",
    QC_LINEAR: "gap_filled_linear",
    QC_DIURNAL: "gap_filled_mean_diurnal_course",
    QC_ESTIMATED: "estimated_from_other_variables",
    QC_MISSING: "missing",
}


def qc_attrs(name: str) -> dict:
    """CF attributes of the flag variable of forcing variable ``name``."""
    return {
        "long_name": f"{name} quality flag",
        "flag_values": np.array(list(FLAG_MEANINGS), dtype=np.int8),
        "flag_meanings": " ".join(FLAG_MEANINGS.values()),
        "units": "1",
    }


def initial_qc(values: np.ndarray, provider_filled: np.ndarray | None = None) -> np.ndarray:
    """Flags of freshly read values: 0, or 1 where the provider filled, 9 where NaN."""
    q = np.zeros(np.shape(values)[:1], dtype=np.int8)
    if provider_filled is not None:
        q[np.asarray(provider_filled, dtype=bool)] = QC_PROVIDER_FILLED
    nan = np.isnan(values)
    if nan.ndim > 1:
        nan = nan.reshape(nan.shape[0], -1).any(axis=1)
    q[nan] = QC_MISSING
    return q


def qc_of(ds: xr.Dataset, name: str) -> np.ndarray:
    """The flags of ``name`` in ``ds`` (``name_qc`` if present, else derived from NaN)."""
    if f"{name}_qc" in ds:
        return np.asarray(ds[f"{name}_qc"].values, dtype=np.int8).copy()
    return initial_qc(ds[name].transpose("time", ...).values)


def set_qc(ds: xr.Dataset, name: str, qc: np.ndarray) -> None:
    """Store ``qc`` as ``name_qc`` on the time axis of ``ds`` (in place)."""
    ds[f"{name}_qc"] = xr.DataArray(np.asarray(qc, dtype=np.int8), dims=("time",),
                                    coords={"time": ds["time"]}, attrs=qc_attrs(name))


def count_flags(qc: np.ndarray) -> dict[str, int]:
    """``{meaning: count}`` of the flags in ``qc`` (only codes present)."""
    vals, counts = np.unique(np.asarray(qc), return_counts=True)
    return {FLAG_MEANINGS.get(int(v), str(int(v))): int(c) for v, c in zip(vals, counts)}
