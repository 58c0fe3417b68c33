"""Global (variance-based) sensitivity: Sobol first-order and total indices with SALib."""

from __future__ import annotations

import dataclasses
import time as _time
from collections.abc import Callable, Mapping, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from ..errors import InputError, ParameterError
from ..forcing import Forcing
from ..model import LandSurfaceModel, simulate
from ..objective import misfit, residuals
from ..observe import Observable, Observations, soil_depths
from ..params import ParameterSpace
from .coordinates import _canonical, _initial_array


def mean_output(observable: str) -> Callable:
    """Output function: time mean of an observable (e.g. ``"ts"``), in its units."""
    o = Observable.parse(observable)

    def fn(output):
        return jnp.mean(o.extract(output, output.depths))

    fn.depths = soil_depths([o])
    fn.__name__ = f"mean_{o.name}"
    return fn


def misfit_output(observations: Observations) -> Callable:
    """Output function: the inversion misfit J against ``observations`` (see :mod:`jlsm.objective`)."""
    values, scale = jnp.asarray(observations.values), jnp.asarray(observations.scale)

    def fn(output):
        return misfit(observations.simulated(output), values, scale)

    fn.depths = observations.depths
    fn.__name__ = "misfit"
    return fn


def rmse_outputs(observations: Observations) -> dict[str, Callable]:
    """Output functions: the RMSE of each observed variable against ``observations``, in its units."""
    out = {}
    values = np.asarray(observations.values)
    for v, o in enumerate(observations.observables):
        obs_v = jnp.asarray(values[:, v])

        def fn(output, o=o, obs_v=obs_v):
            r, mask = residuals(o.extract(output, output.depths)[:, None], obs_v[:, None], 1.0)
            return jnp.sqrt(jnp.sum(r**2) / jnp.maximum(jnp.sum(mask), 1))

        fn.depths = soil_depths([o])
        out[f"rmse_{o.name}"] = fn
    return out


@dataclasses.dataclass(frozen=True)
class _Outputs:
    space: ParameterSpace
    functions: tuple[Callable, ...]
    depths: tuple[float, ...]

    def __call__(self, x, model, forcing, initial):
        m = self.space.physical_to_model(x, model)
        out = simulate(m, forcing, initial=initial, depths=self.depths)
        return jnp.stack([jnp.asarray(f(out), jnp.result_type(float)) for f in self.functions])


@eqx.filter_jit
def _evaluate_chunk(spec: _Outputs, x, model, forcing, initial):
    return jax.vmap(lambda v: spec(v, model, forcing, initial))(x)


def _evaluate(spec, x, model, forcing, initial, chunk):
    """Outputs (N, K) for parameter sets x (N, P), vmapped in chunks of a fixed size (one compile)."""
    n = x.shape[0]
    chunk = max(1, min(int(chunk), n))
    pieces = []
    for start in range(0, n, chunk):
        block = x[start : start + chunk]
        pad = chunk - block.shape[0]
        if pad:
            block = np.concatenate([block, np.repeat(block[-1:], pad, axis=0)])
        y = np.asarray(_evaluate_chunk(spec, jnp.asarray(block, jnp.float64), model, forcing, initial))
        pieces.append(y[: chunk - pad])
    return np.concatenate(pieces)


def _bounds_of(space, bounds):
    out = []
    for p in space.parameters:
        b = None
        if bounds is not None and (p.name in bounds or any(_canonical(k) == p.name for k in bounds)):
            b = next(v for k, v in bounds.items() if _canonical(k) == p.name)
        elif p.name in space.start_bounds:
            b = space.start_bounds[p.name]
        else:
            b = p.bounds
        if b is None:
            raise ParameterError(f"{p.name} has no bounds to sample from; give them in 'bounds'")
        lo, hi = float(b[0]), float(b[1])
        if not lo < hi:
            raise ParameterError(f"bounds of {p.name} must satisfy lo < hi, got ({lo}, {hi})")
        out.append((lo, hi, p.transform == "log-sigmoid" and lo > 0))
    return out


def sobol_indices(
    model: LandSurfaceModel,
    forcing: Forcing,
    space: ParameterSpace,
    outputs,
    *,
    n: int = 256,
    seed: int = 0,
    initial=None,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    depths: Sequence[float] = (),
    chunk: int = 512,
    num_resamples: int = 100,
) -> xr.Dataset:
    """Sobol first-order and total indices of model outputs over the parameter bounds.

    Saltelli sampling and the Jansen/Saltelli estimators of SALib; the
    ``n * (P + 2)`` model runs are batched with ``vmap`` in chunks.
    Parameters with a log-sigmoid transform are sampled uniformly in log space.

    Args:
        model, forcing, space: the model and its free parameters.
        outputs: name -> function(:class:`~jlsm.model.Output`) -> scalar, or
            a list of observable names whose time mean is taken (e.g.
            ``["ts"]``), or one function. Helpers: :func:`mean_output`,
            :func:`misfit_output`, :func:`rmse_outputs`. A function with a
            ``depths`` attribute gets those soil depths [m] simulated.
        n: base sample size (a power of 2); the model runs n (P + 2) times.
        seed: seed of the scrambled Sobol sequence and the bootstrap.
        initial: initial temperature [K] (None: the bottom temperature).
        bounds: name -> (lo, hi) [physical units]; default the space's start
            bounds, else its bounds.
        depths: extra soil depths [m] the output functions need.
        chunk: parameter sets per vmapped batch.
        num_resamples: bootstrap resamples of the confidence intervals.

    Returns:
        Dataset (output, parameter): ``first_order``, ``total`` and their 95 %
        bootstrap half-widths ``first_order_conf``, ``total_conf``;
        ``output_mean``, ``output_std`` (output).
    """
    try:
        from SALib.analyze import sobol as sobol_analyze
        from SALib.sample import sobol as sobol_sample
    except ImportError:
        raise ImportError("sobol_indices needs SALib: pip install 'jlsm[analysis]'") from None
    if callable(outputs):
        outputs = {getattr(outputs, "__name__", "output"): outputs}
    elif isinstance(outputs, str):
        outputs = {f"mean_{Observable.parse(outputs).name}": mean_output(outputs)}
    elif not isinstance(outputs, Mapping):
        outputs = {f"mean_{Observable.parse(o).name}": mean_output(o) for o in outputs}
    if not outputs:
        raise InputError("sobol_indices: no output given")
    if n < 2:
        raise InputError(f"sobol_indices: n must be >= 2, got {n}")
    space.check_model(model)
    names = list(outputs)
    funcs = tuple(outputs[k] for k in names)
    needed = list(float(d) for d in depths)
    for f in funcs:
        for d in getattr(f, "depths", ()):
            if float(d) not in needed:
                needed.append(float(d))
    spec = _Outputs(space, funcs, tuple(needed))
    b = _bounds_of(space, bounds)
    problem = {"num_vars": space.size, "names": list(space.names), "bounds": [[0.0, 1.0]] * space.size}
    t0 = _time.perf_counter()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        unit = sobol_sample.sample(problem, int(n), calc_second_order=False, seed=seed)
    x = np.empty_like(unit)
    for i, (lo, hi, logscale) in enumerate(b):
        x[:, i] = lo * np.exp(np.log(hi / lo) * unit[:, i]) if logscale else lo + (hi - lo) * unit[:, i]
    y = _evaluate(spec, x, model, forcing, _initial_array(initial), chunk)
    bad = ~np.all(np.isfinite(y), axis=0)
    if bad.any():
        raise InputError(
            f"sobol_indices: output(s) {[k for k, b_ in zip(names, bad) if b_]} are not finite for some parameter sets"
        )
    s1, st, s1c, stc = [], [], [], []
    for k in range(len(names)):
        res = sobol_analyze.analyze(problem, y[:, k], calc_second_order=False, num_resamples=num_resamples, seed=seed)
        s1.append(res["S1"])
        st.append(res["ST"])
        s1c.append(res["S1_conf"])
        stc.append(res["ST_conf"])
    seconds = _time.perf_counter() - t0
    ds = xr.Dataset(
        {
            "first_order": (("output", "parameter"), np.asarray(s1), {"long_name": "first-order Sobol index S1"}),
            "total": (("output", "parameter"), np.asarray(st), {"long_name": "total Sobol index ST"}),
            "first_order_conf": (
                ("output", "parameter"),
                np.asarray(s1c),
                {"long_name": "95 % bootstrap half-width of S1"},
            ),
            "total_conf": (("output", "parameter"), np.asarray(stc), {"long_name": "95 % bootstrap half-width of ST"}),
            "output_mean": (("output",), y.mean(axis=0)),
            "output_std": (("output",), y.std(axis=0)),
            "lower": (("parameter",), np.array([v[0] for v in b]), {"long_name": "sampled lower bound"}),
            "upper": (("parameter",), np.array([v[1] for v in b]), {"long_name": "sampled upper bound"}),
        },
        coords={"output": names, "parameter": list(space.names)},
    )
    ds.attrs.update({"n": int(n), "n_evaluations": int(x.shape[0]), "seed": seed, "wall_seconds": seconds})
    return ds
