"""LSTM networks for flux surrogates: multi-task (shared trunk, one head per flux) and single-task.

The LSTM cell (Hochreiter and Schmidhuber 1997; the form with a forget gate
of Gers et al. 2000) is hand-fused: the input projection of a whole sequence
is one matrix product (T, in) x (in, 4H) outside the time loop, and the
recurrence ``lax.scan`` carries only the (H, 4H) product. It computes what a
``lax.scan`` of ``eqx.nn.LSTMCell`` computes (a test checks it); on the shared
2-core CPU the two ran at the same speed within noise (forward + backward,
H = 128, 32 sequences x 336 steps, float32: 0.60 s against 0.54 s, load
average 12), so the fused form is kept for its layout, not for speed.
Gate order i, f, g, o as in PyTorch; weights uniform in +/- 1/sqrt(H)
(PyTorch's and Equinox's default) and the forget-gate bias set to 1
(Jozefowicz et al. 2015, Sect. 2.2) so that memory is kept at the start.

* :class:`MultiTaskLSTM`: stacked LSTM layers shared by all outputs, then
  one MLP head per output (MdPL's multi-task surrogate, Xie et al. 2025).
* :class:`SingleTaskLSTM`: one independent :class:`MultiTaskLSTM` with a
  single head per output (MdPL's single-task comparison).

Both map a sequence (T, in_size) to (T, n_outputs) in normalised units.
:func:`hidden_for_weights` sizes the hidden state for a weight budget
(MdPL: about 0.98 M trainable weights multi-task, 1.1 M single-task).
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp

from jlsm.errors import InputError

__all__ = ["LSTMLayer", "MultiTaskLSTM", "SingleTaskLSTM", "build_network", "count_weights", "hidden_for_weights"]


class LSTMLayer(eqx.Module):
    """One LSTM layer: (T, in) -> hidden states (T, H), zero initial state.

    Fields: ``w_in`` (in, 4H), ``w_rec`` (H, 4H), ``bias`` (4H,), all dimensionless.
    """

    w_in: jax.Array
    w_rec: jax.Array
    bias: jax.Array

    def __init__(self, in_size: int, hidden: int, *, key, dtype=None):
        dtype = dtype or jnp.zeros(()).dtype  # float64 when x64 is enabled, else float32
        k1, k2, k3 = jax.random.split(key, 3)
        lim = 1.0 / math.sqrt(hidden)
        u = lambda k, s: jax.random.uniform(k, s, dtype, -lim, lim)  # noqa: E731
        self.w_in = u(k1, (in_size, 4 * hidden))
        self.w_rec = u(k2, (hidden, 4 * hidden))
        self.bias = u(k3, (4 * hidden,)).at[hidden : 2 * hidden].set(1.0)

    def __call__(self, xs):
        H = self.w_rec.shape[0]
        gx = xs @ self.w_in + self.bias  # (T, 4H): the input projection, outside the loop

        def step(carry, g_in):
            h, c = carry
            g = g_in + h @ self.w_rec
            i = jax.nn.sigmoid(g[:H])
            f = jax.nn.sigmoid(g[H : 2 * H])
            z = jnp.tanh(g[2 * H : 3 * H])
            o = jax.nn.sigmoid(g[3 * H :])
            c = f * c + i * z
            h = o * jnp.tanh(c)
            return (h, c), h

        zero = jnp.zeros((H,), gx.dtype)
        _, hs = jax.lax.scan(step, (zero, zero), gx)
        return hs


class MultiTaskLSTM(eqx.Module):
    """Shared LSTM trunk and one MLP head (H -> head_width -> 1, tanh) per output.

    ``__call__(x (T, in_size)) -> (T, n_outputs)``.
    """

    layers: tuple[LSTMLayer, ...]
    heads: tuple[eqx.nn.MLP, ...]
    in_size: int = eqx.field(static=True)
    hidden: int = eqx.field(static=True)
    n_layers: int = eqx.field(static=True)
    n_outputs: int = eqx.field(static=True)
    head_width: int = eqx.field(static=True)

    def __init__(self, in_size: int, hidden: int = 64, n_layers: int = 1, n_outputs: int = 2, head_width: int = 32, *, key, dtype=None):
        for name, v in (("in_size", in_size), ("hidden", hidden), ("n_layers", n_layers), ("n_outputs", n_outputs), ("head_width", head_width)):
            if int(v) < 1:
                raise InputError(f"MultiTaskLSTM: {name} must be >= 1, got {v}")
        keys = jax.random.split(key, n_layers + n_outputs)
        sizes = [in_size] + [hidden] * n_layers
        self.layers = tuple(LSTMLayer(sizes[i], hidden, key=keys[i], dtype=dtype) for i in range(n_layers))
        self.heads = tuple(
            eqx.nn.MLP(hidden, 1, head_width, 1, activation=jnp.tanh, key=keys[n_layers + j], dtype=dtype) for j in range(n_outputs)
        )
        self.in_size, self.hidden, self.n_layers = int(in_size), int(hidden), int(n_layers)
        self.n_outputs, self.head_width = int(n_outputs), int(head_width)

    def __call__(self, x):
        h = x
        for layer in self.layers:
            h = layer(h)
        return jnp.concatenate([jax.vmap(head)(h) for head in self.heads], axis=-1)

    def config(self) -> dict:
        return {"kind": "multi", "in_size": self.in_size, "hidden": self.hidden, "n_layers": self.n_layers,
                "n_outputs": self.n_outputs, "head_width": self.head_width}


class SingleTaskLSTM(eqx.Module):
    """One independent LSTM (trunk + one head) per output. ``(T, in_size) -> (T, n_outputs)``."""

    nets: tuple[MultiTaskLSTM, ...]

    def __init__(self, in_size: int, hidden: int = 64, n_layers: int = 1, n_outputs: int = 2, head_width: int = 32, *, key, dtype=None):
        keys = jax.random.split(key, n_outputs)
        self.nets = tuple(MultiTaskLSTM(in_size, hidden, n_layers, 1, head_width, key=k, dtype=dtype) for k in keys)

    def __call__(self, x):
        return jnp.concatenate([net(x) for net in self.nets], axis=-1)

    def config(self) -> dict:
        n = self.nets[0]
        return {"kind": "single", "in_size": n.in_size, "hidden": n.hidden, "n_layers": n.n_layers,
                "n_outputs": len(self.nets), "head_width": n.head_width}


def build_network(kind: str, *, key, dtype=None, **config):
    """``MultiTaskLSTM`` (kind ``"multi"``) or ``SingleTaskLSTM`` (``"single"``) from a config dict."""
    if kind == "multi":
        return MultiTaskLSTM(**config, key=key, dtype=dtype)
    if kind == "single":
        return SingleTaskLSTM(**config, key=key, dtype=dtype)
    raise InputError(f"build_network: kind must be 'multi' or 'single', got {kind!r}")


def count_weights(tree) -> int:
    """Number of trainable (floating-point array) weights in a module."""
    return int(sum(x.size for x in jax.tree_util.tree_leaves(eqx.filter(tree, eqx.is_inexact_array))))


def _weights(kind, in_size, hidden, n_layers, n_outputs, head_width) -> int:
    lstm = 4 * hidden * (in_size + hidden + 1) + (n_layers - 1) * 4 * hidden * (2 * hidden + 1)
    head = hidden * head_width + head_width + head_width + 1
    return lstm + n_outputs * head if kind == "multi" else n_outputs * (lstm + head)


def hidden_for_weights(target: int, kind: str, in_size: int, n_layers: int = 2, n_outputs: int = 2, head_width: int = 64) -> int:
    """The hidden size whose network has the weight count closest to ``target``."""
    best = min(range(1, 4097), key=lambda h: abs(_weights(kind, in_size, h, n_layers, n_outputs, head_width) - target))
    return best
