r"""Multi-layer perceptron (slides "Hidden Layers and Backpropagation").

Feed-forward prediction, layer by layer:

.. math::
    net_j^{(l)} = \sum_m w_{j,m}^{(l)} h_m^{(l-1)} + b_j^{(l)}, \qquad h_j^{(l)} = f_{(l)}(net_j^{(l)})

with :math:`h^{(0)} = x`, any lecture activation per hidden layer, dropout
after each hidden activation, and a selectable output activation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax.numpy as jnp

from nnlect import _checks, activations, initializers, layers
from nnlect.layers import serial
from nnlect.models.base import Model, build

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
    compute_dtype: Any = None,
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
        dtype: parameter dtype (storage).
        compute_dtype: dtype of the products, None for ``dtype``; ``jnp.bfloat16`` with float32
            params is mixed precision (see :func:`nnlect.layers.dense`). Losses stay float32.

    Returns:
        :class:`~nnlect.models.base.Model`; ``apply(params, x)`` maps ``(..., sizes[0])`` to
        ``(..., sizes[-1])``; params are ``{"dense_0": {"w", "b"}, ...}``. It is
        ``nl.build(nl.serial(dense, activation, [dropout], ..., dense), (sizes[0],))``.

    Example:
        >>> import jax, jax.numpy as jnp, nnlect as nl
        >>> model = nl.mlp([2, 8, 1], "tanh", output_activation="sigmoid")
        >>> params = model.init(jax.random.key(0))
        >>> model.apply(params, jnp.zeros((4, 2))).shape
        (4, 1)
    """
    if isinstance(sizes, (int, str)) or len(sizes) < 2:
        raise ValueError(f"sizes: expected at least 2 layer widths (input and output), got {sizes!r}")
    names = ["sizes[0] (input width)", *[f"sizes[{i}] (hidden layer {i} width)" for i in range(1, len(sizes) - 1)],
             f"sizes[{len(sizes) - 1}] (output width)"]
    sizes = [_checks.positive_int(name, s) for name, s in zip(names, sizes)]
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

    L = layers
    precision = {"param_dtype": dtype, "compute_dtype": compute_dtype}
    net = []
    for l, (width, act) in enumerate(zip(sizes[1:-1], acts)):
        options = {"pieces": pieces} if act == "maxout" else {"stddev": noise_stddev} if act == "noisy_relu" else {}
        net += [L.named(f"dense_{l}", L.dense(width * (pieces if act == "maxout" else 1), init=inits[l], **precision)),
                L.activation(act, **options)] + ([L.dropout(rates[l])] if rates[l] > 0 else [])
    net.append(L.named(f"dense_{n_hidden_layers}", L.dense(sizes[-1], init=inits[-1], **precision)))
    if output_activation != "identity":
        net.append(L.activation(output_activation))
    return build(serial(*net), (sizes[0],))
