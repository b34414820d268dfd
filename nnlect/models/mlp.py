r"""Multi-layer perceptron (slides "Hidden Layers and Backpropagation").

Feed-forward prediction, layer by layer:

.. math::
    net_j^{(l)} = \sum_m w_{j,m}^{(l)} h_m^{(l-1)} + b_j^{(l)}, \qquad h_j^{(l)} = f_{(l)}(net_j^{(l)})

with :math:`h^{(0)} = x`, any lecture activation per hidden layer, dropout
after each hidden activation, and a selectable output activation.
"""

from __future__ import annotations

from typing import Any, Sequence

import jax
import jax.numpy as jnp

from nnlect import _checks, activations, initializers
from nnlect.dropout import dropout as _dropout
from nnlect.models.base import Model, check_params, dense, dense_init, require_key

Array = Any

OUTPUT_ACTIVATIONS = ("identity", "sigmoid", "tanh", "softmax")


def _per_layer(name: str, value: Any, n: int) -> list:
    if isinstance(value, (str, int, float)):
        return [value] * n
    value = list(value)
    if len(value) != n:
        raise ValueError(f"{name}: expected one value per hidden layer ({n}), got {len(value)}")
    return value


def mlp(
    sizes: Sequence[int],
    activation: str | Sequence[str] = "relu",
    *,
    output_activation: str = "identity",
    dropout: float | Sequence[float] = 0.0,
    init: str | None = None,
    maxout_pieces: int = 2,
    noise_stddev: float = 1.0,
    dtype: Any = jnp.float32,
) -> Model:
    r"""A fully connected network ``sizes[0] -> sizes[1] -> ... -> sizes[-1]``.

    Arguments:
        sizes: layer widths, input first, output last; at least 2 entries.
        activation: one name from :data:`nnlect.activations.ACTIVATIONS` for every hidden
            layer, or one per hidden layer. ``"maxout"`` makes each hidden unit the max of
            ``maxout_pieces`` linear pieces; ``"noisy_relu"`` adds :math:`N(0, s^2)` noise in
            training (needs ``key``) and is a plain ReLU in evaluation.
        output_activation: ``"identity"`` (logits, for softmax cross-entropy or regression),
            ``"sigmoid"``, ``"tanh"`` or ``"softmax"``.
        dropout: drop probability in ``[0, 1)`` after each hidden layer (one value or one per layer).
        init: ``"lecun"``, ``"glorot"`` or ``"he"``; default chosen per activation.
        dtype: parameter dtype.

    Returns:
        :class:`~nnlect.models.base.Model`; ``apply(params, x)`` maps ``(B, sizes[0])`` to
        ``(B, sizes[-1])``; params are ``{"dense_0": {"w", "b"}, ...}``.

    Example:
        >>> import jax, jax.numpy as jnp, nnlect as nl
        >>> model = nl.mlp([2, 8, 1], "tanh", output_activation="sigmoid")
        >>> params = model.init(jax.random.key(0))
        >>> model.apply(params, jnp.zeros((4, 2))).shape
        (4, 1)
    """
    if isinstance(sizes, (int, str)) or len(sizes) < 2:
        raise ValueError(f"sizes: expected at least 2 layer widths (input and output), got {sizes!r}")
    sizes = [_checks.positive_int("sizes", s) for s in sizes]
    n_hidden_layers = len(sizes) - 2
    acts = _per_layer("activation", activation, n_hidden_layers)
    for a in acts:
        activations.get(a)
    if output_activation not in OUTPUT_ACTIVATIONS:
        raise ValueError(f"output_activation: expected one of {list(OUTPUT_ACTIVATIONS)}, got {output_activation!r}")
    rates = [_checks.rate("dropout", r) for r in _per_layer("dropout", dropout, n_hidden_layers)]
    pieces = _checks.positive_int("maxout_pieces", maxout_pieces)
    inits = [init or initializers.DEFAULT_FOR_ACTIVATION[a] for a in acts] + [init or "lecun"]
    for i in inits:
        initializers.get(i)
    needs_key = any(r > 0 for r in rates) or "noisy_relu" in acts

    # Fan-out of layer l: maxout layers compute `pieces` linear pieces per unit.
    fan_out = [n * (pieces if a == "maxout" else 1) for n, a in zip(sizes[1:-1], acts)] + [sizes[-1]]
    shapes = {
        f"dense_{l}": {"w": (sizes[l], fan_out[l]), "b": (fan_out[l],)} for l in range(len(sizes) - 1)
    }

    def init_fn(key: Array) -> dict:
        keys = jax.random.split(key, len(sizes) - 1)
        return {
            f"dense_{l}": dense_init(keys[l], sizes[l], fan_out[l], inits[l], dtype)
            for l in range(len(sizes) - 1)
        }

    def apply(params: dict, x: Array, *, key: Array | None = None, train: bool = False) -> Array:
        _checks.floating_array("x", x, ndim=2)
        if x.shape[-1] != sizes[0]:
            raise ValueError(f"x: expected shape (batch, {sizes[0]}), got {tuple(x.shape)}")
        check_params(params, shapes)
        if train and needs_key:
            require_key(key, "dropout or noisy_relu")
        h = x
        for l, act in enumerate(acts):
            layer = params[f"dense_{l}"]
            net = dense(layer, h)
            layer_key = jax.random.fold_in(key, l) if (train and needs_key) else None
            if act == "maxout":
                h = activations.maxout(net, pieces)
            elif act == "noisy_relu":
                h = activations.noisy_relu(net, key=jax.random.fold_in(layer_key, 1), stddev=noise_stddev) if train else activations.relu(net)
            else:
                h = activations.get(act).fn(net)
            if rates[l] > 0:
                h = _dropout(h, rates[l], key=None if layer_key is None else jax.random.fold_in(layer_key, 0), train=train)
        out = params[f"dense_{n_hidden_layers}"]
        net = dense(out, h)
        if output_activation == "softmax":
            return jax.nn.softmax(net, axis=-1)
        if output_activation == "identity":
            return net
        return activations.get(output_activation).fn(net)

    return Model(init_fn, apply)
