"""The shared site table (``sites.csv`` of the data folder): defaults for a site collection.

One row per site: ``site, name, lat, lon, igbp, pft_group, canopy_height_m,
measurement_height_m, lai, utc_offset_h, period, step, files, metadata_source``.
Blank or non-numeric cells (``"0-1.125 (seasonal, ...)"``) are not used as
numbers; a value marked ``(assumed)`` is used and the mark kept in the notes.
"""

from __future__ import annotations

import re
from pathlib import Path

from jlsm.errors import DataFileError

#: sites.csv column -> key of a site in a collection.
TABLE_KEYS = {
    "lat": "latitude", "lon": "longitude", "igbp": "igbp", "pft_group": "pft_group",
    "canopy_height_m": "canopy_height", "measurement_height_m": "measurement_height",
    "lai": "lai", "utc_offset_h": "utc_offset_hours", "name": "long_name",
}
_NUMERIC = {"latitude", "longitude", "canopy_height", "measurement_height", "lai", "utc_offset_hours"}


def _number(text):
    m = re.fullmatch(r"\s*([-+]?\d+(?:\.\d*)?)\s*(\(assumed\))?\s*", str(text))
    if not m:
        return None, None
    return float(m.group(1)), ("assumed" if m.group(2) else None)


def read_site_table(path) -> dict[str, dict]:
    """``{site code: {key: value}}`` from a site table; ``key`` as in :data:`TABLE_KEYS`.

    Each entry also has ``notes`` (values marked assumed or not numeric) and
    ``metadata_source``.
    """
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise DataFileError(f"site table {p} not found")
    try:
        df = pd.read_csv(p, dtype=str, keep_default_na=False)
    except Exception as exc:
        raise DataFileError(f"cannot read the site table {p}: {exc}") from exc
    if "site" not in df.columns:
        raise DataFileError(f"{p}: the site table needs a 'site' column")
    out = {}
    for _, row in df.iterrows():
        entry: dict = {"notes": [], "metadata_source": row.get("metadata_source", "")}
        for col, key in TABLE_KEYS.items():
            if col not in row or str(row[col]).strip() == "":
                continue
            if key in _NUMERIC:
                val, mark = _number(row[col])
                if val is None:
                    entry["notes"].append(f"{key} not numeric in the site table: {row[col]!r}")
                    continue
                if mark:
                    entry["notes"].append(f"{key} = {val:g} is marked assumed in the site table")
                entry[key] = val
            else:
                entry[key] = str(row[col]).strip()
        out[str(row["site"]).strip()] = entry
    return out
