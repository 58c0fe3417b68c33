"""Scaling the calibration out: the site x start axis over devices, processes and hosts.

:class:`Layout` places the (site, start) arrays of :func:`.calibrate.calibrate`
on a 2-D device mesh ("site", "start") of *all* devices (``jax.devices()``,
every process's when :func:`jax.distributed.initialize` has been called):
sites over ``gcd(S, n_devices)`` rows, starts over the remaining factor, the
start axis padded to a multiple of it by repeating the last start (dropped
again in the results). A site's arrays are split over the "site" rows and
repeated along "start", so they are not copied per start. Every (site, start)
optimisation is independent, so the results do not depend on the layout
(round-off only). On one device nothing is moved.

:func:`initialize` starts :mod:`jax.distributed` from arguments, the
``JAX_COORDINATOR_ADDRESS``/``JAX_NUM_PROCESSES``/``JAX_PROCESS_ID``
variables, or SLURM's (``SLURM_NTASKS``, ``SLURM_PROCID``; JAX's own cluster
detection); :func:`gather` brings a global array to every process as NumPy.
See docs/cluster.md for a SLURM recipe.
"""

from __future__ import annotations

import math
import os

import jax
import numpy as np

from jlsm.errors import InputError

__all__ = ["Layout", "gather", "initialize", "is_main_process"]


def initialize(coordinator_address: str | None = None, num_processes: int | None = None,
               process_id: int | None = None, local_device_ids=None, *, environ=None) -> tuple[int, int]:
    """Start :mod:`jax.distributed` once, before any JAX computation; returns (process index, process count).

    Arguments win over ``JAX_COORDINATOR_ADDRESS`` ("host:port"),
    ``JAX_NUM_PROCESSES`` and ``JAX_PROCESS_ID``; without them the counts come
    from SLURM (``SLURM_NTASKS``, ``SLURM_PROCID``), and with no address at all
    JAX detects the cluster itself (SLURM, Open MPI, Kubernetes, cloud TPU).
    """
    env = os.environ if environ is None else environ
    address = coordinator_address or env.get("JAX_COORDINATOR_ADDRESS")

    def number(value, names):
        if value is not None:
            return int(value)
        for name in names:
            if env.get(name):
                try:
                    return int(env[name])
                except ValueError:
                    raise InputError(f"distributed.initialize: environment variable {name}={env[name]!r} "
                                     "is not an integer") from None
        return None

    n = number(num_processes, ("JAX_NUM_PROCESSES", "SLURM_NTASKS"))
    pid = number(process_id, ("JAX_PROCESS_ID", "SLURM_PROCID"))
    if address is not None and (n is None or pid is None):
        raise InputError(f"distributed.initialize: coordinator {address!r} given but the number of processes "
                         f"({n}) or this process's id ({pid}) is not (set JAX_NUM_PROCESSES and JAX_PROCESS_ID)")
    kwargs = {"local_device_ids": local_device_ids} if local_device_ids is not None else {}
    if address is None:
        jax.distributed.initialize(**kwargs)
    else:
        jax.distributed.initialize(coordinator_address=address, num_processes=n, process_id=pid, **kwargs)
    return jax.process_index(), jax.process_count()


def is_main_process() -> bool:
    """True on the process that should write files (process 0)."""
    return jax.process_index() == 0


def gather(x) -> np.ndarray:
    """A (possibly multi-process) array as a NumPy array on every process (collective when global)."""
    if isinstance(x, jax.Array) and not x.is_fully_addressable:
        from jax.experimental import multihost_utils

        return np.asarray(multihost_utils.process_allgather(x, tiled=True))
    return np.asarray(x)


class Layout:
    """How S sites x K starts lie on the devices (see the module docstring)."""

    def __init__(self, n_sites: int, n_starts: int, devices=None):
        devices = list(jax.devices() if devices is None else devices)
        n = len(devices)
        rows = math.gcd(int(n_sites), n)
        cols = n // rows
        self.n_sites, self.n_starts = int(n_sites), int(n_starts)
        self.padded = -(-self.n_starts // cols) * cols
        self.mesh = jax.sharding.Mesh(np.array(devices).reshape(rows, cols), ("site", "start")) if n > 1 else None

    @property
    def sharded(self) -> bool:
        return self.mesh is not None

    def pad(self, a):
        """(S, K, ...) -> (S, K_padded, ...) by repeating the last start (NumPy)."""
        a = np.asarray(a)
        extra = self.padded - a.shape[1]
        return np.concatenate([a, np.repeat(a[:, -1:], extra, axis=1)], axis=1) if extra else a

    def _put(self, tree, spec, leading):
        if self.mesh is None:
            return tree
        sharding = jax.sharding.NamedSharding(self.mesh, spec)
        replicated = jax.sharding.NamedSharding(self.mesh, jax.sharding.PartitionSpec())

        def put(a):
            if not isinstance(a, (jax.Array, np.ndarray)):
                return a
            host = np.asarray(gather(a))
            s = sharding if host.shape[:len(leading)] == leading else replicated
            return jax.make_array_from_callback(host.shape, s, lambda index: host[index])

        return jax.tree_util.tree_map(put, tree)

    def put_states(self, tree):
        """Arrays with leading (S, K_padded) axes split over the mesh (from host values known to every process)."""
        return self._put(tree, jax.sharding.PartitionSpec("site", "start"), (self.n_sites, self.padded))

    def put_sites(self, tree):
        """Arrays with a leading S axis split over the "site" rows, repeated along "start"."""
        return self._put(tree, jax.sharding.PartitionSpec("site"), (self.n_sites,))

    def host(self, tree):
        """Every array of ``tree`` with leading (S, K_padded) axes as NumPy on this process, cut to K starts."""

        def get(a):
            if not isinstance(a, (jax.Array, np.ndarray)):
                return a
            h = gather(a)
            if h.ndim >= 2 and h.shape[:2] == (self.n_sites, self.padded):
                return h[:, :self.n_starts]
            return h

        return jax.tree_util.tree_map(get, tree)
