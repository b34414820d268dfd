r"""The lecture's delta rule for an MLP of any depth, written by hand.

With :math:`net^{(l)} = h^{(l-1)} W^{(l)} + b^{(l)}` and :math:`h^{(l)} = f_{(l)}(net^{(l)})`:

1. output errors, for :math:`E = \frac12 \sum_k (y_k - d_k)^2`:
   :math:`\delta_k = (d_k - y_k)\, f'_{(L)}(net_k)`;
   for softmax cross-entropy on logits, :math:`\delta_k = d_k - \mathrm{softmax}(net)_k`;
2. back-propagated hidden errors: :math:`\delta_j = f'_{(l)}(net_j) \sum_k \delta_k w_{k,j}`;
3. updates: :math:`\Delta w_{j,m} = \eta\, \delta_j\, h_m`, :math:`\Delta b_j = \eta\, \delta_j`.

The loss is averaged over the batch exactly as :mod:`nnlect.losses` does, so
``-grad`` here equals ``jax.grad`` of that loss. :math:`\delta` is the lecture's
*negative* gradient with respect to ``net``.

The code is written once against the array namespace of its input
(:func:`nnlect.activations._xp`): NumPy arrays compute in NumPy; under ``jax.jit``
(:mod:`nnlect.reference.jax_backprop`) the same lines compute in ``jax.numpy``.
Params use the :func:`nnlect.mlp` layout: ``{"dense_l": {"w": (n_in, n_out), "b": (n_out,)}}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from nnlect import activations
from nnlect.layers.feedforward import affine as dense

Array = Any

SUPPORTED = ("identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus")
LOSSES = ("half_squared_error", "softmax_cross_entropy")


def _acts(activation: str | Sequence[str], n_hidden: int) -> list[activations.Activation]:
    names = [activation] * n_hidden if isinstance(activation, str) else list(activation)
    if len(names) != n_hidden:
        raise ValueError(f"activation: expected one name per hidden layer ({n_hidden}), got {len(names)}")
    for name in names:
        if name not in SUPPORTED:
            raise ValueError(f"activation: the handwritten reference supports {list(SUPPORTED)}, got {name!r}")
    return [activations.get(n) for n in names]


def _softmax(z: Array) -> Array:
    xp = activations._xp(z)
    e = xp.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _targets(d: Array, y: Array) -> Array:
    """Integer class labels become one-hot rows of y's shape and dtype."""
    xp = activations._xp(y)
    if d.ndim == y.ndim - 1:
        classes = xp.arange(y.shape[-1]).reshape((1,) * d.ndim + (y.shape[-1],))
        return (d[..., None] == classes).astype(y.dtype)
    if d.shape != y.shape:
        raise ValueError(f"d: expected shape {tuple(y.shape)} (or integer labels {tuple(y.shape[:-1])}), got {tuple(d.shape)}")
    return d


def forward(params: dict, x: Array, *, activation="sigmoid", output_activation="sigmoid"):
    """Feed-forward prediction keeping every layer's input and :math:`net`.

    Returns:
        ``(inputs, nets, y)``: ``inputs[l]`` is :math:`h^{(l-1)}` ``(B, n_l)``, ``nets[l]`` is
        :math:`net^{(l)}`, and ``y`` the output ``(B, K)``.
    """
    n_layers = len(params)
    acts = _acts(activation, n_layers - 1) + [_output(output_activation)]
    inputs, nets, h = [], [], x
    for l in range(n_layers):
        layer = params[f"dense_{l}"]
        inputs.append(h)
        net = dense(layer, h)  # net = h W + b (the forward pass is not what we hand-derive)
        nets.append(net)
        h = acts[l].fn(net)
    return inputs, nets, h


def _output(name: str) -> activations.Activation:
    if name not in ("identity", "sigmoid", "tanh"):
        raise ValueError(f"output_activation: expected 'identity', 'sigmoid' or 'tanh', got {name!r}")
    return activations.get(name)


def deltas(params: dict, x: Array, d: Array, *, activation="sigmoid", output_activation="sigmoid",
           loss: str = "half_squared_error"):
    r"""The lecture's :math:`\delta` for every layer, output layer last.

    Arguments:
        params: MLP params.
        x: ``(B, n_0)`` inputs.
        d: ``(B, K)`` desired outputs, or ``(B,)`` integer labels with softmax cross-entropy.

    Returns:
        ``(inputs, deltas)``, lists over layers; ``deltas[l]`` has the shape of :math:`net^{(l)}`,
        and already carries the :math:`1/B` of the batch mean.
    """
    if loss not in LOSSES:
        raise ValueError(f"loss: expected one of {list(LOSSES)}, got {loss!r}")
    if loss == "softmax_cross_entropy" and output_activation != "identity":
        raise ValueError("output_activation: softmax cross-entropy takes logits, use output_activation='identity'")
    n_layers = len(params)
    acts = _acts(activation, n_layers - 1) + [_output(output_activation)]
    inputs, nets, y = forward(params, x, activation=activation, output_activation=output_activation)
    batch = x.shape[0]
    if loss == "half_squared_error":
        if d.shape != y.shape:
            raise ValueError(f"d: expected shape {tuple(y.shape)}, got {tuple(d.shape)}")
        delta = (d - y) * acts[-1].derivative(nets[-1])  # delta_k = (d_k - y_k) f'(net_k)
    else:
        delta = _targets(d, y) - _softmax(nets[-1])  # delta_k = d_k - y_k for softmax + CE
    delta = delta / batch
    out = [delta]
    for l in range(n_layers - 1, 0, -1):
        # delta_j = f'(net_j) * sum_k delta_k w_{k,j}
        delta = acts[l - 1].derivative(nets[l - 1]) * (delta @ params[f"dense_{l}"]["w"].T)
        out.append(delta)
    return inputs, out[::-1]


def gradients(params: dict, x: Array, d: Array, *, activation="sigmoid", output_activation="sigmoid",
              loss: str = "half_squared_error") -> dict:
    r""":math:`\partial E / \partial w` and :math:`\partial E / \partial b` for every layer (params' layout)."""
    inputs, ds = deltas(params, x, d, activation=activation, output_activation=output_activation, loss=loss)
    return {
        f"dense_{l}": {"w": -(inputs[l].T @ ds[l]), "b": -ds[l].sum(axis=0)} for l in range(len(params))
    }


def sgd_step(params: dict, x: Array, d: Array, *, eta: float, activation="sigmoid",
             output_activation="sigmoid", loss: str = "half_squared_error") -> dict:
    r"""One step of the lecture's rule :math:`w \leftarrow w + \eta\, \delta_j\, h_m` on a batch."""
    inputs, ds = deltas(params, x, d, activation=activation, output_activation=output_activation, loss=loss)
    return {
        f"dense_{l}": {
            "w": params[f"dense_{l}"]["w"] + eta * (inputs[l].T @ ds[l]),
            "b": params[f"dense_{l}"]["b"] + eta * ds[l].sum(axis=0),
        }
        for l in range(len(params))
    }


def to_numpy(params: dict) -> dict:
    """Copy a params pytree to NumPy arrays, so the reference computes in NumPy."""
    return {layer: {k: np.asarray(v) for k, v in leaves.items()} for layer, leaves in params.items()}
