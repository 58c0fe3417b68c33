"""jlsm performance benchmarks: one command, JSON and a markdown summary.

    python benchmarks/run.py            # full run (about 15 min on 2 cores)
    python benchmarks/run.py --quick    # a few minutes
    python benchmarks/run.py --only published throughput

Sections (each writes ``benchmarks/results/<section>.json``; all of them feed
``benchmarks/results/summary.md``):

* ``published``: the Neural Physics experiment end to end (50 starts, 2 depths):
  the PyTorch reference (``reference_torch.py``, measured on a reduced number of
  starts and iterations and extrapolated by that script, labelled as such)
  against jlsm's inversion (a) with jlsm's default Gauss-Newton polish (as
  ``jlsm demo``) and (b) with the study's optimiser budget (Adam, 151
  iterations), each in a new Python process timed from its start to the
  results and to its exit (start-up, imports, case set-up, first call), with
  an empty persistent compilation cache (cold) and with the cache the cold
  process filled (warm), and once compiled (steady state); and the wall time
  of ``jlsm demo --configuration surface+5cm`` (cold and warm) and of the whole
  ``jlsm demo`` (warm).
* ``throughput``: forward and forward+gradient cost per node x step x start for
  N in {51, 101, 401} nodes, T in {100, 1000, 8760} hourly steps and
  {1, 50, 1000} starts (vmap), for the default solver and the previous default
  (``TridiagonalSolver``), with compile time separate; ``checkpoint_every =
  sqrt(T)`` where a plain gradient would store more than about 2 GB.
* ``sharding``: the start axis on 1 device against 2 virtual CPU devices.
* ``solvers``: default (spectral), tridiagonal, modal (eigh per parameter
  set) and Jacobi/convolution at the study's tolerance and at the direct
  solvers' accuracy: error and cost.
* ``memory``: peak memory of a gradient through a year of hourly steps
  (8760 x 101 nodes) for 1 and 1000 starts, with and without checkpointing
  (XLA's compiled memory analysis, and the peak RSS of a subprocess that runs it).

Timings are the best (minimum; medians are kept in the JSON) wall-clock time of
repeated calls after a warm-up call, with ``block_until_ready``; ns =
nanoseconds per node x step x start. The benchmark processes run with XLA's
single-kernel CPU loops (:func:`jlsm.enable_loop_kernels`), as the ``jlsm``
command does; ``--xla-default`` measures with XLA's defaults. In the throughput
section the forward and gradient calls alternate (so a change of load affects
both alike) and short cells are sampled up to 100 times within the cell's time
budget. Benchmark processes run with OPENBLAS_NUM_THREADS=1. On a shared
machine, compare numbers from the same run (the ratios), not across runs.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
REPO = HERE.parent
SECTIONS = ("published", "throughput", "sharding", "solvers", "memory")
NAMES = ("albedo", "h", "beta", "conductivity", "bottom_temperature", "heat_capacity")


# ---------------------------------------------------------------------------- helpers


def _jax():
    import jax

    jax.config.update("jax_enable_x64", True)
    return jax


def _env(**extra):
    env = dict(os.environ)
    env["OPENBLAS_NUM_THREADS"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env.update(extra)
    return env


def _worker(name, *args, env=None, timeout=3600):
    """Run ``run.py --worker name args`` in a fresh process; its last stdout line is JSON."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name, *map(str, args)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env or _env(), capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"worker {name} failed:\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["process_wall_s"] = wall
    return out


def _timed(fn, args, repeats, budget_s):
    """(compile s, median s, min s, runs) of ``jax.jit(fn)``: warm-up call, then repeats within a budget."""
    jax = _jax()
    t0 = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    jax.block_until_ready(compiled(*args))
    first = time.perf_counter() - t0
    runs = [first]
    spent = first
    while len(runs) < repeats + 1 and spent < budget_s:
        t0 = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        runs.append(time.perf_counter() - t0)
        spent += runs[-1]
    timed_runs = runs[1:] if len(runs) > 1 else runs
    return compile_s, statistics.median(timed_runs), min(timed_runs), len(timed_runs)


def _with_parameters(model, p):
    import equinox as eqx

    getters = {
        "albedo": lambda m: m.radiation.albedo,
        "h": lambda m: m.turbulence.h,
        "beta": lambda m: m.turbulence.beta,
        "conductivity": lambda m: m.soil.conductivity,
        "bottom_temperature": lambda m: m.bottom_temperature,
        "heat_capacity": lambda m: m.soil.heat_capacity,
    }
    return eqx.tree_at(lambda m: [getters[n](m) for n in NAMES], model, [p[i] for i in range(len(NAMES))])


def _starts(batch, seed=0):
    import jax.numpy as jnp
    import numpy as np

    from jlsm.synthetic import BOUNDS

    rng = np.random.default_rng(seed)
    lo = np.array([BOUNDS[n][0] for n in NAMES])
    hi = np.array([BOUNDS[n][1] for n in NAMES])
    return jnp.asarray(lo + (hi - lo) * rng.random((batch, len(NAMES))))


def _problem(solver, nodes, steps, checkpoint_every=None, jacobi_tolerance=1e-4):
    """(forward(p), loss(p)) on the study's case with ``nodes`` nodes over 1 m and ``steps`` hourly steps."""
    import equinox as eqx
    import jax.numpy as jnp

    from jlsm.grid import SoilGrid
    from jlsm.model import simulate
    from jlsm.physics.soil_heat import JacobiSolver, ModalSolver, SpectralSolver, TridiagonalSolver
    from jlsm.synthetic import INITIAL_TEMPERATURE, OBSERVED_DEPTHS, paper_forcing, paper_model

    solvers = {
        "spectral": SpectralSolver(),
        "tridiagonal": TridiagonalSolver(),
        "modal": ModalSolver(),
        "jacobi": JacobiSolver(tolerance=jacobi_tolerance),
    }
    grid = SoilGrid.uniform(1.0, nodes)
    truth = paper_model(grid=grid)
    base = eqx.tree_at(lambda m: m.solver, truth, solvers[solver])
    forcing = paper_forcing(hours=steps)
    target = eqx.filter_jit(
        lambda m, f: simulate(m, f, initial=INITIAL_TEMPERATURE, depths=OBSERVED_DEPTHS).temperature
    )(truth, forcing)

    def forward(p):
        out = simulate(
            _with_parameters(base, p), forcing, initial=INITIAL_TEMPERATURE, depths=OBSERVED_DEPTHS,
            checkpoint_every=checkpoint_every, bottom_flux=False,
        )
        return out.temperature

    def loss(p):
        return jnp.mean((forward(p) - target) ** 2)

    return forward, loss


def _machine():
    jax = _jax()
    return dict(
        jax=jax.__version__,
        backend=jax.default_backend(),
        devices=len(jax.devices()),
        cpu_count=os.cpu_count(),
        machine=platform.machine(),
        python=platform.python_version(),
        load_average=os.getloadavg(),
        xla_flags=os.environ.get("XLA_FLAGS", ""),
    )


# ---------------------------------------------------------------------------- workers (subprocesses)


def worker_invert(mode, starts, repeat, cache_dir=""):
    """jlsm's 2-depth twin inversion timed from process start-up.

    Phases: imports (JAX, jlsm; Optax for Adam), case set-up (``twin_case``
    with the study's published synthetic observations, as the reference, or
    observations made by jlsm's model if the data folder is absent),
    first call (tracing, compiling or loading from the persistent cache in
    ``cache_dir``, running, assembling the results), then ``repeat`` steady
    calls. The stamps are wall-clock times (``time.time()``), so the parent
    can measure from the moment it started this process and to its exit.
    """
    stamps = {"worker_start": time.time()}
    jax = _jax()
    stamps["jax_imported"] = time.time()
    import jlsm
    from jlsm.errors import DataFileError
    from jlsm.inverse import invert
    from jlsm.synthetic import twin_case

    if mode == "adam151":
        import optax

        kwargs = dict(steps=151, polish=0, optimizer=optax.adam(0.1), tolerances=_never_converge())
    elif mode == "gauss-newton":
        kwargs = dict(steps=0, polish=40)
    else:
        raise ValueError(mode)
    if cache_dir:
        jlsm.enable_compilation_cache(cache_dir)
    stamps["jlsm_imported"] = time.time()
    try:  # the study's own synthetic observations, the targets the reference fits
        model, forcing, observations, space, initial = twin_case("surface+5cm", source="published")
        source = "published"
    except DataFileError:  # without the data folder: the same case made by jlsm's model
        model, forcing, observations, space, initial = twin_case("surface+5cm")
        source = "model"
    stamps["case_ready"] = time.time()
    result = invert(model, forcing, observations, space, starts=int(starts), seed=0, initial=initial, **kwargs)
    stamps["results"] = time.time()
    steady = []
    for _ in range(int(repeat)):
        t0 = time.perf_counter()
        invert(model, forcing, observations, space, starts=int(starts), seed=0, initial=initial, **kwargs)
        steady.append(time.perf_counter() - t0)
    stamps["done"] = time.time()
    med = result["median"].to_series()
    return dict(
        mode=mode,
        starts=int(starts),
        observations=source,
        stamps=stamps,
        import_jax_s=stamps["jax_imported"] - stamps["worker_start"],
        import_jlsm_s=stamps["jlsm_imported"] - stamps["jax_imported"],
        case_s=stamps["case_ready"] - stamps["jlsm_imported"],
        first_call_s=stamps["results"] - stamps["case_ready"],
        steady_call_s=min(steady) if steady else None,
        steady_calls_s=steady,
        iterations_max=int(result["iterations"].max()),
        n_converged=int(result["n_converged"]),
        median_estimates={k: float(v) for k, v in med.items()},
        devices=len(jax.devices()),
    )


def _never_converge():
    from jlsm.inverse import Tolerances

    return Tolerances(ftol=0.0, xtol=0.0, gtol=0.0, patience=10**9)  # run all 151 iterations, as the study's budget


def worker_throughput(solver, nodes, steps, batch, checkpoint, repeats, budget_s, kinds):
    """Forward and gradient timings of one grid cell, the two calls interleaved (so a change of
    load on a shared machine affects both alike), best and median of the repeats."""
    jax = _jax()
    checkpoint_every = int(round(int(steps) ** 0.5)) if checkpoint == "1" else None
    forward, loss = _problem(solver, int(nodes), int(steps), checkpoint_every)
    p = _starts(int(batch))
    if int(batch) == 1:
        fns = {"forward": forward, "gradient": jax.grad(loss)}
        p = p[0]
    else:
        fns = {"forward": jax.vmap(forward), "gradient": jax.vmap(jax.grad(loss))}
    kinds = kinds.split(",")
    work = int(nodes) * int(steps) * int(batch)
    row = dict(solver=solver, nodes=int(nodes), steps=int(steps), batch=int(batch), checkpoint_every=checkpoint_every)
    compiled, runs = {}, {}
    for kind in kinds:
        t0 = time.perf_counter()
        compiled[kind] = jax.jit(fns[kind]).lower(p).compile()
        row[f"{kind}_compile_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        jax.block_until_ready(compiled[kind](p))  # warm-up
        row[f"{kind}_first_s"] = time.perf_counter() - t0
        runs[kind] = []
    spent = 0.0
    # at least ``repeats`` pairs (fewer if the budget runs out first), more while the budget
    # lasts (up to 100): short cells get many samples, the best of which is least disturbed
    while True:
        done = min(len(r) for r in runs.values())
        if done >= 1 and (spent >= float(budget_s) or done >= 100) or (done >= int(repeats) and spent >= 0.25 * float(budget_s)):
            break
        for kind in kinds:
            t0 = time.perf_counter()
            jax.block_until_ready(compiled[kind](p))
            runs[kind].append(time.perf_counter() - t0)
            spent += runs[kind][-1]
    for kind in kinds:
        mn, med = min(runs[kind]), statistics.median(runs[kind])
        row[f"{kind}_s"] = med
        row[f"{kind}_min_s"] = mn
        row[f"{kind}_runs"] = len(runs[kind])
        row[f"{kind}_ns"] = mn / work * 1e9  # best of the repeats: least disturbed by other load
        row[f"{kind}_median_ns"] = med / work * 1e9
    if "forward_s" in row and "gradient_s" in row:
        row["gradient_over_forward"] = row["gradient_min_s"] / row["forward_min_s"]
    return row


def worker_sharding(nodes, steps, batch, repeats):
    """Forward+gradient of ``batch`` starts on one device and sharded over all visible devices."""
    jax = _jax()
    import numpy as np

    forward, loss = _problem("spectral", int(nodes), int(steps))
    p = _starts(int(batch))
    fn = jax.vmap(jax.grad(loss))
    work = int(nodes) * int(steps) * int(batch)
    devices = jax.devices()
    row = dict(nodes=int(nodes), steps=int(steps), batch=int(batch), devices=len(devices))
    _, med, mn, _ = _timed(fn, (p,), int(repeats), 60.0)
    row["one_device_gradient_s"] = mn
    row["one_device_gradient_ns"] = mn / work * 1e9
    if len(devices) > 1 and int(batch) % len(devices) == 0:
        mesh = jax.sharding.Mesh(np.array(devices), ("start",))
        sharded = jax.device_put(p, jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("start")))
        _, med, mn, _ = _timed(fn, (sharded,), int(repeats), 60.0)
        row["sharded_gradient_s"] = mn
        row["sharded_gradient_ns"] = mn / work * 1e9
        row["speedup"] = row["one_device_gradient_s"] / row["sharded_gradient_s"]
    return row


def worker_memory(batch, checkpoint, run):
    """Compiled memory analysis (and optionally peak RSS and time of one run) of a gradient over 8760 steps."""
    jax = _jax()
    steps, nodes = 8760, 101
    checkpoint_every = int(round(steps**0.5)) if checkpoint == "1" else None
    forward, loss = _problem("spectral", nodes, steps, checkpoint_every)
    p = _starts(int(batch))
    fn = jax.vmap(jax.grad(loss)) if int(batch) > 1 else jax.grad(loss)
    p = p if int(batch) > 1 else p[0]
    t0 = time.perf_counter()
    compiled = jax.jit(fn).lower(p).compile()
    compile_s = time.perf_counter() - t0
    ma = compiled.memory_analysis()
    row = dict(batch=int(batch), steps=steps, nodes=nodes, checkpoint_every=checkpoint_every, compile_s=compile_s)
    if ma is not None:
        row.update(
            temp_bytes=int(ma.temp_size_in_bytes),
            argument_bytes=int(ma.argument_size_in_bytes),
            output_bytes=int(ma.output_size_in_bytes),
            generated_code_bytes=int(ma.generated_code_size_in_bytes),
        )
        row["xla_peak_estimate_bytes"] = row["temp_bytes"] + row["argument_bytes"] + row["output_bytes"]
    row["rss_after_compile_bytes"] = _peak_rss()
    if run == "1":
        t0 = time.perf_counter()
        jax.block_until_ready(compiled(p))
        row["run_s"] = time.perf_counter() - t0
        row["peak_rss_bytes"] = _peak_rss()
    return row


def _peak_rss():
    """Peak resident memory of this process [bytes]: VmHWM (ru_maxrss can carry the parent's peak over exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


WORKERS = {
    "invert": worker_invert,
    "throughput": worker_throughput,
    "sharding": worker_sharding,
    "memory": worker_memory,
}


# ---------------------------------------------------------------------------- sections


def section_published(quick):
    """The published experiment end to end: the PyTorch reference against fresh jlsm processes.

    Every jlsm number is the wall time of a new Python process: from its start
    to the results (and to its exit), with an empty persistent compilation
    cache (cold) and again with the cache the cold process filled (warm); plus
    the steady (compiled) call. Processes run with Python's default bytecode
    caching (``PYTHONDONTWRITEBYTECODE`` unset), so jlsm's own modules are
    compiled to bytecode once, as in an installed package.
    """
    out = dict(note="reference: PyTorch, measured on a reduced run and EXTRAPOLATED by reference_torch.py")
    ref_starts, ref_iters = (1, 2) if quick else (2, 4)
    ref_python = _torch_python()
    if ref_python is None:
        out["reference"] = dict(skipped=True, reason="torch not installed")
    else:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "ref.json"
            t0 = time.perf_counter()
            proc = subprocess.run(
                [ref_python, str(HERE / "reference_torch.py"), "--starts", str(ref_starts), "--iterations",
                 str(ref_iters), "--json", str(path), "--forward-repeats", "1"],
                env=_env(), capture_output=True, text=True, timeout=7200,
            )
            wall = time.perf_counter() - t0
            if proc.returncode != 0 or not path.exists():
                out["reference"] = dict(skipped=True, reason=proc.stderr[-2000:])
            else:
                ref = json.loads(path.read_text())
                out["reference"] = dict(
                    measured_starts=ref_starts,
                    measured_iterations=ref_iters,
                    process_wall_s=wall,
                    s_per_iteration_per_start=ref["summary"]["s_per_iteration_per_start"],
                    forward_s_no_grad=ref["truth_check"]["forward_s_no_grad"],
                    forward_s_autograd=ref["truth_check"]["forward_s_autograd"],
                    jacobi_sweeps_per_step=ref["summary"]["jacobi_sweeps_per_step_mean_in_iterations"],
                    extrapolated_full_run_s=ref["summary"]["extrapolated_full_run"]["wall_s"],
                    extrapolation=ref["summary"]["extrapolated_full_run"],
                    torch=ref["environment"]["torch"],
                    observations=sorted({r.get("target_source") for r in ref.get("runs", [])} - {None}),
                )
    env = _env()
    env.pop("PYTHONDONTWRITEBYTECODE", None)

    def fresh_process(cmd, extra_env=None):
        """(last stdout line as JSON or None, seconds from start to exit, start time) of a new process."""
        spawned = time.time()
        proc = subprocess.run(cmd, env={**env, **(extra_env or {})}, capture_output=True, text=True, timeout=3600)
        ended = time.time()
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(map(str, cmd))} failed:\n{proc.stderr[-3000:]}")
        lines = proc.stdout.strip().splitlines()
        try:
            data = json.loads(lines[-1]) if lines else None
        except json.JSONDecodeError:
            data = None
        return data, ended - spawned, spawned

    starts = 50
    cold_repeats, warm_repeats = (1, 2) if quick else (2, 3)
    runs = {}
    worker = [sys.executable, str(Path(__file__).resolve()), "--worker", "invert"]
    for mode in ("gauss-newton", "adam151"):
        trials = {"cold": [], "warm": []}
        for i in range(cold_repeats):
            with tempfile.TemporaryDirectory() as cache:
                states = ["cold"] + (["warm"] * warm_repeats if i == cold_repeats - 1 else [])
                for state in states:  # warm processes reuse the cache the cold one filled
                    r, wall, spawned = fresh_process(worker + [mode, str(starts), "2", cache])
                    st = r.pop("stamps")
                    r["startup_s"] = st["worker_start"] - spawned  # interpreter start-up, run.py's own imports
                    r["to_results_s"] = st["results"] - spawned
                    r["exit_s"] = spawned + wall - st["done"]
                    r["to_results_and_exit_s"] = r["to_results_s"] + r["exit_s"]  # a process stopping at the results
                    r["process_wall_s"] = wall  # includes the steady calls
                    trials[state].append(r)
                    print(f"  {mode:<12} {state}: {r['to_results_s']:.2f} s to results (start-up {r['startup_s']:.2f}, "
                          f"jax {r['import_jax_s']:.2f}, jlsm {r['import_jlsm_s']:.2f}, case {r['case_s']:.2f}, "
                          f"first call {r['first_call_s']:.2f}), exit {r['exit_s']:.2f}, steady {r['steady_call_s']:.2f}",
                          flush=True)
        runs[mode] = {}
        for state, rs in trials.items():
            best = dict(min(rs, key=lambda r: r["to_results_s"]))  # the least disturbed process, breakdown included
            best["steady_call_s"] = min(r["steady_call_s"] for r in rs)
            best["to_results_and_exit_s"] = min(r["to_results_and_exit_s"] for r in rs)
            best["processes"] = len(rs)
            best["median_to_results_s"] = statistics.median(r["to_results_s"] for r in rs)
            best["all_to_results_s"] = [r["to_results_s"] for r in rs]
            best["all_exit_s"] = [r["exit_s"] for r in rs]
            runs[mode][state] = best
    out["jlsm"] = runs
    demo = {}
    for which, extra in (("one_configuration", ["--configuration", "surface+5cm"]), ("both", [])):
        with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as tmp:
            walls = {"cold": [], "warm": []}
            for state in ["cold"] + ["warm"] * (warm_repeats - 1):
                cmd = [sys.executable, "-m", "jlsm.cli", "demo", "--starts", str(starts), "--no-progress", "--out", tmp,
                       *extra]
                _, wall, _ = fresh_process(cmd, {"JLSM_CACHE_DIR": cache})
                walls[state].append(wall)
                print(f"  jlsm demo, {which.replace('_', ' ')}, {state}: {wall:.2f} s", flush=True)
            for state, ws in walls.items():
                demo[f"{which}_{state}"] = dict(
                    command=" ".join(["jlsm demo --starts", str(starts), "--no-progress", *extra]), wall_s=min(ws),
                    all_wall_s=ws)
    demo["note"] = ("wall time of the whole command (start-up to exit), NetCDF results and figures included; "
                    "cold: empty $JLSM_CACHE_DIR; warm: the cache the cold run filled; best of the runs")
    out["jlsm_cli_demo"] = demo
    ref = out.get("reference", {})
    if "extrapolated_full_run_s" in ref:
        full = ref["extrapolated_full_run_s"]
        for mode, by_state in runs.items():
            for r in by_state.values():
                r["speedup_vs_reference_to_results"] = full / r["to_results_s"]
                r["speedup_vs_reference_to_exit"] = full / r["to_results_and_exit_s"]
                r["speedup_vs_reference_steady"] = full / r["steady_call_s"]
        for key in ("one_configuration_cold", "one_configuration_warm"):
            demo[key]["speedup_vs_reference"] = full / demo[key]["wall_s"]
    return out


def _torch_python():
    try:
        import torch  # noqa: F401

        return sys.executable
    except ImportError:
        pass
    candidate = Path("/work/venv-torch/bin/python")
    alt = os.environ.get("JLSM_TORCH_PYTHON")
    for c in (alt, candidate):
        if c and Path(c).exists():
            return str(c)
    return None


def _throughput_grid(quick):
    if quick:
        return [(101, 100, 1), (101, 100, 50), (101, 1000, 50), (51, 1000, 50), (401, 100, 50)]
    grid = []
    for n in (51, 101, 401):
        for t in (100, 1000, 8760):
            for b in (1, 50, 1000):
                grid.append((n, t, b))
    return grid


# work (node x step x start) above which a combination is skipped
MAX_WORK = {"spectral": 4.0e9, "tridiagonal": 6.0e7}


def section_throughput(quick):
    rows, skipped = [], []
    repeats = 3 if quick else 5
    for n, t, b in _throughput_grid(quick):
        work = n * t * b
        for solver in ("spectral", "tridiagonal"):
            # checkpoint when a gradient's stored values would pass ~2 GB: the tridiagonal
            # solver stores a profile per step and start, the spectral loop ~20 scalars
            stored = t * b * (20 if solver == "spectral" else n) * 8
            checkpoint = "1" if stored > 2.0e9 else "0"
            if work > MAX_WORK[solver]:
                skipped.append(dict(solver=solver, nodes=n, steps=t, batch=b, reason=f"work {work:.1e} > {MAX_WORK[solver]:.0e}"))
                continue
            if solver == "tridiagonal" and t > 1000 and not (n == 101 and b == 1):
                skipped.append(dict(solver=solver, nodes=n, steps=t, batch=b, reason="previous solver: T=8760 only for N=101, 1 start"))
                continue
            budget = 20.0 if quick else 40.0
            try:
                row = _worker("throughput", solver, n, t, b, checkpoint, repeats, budget, "forward,gradient")
            except Exception as err:  # noqa: BLE001 - reported, the run goes on
                skipped.append(dict(solver=solver, nodes=n, steps=t, batch=b, reason=str(err)[-300:]))
                continue
            rows.append(row)
            print(
                f"  {solver:<11} N={n:<3} T={t:<4} S={b:<4} fwd {row['forward_ns']:8.2f} ns  grad {row['gradient_ns']:8.2f} ns"
                f"  grad/fwd {row['gradient_over_forward']:.2f}  compile {row['forward_compile_s']:.1f}/{row['gradient_compile_s']:.1f} s",
                flush=True,
            )
    return dict(rows=rows, skipped=skipped)


def section_sharding(quick):
    rows = []
    env = _env(XLA_FLAGS=(os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2").strip())
    cases = [(101, 1000, 50)] if quick else [(101, 1000, 50), (101, 1000, 1000)]
    for n, t, b in cases:
        rows.append(_worker("sharding", n, t, b, 3, env=env))
    return dict(rows=rows, flag="--xla_force_host_platform_device_count=2")


def section_solvers(quick):
    """Accuracy and cost of every solver on the study's case (101 nodes, 100 steps)."""
    jax = _jax()
    import numpy as np

    rows = []
    fwd_ref, _ = _problem("tridiagonal", 101, 100)
    p = _starts(50)
    exact = np.asarray(jax.jit(jax.vmap(fwd_ref))(p))
    configs = [("spectral", 1e-4), ("tridiagonal", 1e-4), ("modal", 1e-4), ("jacobi", 1e-4), ("jacobi", 1e-9)]
    for solver, tol in configs:
        forward, loss = _problem(solver, 101, 100, jacobi_tolerance=tol)
        err = float(np.abs(np.asarray(jax.jit(jax.vmap(forward))(p)) - exact).max())
        for batch in (1, 50):
            if solver == "jacobi" and batch == 50 and (quick or tol < 1e-6):
                continue
            q = p[0] if batch == 1 else p[:batch]
            fns = {"forward": forward, "gradient": jax.grad(loss)} if batch == 1 else {
                "forward": jax.vmap(forward), "gradient": jax.vmap(jax.grad(loss))}
            row = dict(solver=solver, tolerance=tol if solver == "jacobi" else None, batch=batch,
                       max_error_vs_direct_K=err)
            work = 101 * 100 * batch
            for kind, fn in fns.items():
                compile_s, med, mn, n = _timed(fn, (q,), 50, 5.0)  # short calls: up to 50 samples
                row[f"{kind}_compile_s"] = compile_s
                row[f"{kind}_s"] = mn
                row[f"{kind}_ns"] = mn / work * 1e9
            rows.append(row)
            print(f"  {solver:<11} tol={tol:g} S={batch:<3} err {err:.1e} K  fwd {row['forward_ns']:9.2f} ns"
                  f"  grad {row['gradient_ns']:9.2f} ns", flush=True)
    return dict(rows=rows, case="101 nodes, 100 hourly steps, surface and 5 cm, float64")


def section_memory(quick):
    rows = []
    cases = [(1, "0", "1"), (1, "1", "1"), (1000, "1", "1"), (1000, "0", "1")]
    if quick:
        cases = [(1, "1", "1"), (1000, "1", "0"), (1000, "0", "0")]
    for batch, ck, run in cases:
        rows.append(_worker("memory", batch, ck, run, timeout=1800))
    return dict(rows=rows, target="1000 starts, 8760 steps, 101 nodes: < 1 GB with checkpointing, < 30 s")


SECTION_FUNCS = {
    "published": section_published,
    "throughput": section_throughput,
    "sharding": section_sharding,
    "solvers": section_solvers,
    "memory": section_memory,
}


# ---------------------------------------------------------------------------- summary


def _fmt(x, spec=".2f"):
    return "-" if x is None else format(x, spec)


def summary_markdown(results, machine, quick, command):
    lines = ["# jlsm benchmarks", ""]
    # sections kept from earlier invocations name their own command
    commands = list(dict.fromkeys([r.get("command", command) for r in results.values()] or [command]))
    command = "; ".join(f"{c} ({', '.join(n for n, r in results.items() if r.get('command', command) == c)})"
                        for c in commands) if len(commands) > 1 else commands[0]
    lines.append(f"Command: `{command}`{' (quick mode)' if quick else ''}. Machine: {machine['cpu_count']} CPU cores, "
                 f"{machine['backend']}, jax {machine['jax']}, Python {machine['python']}; load average at start "
                 f"{', '.join(f'{v:.1f}' for v in machine['load_average'])}. float64. ns = nanoseconds per node x step x start.")
    flags = machine.get("xla_flags", "")
    if not flags:
        lines.append("XLA_FLAGS: none (XLA's defaults).")
    elif "small_while_loop" in flags:
        lines.append(f"XLA_FLAGS: `{flags}` (`jlsm.enable_loop_kernels`, as the `jlsm` command)")
    else:
        lines.append(f"XLA_FLAGS: `{flags}`")
    lines.append("Timings on a shared machine vary between runs: compare the ratios measured in the same run.")
    lines.append("")
    pub = results.get("published")
    if pub:
        lines += ["## 1. The published experiment (50 starts, surface and 5 cm, 101 nodes, 100 hourly steps)", ""]
        ref = pub.get("reference", {})
        full = ref.get("extrapolated_full_run_s")
        if full:
            lines.append(f"PyTorch reference, 50 starts x 151 iterations, 2 processes: {full:.0f} s ({full / 3600:.2f} h), "
                         f"EXTRAPOLATED from {ref['measured_starts']} start(s) x {ref['measured_iterations']} iterations "
                         f"({ref['s_per_iteration_per_start']:.2f} s per iteration per start).")
            lines.append("")
        lines.append("jlsm: a new Python process each, from its start; cold = empty persistent compilation cache, "
                     "warm = the cache the cold process filled; the best of the processes run (all of them in "
                     "published.json), with that process's breakdown.")
        sources = sorted({str(r.get("observations")) for runs in pub["jlsm"].values() for r in runs.values()})
        if sources:
            lines.append(f"Observations fitted: jlsm {', '.join(sources)}; reference "
                         f"{', '.join(map(str, ref.get('observations') or ['-']))} (published = the study's synthetic "
                         "files, surface and 5 cm; model = made by jlsm's model, where those files are not found).")
        load = pub.get("machine", {}).get("load_average")
        if load:
            lines.append(f"Section measured {'in quick mode ' if pub.get('quick') else ''}with load average "
                         f"{', '.join(f'{v:.1f}' for v in load)} at its start.")
        lines.append("")
        lines.append("| run | cache | start-up to results | of which: start-up, import jax, import jlsm, case set-up, "
                     "first call | to exit | vs reference (to results / to exit) | steady call | vs reference |")
        lines.append("|---|---|---:|---|---:|---:|---:|---:|")
        labels = (("gauss-newton", "jlsm, Gauss-Newton polish 40 iterations (jlsm demo default)"),
                  ("adam151", "jlsm, Adam 151 iterations (the study's budget)"))
        for mode, label in labels:
            for state, r in pub["jlsm"].get(mode, {}).items():
                parts = ", ".join(f"{r[k]:.2f}" for k in ("startup_s", "import_jax_s", "import_jlsm_s", "case_s", "first_call_s"))
                lines.append(
                    f"| {label} | {state} | {r['to_results_s']:.2f} s | {parts} | {r['to_results_and_exit_s']:.2f} s | "
                    f"{_fmt(r.get('speedup_vs_reference_to_results'), ',.0f')}x / "
                    f"{_fmt(r.get('speedup_vs_reference_to_exit'), ',.0f')}x | {r['steady_call_s']:.2f} s | "
                    f"{_fmt(r.get('speedup_vs_reference_steady'), ',.0f')}x |"
                )
        d = pub.get("jlsm_cli_demo", {})
        if d:
            lines.append("")
            lines.append("| command (whole process: start-up to exit, NetCDF and figures included) | cache | wall | vs reference |")
            lines.append("|---|---|---:|---:|")
            for key, cache in (("one_configuration_cold", "cold"), ("one_configuration_warm", "warm"),
                               ("both_cold", "cold"), ("both_warm", "warm")):
                if key in d:
                    lines.append(f"| `{d[key]['command']}` | {cache} | {d[key]['wall_s']:.2f} s | "
                                 f"{_fmt(d[key].get('speedup_vs_reference'), ',.0f')}x |")
        lines.append("")
    thr = results.get("throughput")
    if thr:
        lines += ["## 2. Throughput (ns per node x step x start; default = spectral, previous = tridiagonal)", ""]
        lines.append("| N | T | starts | checkpoint | fwd | fwd+grad | grad/fwd | previous fwd | previous fwd+grad | "
                     "speed-up fwd | speed-up grad | compile fwd / grad s |")
        lines.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        prev = {(r["nodes"], r["steps"], r["batch"]): r for r in thr["rows"] if r["solver"] == "tridiagonal"}
        for r in thr["rows"]:
            if r["solver"] != "spectral":
                continue
            q = prev.get((r["nodes"], r["steps"], r["batch"]))
            lines.append(
                f"| {r['nodes']} | {r['steps']} | {r['batch']} | {r['checkpoint_every'] or '-'} | {r['forward_ns']:.2f} | "
                f"{r['gradient_ns']:.2f} | {r['gradient_over_forward']:.2f} | {_fmt(q and q['forward_ns'])} | "
                f"{_fmt(q and q['gradient_ns'])} | {_fmt(q and q['forward_ns'] / r['forward_ns'], '.1f')} | "
                f"{_fmt(q and q['gradient_ns'] / r['gradient_ns'], '.1f')} | "
                f"{r['forward_compile_s']:.1f} / {r['gradient_compile_s']:.1f} |"
            )
        if thr["skipped"]:
            lines.append("")
            lines.append("Skipped (too long for this run): " + "; ".join(
                f"{s['solver']} N={s['nodes']} T={s['steps']} S={s['batch']}" for s in thr["skipped"]) + ".")
        lines.append("")
    sh = results.get("sharding")
    if sh:
        lines += ["## Two cores: one device against the start axis sharded over 2 virtual CPU devices", ""]
        lines.append("| N | T | starts | 1 device fwd+grad ns | 2 devices fwd+grad ns | speed-up |")
        lines.append("|---:|---:|---:|---:|---:|---:|")
        for r in sh["rows"]:
            lines.append(f"| {r['nodes']} | {r['steps']} | {r['batch']} | {r['one_device_gradient_ns']:.2f} | "
                         f"{_fmt(r.get('sharded_gradient_ns'))} | {_fmt(r.get('speedup'))} |")
        lines.append("")
    sol = results.get("solvers")
    if sol:
        lines += ["## 3. Solvers at the same accuracy (101 nodes, 100 steps)", ""]
        lines.append("| solver | tolerance | starts | max error vs direct [K] | fwd ns | fwd+grad ns | compile fwd / grad s |")
        lines.append("|---|---:|---:|---:|---:|---:|---:|")
        for r in sol["rows"]:
            lines.append(f"| {r['solver']} | {_fmt(r['tolerance'], 'g')} | {r['batch']} | {r['max_error_vs_direct_K']:.1e} | "
                         f"{r['forward_ns']:.2f} | {r['gradient_ns']:.2f} | {r['forward_compile_s']:.1f} / {r['gradient_compile_s']:.1f} |")
        lines.append("")
    mem = results.get("memory")
    if mem:
        lines += ["## 4. Memory: gradient through 8760 hourly steps x 101 nodes", ""]
        lines.append("| starts | checkpoint | XLA peak estimate | measured peak RSS | run time | compile |")
        lines.append("|---:|---:|---:|---:|---:|---:|")
        for r in mem["rows"]:
            est = r.get("xla_peak_estimate_bytes")
            lines.append(f"| {r['batch']} | {r['checkpoint_every'] or 'none'} | {_fmt(est and est / 2**20, '.0f')} MiB | "
                         f"{_fmt(r.get('peak_rss_bytes') and r['peak_rss_bytes'] / 2**20, '.0f')} MiB | "
                         f"{_fmt(r.get('run_s'), '.1f')} s | {r['compile_s']:.1f} s |")
        lines.append("")
        lines.append(f"Target: {mem['target']}. Measured peak RSS includes the Python process and JAX (~300 MiB).")
        lines.append("")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description="jlsm performance benchmarks")
    parser.add_argument("--quick", action="store_true", help="reduced sizes (a few minutes)")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=None, help="run only these sections")
    parser.add_argument("--results", type=Path, default=RESULTS, help="output folder")
    parser.add_argument("--xla-default", action="store_true",
                        help="XLA's default CPU loops (without jlsm.enable_loop_kernels, which the jlsm command uses)")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args(argv)
    if args.worker:  # XLA_FLAGS comes from the parent process
        print(json.dumps(WORKERS[args.worker](*rest)))
        return 0
    if not args.xla_default:  # before JAX starts; subprocesses inherit XLA_FLAGS
        from jlsm.loop_kernels import enable_loop_kernels

        enable_loop_kernels()
    sections = args.only or list(SECTIONS)
    args.results.mkdir(parents=True, exist_ok=True)
    machine = _machine()
    command = "python benchmarks/run.py" + (" --quick" if args.quick else "") + (
        " --only " + " ".join(args.only) if args.only else "")
    results = {}
    for name in SECTIONS:
        path = args.results / f"{name}.json"
        if name in sections:
            print(f"== {name}", flush=True)
            t0 = time.perf_counter()
            data = SECTION_FUNCS[name](args.quick)
            data.update(section=name, quick=args.quick, seconds=time.perf_counter() - t0, machine=machine, command=command)
            path.write_text(json.dumps(data, indent=2) + "\n")
            print(f"   {time.perf_counter() - t0:.0f} s -> {path}", flush=True)
            results[name] = data
        elif path.exists():  # keep earlier sections in the summary
            results[name] = json.loads(path.read_text())
    (args.results / "summary.md").write_text(summary_markdown(results, machine, args.quick, command))
    print(f"wrote {args.results / 'summary.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
