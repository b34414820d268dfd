r"""Convolutional networks (slides "Convolutional Neural Network (CNN)", "Use Case:
Digits Recognition"): a plain CNN and LeNet-5, both compositions of
:mod:`nnlect.layers` (:func:`~nnlect.layers.conv`, :func:`~nnlect.layers.max_pool`, ...).

Images are channels-last, ``(..., H, W, C)``; kernels ``(kh, kw, c_in, c_out)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax.numpy as jnp

from nnlect import _checks, initializers, layers as L
from nnlect.layers import serial
from nnlect.models.base import Model, build

Array = Any
POOLINGS = ("avg", "max")


def _pool(pooling: str):
    if pooling not in POOLINGS:
        raise ValueError(f"pooling: expected one of {list(POOLINGS)}, got {pooling!r}")
    return L.avg_pool if pooling == "avg" else L.max_pool


def _activation(activation: str) -> L.Layer:
    if activation in ("noisy_relu", "maxout"):
        raise ValueError(f"activation: {activation!r} is not supported here; use relu, tanh, elu, ... "
                         "(or compose nl.layers.activation yourself)")
    return L.activation(activation)


def cnn(
    convs: Sequence[tuple[int, Any, int]],
    dense_sizes: Sequence[int],
    *,
    input_shape: tuple[int, int, int] = (28, 28, 1),
    first_padding: Any = "VALID",
    conv_padding: Any = "VALID",
    activation: str = "relu",
    pooling: str = "max",
    dropout: float = 0.0,
    init: str | None = None,
    dtype: Any = jnp.float32,
    compute_dtype: Any = None,
    conv_impl: str = "auto",
) -> Model:
    r"""A plain CNN: convolutions (each optionally followed by a pooling), then dense layers.

    Arguments:
        convs: ``(c_out, kernel, pool)`` per convolution layer: ``c_out`` feature maps of a
            ``kernel x kernel`` field (or a ``(kh, kw)`` tuple); ``pool`` is 2 for a 2x2
            subsampling after it, 1 for none.
        dense_sizes: widths of the fully connected layers after flattening; the last is the
            number of classes (logits, no output activation).
        input_shape: ``(H, W, C)`` of one image.
        first_padding: padding of the first convolution (LeNet-5 pads 28x28 to 32x32 here).
        conv_padding: padding of the other convolutions.
        activation: after every convolution and hidden dense layer (not noisy_relu, maxout).
        pooling: ``"avg"`` or ``"max"``.
        dropout: drop probability before each dense layer.
        init: initializer name, default per activation; the output layer is LeCun normal.
        dtype, compute_dtype: param (storage) and compute dtypes, as in :func:`nnlect.mlp`.
        conv_impl: every convolution's lowering, :func:`~nnlect.layers.conv`'s ``impl``
            (``"auto"``: im2col on CPU, XLA's convolution elsewhere; ``"xla"`` for
            forward-mode autodiff, or for big patch matrices in a step loop on CPU).

    Returns:
        :class:`~nnlect.models.base.Model`: ``apply(params, x)`` maps ``(..., H, W, C)``
        float images to ``(..., dense_sizes[-1])`` logits. Params are ``{"conv_0": {"w": (kh,
        kw, c_in, c_out), "b": (c_out,)}, ..., "dense_0": {"w", "b"}, ...}``.
    """
    pool, act = _pool(pooling), _activation(activation)
    rate = _checks.rate("dropout", dropout)
    init = init or initializers.DEFAULT_FOR_ACTIVATION[activation]
    initializers.get(init)
    if isinstance(input_shape, (int, str)) or len(input_shape) != 3:
        raise ValueError(f"input_shape: expected (H, W, C), got {input_shape!r}")
    net = []
    for i, (c_out, k, p) in enumerate(convs):
        kernel = (k, k) if isinstance(k, int) else tuple(k)
        net += [L.named(f"conv_{i}", L.conv(c_out, kernel, padding=first_padding if i == 0 else conv_padding,
                                            init=init, param_dtype=dtype, compute_dtype=compute_dtype,
                                            impl=conv_impl)), act]
        if _checks.positive_int("convs", p) > 1:
            net.append(pool((p, p)))
    net.append(L.flatten())
    for j, width in enumerate(dense_sizes):
        last = j == len(dense_sizes) - 1
        net += [L.dropout(rate)] if rate > 0 else []
        net += [L.named(f"dense_{j}", L.dense(width, init="lecun" if last else init, param_dtype=dtype,
                                              compute_dtype=compute_dtype))]
        net += [] if last else [act]
    return build(serial(*net), input_shape)


LENET5_FIELD = 32  # LeNet-5's input field: MNIST's 28x28 digits sit centred in 32x32


def lenet5(
    *,
    input_shape: tuple[int, int, int] = (28, 28, 1),
    activation: str = "tanh",
    pooling: str = "avg",
    dropout: float = 0.0,
    n_classes: int = 10,
    init: str | None = None,
    dtype: Any = jnp.float32,
    compute_dtype: Any = None,
    conv_impl: str = "auto",
) -> Model:
    r"""LeNet-5 (LeCun et al., 1998), the network behind the lecture's 0.95% MNIST error.

    ====  ==========================  ===================
    C1    6 maps, 5x5 conv            32x32x1 -> 28x28x6
    S2    2x2 pooling                 -> 14x14x6
    C3    16 maps, 5x5 conv           -> 10x10x16
    S4    2x2 pooling                 -> 5x5x16
    C5    120 maps, 5x5 conv          -> 1x1x120 (a dense layer 400 -> 120)
    F6    dense                       120 -> 84
    out   dense                       84 -> ``n_classes`` logits
    ====  ==========================  ===================

    Images smaller than 32x32 are zero-padded, centred, to the 32x32 field inside C1's
    convolution (no copy of the batch): 28x28 MNIST gets 2 pixels a side, as in the paper;
    8x8 scikit-learn digits get 12 a side (enough for smoke tests). Larger images are
    rejected. The 1998 details we simplify, as every modern re-implementation does:
    C3 connects to all six S2 maps (not the paper's sparse table), S2/S4 have no trainable
    scale, and the output is a dense layer with softmax cross-entropy, not RBF units.
    With those, the classic configuration has 61,706 parameters.

    Arguments:
        input_shape: ``(H, W, C)`` of one image, ``H, W <= 32``.
        activation: ``"tanh"`` as in 1998, or ``"relu"`` (any lecture activation
            except noisy_relu and maxout).
        pooling: ``"avg"`` as in 1998, or ``"max"``.
        dropout: drop probability before C5, F6 and the output layer (0 = none).
        n_classes: number of outputs.
        dtype, compute_dtype: param (storage) and compute dtypes, as in :func:`nnlect.mlp`.
        conv_impl: C1's and C3's lowering, :func:`~nnlect.layers.conv`'s ``impl``.

    Returns:
        :class:`~nnlect.models.base.Model`; ``apply(params, x)`` maps ``(..., H, W, C)``
        float images to ``(..., n_classes)`` logits. Params: ``conv_0`` (C1), ``conv_1``
        (C3), ``dense_0`` (C5), ``dense_1`` (F6), ``dense_2`` (output).
    """
    if isinstance(input_shape, (int, str)) or len(input_shape) != 3:
        raise ValueError(f"input_shape: expected (H, W, C), got {input_shape!r}")
    h, w = input_shape[0], input_shape[1]
    if not (isinstance(h, int) and isinstance(w, int) and 1 <= h <= LENET5_FIELD and 1 <= w <= LENET5_FIELD):
        raise ValueError(f"input_shape: expected H and W in 1..{LENET5_FIELD} (padded to the {LENET5_FIELD}x"
                         f"{LENET5_FIELD} field), got {tuple(input_shape)}")
    pad = ((LENET5_FIELD - h) // 2, (LENET5_FIELD - h + 1) // 2), ((LENET5_FIELD - w) // 2, (LENET5_FIELD - w + 1) // 2)
    pool, act, init = _pool(pooling), _activation(activation), init or initializers.DEFAULT_FOR_ACTIVATION[activation]
    drop = [L.dropout(dropout)] if _checks.rate("dropout", dropout) > 0 else []
    p = {"param_dtype": dtype, "compute_dtype": compute_dtype}
    dense = lambda i, n, how=init: [*drop, L.named(f"dense_{i}", L.dense(n, init=how, **p))]
    return build(serial(
        L.named("conv_0", L.conv(6, (5, 5), padding=pad, init=init, impl=conv_impl, **p)), act, pool((2, 2)),  # C1, S2
        L.named("conv_1", L.conv(16, (5, 5), init=init, impl=conv_impl, **p)), act, pool((2, 2)),              # C3, S4
        L.flatten(), *dense(0, 120), act,                                                                      # C5
        *dense(1, 84), act,                                                                                    # F6
        *dense(2, n_classes, "lecun"),                                                                         # output
    ), input_shape)
