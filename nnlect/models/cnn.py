r"""Convolutional networks (slides "Convolutional Neural Network (CNN)", "Use Case:
Digits Recognition"): convolution, pooling, and LeNet-5.

Layout conventions (the ones XLA is fastest with on CPU and accelerators):

- images are ``NHWC``: ``(B, H, W, C)``, batch first, channels last;
- kernels are ``HWIO``: ``(kh, kw, c_in, c_out)``.

A convolution layer computes, for output channel :math:`j` at position :math:`(r, s)`,

.. math::
    net_j(r, s) = b_j + \sum_{m} \sum_{p < k_h} \sum_{q < k_w} w_{p,q,m,j}\, x_m(r\sigma + p, s\sigma + q)

with stride :math:`\sigma`: the same weights at every position (weight sharing), each
unit seeing a :math:`k_h \times k_w` patch (local receptive field). With ``"VALID"``
padding the output is ``(H - kh) // stride + 1`` high; with ``"SAME"`` it is
``ceil(H / stride)``. Pooling takes the mean or max of each ``window x window`` patch.
"""

from __future__ import annotations

from typing import Any, Sequence

import jax
import jax.numpy as jnp
from jax import lax

from nnlect import _checks, activations, initializers
from nnlect.dropout import dropout as _dropout
from nnlect.models.base import Model, check_params, dense, dense_init, require_key

Array = Any
Padding = str | Sequence[tuple[int, int]]

_DIMENSIONS = ("NHWC", "HWIO", "NHWC")
POOLINGS = ("avg", "max")


def _explicit_padding(padding: Padding, name: str = "padding") -> Padding:
    if isinstance(padding, str):
        if padding not in ("SAME", "VALID"):
            raise ValueError(f"{name}: expected 'SAME', 'VALID' or ((top, bottom), (left, right)), got {padding!r}")
        return padding
    pads = tuple(tuple(int(v) for v in p) for p in padding)
    if len(pads) != 2 or any(len(p) != 2 or min(p) < 0 for p in pads):
        raise ValueError(f"{name}: expected ((top, bottom), (left, right)) of non-negative ints, got {padding!r}")
    return pads


def output_size(size: int, window: int, stride: int, padding: Padding, axis: int = 0) -> int:
    """Spatial size after a conv or pool of ``window`` (one axis): what ``init`` uses to
    work out every shape before any data exists."""
    if padding == "SAME":
        return -(-size // stride)
    if padding == "VALID":
        return (size - window) // stride + 1 if size >= window else 0
    lo, hi = padding[axis]
    return (size + lo + hi - window) // stride + 1 if size + lo + hi >= window else 0


def conv2d(x: Array, w: Array, b: Array | None = None, *, stride: int = 1, padding: Padding = "VALID") -> Array:
    r"""2-D convolution (cross-correlation, as in every deep-learning library) plus bias.

    Arguments:
        x: ``(B, H, W, C_in)`` floating images.
        w: ``(kh, kw, C_in, C_out)`` kernels.
        b: ``(C_out,)`` biases, or None.
        stride: step :math:`\sigma` between receptive fields, both axes.
        padding: ``"VALID"`` (no padding), ``"SAME"`` (output ``ceil(H/stride)``), or
            explicit ``((top, bottom), (left, right))`` zero padding.

    Returns:
        ``(B, H', W', C_out)`` with ``H' = output_size(H, kh, stride, padding)``.
    """
    _checks.floating_array("x", x, ndim=4)
    _checks.floating_array("w", w, ndim=4)
    stride = _checks.positive_int("stride", stride)
    padding = _explicit_padding(padding)
    if w.shape[2] != x.shape[3]:
        raise ValueError(f"w: expected {x.shape[3]} input channels (x is {tuple(x.shape)}), got kernel {tuple(w.shape)}")
    if w.shape[2] == 1:
        # One input channel (LeNet-5's C1): im2col, then one matmul. XLA:CPU's direct
        # convolution's forward pass is ~2.5x slower here (docs/mnist.md); same numbers
        # (tests/test_cnn.py).
        kh, kw, _, c_out = w.shape
        patches = lax.conv_general_dilated_patches(x, (kh, kw), (stride, stride), padding, dimension_numbers=_DIMENSIONS)
        out = patches @ w.reshape(kh * kw, c_out)
    else:
        out = lax.conv_general_dilated(x, w, (stride, stride), padding, dimension_numbers=_DIMENSIONS)
    if b is not None:
        if tuple(b.shape) != (w.shape[3],):
            raise ValueError(f"b: expected shape ({w.shape[3]},), got {tuple(b.shape)}")
        out = out + b.reshape(1, 1, 1, -1)
    return out


def _pool(x: Array, init: float, op, window: int, stride: int | None, padding: str) -> Array:
    _checks.floating_array("x", x, ndim=4)
    window = _checks.positive_int("window", window)
    stride = window if stride is None else _checks.positive_int("stride", stride)
    padding = _explicit_padding(padding)
    if isinstance(padding, tuple):
        padding = ((0, 0), *padding, (0, 0))
    # A Python scalar init lets JAX recognise sum/max pooling and differentiate it.
    return lax.reduce_window(x, init, op, (1, window, window, 1), (1, stride, stride, 1), padding)


def avg_pool(x: Array, window: int = 2, stride: int | None = None, padding: Padding = "VALID") -> Array:
    """Mean of each ``window x window`` patch (LeNet-5's subsampling, without its trainable
    scale, which the next layer's weights absorb).

    ``(B, H, W, C) -> (B, H', W', C)``, ``H' = output_size(H, window, stride, padding)``;
    ``stride`` defaults to ``window`` (non-overlapping). With ``"SAME"`` the zero padding
    counts in the mean.
    """
    return _pool(x, 0.0, lax.add, window, stride, padding) / (window * window)


def max_pool(x: Array, window: int = 2, stride: int | None = None, padding: Padding = "VALID") -> Array:
    """Maximum of each ``window x window`` patch: ``(B, H, W, C) -> (B, H', W', C)`` as :func:`avg_pool`.

    Non-overlapping pooling of a divisible map is a reshape and a max, whose gradient XLA:CPU
    computes ~3x faster than ``reduce_window``'s select-and-scatter (same values; at ties the
    gradient is shared among the tied inputs instead of going to the first).
    """
    _checks.floating_array("x", x, ndim=4)
    b, h, w, c = x.shape
    if (stride in (None, window) and padding == "VALID" and isinstance(window, int) and window > 0
            and h % window == 0 and w % window == 0):
        return x.reshape(b, h // window, window, w // window, window, c).max(axis=(2, 4))
    return _pool(x, -jnp.inf, lax.max, window, stride, padding)


POOL = {"avg": avg_pool, "max": max_pool}


def flatten(x: Array) -> Array:
    """``(B, d1, d2, ...) -> (B, d1 * d2 * ...)``, row-major (C order)."""
    return x.reshape(x.shape[0], -1)


def cnn(
    convs: Sequence[tuple[int, int, int]],
    dense_sizes: Sequence[int],
    *,
    input_shape: tuple[int, int, int] = (28, 28, 1),
    first_padding: Padding = "VALID",
    conv_padding: Padding = "VALID",
    activation: str = "relu",
    pooling: str = "max",
    dropout: float = 0.0,
    init: str | None = None,
    dtype: Any = jnp.float32,
) -> Model:
    r"""A plain CNN: convolutions (each optionally followed by a 2x2 pooling), then dense layers.

    Arguments:
        convs: ``(c_out, kernel, pool)`` per convolution layer: ``c_out`` feature maps of
            ``kernel x kernel``; ``pool`` is 2 for a 2x2 subsampling after it, 1 for none.
        dense_sizes: widths of the fully connected layers after flattening; the last is the
            number of classes (logits, no output activation).
        input_shape: ``(H, W, C)`` of one image.
        first_padding: padding of the first convolution (LeNet-5 pads 28x28 to 32x32 here).
        conv_padding: padding of the other convolutions.
        activation: any name in :data:`nnlect.activations.ACTIVATIONS` except the keyed and
            maxout ones, applied after every convolution and hidden dense layer.
        pooling: ``"avg"`` (LeNet-5, 1998) or ``"max"``.
        dropout: drop probability before each hidden dense layer and the output layer.
        init: initializer name, default per activation.

    Returns:
        :class:`~nnlect.models.base.Model`: ``apply(params, x)`` maps ``(B, H, W, C)``
        float images to ``(B, dense_sizes[-1])`` logits. Params are ``{"conv_0": {"w": (kh, kw,
        c_in, c_out), "b": (c_out,)}, ..., "dense_0": {"w", "b"}, ...}``.
    """
    if pooling not in POOL:
        raise ValueError(f"pooling: expected one of {list(POOLINGS)}, got {pooling!r}")
    if activation in ("noisy_relu", "maxout"):
        raise ValueError(f"activation: {activation!r} is not supported in cnn(); use relu, tanh, elu, ...")
    act = activations.get(activation).fn
    rate = _checks.rate("dropout", dropout)
    init = init or initializers.DEFAULT_FOR_ACTIVATION[activation]
    initializers.get(init)
    if len(input_shape) != 3:
        raise ValueError(f"input_shape: expected (H, W, C), got {input_shape!r}")
    h, w, c = (_checks.positive_int("input_shape", v) for v in input_shape)
    pads = [_explicit_padding(first_padding, "first_padding")] + [_explicit_padding(conv_padding, "conv_padding")] * (len(convs) - 1)

    shapes, plan = {}, []
    for i, (c_out, k, pool) in enumerate(convs):
        c_out, k, pool = (_checks.positive_int("convs", v) for v in (c_out, k, pool))
        h, w = output_size(h, k, 1, pads[i], 0), output_size(w, k, 1, pads[i], 1)
        if pool > 1:
            h, w = output_size(h, pool, pool, "VALID"), output_size(w, pool, pool, "VALID")
        if h < 1 or w < 1:
            raise ValueError(f"input_shape: {tuple(input_shape)} is too small for conv layer {i} "
                             f"({k}x{k} kernel, pooling {pool}); pad the images or use fewer layers")
        shapes[f"conv_{i}"] = {"w": (k, k, c, c_out), "b": (c_out,)}
        plan.append((pads[i], pool))
        c = c_out
    sizes = [h * w * c] + [_checks.positive_int("dense", d) for d in dense_sizes]
    for j in range(len(dense_sizes)):
        shapes[f"dense_{j}"] = {"w": (sizes[j], sizes[j + 1]), "b": (sizes[j + 1],)}
    pool_fn = POOL[pooling]

    def init_fn(key: Array) -> dict:
        keys = dict(zip(shapes, jax.random.split(key, len(shapes))))
        params = {}
        for name, leaves in shapes.items():
            if name.startswith("conv"):
                params[name] = {"w": initializers.get(init)(keys[name], leaves["w"], dtype),
                                "b": jnp.zeros(leaves["b"], dtype)}
            else:  # the output layer feeds a softmax, not `activation`: LeCun normal
                last = name == f"dense_{len(dense_sizes) - 1}"
                params[name] = dense_init(keys[name], *leaves["w"], "lecun" if last else init, dtype)
        return params

    def apply(params: dict, x: Array, *, key: Array | None = None, train: bool = False) -> Array:
        _checks.floating_array("x", x, ndim=4)
        if tuple(x.shape[1:]) != tuple(input_shape):
            raise ValueError(f"x: expected shape (batch, {', '.join(map(str, input_shape))}), got {tuple(x.shape)}")
        check_params(params, shapes)
        if train and rate > 0:
            require_key(key, "dropout")
        out = x
        for i, (padding, pool) in enumerate(plan):
            layer = params[f"conv_{i}"]
            out = act(conv2d(out, layer["w"], layer["b"], padding=padding))
            if pool > 1:
                out = pool_fn(out, pool)
        out = flatten(out)
        for j in range(len(dense_sizes)):
            if rate > 0:
                out = _dropout(out, rate, key=jax.random.fold_in(key, j) if train else None, train=train)
            out = dense(params[f"dense_{j}"], out)
            if j < len(dense_sizes) - 1:
                out = act(out)
        return out

    return Model(init_fn, apply)


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
        dropout: drop probability before F6 and the output layer (0 = none).
        n_classes: number of outputs.

    Returns:
        :class:`~nnlect.models.base.Model`; ``apply(params, x)`` maps ``(B, H, W, C)``
        float images to ``(B, n_classes)`` logits. Params: ``conv_0`` (C1), ``conv_1``
        (C3), ``dense_0`` (C5), ``dense_1`` (F6), ``dense_2`` (output).
    """
    if len(input_shape) != 3:
        raise ValueError(f"input_shape: expected (H, W, C), got {input_shape!r}")
    h, w = int(input_shape[0]), int(input_shape[1])
    if not (1 <= h <= LENET5_FIELD and 1 <= w <= LENET5_FIELD):
        raise ValueError(f"input_shape: expected H and W in 1..{LENET5_FIELD} (padded to the {LENET5_FIELD}x"
                         f"{LENET5_FIELD} field), got {tuple(input_shape)}")
    pad_h, pad_w = LENET5_FIELD - h, LENET5_FIELD - w
    first_padding = ((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2))
    return cnn([(6, 5, 2), (16, 5, 2)], [120, 84, n_classes], input_shape=input_shape,
               first_padding=first_padding, activation=activation, pooling=pooling, dropout=dropout,
               init=init, dtype=dtype)
