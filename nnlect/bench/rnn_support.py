r"""The Elman RNN workload for every implementation (character language model, one-hot input).

- nnlect: :func:`nnlect.elman_rnn` (``w_xh[x_t]`` row lookup, ``lax.scan`` over time);
- ``numpy_ref``: :mod:`nnlect.reference.numpy_bptt` (the lecture's BPTT by hand);
- ``jnp_ref``: the same BPTT formulas in ``jax.numpy`` (:func:`jnp_gradients`), with the
  time loops as ``lax.scan`` (forward) and ``lax.scan(reverse=True)`` (backward);
- Flax: ``nnx.RNN(nnx.SimpleCell)`` + ``nnx.Linear`` readout on one-hot float inputs;
- PyTorch: ``nn.RNN`` + ``nn.Linear`` on one-hot float inputs, ``bias_hh`` frozen at 0
  (nn.RNN has two hidden biases where the lecture has one: freezing one keeps the
  function and the training step identical).

The peers take one-hot floats because that is their documented input for ``nn.RNN`` /
``SimpleCell``; they then multiply by the full ``(V, H)`` input matrix, which nnlect and the
handwritten references replace by a row lookup. That work is not counted in the FLOPs.
"""

from __future__ import annotations

from typing import cast

import jax
import jax.numpy as jnp
import numpy as np

from nnlect.bench.workloads import Workload
from nnlect.reference import numpy_bptt


def reference_skip_reason() -> str | None:
    return None


def _h0(params: dict, batch: int):
    return np.zeros((batch, params["cell"]["w_hh"].shape[0]), np.asarray(params["cell"]["w_hh"]).dtype)


def reference_gradients(params: dict, x, y):
    """NumPy BPTT gradients, or the jnp version when traced (``jnp_ref``)."""
    if isinstance(x, jax.Array):
        return jnp_gradients(params, x, y)
    return numpy_bptt.gradients(params, x, y, _h0(params, x.shape[0]))


def reference_logits(params: dict, x) -> np.ndarray:
    return numpy_bptt.forward(params, np.asarray(x), _h0(params, x.shape[0]))[1]


def jnp_gradients(params: dict, x, targets) -> dict:
    r"""BPTT by hand in ``jax.numpy``; the formulas of :mod:`nnlect.reference.numpy_bptt`.

    ``x``, ``targets``: ``(B, T)`` int ids; returns :math:`\partial E/\partial\theta` in params' layout.
    """
    cell, out = params["cell"], params["readout"]
    w_xh, w_hh, w_hy = cell["w_xh"], cell["w_hh"], out["w"]
    batch, steps = x.shape
    hidden, k = w_hh.shape[0], w_hy.shape[1]
    h0 = jnp.zeros((batch, hidden), w_hh.dtype)
    xw = w_xh[x.T] + cell["b_h"][None, None, :]  # (T, B, H)

    def forward(h, xw_t):
        h = jnp.tanh(xw_t + h @ w_hh)
        return h, h

    _, hs = jax.lax.scan(forward, h0, xw)  # h_1 .. h_T
    logits = hs @ w_hy + out["b"][None, None, :]
    # 1. delta^y_t = (d_t - softmax(net^y_t)) / N
    delta_y = (jax.nn.one_hot(targets.T, k, dtype=logits.dtype) - jax.nn.softmax(logits, axis=-1)) / (batch * steps)
    from_output = delta_y @ w_hy.T

    # 2. delta^h_t = (1 - h_t^2) (delta^y_t W_hy^T + delta^h_{t+1} W_hh^T), t = T..1
    def backward(carried, inputs):
        from_out_t, h_t = inputs
        delta = (1.0 - h_t ** 2) * (from_out_t + carried)
        return delta @ w_hh.T, delta

    _, delta_h = jax.lax.scan(backward, jnp.zeros_like(h0), (from_output, hs), reverse=True)
    # 3. gradients summed over time
    h_prev = jnp.concatenate([h0[None], hs[:-1]], axis=0).reshape(-1, hidden)
    flat_dh = delta_h.reshape(-1, hidden)
    return {
        "cell": {"w_xh": jnp.zeros_like(w_xh).at[x.T.reshape(-1)].add(-flat_dh),
                 "w_hh": -(h_prev.T @ flat_dh), "b_h": -flat_dh.sum(axis=0)},
        "readout": {"w": -(hs.reshape(-1, hidden).T @ delta_y.reshape(-1, k)),
                    "b": -delta_y.sum(axis=(0, 1))},
    }


def flax_module(w: Workload, params: dict):
    from flax import nnx

    c = w.config
    vocab, hidden = c["vocab"], c["hidden"]

    class FlaxElman(nnx.Module):
        def __init__(self):
            rngs = nnx.Rngs(0)
            cell = nnx.SimpleCell(vocab, hidden, rngs=rngs)
            readout = nnx.Linear(hidden, vocab, rngs=rngs)
            # both are built with biases (use_bias defaults to True); this narrows the Optional
            assert cell.dense_i.bias is not None and readout.bias is not None
            cell.dense_i.kernel.set_value(jnp.asarray(params["cell"]["w_xh"]))
            cell.dense_i.bias.set_value(jnp.asarray(params["cell"]["b_h"]))
            cell.dense_h.kernel.set_value(jnp.asarray(params["cell"]["w_hh"]))
            self.rnn = nnx.RNN(cell)
            readout.kernel.set_value(jnp.asarray(params["readout"]["w"]))
            readout.bias.set_value(jnp.asarray(params["readout"]["b"]))
            self.readout = readout

        def __call__(self, x):
            # without return_carry the RNN returns the outputs alone, (B, T, hidden)
            hs = cast(jax.Array, self.rnn(jax.nn.one_hot(x, vocab, dtype=jnp.float32)))
            return self.readout(hs)

    return FlaxElman()


def torch_module(w: Workload, params: dict):
    import torch  # pyright: ignore[reportMissingImports]  optional peer, not in CI
    from torch import nn  # pyright: ignore[reportMissingImports]  optional peer, not in CI

    c = w.config
    vocab, hidden = c["vocab"], c["hidden"]

    def t(a):
        return torch.from_numpy(np.array(a, order="C"))

    class TorchElman(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.RNN(vocab, hidden, nonlinearity="tanh", batch_first=True)
            self.readout = nn.Linear(hidden, vocab)
            with torch.no_grad():
                self.rnn.weight_ih_l0.copy_(t(params["cell"]["w_xh"].T))
                self.rnn.weight_hh_l0.copy_(t(params["cell"]["w_hh"].T))
                self.rnn.bias_ih_l0.copy_(t(params["cell"]["b_h"]))
                self.rnn.bias_hh_l0.zero_()
                self.readout.weight.copy_(t(params["readout"]["w"].T))
                self.readout.bias.copy_(t(params["readout"]["b"]))
            self.rnn.bias_hh_l0.requires_grad_(False)

        def forward(self, x):  # x: (B, T, V) one-hot floats
            return self.readout(self.rnn(x)[0])

    return TorchElman()


def torch_inputs(x: np.ndarray, vocab: int) -> np.ndarray:
    """``(B, T)`` ids -> ``(B, T, V)`` float32 one-hot, made before the clock starts."""
    return (x[..., None] == np.arange(vocab)).astype(np.float32)
