"""The real-data study behind docs/real_data.md: West Phoenix and Hainich.

    python examples/real_data_study.py west-phoenix   # cases (a)-(c), published values, monthly windows
    python examples/real_data_study.py hainich        # seasons: inversion vs classical diffusivity
    python examples/real_data_study.py all [--starts N] [--out results/real_data]

Writes JSON files and Markdown tables to the output folder (default
results/real_data) and prints the tables. Data from $JLSM_DATA_DIR (see
examples/*.toml for the sources and licences).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

import numpy as np  # noqa: E402

from jlsm import classical  # noqa: E402
from jlsm import config as C  # noqa: E402
from jlsm.io import data_dir  # noqa: E402
from jlsm.metrics import all_metrics  # noqa: E402

HERE = Path(__file__).resolve().parent
WP_CASES = {
    "(a) 2 cm only": "west_phoenix_2cm.toml",
    "(b) surface only": "west_phoenix_surface.toml",
    "(c) surface + 2 cm": "west_phoenix.toml",
    "(c) albedo observed": "west_phoenix_albedo_observed.toml",
}
PARAMS = ("h_eff", "conductivity", "heat_capacity", "bottom_temperature")
HAINICH_SEASONS = {
    "winter": "2018-01-20T00:00",
    "spring": "2018-04-10T00:00",
    "summer": "2018-07-10T00:00",
    "autumn": "2018-10-10T00:00",
}


def _fmt(x, p=None):
    if x is None or not np.isfinite(x):
        return "-"
    if p == "heat_capacity" or abs(x) >= 1e5 or (0 < abs(x) < 1e-3):
        return f"{x:.3g}"
    return f"{x:.4g}" if abs(x) < 100 else f"{x:.1f}"


def published_estimates(folder: Path) -> dict:
    """Final rows of the study's West Phoenix starts: {param: array over starts}."""
    finals = []
    for f in sorted(folder.glob("paper_final_WP_T5T15_*.txt")):
        rows = [list(map(float, line.split())) for line in f.read_text().splitlines() if line.strip() and not line.startswith("#")]
        finals += rows[1::2]
    a = np.array(finals)
    return {p: a[:, i] for i, p in enumerate(PARAMS)}


def _skill(series, x, windows, names):
    out = {}
    for w, (a, b) in windows.items():
        out[w] = {}
        for n in names:
            m = all_metrics(series["best"][n][a:b] if x is None else x[n][a:b], series["observed"][n][a:b])
            out[w][n] = {k: float(m[k]) for k in ("rmse", "bias", "kge")}
    return out


def west_phoenix(out: Path, starts: int | None, monthly_starts: int) -> dict:
    results = {"cases": {}, "monthly": {}}
    pub = published_estimates(data_dir() / "west-phoenix")
    results["published"] = {p: {"mean": float(v.mean()), "min": float(v.min()), "max": float(v.max())} for p, v in pub.items()}
    for label, name in WP_CASES.items():
        t0 = time.perf_counter()
        run = C.run_problem(C.load_config(HERE / name), starts=starts)
        summary = C.summarise(run)
        # the published estimates evaluated in the same setup
        x_pub = np.array([results["published"][p]["mean"] for p in run.space.names])
        s_pub = run.series(x_pub)
        windows = {"fit": run.fit, "validation": run.validate}
        summary["published_skill"] = _skill(s_pub, s_pub["best"], windows, list(s_pub["observed"]))
        summary["seconds"] = time.perf_counter() - t0
        results["cases"][label] = summary
        print(f"{label}: {summary['status']} {summary['seconds']:.0f} s", flush=True)
    for label, name in list(WP_CASES.items())[:3]:
        cfg = C.load_config(HERE / name)
        rows = []
        for month in range(1, 13):
            first = f"2012-{month:02d}-01T00:00"
            last = f"2012-{month:02d}-20T00:00"
            s = C.first_complete_start(cfg, first, last)
            if s is None:
                print(f"{label} 2012-{month:02d}: no complete window", flush=True)
                continue
            row = C.run_windows(cfg, [s], n_starts=monthly_starts)[0]
            rows.append(row)
            e = row["estimates"]
            print(f"{label} {s}: " + ", ".join(f"{p} {_fmt(e[p]['best'], p)}" for p in PARAMS), flush=True)
        results["monthly"][label] = rows
    (out / "west_phoenix.json").write_text(json.dumps(results, indent=2))
    md = west_phoenix_tables(results)
    (out / "west_phoenix.md").write_text(md)
    print(md)
    return results


def west_phoenix_tables(results) -> str:
    lines = ["### Estimates (best start; p05-p95 over converged starts)", ""]
    lines.append("| case | albedo | " + " | ".join(PARAMS) + " | starts converged |")
    lines.append("|---" * (len(PARAMS) + 3) + "|")
    for label, s in results["cases"].items():
        cells = []
        for p in PARAMS:
            e = s["estimates"][p]
            b = " (bound)" if e.get("at_bound") else ""
            cells.append(f"{_fmt(e['best'], p)}{b} [{_fmt(e['p05'], p)}-{_fmt(e['p95'], p)}]")
        lines.append(f"| {label} | {s['fixed']['albedo']:.3f} | " + " | ".join(cells) + f" | {s['status']['converged']}/{sum(s['status'].values())} |")
    pub = results["published"]
    lines.append("| published (5 + 15 cm) | 0.172 | " + " | ".join(
        f"{_fmt(pub[p]['mean'], p)} [{_fmt(pub[p]['min'], p)}-{_fmt(pub[p]['max'], p)}]" for p in PARAMS) + " | 10 starts |")
    ref = next(iter(results["cases"].values()))["reference"]
    lines.append("| published mid-range defaults | 0.172 | " + " | ".join(_fmt(ref["values"][p], p) for p in PARAMS) + " | - |")
    for var, unit in (("lw_up", "W m-2"), ("soil_temperature@0.02", "K"), ("turbulent", "W m-2"), ("ts", "K")):
        lines += ["", f"### {var} [{unit}]: RMSE / bias / KGE, fit window and 50 h test window", ""]
        lines.append("| case | fit: estimate | fit: defaults | fit: published | test: estimate | test: defaults | test: published |")
        lines.append("|---|---|---|---|---|---|---|")
        for label, s in results["cases"].items():
            if var not in s["skill"]["fit"]:
                continue
            cells = []
            for w in ("fit", "validation"):
                for src in (s["skill"], s["reference"]["skill"], s["published_skill"]):
                    m = src[w][var]
                    cells.append(f"{m['rmse']:.3g} / {m['bias']:+.3g} / {m['kge']:.3f}")
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "### Monthly 150 h + 50 h windows of 2012 (first complete window from the 1st of each month)", ""]
    for label, rows in results["monthly"].items():
        lines += [f"#### {label}", ""]
        lines.append("| start (local) | " + " | ".join(PARAMS) + " | test RMSE LWup (est / defaults) | test RMSE 2 cm (est / defaults) | test RMSE H+LE (est / defaults) |")
        lines.append("|---" * (len(PARAMS) + 4) + "|")
        for r in rows:
            est = " | ".join(_fmt(r["estimates"][p]["best"], p) + ("*" if r["estimates"][p].get("at_bound") else "") for p in PARAMS)
            sk, rs = r["skill"]["validation"], r["reference"]["skill"]["validation"]
            cells = [f"{sk[v]['rmse']:.3g} / {rs[v]['rmse']:.3g}" if v in sk else "-" for v in ("lw_up", "soil_temperature@0.02", "turbulent")]
            lines.append(f"| {r['window_start_local']} | {est} | " + " | ".join(cells) + " |")
        lines.append("")
    lines.append("`*`: at a bound.")
    return "\n".join(lines) + "\n"


def hainich(out: Path, starts: int | None) -> dict:
    cfg = C.load_config(HERE / "hainich.toml")
    results = {"seasons": {}}
    pairs = [(0, 1), (1, 2), (0, 2), (2, 3)]
    for season, start in HAINICH_SEASONS.items():
        t0 = time.perf_counter()
        run = C.run_problem(C.with_window(cfg, start), starts=starts)
        s = C.summarise(run)
        obs = run.obs_ds
        a, b = run.fit
        t = obs["time"].values[a:b]
        temp = obs["SoilTemp"].values[a:b]
        z = obs["depth"].values
        table = classical.diffusivity_table(t, temp, z, pairs=pairs)
        blocks = classical.block_diffusivity(t, temp[:, 0], temp[:, 2], z[0], z[2], block_days=5)
        shallow = [r for r in table if r["z2"] <= 0.1 + 1e-9]
        values = [r[k] for r in shallow for k in ("kappa_amp", "kappa_phase")]
        s["classical"] = {
            "pairs": table,
            "blocks_2_10cm": {k: v.tolist() for k, v in blocks.items() if k != "start"},
            "range_shallow": [float(np.nanmin(values)), float(np.nanmax(values))],
        }
        s["seconds"] = time.perf_counter() - t0
        results["seasons"][season] = s
        print(f"{season}: kappa {s['estimates']['diffusivity']['best']:.3g}, with offsets {s['offset_profile']['estimate']:.3g}, "
              f"classical range {s['classical']['range_shallow'][0]:.3g}-{s['classical']['range_shallow'][1]:.3g} "
              f"({s['seconds']:.0f} s)", flush=True)
    # annual harmonic over the whole year
    _, obs_year = _year(cfg)
    t, temp, z = obs_year["time"].values, obs_year["SoilTemp"].values, obs_year["depth"].values
    results["annual"] = classical.diffusivity_table(t, temp, z, pairs=[(0, 1), (1, 2), (2, 3), (3, 4), (0, 4)],
                                                    period=classical.YEAR, trend=0, overtones=0)
    # lambda and C both free
    run = C.run_problem(C.load_config(HERE / "hainich_lambda_c.toml"), starts=starts)
    f = run.result["final"].values
    good = run.result["status"].values == 1
    results["lambda_c"] = {"conductivity": f[good, 0].tolist(), "heat_capacity": f[good, 1].tolist(),
                           "kappa": (f[good, 0] / f[good, 1]).tolist()}
    results["synthetic"] = synthetic_check(cfg, offsets=list(results["seasons"]["summer"]["offset_profile"]["offsets"].values()))
    (out / "hainich.json").write_text(json.dumps(results, indent=2, default=float))
    md = hainich_tables(results)
    (out / "hainich.md").write_text(md)
    print(md)
    return results


def _year(cfg):
    from jlsm import io

    d = cfg["data"]
    return io.read_fluxnet_csv(C.data_path(d["forcing"], cfg), C.data_path(d["fluxes"], cfg), utc_offset_hours=d["utc_offset_hours"])


def synthetic_check(cfg, kappa=1.5e-7, offsets=(0.3, 0.0, 0.0, 0.0)) -> dict:
    """Model-made temperatures at a known kappa, driven by the observed 2 cm series (summer window):
    inversion and classical estimates; then with 0.3 K added to the 5 cm series; then with
    ``offsets`` [K] added to the 5, 10, 20, 50 cm series (e.g. those found in the real data)."""
    from jlsm.inverse import invert
    from jlsm.observe import Observations

    c = C.with_window(cfg, HAINICH_SEASONS["summer"])
    forcing_ds, obs_ds = C.read_data(c)
    model, forcing, observations, space, initial, fit, validate = C.build_problem(c, forcing_ds, obs_ds)
    sims = C.simulate_points(model, forcing, observations, space, initial, np.array([[kappa]]))[0]
    out = {"true": kappa, "offsets_K": [float(v) for v in offsets]}
    cases = {"exact": np.zeros(4), "+0.3 K at 5 cm": np.array([0.3, 0, 0, 0]), "offsets at all depths": np.asarray(offsets, float)}
    for label, shift in cases.items():
        vals = sims + shift[None, :]
        obs = Observations(vals, observations.observables, observations.scale)
        r = invert(model, forcing, obs, space, starts=2, initial=initial, fit=fit, validate=validate, steps=0, polish=30)
        a, b = fit
        t = forcing_ds["time"].values[a:b]
        top = np.asarray(forcing.top_temperature)[a:b]
        cl = classical.pair_diffusivity(t, top, vals[a:b, 0], 0.02, 0.05)
        cl10 = classical.pair_diffusivity(t, top, vals[a:b, 1], 0.02, 0.10)
        run = C.Run(c, forcing_ds, obs_ds, model, forcing, obs, space, initial, fit, validate, r)
        out[label] = {
            "inversion": float(r["final"].sel(start=int(r["best_start"])).values[0]),
            "offset_profile": C.offset_profile(run)["estimate"],
            "classical_2_5_amp": cl["kappa_amp"],
            "classical_2_5_phase": cl["kappa_phase"],
            "classical_2_10_amp": cl10["kappa_amp"],
            "classical_2_10_phase": cl10["kappa_phase"],
        }
    return out


def hainich_tables(results) -> str:
    e7 = 1e7
    lines = ["### Thermal diffusivity [1e-7 m2 s-1] per season (30-day fit windows)", ""]
    lines.append("| season (fit start, local) | inversion | inversion, one offset per sensor | classical amp. 2-5 / 5-10 / 2-10 cm | "
                 "classical phase 2-5 / 5-10 / 2-10 cm | 5-day blocks 2-10 cm amp. (min-max) | phase (min-max) | test RMSE 5/10/20/50 cm [K] |")
    lines.append("|---|---|---|---|---|---|---|---|")
    for season, s in results["seasons"].items():
        pairs = {(round(r["z1"], 2), round(r["z2"], 2)): r for r in s["classical"]["pairs"]}
        keys = [(0.02, 0.05), (0.05, 0.1), (0.02, 0.1)]
        amp = " / ".join(f"{pairs[k]['kappa_amp'] * e7:.2f}" for k in keys)
        ph = " / ".join(f"{pairs[k]['kappa_phase'] * e7:.2f}" for k in keys)
        ba = np.array(s["classical"]["blocks_2_10cm"]["kappa_amp"]) * e7
        bp = np.array(s["classical"]["blocks_2_10cm"]["kappa_phase"]) * e7
        rm = " / ".join(f"{m['rmse']:.2f}" for m in s["skill"]["validation"].values())
        lines.append(
            f"| {season} ({s['window_start_local'][:10]}) | {s['estimates']['diffusivity']['best'] * e7:.2f} | "
            f"{s['offset_profile']['estimate'] * e7:.2f} | {amp} | {ph} | {np.nanmin(ba):.2f}-{np.nanmax(ba):.2f} | "
            f"{np.nanmin(bp):.2f}-{np.nanmax(bp):.2f} | {rm} |"
        )
    lines += ["", "### Annual harmonic (whole of 2018) [1e-7 m2 s-1]", "", "| pair | A1 / A2 [K] | lag [d] | kappa_amp | kappa_phase |", "|---|---|---|---|---|"]
    for r in results["annual"]:
        lines.append(f"| {r['z1'] * 100:.0f}-{r['z2'] * 100:.0f} cm | {r['amplitude1']:.2f} / {r['amplitude2']:.2f} | "
                     f"{r['lag_hours'] / 24:.1f} | {r['kappa_amp'] * e7:.2f} | {r['kappa_phase'] * e7:.2f} |")
    lc = results["lambda_c"]
    if lc["kappa"]:
        lines += ["", f"lambda and C both free (summer, {len(lc['kappa'])} converged starts): lambda "
                  f"{min(lc['conductivity']):.3g}-{max(lc['conductivity']):.3g} W m-1 K-1, C {min(lc['heat_capacity']):.3g}-"
                  f"{max(lc['heat_capacity']):.3g} J m-3 K-1, lambda/C {min(lc['kappa']) * e7:.3f}-{max(lc['kappa']) * e7:.3f}e-7 m2 s-1."]
    sy = results["synthetic"]
    offs = ", ".join(f"{v:+.2f}" for v in sy["offsets_K"])
    lines += ["", f"### Synthetic check (summer 2 cm series as top, true kappa {sy['true'] * e7:.2f}e-7; "
              f"'offsets at all depths': {offs} K at 5/10/20/50 cm)", "",
              "| data | inversion | inversion, one offset per sensor | classical 2-5 amp / phase | classical 2-10 amp / phase |",
              "|---|---|---|---|---|"]
    for label in ("exact", "+0.3 K at 5 cm", "offsets at all depths"):
        r = sy[label]
        lines.append(f"| {label} | {r['inversion'] * e7:.3f} | {r['offset_profile'] * e7:.3f} | {r['classical_2_5_amp'] * e7:.3f} / "
                     f"{r['classical_2_5_phase'] * e7:.3f} | {r['classical_2_10_amp'] * e7:.3f} / {r['classical_2_10_phase'] * e7:.3f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("case", choices=("west-phoenix", "hainich", "all"))
    ap.add_argument("--starts", type=int, default=None, help="starts per inversion (default: the config's)")
    ap.add_argument("--monthly-starts", type=int, default=12, help="starts per monthly West Phoenix window (default 12)")
    ap.add_argument("--out", type=Path, default=Path("results/real_data"))
    args = ap.parse_args(argv)
    if data_dir() is None:
        print("real_data_study: no data folder; set JLSM_DATA_DIR", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    if args.case in ("west-phoenix", "all"):
        west_phoenix(args.out, args.starts, args.monthly_starts)
    if args.case in ("hainich", "all"):
        hainich(args.out, args.starts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
