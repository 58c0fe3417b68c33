"""The surrogate path against the direct path: MdPL's protocol on the same sites, windows and metrics.

Paths (Xie, Li and Yoshimura 2025, egusphere-2025-3301, and their direct counterparts):

* ``default``: the PFT default parameters; ``sobol256``: the best of 256
  Sobol' sets by the fit-window objective (MdPL's conventional baseline);
* ``a_<design>``: per-site calibration through a surrogate trained on the
  runs of ``design`` (``oat``: MdPL's one-at-a-time design, ``sobol_1x``,
  ``sobol_4x``: joint designs of the same and 4x budget), the parameters then
  run in the physical model (MdPL's path);
* ``b_<design>``: a parameter generator (site attributes + forcing
  statistics -> parameters) trained through the frozen surrogate, leave one
  site out (trained without the site, applied to it);
* ``c``: the same generator trained through the physical model end to end,
  leave one site out;
* ``d``: direct per-site calibration of the physical model
  (:func:`jlsm.calibration.calibrate.calibrate`), or its result read from an
  existing ``jlsm calibrate`` output (``direct_from``, :mod:`.direct`).

Windows: ``windows="growing_season"`` cuts each site to a lead-in, fit and
test window from :data:`GROWING_SEASON_START`; ``windows="records"`` keeps the
collection's own periods and fit/test split (the windows of ``jlsm calibrate``
on the same collection: whole records, no lead-in).

Every parameter set is scored by running the physical model; skill is
:func:`jlsm.calibration.skill.collection_skill` (RMSE, KGE, ... of Qh and Qle
at the native step, daily and monthly means) on the fit and test windows.
The objective everywhere is MdPL's RMSE(Qh) + RMSE(Qle) [W m-2] over measured
steps of the fit window. A lead-in of ``lead_days`` before each fit window is
simulated (after the model's spin-up) but scored in neither window, so the
surrogates, which start from a zero state, are past their start-up transient.
The surrogate paths' objective (a, b) also leaves out the first ``burn_in``
steps of each record (the LSTM's start-up from a zero state; with whole-record
windows the fit window starts at the record start); the physical-model paths
and every score use the whole fit window.

Costs per path: physical-model runs (forward runs; gradient evaluations
counted as runs, one forward + one reverse pass each), surrogate training
seconds, calibration seconds, total wall seconds (the shared training-data
runs are attributed to each design in proportion to its runs).
"""

from __future__ import annotations

import dataclasses
import time as _time
from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from jlsm.errors import InputError

from .calibrate import calibrate_sites, rmse_objective
from .data import RunSet, comparison_designs, sobol_design
from .direct import load_direct
from .encoding import positional_encoding
from .fidelity import flux_fidelity
from .generators_loo import loo_generators, loo_weights
from .land import LandInputs, forcing_features, land_simulator
from .lstm import build_network, count_weights
from .model import SiteInputs
from .train import train_surrogate

__all__ = ["GROWING_SEASON_START", "WINDOWS", "CompareResult", "CompareSettings", "compare", "compare_data",
           "windowed_collection"]

DIVERGED_WM2 = 4 * 1361.0
"""|Qh| or |Qle| [W m-2] above which a training or fidelity run counts as diverged and is left out:
four times the solar constant (1361 W m-2, Kopp and Lean 2011, doi:10.1029/2010GL045777), far above
any flux the available energy can drive."""

WINDOWS = ("growing_season", "records")
"""Window modes of :class:`CompareSettings`: per-site growing-season windows, or the collection's own."""

GROWING_SEASON_START = {
    "CN-Cng": "2008-06-20",  # Changling grassland: summer rains, peak growth July-August
    "DE-Hai": "2018-05-20",  # beech canopy fully out by late May
    "US-CRT": "2011-06-20",  # crop up by late June
    "DE-Tha": "2010-05-20",
    "FR-Pue": "2005-04-20",  # Mediterranean: spring growth before the summer drought
    "ES-LMa": "2016-03-20",  # savanna grass layer: March-May
}
"""Local date where the fit window starts (after ``lead_days`` of lead-in), per shared site."""


@dataclasses.dataclass(frozen=True)
class CompareSettings:
    """Settings of :func:`compare` (defaults: the documented CPU run).

    Windows: ``windows`` (one of :data:`WINDOWS`); for ``"growing_season"``, ``lead_days``
    lead-in, ``fit_days`` fit, ``test_days`` test per site [d]; ``"records"`` ignores them.
    ``spinup_years``: spin-up cycles of the model (over the whole window when shorter than a year).
    Direct calibration (d): ``starts`` Sobol' starts (the default is start 0), ``steps`` Adam steps;
    or ``direct_from``: a ``jlsm calibrate`` calibration.nc to read it from (not re-run).
    Surrogates: ``designs`` trained, ``hidden``, ``n_layers``, ``head_width`` of the
    multi-task LSTM (``kind="single"`` for one LSTM per flux), ``n_frequencies`` of the
    positional encoding, training windows of ``window`` steps (``burn_in`` not scored),
    ``batch_size``, ``learning_rate``, ``max_steps``, ``eval_every``, ``patience``
    (early stopping on ``val_fraction`` of the runs held out).
    Surrogate calibration (a): ``sur_starts``, ``sur_steps``, ``sur_learning_rate``.
    Generators (b, c): ``gen_width``, ``gen_depth``, ``gen_steps``, ``gen_learning_rate``;
    (b) through the surrogates of ``generator_designs``.
    Fidelity: ``fidelity_runs`` joint Sobol' sets per site not used in training
    (``gradient_runs`` of them for gradients).
    """

    windows: str = "growing_season"
    lead_days: float = 3.0
    fit_days: float = 30.0
    test_days: float = 15.0
    spinup_years: int = 1
    starts: int = 8
    steps: int = 150
    learning_rate: float = 0.1
    direct_from: str | None = None
    sobol: int = 256
    designs: tuple = ("oat", "sobol_1x", "sobol_4x")
    kind: str = "multi"
    hidden: int = 64
    n_layers: int = 1
    head_width: int = 32
    n_frequencies: int = 4
    window: int = 168
    burn_in: int = 48
    batch_size: int = 32
    surrogate_learning_rate: float = 3e-3
    max_steps: int = 300
    eval_every: int = 25
    patience: int = 4
    val_fraction: float = 0.15
    sur_starts: int = 4
    sur_steps: int = 100
    sur_learning_rate: float = 0.05
    generator_designs: tuple = ("oat",)
    gen_width: int = 32
    gen_depth: int = 2
    gen_steps: int = 100
    gen_learning_rate: float = 0.02
    fidelity_runs: int = 16
    gradient_runs: int = 4
    chunk: int = 32
    seed: int = 0

    def __post_init__(self):
        if self.windows not in WINDOWS:
            raise InputError(f"surrogate compare: windows must be one of {', '.join(WINDOWS)}, got {self.windows!r}")


@dataclasses.dataclass
class CompareResult:
    """What :func:`compare` produced.

    Attributes:
        skill: ``skill(site, method, window, scale, variable, metric)`` (physical-model runs of every method).
        parameters: method -> (S, P) physical parameters.
        costs: method -> {"model_runs", "surrogate_training_s", "calibration_s", "total_s"}.
        fidelity: design -> {"sites": {site: flux_fidelity}, "pooled": ..., "gradient": {...}, "training": {...}}.
        objective: method -> (S,) fit-window RMSE(Qh) + RMSE(Qle) [W m-2] in the physical model.
        timing: step -> wall seconds; settings: the :class:`CompareSettings` as a dict; sites, pft.
        series: method -> (S, T, 2) physical-model Qh, Qle [W m-2].
        direct: where (d) came from (``re_run`` True, or the file and its attributes).
    """

    skill: object
    parameters: dict
    costs: dict
    fidelity: dict
    objective: dict
    timing: dict
    settings: dict
    sites: list
    pft: list
    series: dict
    direct: dict = dataclasses.field(default_factory=dict)


def windowed_collection(path, *, sites: Sequence[str] | None = None, lead_days: float = 5.0,
                        fit_days: float = 40.0, test_days: float = 20.0, starts: dict | None = None):
    """A :class:`jlsm.sites.Collection` cut to ``lead + fit + test`` days per site.

    ``starts``: site -> local date of the fit window (default :data:`GROWING_SEASON_START`);
    a site without a start keeps its collection period and split. ``sites``: names to keep.
    Returns ``(collection, fit_start)`` with fit_start: site -> np.datetime64 (local) or None.
    """
    from jlsm.sites import read_collection

    c = read_collection(path)
    specs = c.sites
    if sites:
        known = [s.name for s in specs]
        missing = [s for s in sites if s not in known]
        if missing:
            raise InputError(f"surrogate compare: sites {missing} not in {path}; it has {', '.join(known)}")
        specs = [s for s in specs if s.name in sites]
    starts = dict(GROWING_SEASON_START if starts is None else starts)
    day = np.timedelta64(86400, "s")
    fit_start = {}
    out = []
    for s in specs:
        if s.name not in starts:
            fit_start[s.name] = None
            out.append(s)
            continue
        t_fit = np.datetime64(starts[s.name], "s")
        t0 = t_fit - lead_days * day
        t_test = t_fit + fit_days * day
        t1 = t_test + test_days * day
        out.append(dataclasses.replace(s, period=(t0.astype("datetime64[ns]"), t1.astype("datetime64[ns]")),
                                       split={"test_start": str(t_test)}))
        fit_start[s.name] = t_fit
    return dataclasses.replace(c, sites=out), fit_start


def compare_data(path, settings: CompareSettings = CompareSettings(), *, sites=None, starts=None):
    """The :class:`jlsm.calibration.CalibrationData` of a windowed collection (see :func:`windowed_collection`),
    fit masks cut to start after the lead-in; with ``settings.windows == "records"`` the collection's own
    periods and fit/test split (``starts`` must then be None)."""
    from jlsm.calibration.sites import calibration_data
    from jlsm.sites import load_collection

    if settings.windows == "records":
        if starts:
            raise InputError("surrogate compare: windows='records' uses the collection's periods; do not pass starts")
        starts = {}
    col, fit_start = windowed_collection(path, sites=sites, lead_days=settings.lead_days, fit_days=settings.fit_days,
                                         test_days=settings.test_days, starts=starts)
    batch = load_collection(col)
    data = calibration_data(batch, spinup_years=settings.spinup_years, checkpoint_every=None)
    fit = np.array(data.fit)
    for i, site in enumerate(batch.sites):
        t = fit_start.get(site)
        if t is not None:
            utc = t - np.timedelta64(int(round(batch.constants["utc_offset_hours"][i] * 3600)), "s")
            fit[i] &= np.asarray(batch.time[i]) >= utc.astype("datetime64[ns]")
    return dataclasses.replace(data, fit=fit), batch


def _common_space(data):
    sp = data.spaces[0]
    for other in data.spaces[1:]:
        if (other.names != sp.names or not np.array_equal(other.lower, sp.lower)
                or not np.array_equal(other.upper, sp.upper)
                or [q.transform for q in other.parameters] != [q.transform for q in sp.parameters]):
            raise InputError("surrogate compare: the sites' parameter spaces differ; one surrogate and one generator "
                             "need one space (names, bounds, transforms)")
    return sp


def _filled_time(time):
    """(S, T) datetime64 with NaT padding continued at the site's step (for the positional encoding)."""
    t = np.array(time, dtype="datetime64[ns]")
    for i in range(t.shape[0]):
        ok = ~np.isnat(t[i])
        n = int(ok.sum())
        if n < t.shape[1]:
            step = t[i, 1] - t[i, 0]
            t[i, n:] = t[i, n - 1] + step * np.arange(1, t.shape[1] - n + 1)
    return t


def _fit_obs(data):
    """(S, T, 2) measured Qh, Qle on the fit window, NaN elsewhere."""
    return np.stack([np.where(data.fit, np.asarray(data.obs[v], float), np.nan) for v in ("Qh", "Qle")], axis=-1)


def _objective(sims, obs, mask):
    """RMSE(Qh) + RMSE(Qle) [W m-2] per site of sims (S, T, 2) against obs (S, T, 2) on mask (S, T)."""
    out = []
    for i in range(sims.shape[0]):
        tot = 0.0
        for j in range(2):
            ok = mask[i] & np.isfinite(obs[i, :, j]) & np.isfinite(sims[i, :, j])
            tot += float(np.sqrt(np.mean((sims[i, ok, j] - obs[i, ok, j]) ** 2))) if ok.any() else np.nan
        out.append(tot)
    return np.asarray(out)


@eqx.filter_jit
def _gradients(sim, inputs, x, obs, lo, span):
    """d objective / d range-scaled parameters, (S, R, P), for sets x (S, R, P) in [0, 1]."""

    def one_site(inp, xs, o):
        return jax.vmap(jax.grad(lambda xi: rmse_objective(sim(lo + span * xi, inp), o)))(xs)

    return jax.vmap(one_site)(inputs, x, obs)


def _predict(surrogate, theta, sinputs, site):
    """Surrogate fluxes (R, T, 2) for sets theta (R, P) at sites ``site`` (R,)."""
    f = eqx.filter_jit(lambda sur, th, st: jax.vmap(
        lambda t, s: sur.simulate(t, SiteInputs(sinputs.forcing[s], sinputs.encoding[s])))(th, st))
    return np.asarray(f(surrogate, jnp.asarray(theta, jnp.float32), jnp.asarray(site)), float)


def compare(data, settings: CompareSettings = CompareSettings(), *, batch=None,
            progress: Callable[[str], None] | None = None) -> CompareResult:
    """Run every path on ``data`` (a :class:`jlsm.calibration.CalibrationData`, e.g. from :func:`compare_data`).

    ``progress``: called with a one-line message after each stage.
    """
    from jlsm.calibration import designs as cdesigns
    from jlsm.calibration import skill as cskill
    from jlsm.calibration.calibrate import calibrate, simulate_sets

    say = progress or (lambda msg: None)
    st = settings
    t_all = _time.perf_counter()
    timing, costs, params, series = {}, {}, {}, {}
    space = _common_space(data)
    S, T = data.n_sites, data.n_times
    P = space.size
    lower, upper, log = data.lower, data.upper, np.asarray(data.log)
    bounds = np.stack([space.lower, space.upper], axis=1)
    defaults = data.defaults()
    obs_fit = _fit_obs(data)
    obs_all = np.stack([np.asarray(data.obs[v], float) for v in ("Qh", "Qle")], axis=-1)
    time = _filled_time(data.time)
    from_file = load_direct(st.direct_from, data) if st.direct_from else None  # checked before any run

    def run(x):  # physical-model fluxes (S, N, T, 2) of sets x (S, N, P)
        return simulate_sets(data, x, variables=("Qh", "Qle"), chunk=st.chunk)

    # --- training and test sets of the surrogates, and the Sobol-256 baseline: one batched forward run
    t0 = _time.perf_counter()
    per_site = [comparison_designs(bounds, defaults[i], seed=st.seed, log=log) for i in range(S)]
    names = [d for d in ("oat", "sobol_1x", "sobol_4x") if d in st.designs]
    sizes = {d: per_site[0][d].theta.shape[0] for d in names}
    fid = sobol_design(bounds, st.fidelity_runs, seed=st.seed + 7919, log=log).theta  # not in any training design
    sob = cdesigns.sobol_design((lower, upper, log), int(st.sobol), seed=st.seed) if st.sobol else np.zeros((S, 0, P))
    blocks = [np.stack([per_site[i][d].theta for i in range(S)]) for d in names]
    blocks += [np.broadcast_to(fid, (S,) + fid.shape), sob, defaults[:, None]]
    sets = np.concatenate(blocks, axis=1)
    y = run(sets)
    timing["model_runs_forward"] = _time.perf_counter() - t0
    per_run_s = timing["model_runs_forward"] / sets.shape[1]
    say(f"{S * sets.shape[1]} model runs in {timing['model_runs_forward']:.0f} s")
    offs = np.cumsum([0] + [sizes[d] for d in names] + [st.fidelity_runs, sob.shape[1], 1])
    valid = np.asarray(data.fit | data.test | _lead_mask(data))
    # a run of an extreme joint parameter set can blow up (whole records: seen at DE-Hai); it would
    # swamp the surrogate's normalisation, so diverged runs are left out of training and fidelity
    diverged = diverged_runs(y, valid)
    y_design = {d: np.where(diverged[:, offs[k]:offs[k + 1], None, None], np.nan, y[:, offs[k]:offs[k + 1]])
                for k, d in enumerate(names)}
    n_div = {d: int(diverged[:, offs[k]:offs[k + 1]].sum()) for k, d in enumerate(names)}
    y_fid = np.where(diverged[:, offs[len(names)]:offs[len(names) + 1], None, None], np.nan,
                     y[:, offs[len(names)]:offs[len(names) + 1]])
    n_div["fidelity"] = int(diverged[:, offs[len(names)]:offs[len(names) + 1]].sum())
    if any(n_div.values()):
        say(f"diverged runs left out (|flux| > {DIVERGED_WM2:g} W m-2 or not finite): {n_div}")
    y_sob = y[:, offs[len(names) + 1]:offs[len(names) + 2]]
    series["default"] = y[:, -1]
    params["default"] = defaults
    costs["default"] = {"model_runs": S, "surrogate_training_s": 0.0, "calibration_s": 0.0, "total_s": per_run_s}
    if st.sobol:
        loss = np.stack([_objective(y_sob[:, n], obs_fit, data.fit) for n in range(y_sob.shape[1])], axis=1)
        best = np.nanargmin(loss, axis=1)
        params["sobol256"] = sob[np.arange(S), best]
        series["sobol256"] = y_sob[np.arange(S), best]
        costs["sobol256"] = {"model_runs": S * int(st.sobol), "surrogate_training_s": 0.0, "calibration_s": 0.0,
                             "total_s": per_run_s * int(st.sobol)}

    # --- direct calibration (d), or its result from an earlier jlsm calibrate run
    if from_file is not None:
        params["d"], costs["d"], direct = from_file
        say(f"direct calibration read from {st.direct_from}: {costs['d']['calibration_s']:.0f} s, "
            f"{costs['d']['model_runs']} model runs there")
    else:
        t0 = _time.perf_counter()
        res = calibrate(data, starts=st.starts, steps=st.steps, learning_rate=st.learning_rate, seed=st.seed,
                        chunk=min(50, st.steps))
        timing["d"] = _time.perf_counter() - t0
        params["d"] = np.asarray(res["best"].values)
        costs["d"] = {"model_runs": int(res.attrs["model_runs"]), "surrogate_training_s": 0.0,
                      "calibration_s": timing["d"], "total_s": timing["d"]}
        direct = {"re_run": True, "starts": int(st.starts), "steps": int(st.steps), "truncate": int(res.attrs["truncate"])}
        say(f"direct calibration: {timing['d']:.0f} s")

    # --- surrogates
    forcing = np.asarray(forcing_features(data.forcing), float)
    enc = np.stack([positional_encoding(time[i], st.n_frequencies, np.float32) for i in range(S)])
    sinputs = SiteInputs(jnp.asarray(forcing, jnp.float32), jnp.asarray(enc))
    # the LSTM is causal: calibration through it needs the record only up to the last fit step
    stop = int(np.max(np.nonzero(np.any(data.fit, axis=0))[0])) + 1
    s_cut = SiteInputs(sinputs.forcing[:, :stop], sinputs.encoding[:, :stop])
    obs_cut = jnp.asarray(_burned_in(obs_fit, data, st.burn_in)[:, :stop], jnp.float32)
    rng = np.random.default_rng(st.seed)
    surrogates, fidelity = {}, {}
    in_size = forcing.shape[-1] + P + 4 * st.n_frequencies
    model_sim = land_simulator(space, spinup_years=st.spinup_years, checkpoint_every=None)
    # the model's fit objective needs the record up to the last fit step when its run is causal there
    # (spin-up over the first year only: jlsm.calibration.CalibrationData.causal_steps)
    m_stop = stop if data.causal_steps is not None and stop >= data.causal_steps else T
    minputs = LandInputs(data.models, jax.tree_util.tree_map(
        lambda a: a[:, :m_stop] if eqx.is_array(a) and a.ndim >= 2 and a.shape[1] == T else a, data.forcing))
    obs_m = obs_fit[:, :m_stop]
    timing["model_steps_for_gradients"] = m_stop
    fid_site = np.repeat(np.arange(S), st.fidelity_runs)
    g_sets = fid[: st.gradient_runs]
    lo, span = jnp.asarray(bounds[:, 0]), jnp.asarray(bounds[:, 1] - bounds[:, 0])
    xg = np.broadcast_to((g_sets - bounds[:, 0]) / (bounds[:, 1] - bounds[:, 0]), (S,) + g_sets.shape)
    gm = None
    if st.gradient_runs > 0:
        t0 = _time.perf_counter()
        gm = np.asarray(_gradients(model_sim, minputs, jnp.asarray(xg), jnp.asarray(obs_m), lo, span), float)
        timing["model_gradients"] = _time.perf_counter() - t0
    for d in names:
        R = sizes[d]
        theta = np.stack([per_site[i][d].theta for i in range(S)]).reshape(S * R, P)
        target = np.where(valid[:, None, :, None], y_design[d], np.nan).reshape(S * R, T, 2)
        runs = RunSet(jnp.asarray(forcing, jnp.float32), jnp.asarray(enc), jnp.asarray(theta, jnp.float32),
                      jnp.repeat(jnp.arange(S), R), jnp.asarray(target, jnp.float32))
        order = rng.permutation(S * R)
        n_val = max(1, int(round(st.val_fraction * S * R)))
        net = build_network(st.kind, in_size=in_size, hidden=st.hidden, n_layers=st.n_layers,
                            head_width=st.head_width, key=jax.random.PRNGKey(st.seed), dtype=jnp.float32)
        t0 = _time.perf_counter()
        sur, hist = train_surrogate(net, runs, bounds, train_runs=np.sort(order[n_val:]), val_runs=np.sort(order[:n_val]),
                                    n_frequencies=st.n_frequencies, window=min(st.window, T), burn_in=st.burn_in,
                                    batch_size=st.batch_size, learning_rate=st.surrogate_learning_rate,
                                    max_steps=st.max_steps, eval_every=st.eval_every, patience=st.patience,
                                    seed=st.seed)
        t_train = _time.perf_counter() - t0
        surrogates[d] = sur
        pred = _predict(sur, np.tile(fid, (S, 1)), sinputs, fid_site).reshape(S, st.fidelity_runs, T, 2)
        ok = valid[:, None, :, None]
        fsite = {}
        for i, site in enumerate(data.sites):
            m = valid[i]
            fsite[str(site)] = flux_fidelity(pred[i][:, m], y_fid[i][:, m], time[i][m])
        fidelity[d] = {
            "sites": fsite,
            "pooled": flux_fidelity(np.where(ok, pred, np.nan).reshape(-1, T, 2)[:, valid.any(0)],
                                    np.where(ok, y_fid, np.nan).reshape(-1, T, 2)[:, valid.any(0)]),
            "gradient": _gradient_scores(sur, s_cut, xg, obs_fit[:, :stop], lo, span, gm),
            "diverged_fidelity_runs": n_div["fidelity"],
            "training": {"runs": S * R, "val_runs": n_val, "diverged_runs": n_div[d], "weights": count_weights(sur.net), "seconds": t_train,
                         "steps": hist.get("steps"), "best_step": hist.get("best_step"),
                         "best_val_loss": hist.get("best_val_loss"), "stopped_early": hist.get("stopped_early")},
        }
        g = fidelity[d]["gradient"]
        say(f"surrogate {d}: {S * R} runs, trained {t_train:.0f} s, R(Qh) {fidelity[d]['pooled']['half_hourly']['Qh']['r']:.3f}, "
            f"R(Qle) {fidelity[d]['pooled']['half_hourly']['Qle']['r']:.3f}, "
            f"gradient cosine {g['cosine_median']:.2f} ({g['finite']}/{g['sets']} finite)")

        # (a) calibration through the surrogate
        t0 = _time.perf_counter()
        r = calibrate_sites(sur.simulate, s_cut, obs_cut, space, n_starts=st.sur_starts,
                            steps=st.sur_steps, learning_rate=st.sur_learning_rate, seed=st.seed)
        t_cal = _time.perf_counter() - t0
        params[f"a_{d}"] = np.asarray(r.best, float)
        data_s = per_run_s * R
        costs[f"a_{d}"] = {"model_runs": S * R + S, "surrogate_training_s": t_train, "calibration_s": t_cal,
                           "total_s": data_s + t_train + t_cal + per_run_s}

        # (b) generator through the frozen surrogate, leave one site out
        if d in st.generator_designs:
            theta_b, _, t_gen = loo_generators(sur.simulate, space, data, s_cut, obs_cut, defaults, st)
            params[f"b_{d}"] = theta_b
            costs[f"b_{d}"] = {"model_runs": S * R + S, "surrogate_training_s": t_train, "calibration_s": t_gen,
                               "total_s": data_s + t_train + t_gen + per_run_s}
            say(f"generator through surrogate {d}: {t_gen:.0f} s")

    # (c) generator through the physical model, leave one site out
    theta_c, hist_c, t_c = loo_generators(model_sim, space, data, minputs, obs_m, defaults, st)
    params["c"] = theta_c
    pairs = int(loo_weights(data.site_ids or data.sites).sum())  # (fold, entry) pairs trained on
    costs["c"] = {"model_runs": int(st.gen_steps) * pairs + S, "surrogate_training_s": 0.0, "calibration_s": t_c,
                  "total_s": t_c + per_run_s}
    say(f"generator through the model: {t_c:.0f} s")

    # every calibrated set run in the physical model, one batched call
    todo = [m for m in params if m not in series]
    t0 = _time.perf_counter()
    y_m = run(np.stack([params[m] for m in todo], axis=1))
    timing["final_runs"] = _time.perf_counter() - t0
    for k, m in enumerate(todo):
        series[m] = y_m[:, k]
    order = ["default", "sobol256"] + [f"a_{d}" for d in names] + [f"b_{d}" for d in names] + ["c", "d"]
    order = [m for m in order if m in series]
    sims = {m: {"Qh": series[m][..., 0], "Qle": series[m][..., 1]} for m in order}
    obs = {"Qh": obs_all[..., 0], "Qle": obs_all[..., 1]}
    sk = cskill.collection_skill(np.asarray(data.time), sims, obs, {"fit": data.fit, "test": data.test},
                                 sites=list(data.sites), pft=list(data.pft), offset_hours=data.offset_hours)
    objective = {m: _objective(series[m], obs_all, data.fit) for m in order}
    timing["total"] = _time.perf_counter() - t_all
    return CompareResult(sk, {m: params[m] for m in order}, {m: costs[m] for m in order}, fidelity, objective,
                         timing, dataclasses.asdict(st), list(map(str, data.sites)), list(map(str, data.pft)),
                         {m: series[m] for m in order}, direct)


def _gradient_scores(sur, sinputs, xg, obs_fit, lo, span, gm) -> dict:
    """Cosine similarity and relative error of the surrogate's objective gradient against the model's ``gm``
    (S, R, P) at range-scaled sets ``xg``; sets where either gradient is not finite are counted apart."""
    nan = float("nan")
    if gm is None:
        return {"cosine": [], "relative_error": [], "cosine_median": nan, "relative_error_median": nan,
                "finite": 0, "sets": 0, "model_gradient_finite": 0}
    f32 = jnp.float32
    gs = np.asarray(_gradients(sur.simulate, sinputs, jnp.asarray(xg, f32), jnp.asarray(obs_fit, f32),
                               lo.astype(f32), span.astype(f32)), float)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.sum(gs * gm, -1) / (np.linalg.norm(gs, axis=-1) * np.linalg.norm(gm, axis=-1))
        rel = np.linalg.norm(gs - gm, axis=-1) / np.linalg.norm(gm, axis=-1)
    ok = np.isfinite(cos) & np.isfinite(rel)
    return {"cosine": cos.tolist(), "relative_error": rel.tolist(),
            "cosine_median": float(np.median(cos[ok])) if ok.any() else nan,
            "relative_error_median": float(np.median(rel[ok])) if ok.any() else nan,
            "finite": int(ok.sum()), "sets": int(ok.size), "model_gradient_finite": int(np.isfinite(gm).all(-1).sum())}


def diverged_runs(y, valid, limit: float = DIVERGED_WM2) -> np.ndarray:
    """(S, N) True where run n of site s (fluxes y (S, N, T, 2) [W m-2]) is not finite or exceeds ``limit``
    in magnitude at a ``valid`` (S, T) step (padding is not judged)."""
    yv = np.where(np.asarray(valid)[:, None, :, None], y, 0.0)
    return ~np.all(np.isfinite(yv) & (np.abs(yv) <= limit), axis=(2, 3))


def _burned_in(obs, data, burn_in):
    """obs (S, T, 2) with the first ``burn_in`` steps of each site's record set to NaN (surrogate start-up)."""
    t = np.asarray(data.time)
    first = np.argmax(~np.isnat(t), axis=1)
    early = np.arange(t.shape[1])[None, :] < (first + int(burn_in))[:, None]
    return np.where(early[..., None], np.nan, obs)


def _lead_mask(data):
    """(S, T) steps of the record before the fit window (lead-in)."""
    t = np.asarray(data.time)
    ok = ~np.isnat(t)
    first = np.array([t[i][data.fit[i]].min() if data.fit[i].any() else t[i][ok[i]].min() for i in range(t.shape[0])])
    return ok & (t < first[:, None])
