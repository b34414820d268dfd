r"""Convolution and pooling layers (slides "Convolutional Neural Network (CNN)"), 1-D,
2-D or N-D: the length of the ``kernel`` or ``window`` tuple picks the number of spatial axes.

Layout is channels-last: an example is ``(L, C)``, ``(H, W, C)``, ...; kernels are
``(k_1, ..., k_n, C_in, C_out)`` (``HWIO`` in 2-D). Output channel :math:`j` at position
:math:`r` is

.. math::
    net_j(r) = b_j + \sum_m \sum_{p} w_{p,m,j}\, x_m(r\sigma + p\,d)

with stride :math:`\sigma` and dilation :math:`d`: the same weights at every position
(weight sharing), each unit seeing a local receptive field. Per axis, ``"VALID"`` gives
``(n - d(k-1) - 1) // stride + 1``, ``"SAME"`` gives ``ceil(n / stride)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import jax.numpy as jnp
from jax import lax

from nnlect import _checks, initializers
from nnlect.layers._core import Layer, Shape, draw_dtype, expect_keys, no_params, to_compute

Array = Any
_SPATIAL = "DHW"  # letters for up to 3 spatial axes; more get "0", "1", ...


def _tuple(name: str, value: Any, n: int) -> tuple[int, ...]:
    if isinstance(value, bool):
        raise ValueError(f"{name}: expected an int or {n} ints (one per spatial axis), got {value!r}")
    values = (value,) * n if isinstance(value, int) else tuple(value)
    if len(values) != n:
        raise ValueError(f"{name}: expected an int or {n} ints (one per spatial axis), got {value!r}")
    return tuple(_checks.positive_int(name, v) for v in values)


def _padding(value: Any, n: int) -> str | tuple[tuple[int, int], ...]:
    if isinstance(value, str):
        if value not in ("SAME", "VALID"):
            raise ValueError(f"padding: expected 'SAME', 'VALID', an int or {n} (low, high) pairs, got {value!r}")
        return value
    if isinstance(value, bool):
        raise ValueError(f"padding: expected 'SAME', 'VALID', an int or {n} (low, high) pairs, got {value!r}")
    if isinstance(value, int):
        value = ((value, value),) * n
    try:
        pads = tuple((int(lo), int(hi)) for lo, hi in value)
    except (TypeError, ValueError):
        raise ValueError(f"padding: expected 'SAME', 'VALID', an int or {n} (low, high) pairs, got {value!r}") from None
    if len(pads) != n or min(min(p) for p in pads) < 0:
        raise ValueError(f"padding: expected {n} non-negative (low, high) pairs, got {value!r}")
    return pads


def output_size(size: int | None, window: int, stride: int, padding: Any, axis: int = 0, dilation: int = 1) -> int | None:
    """Size of one spatial axis after a conv or pool of ``window``; None stays None."""
    if size is None:
        return None
    span = dilation * (window - 1) + 1
    if padding == "SAME":
        return -(-size // stride)
    lo, hi = (0, 0) if padding == "VALID" else padding[axis]
    return max((size + lo + hi - span) // stride + 1, 0)


def _spatial_shape(what: str, in_shape: Shape, n: int) -> tuple:
    if len(in_shape) != n + 1:
        raise ValueError(f"in_shape: {what} expects {n} spatial axes and channels, ({', '.join(['...'] * n)}, C), "
                         f"got {tuple(in_shape)}")
    return tuple(in_shape[:n])


def _empty(what: str, in_shape: Shape, out: tuple, detail: str) -> None:
    if any(s is not None and s < 1 for s in out):
        raise ValueError(f"in_shape: {what} ({detail}) on an input of shape {tuple(in_shape)} gives an empty "
                         f"output {out}; pad the input or use a smaller window")


def _batched(x: Array, n: int):
    """``(..., spatial, C) -> (N, spatial, C)`` and the leading shape to restore."""
    lead = x.shape[:x.ndim - n - 1]
    return x.reshape((math.prod(lead), *x.shape[x.ndim - n - 1:])), lead


def _dimension_numbers(n: int) -> tuple[str, str, str]:
    spatial = _SPATIAL[-n:] if n <= len(_SPATIAL) else "".join(str(i) for i in range(n))
    return f"N{spatial}C", f"{spatial}IO", f"N{spatial}C"


def conv(features: int, kernel: Sequence[int], *, stride: int | Sequence[int] = 1, padding: Any = "VALID",
         dilation: int | Sequence[int] = 1, init: str = "lecun", param_dtype: Any = jnp.float32,
         compute_dtype: Any = None) -> Layer:
    r"""A convolution (cross-correlation, as in every deep-learning library) plus bias.

    Arguments:
        features: :math:`C_{out}`, the number of feature maps.
        kernel: the receptive field, one int per spatial axis: ``(5,)`` is 1-D over
            ``(L, C)`` examples, ``(5, 5)`` 2-D over ``(H, W, C)``, ``(1, 5)`` a row kernel.
        stride: :math:`\sigma`, an int or one per axis.
        padding: ``"VALID"`` (none), ``"SAME"`` (output ``ceil(n / stride)``), an int (that
            many zeros on both sides of every axis) or ``((lo, hi), ...)`` per axis.
        dilation: :math:`d`, spacing of the kernel taps (an int or one per axis).
        init: initializer of the kernel; the receptive field counts into both fans.
        param_dtype, compute_dtype: storage and compute dtypes, as in :func:`~nnlect.layers.dense`.

    Params: ``{"w": (*kernel, C_in, features), "b": (features,)}``; ``(..., *spatial, C_in)
    -> (..., *spatial', features)``. An input too small for the kernel is refused by ``init``.
    """
    features = _checks.positive_int("features", features)
    if isinstance(kernel, int) or not kernel:
        raise ValueError(f"kernel: expected a tuple with one int per spatial axis, e.g. (3, 3), got {kernel!r}")
    kernel = _tuple("kernel", kernel, len(kernel))
    n = len(kernel)
    stride, dilation, padding = _tuple("stride", stride, n), _tuple("dilation", dilation, n), _padding(padding, n)
    draw = initializers.get(init)
    numbers = _dimension_numbers(n)

    def init_fn(key: Array, in_shape: Shape) -> tuple[Shape, dict]:
        spatial = _spatial_shape(f"conv with kernel {kernel}", in_shape, n)
        if in_shape[-1] is None:
            raise ValueError(f"in_shape: the channel axis must be known, got {tuple(in_shape)}")
        out = tuple(output_size(s, k, st, padding, a, d) for a, (s, k, st, d) in enumerate(zip(spatial, kernel, stride, dilation)))
        _empty("conv", in_shape, out, f"kernel {kernel}, stride {stride}, dilation {dilation}, padding {padding!r}")
        w = draw(key, (*kernel, in_shape[-1], features), draw_dtype(param_dtype)).astype(param_dtype)
        return (*out, features), {"w": w, "b": jnp.zeros((features,), param_dtype)}

    def apply(params: dict, x: Array, *, key: Array | None = None, train: bool = False) -> Array:
        expect_keys(params, ("b", "w"))
        w, b = params["w"], params["b"]
        if tuple(w.shape[:n]) != kernel or w.ndim != n + 2 or tuple(b.shape) != (w.shape[-1],):
            raise ValueError(f"params: expected w ({', '.join(map(str, kernel))}, C_in, {features}) and b ({features},), "
                             f"got w {tuple(w.shape)}, b {tuple(b.shape)}")
        _checks.floating_array("x", x)
        if x.ndim < n + 1 or x.shape[-1] != w.shape[-2]:
            raise ValueError(f"x: expected shape (..., {', '.join(['n'] * n)}, {w.shape[-2]}) for kernel {kernel}, got {tuple(x.shape)}")
        params, x = to_compute(compute_dtype, params, x)
        w, b = params["w"], params["b"]
        xb, lead = _batched(x, n)
        _empty("conv", x.shape[x.ndim - n - 1:], tuple(output_size(s, k, st, padding, a, d) for a, (s, k, st, d)
               in enumerate(zip(xb.shape[1:-1], kernel, stride, dilation))), f"kernel {kernel}")
        if n == 2 and w.shape[-2] == 1 and dilation == (1, 1):
            # One input channel (LeNet-5's C1): im2col, then one matmul. XLA:CPU's direct
            # convolution's forward pass is ~2.5x slower here (docs/mnist.md); same numbers
            # (tests/test_layers.py).
            patches = lax.conv_general_dilated_patches(xb, kernel, stride, padding, dimension_numbers=numbers)
            out = patches @ w.reshape(math.prod(kernel), features)
        else:
            out = lax.conv_general_dilated(xb, w, stride, padding, rhs_dilation=dilation, dimension_numbers=numbers)
        out = out + b.reshape((1,) * (out.ndim - 1) + (features,))
        return out.reshape((*lead, *out.shape[1:]))

    return Layer(init_fn, apply, "conv")


def _pool(kind: str, window: Any, stride: Any, padding: Any) -> Layer:
    if isinstance(window, int) or not window:
        raise ValueError(f"window: expected a tuple with one int per spatial axis, e.g. (2, 2), got {window!r}")
    window = _tuple("window", window, len(window))
    n = len(window)
    stride = window if stride is None else _tuple("stride", stride, n)
    padding = _padding(padding, n)
    detail = f"window {window}, stride {stride}, padding {padding!r}"

    def out_spatial(spatial: tuple) -> tuple:
        return tuple(output_size(s, k, st, padding, a) for a, (s, k, st) in enumerate(zip(spatial, window, stride)))

    def init_fn(key: Array, in_shape: Shape) -> tuple[Shape, dict]:
        spatial = _spatial_shape(f"{kind} with window {window}", in_shape, n)
        out = out_spatial(spatial)
        _empty(kind, in_shape, out, detail)
        return (*out, in_shape[-1]), {}

    def apply(params: dict, x: Array, *, key: Array | None = None, train: bool = False) -> Array:
        no_params(params, kind)
        _checks.floating_array("x", x)
        if x.ndim < n + 1:
            raise ValueError(f"x: expected shape (..., {', '.join(['n'] * n)}, C) for window {window}, got {tuple(x.shape)}")
        xb, lead = _batched(x, n)
        spatial = xb.shape[1:-1]
        _empty(kind, x.shape[x.ndim - n - 1:], out_spatial(spatial), detail)
        if (kind == "max_pool" and stride == window and padding == "VALID"
                and all(s % k == 0 for s, k in zip(spatial, window))):
            # Non-overlapping pooling of a divisible map is a reshape and a max, whose gradient
            # XLA:CPU computes ~3x faster than reduce_window's select-and-scatter (same values;
            # at ties the gradient is shared among the tied inputs instead of going to the first).
            split = sum(((s // k, k) for s, k in zip(spatial, window)), ())
            out = xb.reshape((xb.shape[0], *split, xb.shape[-1])).max(axis=tuple(range(2, 2 * n + 1, 2)))
        else:
            pads = padding if isinstance(padding, str) else ((0, 0), *padding, (0, 0))
            dims, strides = (1, *window, 1), (1, *stride, 1)
            # A Python scalar init lets JAX recognise sum/max pooling and differentiate it.
            if kind == "max_pool":
                out = lax.reduce_window(xb, -jnp.inf, lax.max, dims, strides, pads)
            else:
                out = lax.reduce_window(xb, 0.0, lax.add, dims, strides, pads) / math.prod(window)
        return out.reshape((*lead, *out.shape[1:]))

    return Layer(init_fn, apply, kind)


def max_pool(window: Sequence[int], stride: int | Sequence[int] | None = None, padding: Any = "VALID") -> Layer:
    """The maximum of each window: ``(..., *spatial, C) -> (..., *spatial', C)``.

    ``window`` has one int per spatial axis (``(2,)`` 1-D, ``(2, 2)`` 2-D); ``stride``
    defaults to ``window`` (non-overlapping); ``padding`` as in :func:`conv`. A window
    that leaves nothing is an error, never an empty array.
    """
    return _pool("max_pool", window, stride, padding)


def avg_pool(window: Sequence[int], stride: int | Sequence[int] | None = None, padding: Any = "VALID") -> Layer:
    """The mean of each window, as :func:`max_pool` (LeNet-5's subsampling without its
    trainable scale, which the next layer's weights absorb). With ``"SAME"`` the zero
    padding counts in the mean."""
    return _pool("avg_pool", window, stride, padding)
