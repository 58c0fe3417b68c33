"""The land-surface column model: soil heat conduction under a surface energy balance.

    G_0 = (1 - alpha) SWdown + a_lw LWdown - eps sigma Ts^4 - H - LE

with H + LE from a turbulent-exchange closure, Ts the top node's temperature,
and the soil column stepped implicitly (theta-method) by a soil-heat solver.
Temperatures are carried as anomalies about ``reference_temperature`` so that
float32 keeps its digits.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .errors import GridError, ParameterError
from .forcing import Forcing
from .grid import SoilGrid
from .physics.radiation import Radiation
from .physics.soil_heat import (
    AbstractSoilHeatSolver,
    ColumnOperator,
    SoilThermal,
    SpectralSolver,
)
from .physics.turbulence import AbstractTurbulentExchange, BowenRatioExchange

TOP_BOUNDARIES = ("energy_balance", "prescribed")
BOTTOM_BOUNDARIES = ("fixed", "zero_flux")


class Output(eqx.Module):
    """Model output at every forcing time (index 0: the initial state).

    Attributes:
        ts: surface (top node) temperature [K], (T,).
        temperature: temperature at the requested depths [K], (T, n_depths).
        depths: the requested depths [m] (static).
        lw_up: upwelling longwave [W m-2], (T,).
        sw_up: reflected shortwave [W m-2], (T,).
        sensible: sensible heat flux H [W m-2], upward positive, (T,).
        latent: latent heat flux LE [W m-2], upward positive, (T,).
        ground: heat flux into the soil at the top G_0 [W m-2], (T,); with a
            prescribed top, the flux from the top node into the node below.
        bottom: heat flux into the soil at the bottom [W m-2], (T,) (None when not asked for).
        profile: full temperature profile [K], (T, N), or None unless asked.
    """

    ts: jnp.ndarray
    temperature: jnp.ndarray
    lw_up: jnp.ndarray
    sw_up: jnp.ndarray
    sensible: jnp.ndarray
    latent: jnp.ndarray
    ground: jnp.ndarray
    bottom: jnp.ndarray | None
    profile: jnp.ndarray | None
    depths: tuple[float, ...] = eqx.field(static=True)


class LandSurfaceModel(eqx.Module):
    """A 1-D soil column under a surface energy balance.

    Parameters are array fields (differentiable); configuration is static.

    Attributes:
        grid: the soil grid (static configuration).
        soil: thermal conductivity and heat capacity.
        radiation: albedo and emissivity.
        turbulence: the H + LE closure.
        bottom_temperature: Tb [K], used when ``bottom == "fixed"``.
        top: ``"energy_balance"`` (default) or ``"prescribed"`` (top node follows
            ``forcing.top_temperature``).
        bottom: ``"fixed"`` (default, T = Tb at the bottom node) or ``"zero_flux"``.
        solver: the implicit-step solver (default :class:`SpectralSolver`,
            backward Euler: steps in the grid's shared eigenbasis for homogeneous
            soil, the direct tridiagonal solve otherwise).
        reference_temperature: anomaly reference [K] (static).
    """

    grid: SoilGrid
    soil: SoilThermal
    radiation: Radiation
    turbulence: AbstractTurbulentExchange
    bottom_temperature: jnp.ndarray
    top: str = eqx.field(static=True)
    bottom: str = eqx.field(static=True)
    solver: AbstractSoilHeatSolver
    reference_temperature: float = eqx.field(static=True)

    def __init__(
        self,
        grid: SoilGrid | None = None,
        soil: SoilThermal | None = None,
        radiation: Radiation | None = None,
        turbulence: AbstractTurbulentExchange | None = None,
        bottom_temperature=293.0,
        *,
        top: str = "energy_balance",
        bottom: str = "fixed",
        solver: AbstractSoilHeatSolver | None = None,
        reference_temperature: float = 273.15,
    ):
        self.grid = grid if grid is not None else SoilGrid.uniform(1.0, 101)
        self.soil = soil if soil is not None else SoilThermal()
        self.radiation = radiation if radiation is not None else Radiation()
        self.turbulence = turbulence if turbulence is not None else BowenRatioExchange()
        self.bottom_temperature = jnp.asarray(bottom_temperature)
        if top not in TOP_BOUNDARIES:
            raise ParameterError(f"LandSurfaceModel: top must be one of {TOP_BOUNDARIES}, got {top!r}")
        if bottom not in BOTTOM_BOUNDARIES:
            raise ParameterError(f"LandSurfaceModel: bottom must be one of {BOTTOM_BOUNDARIES}, got {bottom!r}")
        self.top = top
        self.bottom = bottom
        self.solver = solver if solver is not None else SpectralSolver()
        if not 0.5 <= self.solver.theta <= 1.0:
            raise ParameterError(f"LandSurfaceModel: solver theta must be in [0.5, 1], got {self.solver.theta}")
        self.reference_temperature = float(reference_temperature)
        self._check_parameters()

    def _check_parameters(self):
        n = self.grid.n
        for name, value, lo in (
            ("soil.conductivity", self.soil.conductivity, 0.0),
            ("soil.heat_capacity", self.soil.heat_capacity, 0.0),
        ):
            if isinstance(value, jax.core.Tracer):
                continue
            v = np.asarray(value)
            if v.ndim > 1 or (v.ndim == 1 and v.shape[0] != n):
                raise ParameterError(
                    f"LandSurfaceModel: {name} must be a scalar or one value per node ({n}), got shape {v.shape}"
                )
            if not np.all(np.isfinite(v)) or np.any(v <= lo):
                raise ParameterError(f"LandSurfaceModel: {name} must be positive and finite, got {v.min() if v.size else v}")
        checks = (
            ("radiation.albedo", self.radiation.albedo, 0.0, 1.0),
            ("radiation.emissivity", self.radiation.emissivity, 0.0, 1.0),
            ("bottom_temperature", self.bottom_temperature, 150.0, 400.0),
        )
        for name, value, lo, hi in checks:
            if isinstance(value, jax.core.Tracer):
                continue
            v = np.asarray(value)
            if not np.all(np.isfinite(v)) or np.any(v < lo) or np.any(v > hi):
                raise ParameterError(f"LandSurfaceModel: {name} = {v} is outside [{lo}, {hi}]")
        if isinstance(self.turbulence, BowenRatioExchange):
            for name, value in (("turbulence.h", self.turbulence.h), ("turbulence.beta", self.turbulence.beta)):
                if not isinstance(value, jax.core.Tracer):
                    v = np.asarray(value)
                    if not np.all(np.isfinite(v)) or np.any(v <= 0):
                        raise ParameterError(f"LandSurfaceModel: {name} must be positive, got {v}")

    # ------------------------------------------------------------------ pieces

    @property
    def dirichlet_top(self) -> bool:
        return self.top == "prescribed"

    @property
    def dirichlet_bottom(self) -> bool:
        return self.bottom == "fixed"

    @property
    def active(self) -> np.ndarray:
        """Mask of nodes whose temperature is solved for (not held by a boundary)."""
        mask = np.ones(self.grid.n, bool)
        mask[0] = not self.dirichlet_top
        mask[-1] = not self.dirichlet_bottom
        return mask

    def heat_content(self, profile):
        """Heat content of the solved nodes sum C_i V_i T_i [J m-2] of profile(s) [K] (..., N)."""
        dtype = jnp.result_type(profile)
        cv = self.soil.node_capacity(self.grid, dtype) * jnp.asarray(self.active, dtype)
        return jnp.sum(cv * profile, axis=-1)

    def operator(self, dt: float, dtype) -> ColumnOperator:
        """The time-invariant step operator for time step ``dt`` [s]."""
        zero = jnp.zeros((), dtype)
        eb = not self.dirichlet_top
        lam, cap = self.soil.conductivity, self.soil.heat_capacity
        homogeneous = jnp.ndim(lam) == 0 and jnp.ndim(cap) == 0
        return ColumnOperator(
            k=self.soil.interface_conductance(self.grid, dtype),
            capacity=self.soil.node_capacity(self.grid, dtype) / dt,
            surface_conductance=jnp.asarray(self.turbulence.conductance(), dtype) if eb else zero,
            emissivity_sigma=jnp.asarray(self.radiation.emissivity * self.radiation.stefan_boltzmann, dtype) if eb else zero,
            bottom_value=jnp.asarray(self.bottom_temperature, dtype) - self.reference_temperature,
            theta=self.solver.theta,
            t_ref=self.reference_temperature,
            top_fixed=self.dirichlet_top,
            bottom_fixed=self.dirichlet_bottom,
            conductivity=jnp.asarray(lam, dtype) if homogeneous else None,
            capacity_rate=jnp.asarray(cap, dtype) / dt if homogeneous else None,
            grid_depths=self.grid.depths if homogeneous else None,
        )

    def boundary_terms(self, forcing: Forcing, dtype):
        """(weights (J,), series (J, T)) with the boundary forcing b = weights @ series.

        Energy-balance top: b = (1 - albedo) SWdown + a_lw LWdown + h_eff (Ta - t_ref)
        [W m-2] (a_lw the longwave absorptivity); prescribed top: b = T_top - t_ref
        [K]. The weights carry the parameters, the series only the forcing, so
        every start of an inversion shares the series.
        """
        tr = self.reference_temperature
        if self.dirichlet_top:
            return jnp.ones((1,), dtype), (jnp.asarray(forcing.top_temperature, dtype) - tr)[None]
        r = self.radiation
        weights = jnp.stack(
            [jnp.asarray(w, dtype) for w in (1.0 - r.albedo, r.longwave_absorptivity, self.turbulence.conductance())]
        )
        series = jnp.stack([jnp.asarray(v, dtype) for v in (forcing.sw_down, forcing.lw_down, forcing.t_air - tr)])
        return weights, series

    def boundary_forcing(self, forcing: Forcing, dtype):
        """b(t): absorbed radiation + h_eff (Ta - t_ref) [W m-2] (energy-balance top), or the
        prescribed top anomaly [K], shape (T,)."""
        weights, series = self.boundary_terms(forcing, dtype)
        return weights @ series

    def surface_flux(self, ts, sw_down, lw_down, t_air):
        """Ground heat flux G_0 [W m-2] from the surface energy balance at surface temperature ts [K]."""
        sensible, latent = self.turbulence.fluxes(ts, t_air)
        return self.radiation.net(ts, sw_down, lw_down) - sensible - latent


def simulate(
    model: LandSurfaceModel,
    forcing: Forcing,
    *,
    initial=None,
    depths=(),
    profile: bool = False,
    checkpoint_every: int | None = None,
    bottom_flux: bool = True,
) -> Output:
    """Run the model over the forcing with ``lax.scan``.

    Args:
        model: the :class:`LandSurfaceModel`.
        forcing: the :class:`Forcing` (T times); the output has the same T times,
            index 0 being the initial state.
        initial: initial temperature [K]: a scalar, a profile of shape (N,), or
            None for a uniform profile at the bottom temperature. Boundary
            nodes held by the model (a fixed bottom, a prescribed top) start at
            their boundary value.
        depths: depths [m] at which to report temperature (linear interpolation).
        profile: also return the full profile at every time.
        checkpoint_every: if given, checkpoint the time loop in chunks of this
            many steps (``jax.checkpoint``), trading one more forward pass for
            reverse-mode memory. Plain autodiff of a step loop stores one profile
            per step; the default solver's loop stores a few scalars per step
            (see :mod:`jlsm.physics.spectral`), so chunking only matters for long
            records with many starts (``int(sqrt(T))`` is a good chunk).
        bottom_flux: compute ``Output.bottom`` (one more node read every step;
            False saves memory in long reverse-mode runs that do not use it).

    Returns:
        :class:`Output`.
    """
    if model.dirichlet_top and forcing.top_temperature is None:
        raise ParameterError(
            "simulate: the model's top boundary is 'prescribed' but forcing.top_temperature is None"
        )
    depths = tuple(float(d) for d in np.atleast_1d(np.asarray(depths, dtype=float)))
    try:
        index, weight = model.grid.interpolation(depths) if depths else (np.zeros(0, int), np.zeros(0))
    except GridError as err:
        raise GridError(f"simulate: {err}") from None
    leaves = [leaf for leaf in jax.tree_util.tree_leaves((model, forcing)) if eqx.is_inexact_array(leaf)]
    dtype = jnp.result_type(*leaves)
    tr = model.reference_temperature
    n = model.grid.n

    x0 = _initial_anomaly(model, initial, n, dtype)
    op = model.operator(forcing.dt, dtype)
    solver = model.solver
    prepared = solver.prepare(op)
    terms = model.boundary_terms(forcing, dtype)
    boundary = terms[0] @ terms[1]
    if model.dirichlet_top:  # the top node holds the prescribed temperature from the start
        x0 = x0.at[0].set(boundary[0])
    # Nodes to read back each step: the top node, the second node (prescribed
    # top: ground flux), the last two (fixed bottom: bottom flux) and the
    # interpolation pairs (the upper node alone where the weight is zero).
    # Reads are static slices of one small vector, so no gather runs in the loop.
    edge_nodes = [0] + ([1] if model.dirichlet_top else []) + ([n - 2, n - 1] if model.dirichlet_bottom and bottom_flux else [])
    upper = [int(min(i + 1, n - 1)) for i, w in zip(index, weight) if w != 0.0]
    wanted = np.unique(np.concatenate([edge_nodes, index, upper]).astype(int))
    pos = {int(j): i for i, j in enumerate(wanted)}
    weight = np.asarray(weight, dtype=float)
    full = np.arange(n)

    def unpack(node):
        """(edge values, values at the requested depths) from ``node(j)``, the values of node j."""
        edges = tuple(node(j) for j in edge_nodes)
        cols = []
        for i, w in zip(index, weight):
            v = node(int(i))
            if w != 0.0:
                v = v * (1.0 - w) + node(int(min(i + 1, n - 1))) * w
            cols.append(v)
        at = jnp.stack(cols, axis=-1) if cols else jnp.zeros(jnp.shape(edges[0]) + (0,), dtype)
        return edges, at

    sampling = solver.prepare_sampling(op, prepared, wanted)

    def body(carry, pair):
        b_now, b_next = pair
        carry, x = solver.step_sample(op, sampling, carry, b_now, b_next, wanted, b_next)
        out = unpack(lambda j: x[pos[j]])
        return carry, out + ((solver.nodes(op, prepared, carry, full, b_next),) if profile else ())

    carry0 = solver.init(op, prepared, x0)
    fused = solver.run(op, prepared, x0, terms, np.union1d(wanted, full) if profile else wanted, checkpoint_every)
    if fused is None:
        _, samples = _scan(body, carry0, (boundary[:-1], boundary[1:]), forcing.n_times - 1, checkpoint_every)
    else:  # the solver's own time loop: one series per node
        samples = unpack(fused.__getitem__)
        if profile:
            samples = samples + (jnp.stack([fused[int(j)] for j in full], axis=-1),)
    x_first = solver.nodes(op, prepared, carry0, wanted, boundary[0])
    first = unpack(lambda j: x_first[pos[j]]) + ((solver.nodes(op, prepared, carry0, full, boundary[0]),) if profile else ())
    samples = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a[None], b]), first, samples)
    edge_values = dict(zip(edge_nodes, samples[0]))
    x_top = edge_values[0]
    x_second = edge_values.get(1)
    x_penult, x_bottom = edge_values.get(n - 2), edge_values.get(n - 1)
    at_depth = samples[1]

    ts = tr + x_top
    k = model.soil.interface_conductance(model.grid, dtype)
    sensible, latent = model.turbulence.fluxes(ts, forcing.t_air)
    if model.dirichlet_top:
        ground = k[0] * (x_top - x_second)
    else:
        ground = model.surface_flux(ts, forcing.sw_down, forcing.lw_down, forcing.t_air)
    if not bottom_flux:
        bottom = None
    elif model.dirichlet_bottom:
        bottom = k[-1] * (x_bottom - x_penult)
    else:
        bottom = jnp.zeros_like(ts)
    return Output(
        ts=ts,
        temperature=tr + at_depth,
        lw_up=model.radiation.lw_up(ts, forcing.lw_down),
        sw_up=model.radiation.sw_up(forcing.sw_down),
        sensible=sensible,
        latent=latent,
        ground=ground,
        bottom=bottom,
        profile=tr + samples[2] if profile else None,
        depths=depths,
    )


def _initial_anomaly(model, initial, n, dtype):
    tr = model.reference_temperature
    if initial is None:
        x0 = jnp.full((n,), model.bottom_temperature - tr, dtype)
    else:
        if not isinstance(initial, jax.core.Tracer):
            v = np.asarray(initial, dtype=float)
            if v.ndim > 1 or (v.ndim == 1 and v.shape[0] != n):
                raise ParameterError(f"simulate: initial must be a scalar or a profile of {n} values, got shape {v.shape}")
            if not np.all(np.isfinite(v)) or np.any(v < 150) or np.any(v > 400):
                raise ParameterError(f"simulate: initial temperature must be finite and in kelvin, got {v}")
        x0 = jnp.broadcast_to(jnp.asarray(initial, dtype) - tr, (n,))
    if model.dirichlet_bottom:
        x0 = x0.at[-1].set(jnp.asarray(model.bottom_temperature, dtype) - tr)
    return x0


def _slice_forcing(forcing, start, stop):
    return jax.tree_util.tree_map(lambda a: a[start:stop], forcing)


def _scan(body, carry, xs, length, checkpoint_every):
    """``lax.scan``, optionally checkpointed in chunks of ``checkpoint_every`` steps."""
    if not checkpoint_every or checkpoint_every >= length:
        return jax.lax.scan(body, carry, xs, length=length)
    chunk = int(checkpoint_every)
    n_chunks, tail = divmod(length, chunk)
    head = jax.tree_util.tree_map(lambda a: a[: n_chunks * chunk].reshape((n_chunks, chunk) + a.shape[1:]), xs)

    @jax.checkpoint
    def chunk_body(c, xs_chunk):
        return jax.lax.scan(body, c, xs_chunk)

    carry, ys = jax.lax.scan(chunk_body, carry, head)
    ys = jax.tree_util.tree_map(lambda a: a.reshape((n_chunks * chunk,) + a.shape[2:]), ys)
    if tail:
        rest = jax.tree_util.tree_map(lambda a: a[n_chunks * chunk :], xs)
        carry, ys_tail = jax.lax.scan(body, carry, rest)
        ys = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a, b]), ys, ys_tail)
    return carry, ys
