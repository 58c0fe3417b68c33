"""A trained surrogate: network + normalisation + encoding settings; save and load.

:class:`Surrogate` maps physical parameters and forcing to fluxes in physical
units [W m-2], differentiably in the parameters, so it can stand in for the
physical model in :mod:`jlsm.surrogate.calibrate` and
:mod:`jlsm.surrogate.generator`. :func:`save` writes two files: ``PATH.eqx``
(every array, ``eqx.tree_serialise_leaves``) and ``PATH.json`` (the
hyperparameters needed to rebuild the skeleton, the normalisation for
reading, names and free metadata). :func:`load` rebuilds the skeleton from
the JSON and reads the arrays: a bit-exact round trip.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from jlsm.errors import DataFileError

from .data import Normalisation
from .encoding import encoding_size, positional_encoding
from .lstm import build_network

__all__ = ["FORMAT_VERSION", "SiteInputs", "Surrogate", "load", "save", "site_inputs"]

FORMAT_VERSION = 1


class SiteInputs(NamedTuple):
    """What a surrogate needs of a site besides parameters: forcing (T, F) and encoding (T, 4 L)."""

    forcing: jax.Array
    encoding: jax.Array


def site_inputs(forcing, time, n_frequencies: int, dtype=np.float32) -> SiteInputs:
    """:class:`SiteInputs` from forcing (T, F) and its time axis (T,) datetime64."""
    return SiteInputs(jnp.asarray(forcing, dtype=dtype), jnp.asarray(positional_encoding(time, n_frequencies, dtype)))


class Surrogate(eqx.Module):
    """Network with the normalisation it was trained with.

    Input features per step, in order: normalised forcing (F), scaled
    parameters (P, constant in time), positional encoding (4 L).
    """

    net: eqx.Module
    norm: Normalisation
    n_frequencies: int = eqx.field(static=True)

    def features(self, theta, forcing, encoding):
        """Network input (T, F + P + 4 L) from physical parameters (P,), forcing (T, F), encoding (T, 4 L)."""
        T = forcing.shape[0]
        p = jnp.broadcast_to(self.norm.params_in(theta), (T, theta.shape[-1]))
        return jnp.concatenate([self.norm.forcing_in(forcing), p.astype(forcing.dtype), encoding.astype(forcing.dtype)], axis=-1)

    def __call__(self, theta, forcing, encoding):
        """Fluxes (T, n_outputs) [W m-2] for physical parameters ``theta`` (P,)."""
        dt = self.norm.forcing_mean.dtype
        x = self.features(jnp.asarray(theta, dt), jnp.asarray(forcing, dt), jnp.asarray(encoding, dt))
        return self.norm.target_out(self.net(x))

    def simulate(self, theta, inputs: SiteInputs):
        """``simulate(theta (P,), SiteInputs) -> (T, n_outputs)``: the interface of the calibration code."""
        return self(theta, inputs.forcing, inputs.encoding)

    @property
    def expected_inputs(self) -> int:
        return int(self.norm.forcing_mean.shape[0] + self.norm.param_lo.shape[0] + encoding_size(self.n_frequencies))


def _paths(path):
    p = Path(path)
    base = p.with_suffix("") if p.suffix in (".eqx", ".json") else p
    return base.with_name(base.name + ".eqx"), base.with_name(base.name + ".json")


def save(path, surrogate: Surrogate, metadata: dict | None = None) -> tuple[Path, Path]:
    """Write ``PATH.eqx`` (arrays) and ``PATH.json`` (hyperparameters, normalisation, metadata)."""
    weights, meta = _paths(path)
    info = {
        "format": FORMAT_VERSION,
        "network": surrogate.net.config(),
        "n_frequencies": surrogate.n_frequencies,
        "dtype": str(np.dtype(surrogate.norm.forcing_mean.dtype)),
        "normalisation": surrogate.norm.to_dict(),
        "metadata": metadata or {},
    }
    try:
        weights.parent.mkdir(parents=True, exist_ok=True)
        eqx.tree_serialise_leaves(weights, surrogate)
        meta.write_text(json.dumps(info, indent=1))
    except OSError as exc:
        raise DataFileError(f"surrogate.save: cannot write {weights} / {meta}: {exc.strerror or exc}") from None
    return weights, meta


def load(path) -> tuple[Surrogate, dict]:
    """(surrogate, metadata) from files written by :func:`save`, bit-exact."""
    weights, meta = _paths(path)
    for f in (weights, meta):
        if not f.is_file():
            raise DataFileError(f"surrogate.load: {f} not found (written by jlsm.surrogate.save)")
    info = json.loads(meta.read_text())
    if info.get("format") != FORMAT_VERSION:
        raise DataFileError(f"surrogate.load: {meta}: format {info.get('format')!r}, expected {FORMAT_VERSION}")
    dtype = np.dtype(info["dtype"])
    cfg = dict(info["network"])
    kind = cfg.pop("kind")
    net = build_network(kind, key=jax.random.PRNGKey(0), dtype=dtype, **cfg)
    skeleton = Surrogate(net, Normalisation.from_dict(info["normalisation"], dtype), int(info["n_frequencies"]))
    return eqx.tree_deserialise_leaves(weights, skeleton), info.get("metadata", {})
