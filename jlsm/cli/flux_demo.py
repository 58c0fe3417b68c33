"""The version-2 part of ``jlsm demo``: a short flux-site calibration of Qh and Qle at CN-Cng.

With the shared data folder (``$JLSM_DATA_DIR/cn-changling``, PLUMBER2 files):
the Changling grassland, summer 2008: ``--flux-fit-days`` (default 14) days from
1 July (local standard time) to fit, the following ``--flux-test-days`` (default
7) to test. The version-2 land model with the grassland (GRA) defaults of the
Noah/Noah-MP tables, the default calibration space (13 parameters,
:func:`jlsm.land.default_space`), ``--flux-starts`` Sobol' starts (start 0: the
defaults) and ``--flux-steps`` Adam steps, one batched computation
(:func:`jlsm.calibration.calibrate.calibrate`); the objective is RMSE(Qh) +
RMSE(Qle) over the measured half-hours of the fit window (Xie et al. 2025).
Spin-up: one cycle of the record before it, inside the differentiated run.
The defaults (14 + 7 days, 6 starts, 30 Adam steps) are chosen for time:
measured on the 2-core development machine (CPU seconds of the process, the
machine shared), this part takes 90 s with an empty compilation cache and 40 s
with a warm one; compiling the gradient of the land model takes 45 s of it
(plus 13 s tracing), one gradient of the 6 starts 1 s. Longer windows and
more steps calibrate better; ``flux_site.json`` records the timing of each run.

Without the data folder: a synthetic twin. The forcing is made of analytic
diurnal cycles shaped like CN-Cng in July (44.6 N, 123.5 E, UTC+8; monthly
statistics of the PLUMBER2 file for July 2008 in brackets):

* SWdown = 0.72 S0 max(0, cos Z) with S0 = 1361 W m-2 (Kopp & Lean 2011,
  GRL 38, L01706), the zenith angle Z from latitude, Cooper's (1969)
  declination and the hour angle (peak about 950 W m-2 [937]);
* Tair = 297.1 + 3.7 sin(2 pi (h - 8.5) / 24) K, h local hours (mean 297.1 K,
  range 293.4-300.8 K in the mean diurnal course);
* Qair = 0.0151 kg kg-1 [0.0151], Psurf = 98 200 Pa [98 220];
* Wind = 2.9 + 1.2 sin(2 pi (h - 8.5) / 24) m s-1 [mean 2.9];
* LWdown = 0.80 sigma Tair^4 (clear-sky-like emissivity 0.80; about 400 W m-2 [400]);
* rain of 5 mm h-1 for 3 h from 16:00 every third day (about 150 mm a month [157]);
* LAI 3.0 m2 m-2 (between the GRA climatology's June 3.0 and July 3.5, Noah-MP MPTABLE).

Observations are the model's Qh and Qle at known parameters (:data:`TWIN_TRUTH`,
the GRA defaults with five of them changed), no noise; the calibration should
bring them back where Qh and Qle constrain them, and the spread across starts
shows which ones they do not.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np

from ..errors import InputError

SITE = "CN-Cng"
MET = "cn-changling/CN-Cng_2008-2009_FLUXNET2015_Met.nc"
FLUX = "cn-changling/CN-Cng_2008-2009_FLUXNET2015_Flux.nc"
START = "2008-07-01"
UTC_OFFSET = 8.0  # CN-Cng local standard time (sites.csv)
LATITUDE, LONGITUDE = 44.5934, 123.5092  # sites.csv
CITATION = ("PLUMBER2 CN-Cng: Ukkola et al. (2022), PLUMBER2 forcing and evaluation datasets, "
            "doi:10.25914/5fdb0902607e1; FLUXNET2015 (CC BY 4.0)")

TWIN_TRUTH = {"rs_min": 90.0, "hs": 50.0, "root_depth": 0.6, "evaporation_factor": 2.5, "kb_inv": 4.0}
"""Parameters of the synthetic twin that differ from the GRA defaults (units as in the default space)."""


def add_arguments(parser):
    """The demo's flux-site options (added to the ``demo`` subcommand's parser)."""
    import argparse

    parser.add_argument("--flux-site", action=argparse.BooleanOptionalAction, default=True,
                        help="after the published twin, calibrate the version-2 model at the CN-Cng flux site "
                             "(a synthetic twin without the data folder) (default: on)")
    parser.add_argument("--flux-fit-days", type=float, default=14.0, help="flux site: fit window [days] (default 14)")
    parser.add_argument("--flux-test-days", type=float, default=7.0, help="flux site: test window [days] (default 7)")
    parser.add_argument("--flux-starts", type=int, default=6, help="flux site: Sobol' starts (default 6)")
    parser.add_argument("--flux-steps", type=int, default=30, help="flux site: Adam steps (default 30)")


def run(args) -> dict:
    """Run the flux-site demo; print the tables, write ``flux_site.nc`` and ``flux_site.json`` to ``args.out``.

    Returns the JSON summary (a dict).
    """
    t0, c0 = time.perf_counter(), time.process_time()
    fit_days, test_days = float(args.flux_fit_days), float(args.flux_test_days)
    starts, steps = int(args.flux_starts), int(args.flux_steps)
    if not (fit_days > 0 and test_days > 0):
        raise InputError(f"demo: --flux-fit-days ({fit_days:g}) and --flux-test-days ({test_days:g}) must be positive")
    if starts < 1 or steps < 1:
        raise InputError(f"demo: --flux-starts ({starts}) and --flux-steps ({steps}) must be >= 1")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    folder = _data_folder()
    print("\nVersion 2: flux-site calibration of Qh and Qle (land model with soil water, vegetation, aerodynamics)")
    if folder is not None:
        data, truth = real_site(folder, fit_days, test_days), None
        print(f"{SITE} Changling grassland, PLUMBER2 files in {folder / 'cn-changling'}")
    else:
        data, truth = twin_site(fit_days, test_days), _truth_vector()
        print(f"no data folder with {MET} (set JLSM_DATA_DIR): synthetic twin with CN-Cng-like forcing, "
              "observations made by the model at known parameters")
    t_load = time.perf_counter() - t0
    time_fit = np.asarray(data.time)[0][data.fit[0]]
    time_test = np.asarray(data.time)[0][data.test[0]]
    print(f"fit {str(time_fit[0])[:16]} to {str(time_fit[-1])[:16]} UTC ({data.fit.sum()} steps), "
          f"test to {str(time_test[-1])[:16]} UTC ({data.test.sum()} steps); GRA defaults, "
          f"{len(data.names)} parameters, {starts} Sobol' starts (start 0 = defaults) x {steps} Adam steps")
    summary, result = calibrate_and_compare(data, starts=starts, steps=steps, truth=truth,
                                            progress=not getattr(args, "no_progress", False))
    summary["source"] = "synthetic twin" if truth is not None else CITATION
    summary["timing"]["load_seconds"] = t_load
    summary["timing"]["total_seconds"] = time.perf_counter() - t0
    summary["timing"]["total_cpu_seconds"] = time.process_time() - c0
    result.attrs.update({"source": summary["source"], "site": SITE if truth is None else f"{SITE} (synthetic twin)"})
    result.to_netcdf(out / "flux_site.nc")
    (out / "flux_site.json").write_text(json.dumps(summary, indent=2, allow_nan=False))
    fig = _figure(data, summary, result, out / "flux_site.png")
    print(f"data: {summary['source']}")
    print(f"flux site: {summary['timing']['total_seconds']:.1f} s, CPU {summary['timing']['total_cpu_seconds']:.1f} s "
          f"(loading {t_load:.1f} s, default run "
          f"{summary['timing']['default_seconds']:.1f} s, calibration {summary['timing']['calibration_seconds']:.1f} s, "
          f"both including compilation); results: {out / 'flux_site.nc'}, {out / 'flux_site.json'}"
          + (f", {fig}" if fig else ""))
    return summary


def _data_folder():
    from .._paths import data_dir

    folder = data_dir()
    if folder is None:
        return None
    folder = Path(folder)
    return folder if (folder / MET).is_file() and (folder / FLUX).is_file() else None


def _window(fit_days, test_days):
    start = np.datetime64(START, "s")
    test = start + np.timedelta64(int(round(fit_days * 86400)), "s")
    end = test + np.timedelta64(int(round(test_days * 86400)), "s")
    return start, test, end


def real_site(folder: Path, fit_days: float, test_days: float):
    """The CN-Cng calibration problem (:class:`CalibrationData`) of the demo's window, read by the collection machinery."""
    from ..calibration.sites import calibration_data
    from ..sites import load_collection

    start, test, end = _window(fit_days, test_days)
    text = (f'[defaults]\nstep = "30min"\n[[sites]]\nname = "{SITE}"\nformat = "plumber2"\n'
            f'files = ["{folder / MET}", "{folder / FLUX}"]\n'
            f'period = ["{start}", "{end}"]\nsplit = {{ test_start = "{test}" }}\n')
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cn-cng.toml"
        path.write_text(text)
        batch = load_collection(path)
    return calibration_data(batch, spinup_years=1, checkpoint_every=None)


def twin_forcing(fit_days: float, test_days: float):
    """CN-Cng-like analytic forcing (see the module docstring): ``(LandForcing (T,), UTC times (T,))``."""
    from ..land import LandForcing

    start, _, end = _window(fit_days, test_days)
    dt = 1800.0
    local = np.arange(start, end, np.timedelta64(int(dt), "s"))
    utc = (local - np.timedelta64(int(UTC_OFFSET * 3600), "s")).astype("datetime64[ns]")
    mid = local + np.timedelta64(int(dt / 2), "s")  # radiation at the middle of the step
    hours = (mid - mid.astype("datetime64[D]")) / np.timedelta64(1, "h")
    doy = (mid.astype("datetime64[D]") - mid.astype("datetime64[Y]")) / np.timedelta64(1, "D") + 1.0
    decl = np.deg2rad(23.45) * np.sin(2 * np.pi * (284.0 + doy) / 365.0)  # Cooper (1969)
    solar_time = hours + (LONGITUDE - 15.0 * UTC_OFFSET) / 15.0
    hour_angle = np.deg2rad(15.0 * (solar_time - 12.0))
    lat = np.deg2rad(LATITUDE)
    cos_z = np.sin(lat) * np.sin(decl) + np.cos(lat) * np.cos(decl) * np.cos(hour_angle)
    sw = 0.72 * 1361.0 * np.maximum(cos_z, 0.0)
    h = (local - local.astype("datetime64[D]")) / np.timedelta64(1, "h")
    wave = np.sin(2 * np.pi * (h - 8.5) / 24.0)
    t_air = 297.1 + 3.7 * wave
    sigma = 5.670374419e-8  # Stefan-Boltzmann constant [W m-2 K-4] (CODATA 2018)
    lw = 0.80 * sigma * t_air**4
    day = (local.astype("datetime64[D]") - local[0].astype("datetime64[D]")).astype(int)
    rain = np.where((day % 3 == 2) & (h >= 16.0) & (h < 19.0), 5.0 / 3600.0, 0.0)  # 5 mm h-1 [kg m-2 s-1]
    n = local.size
    forcing = LandForcing(sw, lw, t_air, np.full(n, 0.0151), np.full(n, 98200.0), 2.9 + 1.2 * wave, rain,
                          np.full(n, 3.0), dt=dt, source="synthetic CN-Cng-like forcing")
    return forcing, utc


def _truth_vector():
    from ..land import default_model, default_space

    space = default_space("GRA")
    x = dict(zip(space.names, space.read(default_model("GRA", z_ref=2.0, canopy_height=0.75))))
    x.update(TWIN_TRUTH)
    return np.array([x[n] for n in space.names])


def twin_site(fit_days: float, test_days: float):
    """The synthetic twin's calibration problem: CN-Cng-like forcing, Qh and Qle made at :data:`TWIN_TRUTH`."""
    import jax
    import jax.numpy as jnp

    from ..calibration import CalibrationData, stack_models
    from ..calibration.sites import LandSimulator
    from ..land import default_model, default_space

    forcing, utc = twin_forcing(fit_days, test_days)
    dtype = jnp.result_type(float)
    forcing = jax.tree_util.tree_map(lambda a: jnp.asarray(a, dtype), forcing)
    space = default_space("GRA")
    base = default_model("GRA", z_ref=2.0, canopy_height=0.75, deep_temperature=float(np.mean(forcing.t_air)))
    base = jax.tree_util.tree_map(lambda a: jnp.asarray(a, dtype) if hasattr(a, "dtype") else a, base)
    simulate = LandSimulator(spinup_years=1, checkpoint_every=None)
    true_model = space.physical_to_model(jnp.asarray(_truth_vector(), dtype), base)
    out = simulate(true_model, forcing)
    test = utc >= (np.datetime64(_window(fit_days, test_days)[1], "ns") - np.timedelta64(int(UTC_OFFSET * 3600), "s"))
    batched = jax.tree_util.tree_map(lambda a: a[None], forcing)
    return CalibrationData(
        sites=[f"{SITE}-twin"], pft=["grassland"], forcing=batched, models=stack_models([base]), spaces=[space],
        simulate=simulate, obs={"Qh": np.asarray(out.qh)[None], "Qle": np.asarray(out.qle)[None]},
        fit=(~test)[None], test=test[None], time=utc[None], offset_hours=np.array([UTC_OFFSET]),
    )


def calibrate_and_compare(data, *, starts, steps, truth=None, progress=True):
    """Calibrate ``data`` (one site), print default vs calibrated skill on the test window and the
    estimates with their spread across starts; returns ``(summary dict, calibration Dataset)``."""
    from ..calibration import simulate_sets
    from ..calibration.calibrate import calibrate
    from ..calibration.skill import site_skill

    t0 = time.perf_counter()
    defaults = data.defaults()
    default_sims = simulate_sets(data, defaults[:, None], chunk=1)[0, 0]
    t_default = time.perf_counter() - t0
    t1 = time.perf_counter()
    result = calibrate(data, starts=starts, steps=steps, chunk=steps, seed=0, progress=progress)
    t_cal = time.perf_counter() - t1
    variables = [v for v in data.obs if v in ("Qh", "Qle", "Rnet", "Qg")]
    sims = {"default": {v: default_sims[:, j] for j, v in enumerate(variables)},
            "calibrated": {v: result[f"sim_{v}"].values[0] for v in variables}}
    obs = {v: np.asarray(data.obs[v], float)[0] for v in ("Qh", "Qle")}
    time_axis = np.asarray(data.time)[0]
    offset = float(data.offset_hours[0]) if data.offset_hours is not None else 0.0
    skill = {}
    for method, sim in sims.items():
        sk = site_skill(time_axis, sim, obs, {"fit": data.fit[0], "test": data.test[0]},
                        scales=("halfhourly", "daily"), offset_hours=offset)
        skill[method] = {w: {v: {m: _num(sk["skill"].sel(window=w, scale="halfhourly", variable=v, metric=k))
                                 for m, k in (("rmse", "rmse"), ("kge", "kge"), ("bias", "bias"), ("r", "pearson_r"))}
                             for v in ("Qh", "Qle")} for w in ("fit", "test")}
    for v in variables:
        result[f"default_{v}"] = (("site", "step"), sims["default"][v][None],
                                  {"units": "W m-2", "long_name": f"{v} with the PFT default parameters"})
    print(skill_table(skill))
    params = parameter_summary(result, truth)
    print(parameter_table(params, truth is not None))
    status = result["status"].values[0]
    names = result["status"].attrs["flag_meanings"].split()
    counts = {name: int(np.sum(status == k)) for k, name in enumerate(names) if np.any(status == k)}
    print(f"starts: {counts}")
    summary = {
        "site": str(data.sites[0]), "starts": int(starts), "steps": int(steps), "status": counts,
        "skill": skill, "parameters": params,
        "timing": {"default_seconds": t_default, "calibration_seconds": t_cal},
        "windows": {"fit_steps": int(data.fit.sum()), "test_steps": int(data.test.sum())},
    }
    return summary, result


def _num(x):
    x = float(x)
    return x if np.isfinite(x) else None


def skill_table(skill) -> str:
    """Default vs calibrated RMSE [W m-2] and KGE [-] of Qh and Qle on the fit and test windows."""
    head = f"{'window':<7}{'parameters':<12}{'RMSE Qh':>9}{'RMSE Qle':>10}{'KGE Qh':>8}{'KGE Qle':>9}"
    lines = [head, f"{'':<19}{'[W m-2]':>9}{'[W m-2]':>10}{'[-]':>8}{'[-]':>9}"]
    f = lambda x, d: "-" if x is None else f"{x:.{d}f}"  # noqa: E731
    for w in ("test", "fit"):
        for m in ("default", "calibrated"):
            s = skill[m][w]
            lines.append(f"{w:<7}{m:<12}{f(s['Qh']['rmse'], 1):>9}{f(s['Qle']['rmse'], 1):>10}"
                         f"{f(s['Qh']['kge'], 2):>8}{f(s['Qle']['kge'], 2):>9}")
    d, c = skill["default"]["test"], skill["calibrated"]["test"]
    if None not in (d["Qh"]["rmse"], d["Qle"]["rmse"], c["Qh"]["rmse"], c["Qle"]["rmse"]):
        change = 100.0 * ((c["Qh"]["rmse"] + c["Qle"]["rmse"]) / (d["Qh"]["rmse"] + d["Qle"]["rmse"]) - 1.0)
        lines.append(f"test-window RMSE(Qh) + RMSE(Qle): {change:+.1f} % against the defaults")
    return "\n".join(lines)


def parameter_summary(result, truth=None) -> dict:
    """Per parameter: default, estimate (best start), median and range over the non-diverged starts, bounds."""
    status = result["status"].values[0]
    ok = status != 2  # diverged starts excluded
    final = result["final"].values[0][ok] if ok.any() else result["final"].values[0]
    out = {}
    for j, name in enumerate(result["parameter"].values):
        col = final[:, j]
        med = float(np.median(col))
        entry = {"units": str(result["units"].values[j]), "default": float(result["default"].values[0, j]),
                 "estimate": float(result["best"].values[0, j]), "median": med,
                 "min": float(col.min()), "max": float(col.max()),
                 "relative_spread": float((col.max() - col.min()) / abs(med)) if med else None,
                 "lower": float(result["lower"].values[0, j]), "upper": float(result["upper"].values[0, j])}
        if truth is not None:
            entry["true"] = float(truth[j])
        out[str(name)] = entry
    return out


def parameter_table(params: dict, with_truth: bool) -> str:
    """Aligned table of :func:`parameter_summary`."""
    head = (f"{'parameter':<22}{'units':<13}{'default':>10}" + (f"{'true':>10}" if with_truth else "")
            + f"{'estimate':>10}{'median':>10}{'min':>10}{'max':>10}{'spread':>8}")
    lines = ["parameters (estimate: best start; median, min, max and relative spread over the starts):", head]
    for name, p in params.items():
        spread = "-" if p["relative_spread"] is None else f"{p['relative_spread']:.2f}"
        lines.append(f"{name:<22}{p['units']:<13}{p['default']:>10.4g}" + (f"{p['true']:>10.4g}" if with_truth else "")
                     + f"{p['estimate']:>10.4g}{p['median']:>10.4g}{p['min']:>10.4g}{p['max']:>10.4g}{spread:>8}")
    return "\n".join(lines)


def _figure(data, summary, result, path):
    """Observed, default and calibrated Qh and Qle over the test window (local time)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    t = np.asarray(data.time)[0] + np.timedelta64(int(round(float(data.offset_hours[0]) * 3600)), "s")
    test = data.test[0]
    fig, axes = plt.subplots(2, 1, figsize=(11, 6), sharex=True)
    for ax, v in zip(axes, ("Qh", "Qle")):
        ax.plot(t[test], np.asarray(data.obs[v], float)[0][test], "k.", ms=2, label="observed")
        ax.plot(t[test], result[f"default_{v}"].values[0][test], "C1-", lw=0.8, label="default")
        ax.plot(t[test], result[f"sim_{v}"].values[0][test], "C0-", lw=0.8, label="calibrated")
        ax.set_ylabel(f"{v} [W m-2]")
        ax.legend(fontsize=8)
    axes[0].set_title(f"{summary['site']}: test window; data: {summary['source']}", fontsize=8)
    axes[1].set_xlabel("local standard time")
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
