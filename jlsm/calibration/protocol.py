"""The whole multi-site protocol: default, Sobol-256, calibrated, PLUMBER benchmarks, leave-one-out, OAT.

Every method is evaluated on the same sites, windows and metrics
(:mod:`.skill`), with wall time and the number of model runs it used:

* ``default``: the base (PFT default) parameters, one run per site;
* ``sobol256``: the best of ``sobol`` Sobol' parameter sets by the objective
  on the fit window (Xie et al. 2025's conventional baseline);
* ``calibrated``: :func:`~jlsm.calibration.calibrate.calibrate`;
* ``1lin``, ``3km27``: PLUMBER empirical benchmarks fitted on the fit window
  (:mod:`.benchmarks`; no model run);
* ``loo``: leave-one-site-out, the donors' mean in the transformed space
  (``loo_median``: their median) (:mod:`.transfer`);
* OAT: one-factor-at-a-time, relative change of the fit-window RMSE of each
  flux per parameter and level (:mod:`.designs`).
"""

from __future__ import annotations

import dataclasses
import time as _time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from jlsm.errors import InputError

from . import benchmarks as _bm
from . import designs, report, skill, transfer
from .calibrate import OUTPUT_FIELDS, CalibrationData, calibrate, evaluate_sets, simulate_sets

__all__ = ["ProtocolInterrupted", "ProtocolResult", "run_protocol", "write_partial"]


@dataclasses.dataclass
class ProtocolResult:
    """Everything :func:`run_protocol` produced.

    Attributes:
        calibration: the :func:`calibrate` Dataset.
        series: method -> variable -> (S, T) simulated (or predicted) fluxes [W m-2].
        parameters: method -> (S, P) physical parameter values used (model methods).
        skill: ``skill(site, method, window, scale, variable, metric)`` (:func:`.skill.collection_skill`).
        summary: the JSON summary (:func:`.report.summary_json`).
        oat: the OAT table (relative RMSE change, dims site, variable, parameter, level) or None.
        loo: the leave-one-out parameters (:func:`.transfer.leave_one_out`) or None.
        timing: step -> wall seconds; model_runs: step -> model runs.
        markdown: the markdown report.
    """

    calibration: xr.Dataset
    series: dict
    parameters: dict
    skill: xr.Dataset
    summary: dict
    oat: xr.Dataset | None
    loo: xr.Dataset | None
    timing: dict
    model_runs: dict
    markdown: str


class ProtocolInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`run_protocol`. Keeps what was done: ``series``, ``parameters``,
    ``timing`` and ``model_runs`` of the methods finished, ``partial`` (the calibration so far,
    if it was under way, else None) and ``written`` (the files saved in ``outdir``, if one was given)."""

    def __init__(self, series, parameters, timing, model_runs, partial, written):
        super().__init__("protocol interrupted")
        self.series, self.parameters, self.timing, self.model_runs = series, parameters, timing, model_runs
        self.partial, self.written = partial, written
        self.checkpoint = None


def _timed(timing, name):
    class _T:
        def __enter__(self):
            self.t = _time.perf_counter()

        def __exit__(self, *exc):
            timing[name] = _time.perf_counter() - self.t

    return _T()


def _as_series(sims: np.ndarray, variables) -> dict:
    """(S, 1, T, V) -> variable -> (S, T)."""
    return {v: sims[:, 0, :, j] for j, v in enumerate(variables)}


def run_protocol(
    data: CalibrationData,
    *,
    starts: int = 16,
    steps: int = 300,
    polish: int = 0,
    objective: str | Callable = "mdpl",
    seed: int = 0,
    sobol: int = 256,
    oat: bool = True,
    loo: bool = True,
    benchmarks: Sequence[str] = ("1lin", "3km27"),
    outdir: str | Path | None = None,
    figures: bool = False,
    progress=None,
    checkpoint=None,
    chunk: int = 32,
    **calibrate_kwargs,
) -> ProtocolResult:
    """Run the protocol on ``data`` (a :class:`CalibrationData`, see :mod:`.calibrate`).

    Args:
        starts, steps, polish, objective, seed, progress, checkpoint: passed to
            :func:`calibrate` (with ``calibrate_kwargs``).
        sobol: size of the Sobol' baseline design (256 as in Xie et al. 2025); 0 skips it.
        oat: run the one-factor-at-a-time design (12 x 4 runs per site for 12 parameters).
        loo: leave-one-site-out within PFT groups.
        benchmarks: PLUMBER benchmarks to fit (``1lin``, ``2lin``, ``3km27``).
        outdir: if given, write ``calibration.nc``, ``series.nc``, ``skill.nc``,
            ``oat.nc``, ``summary.json``, ``report.md`` (and figures with ``figures``).
        chunk: parameter sets per compiled evaluation (memory).

    Returns:
        :class:`ProtocolResult`.
    """
    if data.time is None:
        raise InputError("run_protocol: the data need per-site times (CalibrationData.time) for daily and monthly skill")
    timing, runs, series, params = {}, {}, {}, {}
    variables = [v for v in data.obs if v in OUTPUT_FIELDS]
    n_s = data.n_sites
    lower, upper, log = data.lower, data.upper, np.asarray(data.log)

    result = oat_ds = loo_ds = None
    try:
        defaults = data.defaults()
        with _timed(timing, "default"):
            series["default"] = _as_series(simulate_sets(data, defaults[:, None], variables=variables, chunk=chunk), variables)
        params["default"] = defaults
        runs["default"] = n_s

        if sobol:
            with _timed(timing, "sobol256"):
                design = designs.sobol_design((lower, upper, log), int(sobol), seed=seed)
                loss, _ = evaluate_sets(data, design, objective=objective, chunk=chunk)
                best = design[np.arange(n_s), designs.best_of_design(loss)]
                series["sobol256"] = _as_series(simulate_sets(data, best[:, None], variables=variables, chunk=chunk), variables)
            params["sobol256"] = best
            runs["sobol256"] = n_s * int(sobol) + n_s

        with _timed(timing, "calibrated"):
            result = calibrate(data, starts=starts, steps=steps, polish=polish, objective=objective, seed=seed,
                               progress=progress, checkpoint=checkpoint, **calibrate_kwargs)
        series["calibrated"] = {v: result[f"sim_{v}"].values for v in variables}
        params["calibrated"] = result["best"].values
        runs["calibrated"] = int(result.attrs["model_runs"])

        if benchmarks:
            if data.met is None:
                raise InputError("run_protocol: benchmarks need CalibrationData.met (SWdown, Tair, RH or Qair and PSurf)")
            with _timed(timing, "benchmarks"):
                preds = {b: {v: np.full((n_s, data.n_times), np.nan) for v in variables} for b in benchmarks}
                for i in range(n_s):
                    met = {k: np.asarray(a)[i] for k, a in data.met.items()}
                    fluxes = {v: np.asarray(data.obs[v], float)[i] for v in variables}
                    out = _bm.site_benchmarks(met, fluxes, data.fit[i], names=tuple(benchmarks), seed=seed)
                    for b in benchmarks:
                        for v in variables:
                            preds[b][v][i] = out[b][v]
            series.update(preds)
            for b in benchmarks:
                runs[b] = 0

        if loo:
            with _timed(timing, "loo"):
                loo_ds = transfer.leave_one_out(params["calibrated"], data.pft, lower, upper, log,
                                                sites=data.sites, names=data.names, site_ids=data.site_ids)
                sets = np.stack([loo_ds["mean"].values, loo_ds["median"].values], axis=1)  # (S, 2, P)
                has = np.all(np.isfinite(sets), axis=-1)
                sets = np.where(has[..., None], sets, defaults[:, None, :])  # placeholders, masked below
                # one set per site and call: the program of the default run, already compiled
                sims = np.concatenate([simulate_sets(data, sets[:, k:k + 1], variables=variables, chunk=chunk)
                                       for k in range(2)], axis=1)
                sims = np.where(has[:, :, None, None], sims, np.nan)
            series["loo"] = {v: sims[:, 0, :, j] for j, v in enumerate(variables)}
            series["loo_median"] = {v: sims[:, 1, :, j] for j, v in enumerate(variables)}
            params["loo"] = loo_ds["mean"].values
            params["loo_median"] = loo_ds["median"].values
            runs["loo"] = int(np.sum(has))

        if oat:
            with _timed(timing, "oat"):
                rows = [designs.oat_design(defaults[i], lower[i], upper[i], log) for i in range(n_s)]
                sets = np.stack([r[0] for r in rows])  # (S, P*L, P)
                _, rmse = evaluate_sets(data, np.concatenate([defaults[:, None], sets], axis=1),
                                        objective=objective, chunk=chunk)
                fit_rmse = rmse[:, :, 0, :]  # (S, 1 + P*L, V) on the fit window
                table = designs.oat_table(np.moveaxis(fit_rmse[:, 1:], 1, -1), fit_rmse[:, 0],
                                          list(data.names))
                oat_ds = table.rename({"dim_0": "site", "dim_1": "variable"}).assign_coords(
                    site=list(data.sites), variable=["Qh", "Qle"])
                levels = np.stack([designs.oat_levels(defaults[i], lower[i], upper[i], log) for i in range(n_s)])
                oat_ds["level_value"] = (("site", "parameter", "level"), levels)
            runs["oat"] = int(sets.shape[0] * (sets.shape[1] + 1))

    except KeyboardInterrupt as err:
        raise _interrupted(err, data, series, params, timing, runs, outdir, checkpoint) from err

    obs = {v: np.asarray(data.obs[v], float) for v in variables}
    with _timed(timing, "skill"):
        sk = skill.collection_skill(np.asarray(data.time), series, obs, {"fit": data.fit, "test": data.test},
                                    sites=list(data.sites), pft=list(data.pft), offset_hours=data.offset_hours)
    timing["total"] = float(sum(v for k, v in timing.items()))
    summary = report.summary_json(sk, timing, runs)
    md = report.markdown_report(sk, timing=timing, model_runs=runs)
    out = ProtocolResult(result, series, params, sk, summary, oat_ds, loo_ds, timing, runs, md)
    if outdir is not None:
        write_outputs(out, data, outdir, figures=figures)
    return out


def _interrupted(err, data, series, params, timing, runs, outdir, checkpoint) -> ProtocolInterrupted:
    """What an interrupted protocol keeps: the finished methods and the calibration so far (written
    to ``outdir`` if given, :func:`write_partial`)."""
    done = {m: timing[m] for m in timing if m in series or (m == "benchmarks" and set(series) & set(_bm.BENCHMARKS))}
    stop = ProtocolInterrupted(series, params, done, {m: runs[m] for m in runs if m in series},
                               getattr(err, "partial", None), [])
    stop.checkpoint = checkpoint
    if outdir is not None:
        write_partial(stop, data, outdir)
    return stop


def write_partial(stop: ProtocolInterrupted, data: CalibrationData, outdir) -> list[Path]:
    """Save what an interrupted protocol did: ``partial_series.nc`` (the finished methods' series,
    wall seconds in its attributes) and ``partial_calibration.nc`` (the calibration so far)."""
    folder = Path(outdir)
    folder.mkdir(parents=True, exist_ok=True)
    if stop.series:
        ds = series_dataset(stop.series, data)
        ds.attrs.update({"interrupted": 1, "methods": " ".join(stop.series),
                         **{f"wall_seconds_{m}": float(t) for m, t in stop.timing.items()}})
        ds.to_netcdf(folder / "partial_series.nc")
        stop.written.append(folder / "partial_series.nc")
    if stop.partial is not None:
        stop.partial.to_netcdf(folder / "partial_calibration.nc")
        stop.written.append(folder / "partial_calibration.nc")
    return stop.written


def series_dataset(out, data: CalibrationData) -> xr.Dataset:
    """Observed and simulated series of every method on the (site, step) axis [W m-2]; ``out`` is
    a :class:`ProtocolResult` or its ``series`` (method -> variable -> (S, T))."""
    per_method = out.series if isinstance(out, ProtocolResult) else out
    ds = xr.Dataset(coords={"site": list(data.sites), "pft": ("site", list(data.pft))})
    ds["time"] = (("site", "step"), np.asarray(data.time, dtype="datetime64[ns]"))
    ds["fit_mask"] = (("site", "step"), data.fit)
    ds["test_mask"] = (("site", "step"), data.test)
    for v, a in data.obs.items():
        ds[f"obs_{v}"] = (("site", "step"), np.asarray(a, float), {"units": "W m-2"})
    for m, per in per_method.items():
        for v, a in per.items():
            ds[f"{m}_{v}"] = (("site", "step"), np.asarray(a, float), {"units": "W m-2", "method": m})
    return ds


def write_outputs(out: ProtocolResult, data: CalibrationData, outdir, *, figures: bool = False) -> Path:
    """Write the NetCDF files, JSON summary, markdown report (and figures) into ``outdir``."""
    folder = Path(outdir)
    folder.mkdir(parents=True, exist_ok=True)
    out.calibration.to_netcdf(folder / "calibration.nc")
    series_dataset(out, data).to_netcdf(folder / "series.nc")
    out.skill.to_netcdf(folder / "skill.nc")
    if out.oat is not None:
        out.oat.to_netcdf(folder / "oat.nc")
    report.write_json(folder / "summary.json", out.summary)
    (folder / "report.md").write_text(out.markdown)
    if figures:
        _figures(out, data, folder)
    return folder


def _figures(out: ProtocolResult, data: CalibrationData, folder: Path):
    import matplotlib.pyplot as plt

    figs = {"skill_rmse.png": report.plot_skill_by_scale(out.skill),
            "parameters_by_pft.png": report.plot_parameters_by_pft(
                out.calibration["best"], data.lower, data.upper, pft=list(data.pft))}
    if out.oat is not None:
        figs["oat.png"] = report.plot_oat(out.oat)
    for i, site in enumerate(data.sites):
        t = np.asarray(data.time)[i]
        for v in ("Qh", "Qle"):
            obs = np.asarray(data.obs[v], float)[i]
            sims = {m: out.series[m][v][i] for m in ("default", "calibrated") if m in out.series}
            figs[f"{site}_{v}_series.png"] = report.plot_time_series(t, obs, sims, site=str(site), variable=v)
            cyc = {"observed": skill.mean_diurnal_cycle(t, obs)}
            cyc.update({m: skill.mean_diurnal_cycle(t, np.where(np.isfinite(obs), s, np.nan)) for m, s in sims.items()})
            figs[f"{site}_{v}_diurnal.png"] = report.plot_diurnal_cycles(cyc, site=str(site), variable=v)
    for name, fig in figs.items():
        fig.savefig(folder / name, dpi=100)
        plt.close(fig)
