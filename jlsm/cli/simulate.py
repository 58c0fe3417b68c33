"""``jlsm simulate COLLECTION.toml``: the version-2 land model at flux sites with PFT default parameters.

Each chosen site (or run of a split site) is simulated over its own record
after ``--spinup-years`` cycles of its first year (:func:`jlsm.land.simulate_land`),
with the published defaults of its IGBP type (:func:`jlsm.land.default_model`,
Noah/Noah-MP tables), the site's measurement and canopy heights where the
collection knows them, LAI from the collection or the type's monthly
climatology (:meth:`jlsm.sites.SiteBatch.land_forcing`) and a deep soil
temperature equal to the record's mean air temperature (as
:func:`jlsm.calibration.sites.calibration_data` builds the default models).

Written per site: ``simulate_<site>.nc`` (ALMA names, CF units: Qh, Qle, Rnet,
Qg, SurfTemp, Ustar, SoilMoist per layer, the water-balance terms Precip,
Evap = TVeg + ESoil + ECanop, Qs, Qsb and DelWaterStorage per step, the
observations as ``obs_*``, the parameters and the data citation as attributes),
``simulate_<site>.png`` (observed and simulated Qh and Qle: daily means,
monthly means, mean diurnal cycle), and ``skill.json`` for all sites.
Printed: r, RMSE and bias of Qh and Qle at the record's step and daily.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from .sites import check_writable, citation, load_sites, site_type

SKILL_SCALES = ("halfhourly", "daily")
OBSERVED = ("Qh", "Qle", "Rnet", "Qg", "Ustar")


def add_parser(subparsers):
    """Add the ``simulate`` subcommand to an argparse subparsers object."""
    p = subparsers.add_parser("simulate", help="run the version-2 land model at the sites of a collection "
                                               "(PFT defaults): NetCDF, figures, skill")
    p.add_argument("collection", type=Path, help="the site collection TOML (see examples/sites.toml)")
    p.add_argument("--site", action="append", default=None, metavar="NAME",
                   help="simulate only this site (repeat for several; default: every site)")
    p.add_argument("--out", type=Path, default=Path("results/simulate"), help="output folder (default results/simulate)")
    p.add_argument("--pft-defaults", action="store_true",
                   help="parameters: the published defaults of each site's plant functional type (the default)")
    p.add_argument("--soil", default="LOAM", help="Noah soil texture class of the default models (default LOAM)")
    p.add_argument("--spinup-years", type=int, default=1, help="spin-up cycles of the first year (default 1)")
    p.add_argument("--window-days", type=float, default=None,
                   help="simulate only this many days of each record (a quick look)")
    p.add_argument("--window-start", default=None, help="local start date of --window-days (YYYY-MM-DD)")
    p.add_argument("--no-figures", action="store_true", help="do not draw figures")
    return p


def run(args) -> int:
    """Run ``jlsm simulate``: simulate each site, write NetCDF, figures and skill, print the table."""
    t0 = time.perf_counter()
    out = check_writable(args.out)
    _, batch = load_sites(args.collection, args.site, window_days=args.window_days, window_start=args.window_start)
    print(f"{len(batch.names)} site(s) of {args.collection}, step {batch.dt / 60:g} min; "
          f"PFT default parameters, {args.spinup_years} spin-up cycle(s) of the first year")
    forcing = batch.land_forcing()
    skills, rows, cites = {}, [], {}
    for i, name in enumerate(batch.names):
        t1 = time.perf_counter()
        ds, sk = simulate_site(batch, i, forcing, soil=args.soil, spinup_years=args.spinup_years)
        stem = name.replace("#", "_run")
        path = out / f"simulate_{stem}.nc"
        ds.to_netcdf(path)
        cites[name] = ds.attrs["data_citation"]
        wb = float(ds["water_residual"]), float(ds["water_storage_change"])
        print(f"\n{name} ({ds.attrs['pft']}): {ds.sizes['time']} steps {str(ds['time'].values[0])[:16]} to "
              f"{str(ds['time'].values[-1])[:16]} UTC, {time.perf_counter() - t1:.1f} s including compilation")
        print(f"  water balance over the record: storage change {wb[1]:.3f} kg m-2, residual {wb[0]:.2e} kg m-2")
        print(f"  results: {path}")
        if not args.no_figures:
            fig = _figure(ds, out / f"simulate_{stem}.png")
            if fig:
                print(f"  figure: {fig}")
        skills[name] = sk
        rows.append((name, sk))
    print("\nSkill against the observations (measured steps only; daily = local days with >= 50 % measured)")
    print(skill_table(rows))
    (out / "skill.json").write_text(json.dumps({"sites": skills, "citations": cites}, indent=2, allow_nan=False))
    print("\nData: " + "; ".join(f"{k}: {v}" for k, v in cites.items()))
    print(f"skill: {out / 'skill.json'}; total {time.perf_counter() - t0:.1f} s")
    return 0


def default_site_model(batch, i, *, soil="LOAM"):
    """The PFT default :class:`jlsm.land.LandModel` of entry ``i`` (heights and deep temperature of the site)."""
    from ..land import default_model

    z, h = batch.constants["z_ref"][i], batch.constants["canopy_height"][i]
    t_deep = float(np.mean(batch.forcing["Tair"][i][batch.mask[i]]))
    return default_model(site_type(batch, i), soil=soil, z_ref=None if np.isnan(z) else float(z),
                         canopy_height=None if np.isnan(h) else float(h), deep_temperature=t_deep)


def simulate_site(batch, i, forcing=None, *, soil="LOAM", spinup_years=1, model=None):
    """Simulate entry ``i`` of a batch over its own record: ``(dataset, skill dict)``."""
    import jax

    from ..calibration.skill import site_skill
    from ..land import default_space, simulate_land

    forcing = batch.land_forcing() if forcing is None else forcing
    n = int(batch.mask[i].sum())
    f = jax.tree_util.tree_map(lambda a: a[i, :n], forcing)
    kind = site_type(batch, i)
    model = default_site_model(batch, i, soil=soil) if model is None else model
    result = simulate_land(model, f, spinup_years=spinup_years, checkpoint_every=None)
    times = batch.time[i, :n]
    ds = result.to_dataset(times)
    _water_terms(ds, result)
    for v in OBSERVED:
        a = batch.obs[v][i, :n]
        if np.isfinite(a).any():
            units = "m s-1" if v == "Ustar" else "W m-2"
            ds[f"obs_{v}"] = ("time", a, {"units": units, "long_name": f"observed {v} (measured steps; NaN otherwise)"})
    ds["fit"] = ("time", batch.fit_mask[i, :n], {"long_name": "fit window of the collection"})
    ds["test"] = ("time", batch.test_mask[i, :n], {"long_name": "test window of the collection"})
    space = default_space(kind)
    values = np.asarray(space.read(model), dtype=float)
    ds = ds.assign_coords(parameter=list(space.names))
    ds["parameter_value"] = ("parameter", values, {"long_name": "parameter values used (default calibration space)"})
    ds["parameter_units"] = ("parameter", list(space.units))
    source = batch.site(i).attrs.get("source")
    offset = float(batch.constants["utc_offset_hours"][i])
    ds.attrs.update({
        "site": batch.names[i], "igbp": str(batch.igbp[i]), "pft": kind, "pft_group": str(batch.pft_group[i]),
        "parameters": "PFT defaults (jlsm.land.default_model)", "soil_texture": soil,
        "spinup_years": int(spinup_years), "time_zone": "UTC, start of each step", "utc_offset_hours": offset,
        "z_ref_m": float(model.site.z_ref), "canopy_height_m": float(model.site.canopy_height),
        "data_source": str(source), "data_citation": citation(source),
    })
    sim = {"Qh": ds["Qh"].values, "Qle": ds["Qle"].values, "Rnet": ds["Rnet"].values, "Qg": ds["Qg"].values}
    obs = {v: ds[f"obs_{v}"].values for v in ("Qh", "Qle", "Rnet", "Qg") if f"obs_{v}" in ds}
    sk = site_skill(times, sim, obs, {"record": np.ones(n, bool)}, scales=SKILL_SCALES, offset_hours=offset)
    return ds, _skill_dict(sk, batch.dt)


def _water_terms(ds, result):
    """Evap (sum of the components) and the water storage change of every step, so that
    DelWaterStorage = (Precip - Evap - Qs - Qsb) dt step by step."""
    dz = np.asarray(result.thicknesses)
    storage = ds["SoilMoist"].values @ dz * 1000.0 + ds["CanopInt"].values + ds["SWE"].values
    start = float(np.asarray(result.water_storage(result.initial)))
    ds["Evap"] = ds["TVeg"] + ds["ESoil"] + ds["ECanop"]
    ds["Evap"].attrs = {"units": "kg m-2 s-1", "long_name": "total evaporation TVeg + ESoil + ECanop (dew negative)"}
    ds["WaterStorage"] = ("time", storage, {"units": "kg m-2", "long_name": "water in soil, canopy and snow at the step's end"})
    ds["DelWaterStorage"] = ("time", np.diff(storage, prepend=start),
                             {"units": "kg m-2", "long_name": "change of WaterStorage over the step"})


def _skill_dict(sk, dt) -> dict:
    out = {}
    for v in sk["variable"].values:
        out[str(v)] = {}
        for scale in sk["scale"].values:
            m = sk["skill"].sel(window="record", scale=scale, variable=v)
            label = str(scale) if scale != "halfhourly" else f"step ({dt / 60:g} min)"
            vals = {k: float(m.sel(metric=k)) for k in ("pearson_r", "rmse", "bias")}
            out[str(v)][label] = {"n": int(sk["n"].sel(window="record", scale=scale, variable=v)),
                                  **{k: (x if np.isfinite(x) else None) for k, x in vals.items()}}
    return out


def skill_table(rows) -> str:
    """Aligned table of (site, skill dict) rows: r, RMSE [W m-2], bias [W m-2] per variable and scale."""
    head = f"{'site':<10}{'variable':<9}{'scale':<16}{'n':>7}{'r':>8}{'RMSE [W m-2]':>14}{'bias [W m-2]':>14}"
    lines = [head, "-" * len(head)]
    fmt = lambda x, d: "-" if x is None else f"{x:.{d}f}"  # noqa: E731
    for name, sk in rows:
        for v, scales in sk.items():
            for scale, m in scales.items():
                lines.append(f"{name:<10}{v:<9}{scale:<16}{m['n']:>7}{fmt(m['pearson_r'], 3):>8}"
                             f"{fmt(m['rmse'], 1):>14}{fmt(m['bias'], 1):>14}")
    return "\n".join(lines)


def _figure(ds, path):
    """Observed and simulated Qh, Qle: daily means, monthly means, mean diurnal cycle (local time)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.dates as mdates
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    import pandas as pd

    t = pd.DatetimeIndex(ds["time"].values) + pd.to_timedelta(ds.attrs["utc_offset_hours"], unit="h")
    fig, axes = plt.subplots(3, 2, figsize=(12, 10))
    for col, v in enumerate(("Qh", "Qle")):
        sim = pd.Series(ds[v].values, index=t)
        obs = pd.Series(ds[f"obs_{v}"].values if f"obs_{v}" in ds else np.nan, index=t)
        paired = sim.where(obs.notna())
        for row, (rule, title) in enumerate((("D", "daily means"), ("MS", "monthly means"))):
            ax = axes[row, col]
            ax.plot(obs.resample(rule).mean(), "k.-" if rule == "MS" else "k-", lw=1, label="observed")
            ax.plot(paired.resample(rule).mean(), "C0.-" if rule == "MS" else "C0-", lw=1,
                    label="simulated (measured steps)")
            locator = mdates.AutoDateLocator()
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
            ax.set_title(f"{ds.attrs['site']} {v}: {title} (local standard time)")
            ax.set_ylabel(f"{v} [W m-2]")
            ax.legend(fontsize=8)
        ax = axes[2, col]
        hour = t.hour + t.minute / 60.0
        ax.plot(obs.groupby(hour).mean(), "k-", label="observed")
        ax.plot(paired.groupby(hour).mean(), "C0-", label="simulated (measured steps)")
        ax.plot(sim.groupby(hour).mean(), "C0--", lw=0.8, label="simulated (all steps)")
        ax.set_xlabel("local standard time [h]")
        ax.set_ylabel(f"{v} [W m-2]")
        ax.set_title(f"{v}: mean diurnal cycle")
        ax.legend(fontsize=8)
    fig.suptitle(f"jlsm version 2, PFT defaults ({ds.attrs['pft']}); data: {ds.attrs['data_citation']}", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
