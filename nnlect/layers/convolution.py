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

import functools
import math
from collections.abc import Sequence
from typing import Any

import jax
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


IMPLS = ("auto", "xla", "im2col")


def _pads(spatial: Sequence[int], kernel: tuple, stride: tuple, padding: Any, dilation: tuple) -> tuple:
    """Explicit ``((lo, hi), ...)`` zero padding per spatial axis."""
    if not isinstance(padding, str):
        return tuple(padding)
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    return tuple(tuple(p) for p in lax.padtype_to_pads(tuple(spatial), span, stride, padding))


def _im2col(x: Array, kernel: tuple, stride: tuple, dilation: tuple, out: tuple) -> Array:
    r"""``(N, *spatial, C)``, already padded, -> patches ``(N, *out, prod(kernel) * C)``.

    Built one spatial axis at a time, last axis first: ``k_a`` strided slices along axis
    :math:`a` (``[t d : t d + (o - 1) \sigma + 1 : \sigma]``), stacked on a new tap axis just
    after the spatial axes. The taps end up ordered ``(k_1, ..., k_n, C)``, the row order of
    ``w.reshape(-1, C_out)`` for a ``(*kernel, C_in, C_out)`` kernel. Per axis instead of per
    tap: ``sum(kernel)`` slices, not ``prod(kernel)``, and each stack copies runs of
    ``C * prod(later taps)`` values (measured faster on XLA:CPU than one stack of
    ``prod(kernel)`` slices or ``lax.conv_general_dilated_patches``).
    """
    n, size = len(kernel), math.prod(kernel) * x.shape[-1]
    for a in reversed(range(n)):
        k, d, o, s = kernel[a], dilation[a], out[a], stride[a]
        x = jnp.stack([lax.slice_in_dim(x, t * d, t * d + (o - 1) * s + 1, s, axis=1 + a) for t in range(k)], axis=1 + n)
    return x.reshape((*x.shape[:1 + n], size))


def _pad(x: Array, pads: tuple) -> Array:
    return lax.pad(x, jnp.zeros((), x.dtype), ((0, 0, 0), *((lo, hi, 0) for lo, hi in pads), (0, 0, 0)))


def _patches(x: Array, kernel: tuple, stride: tuple, pads: tuple, dilation: tuple) -> Array:
    xp = _pad(x, pads)
    out = tuple((s - d * (k - 1) - 1) // st + 1 for s, k, st, d in zip(xp.shape[1:-1], kernel, stride, dilation))
    return _im2col(xp, kernel, stride, dilation, out)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4))
def _conv_im2col(x: Array, w: Array, stride: tuple, pads: tuple, dilation: tuple) -> Array:
    r"""``(N, *spatial, C_in)`` * ``(*kernel, C_in, C_out)`` as im2col then one matmul:
    ``patches (N, *out, K) @ w.reshape(K, C_out)`` with :math:`K = \prod k \cdot C_{in}`.

    The backward pass is written out (a ``custom_vjp``), all matmuls too: the weight gradient
    is ``patches^T @ g`` over all ``N * prod(out)`` rows, the input gradient col2im of
    ``g @ w^T`` one kernel row at a time (:func:`_col2im_matmul`). Same numbers as JAX's own
    derivative of the forward; the step holds less memory, which on XLA:CPU is what keeps
    LeNet-5's step under glibc's 32 MiB mmap threshold (see :func:`conv`).
    """
    return _patches(x, tuple(w.shape[:-2]), stride, pads, dilation) @ w.reshape(-1, w.shape[-1])


def _conv_im2col_fwd(x, w, stride, pads, dilation):
    return _conv_im2col(x, w, stride, pads, dilation), (x, w)


def _col2im_matmul(g: Array, w: Array, padded: tuple, stride: tuple, dilation: tuple) -> Array:
    r"""The gradient of the im2col convolution with respect to its padded input (of shape
    ``padded``): :math:`\partial x_p = \mathrm{col2im}(g\,W^T)`, i.e. every patch row of
    ``g @ w^T`` added back where it was read. One kernel slice :math:`t` along the first
    spatial axis at a time: ``g @ w[t]^T`` (``1 / k_1`` of the whole), col2im over the other
    axes (the transpose of :func:`_im2col`), then placed at rows ``t d + o \sigma`` and summed."""
    kernel, c, f = tuple(w.shape[:-2]), w.shape[-2], w.shape[-1]
    out = tuple(g.shape[1:-1])
    rest = (1, *kernel[1:]), (1, *stride[1:]), (1, *dilation[1:])
    part_shape = jax.ShapeDtypeStruct((g.shape[0], out[0], *padded[2:-1], c), g.dtype)
    col2im = jax.linear_transpose(lambda v: _im2col(v, *rest, out), part_shape)
    zero, dxp = jnp.zeros((), g.dtype), None
    for t in range(kernel[0]):
        (part,) = col2im(g @ w[t].reshape(-1, f).T)  # (N, out_1, *padded[2:-1], C)
        lo = t * dilation[0]
        hi = padded[1] - lo - (out[0] - 1) * stride[0] - 1
        placed = lax.pad(part, zero, ((0, 0, 0), (lo, hi, stride[0] - 1), *((0, 0, 0),) * (len(padded) - 2)))
        dxp = placed if dxp is None else dxp + placed
    return dxp


def _conv_im2col_bwd(stride, pads, dilation, res, g):
    x, w = res
    kernel = tuple(w.shape[:-2])
    patches = _patches(x, kernel, stride, pads, dilation)
    rows, size = math.prod(g.shape[:-1]), patches.shape[-1]
    dw = (patches.reshape(rows, size).T @ g.reshape(rows, g.shape[-1])).reshape(w.shape)
    padded = (x.shape[0], *(s + lo + hi for s, (lo, hi) in zip(x.shape[1:-1], pads)), x.shape[-1])
    dxp = _col2im_matmul(g, w, padded, stride, dilation)
    dx = dxp[(slice(None), *(slice(lo, lo + s) for (lo, _), s in zip(pads, x.shape[1:-1])), slice(None))]
    return dx.astype(x.dtype), dw.astype(w.dtype)


_conv_im2col.defvjp(_conv_im2col_fwd, _conv_im2col_bwd)


def _pick(impl: str) -> str:
    """What ``impl="auto"`` runs at trace time (measured in :func:`conv`'s docstring)."""
    if impl != "auto":
        return impl
    return "im2col" if jax.default_backend() == "cpu" else "xla"


def conv(features: int, kernel: Sequence[int], *, stride: int | Sequence[int] = 1, padding: Any = "VALID",
         dilation: int | Sequence[int] = 1, init: str = "lecun", param_dtype: Any = jnp.float32,
         compute_dtype: Any = None, impl: str = "auto") -> Layer:
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
        impl: how the convolution is lowered; the function and its gradients are the same:

            - ``"xla"``: ``lax.conv_general_dilated`` (XLA's convolution; cuDNN on GPU).
            - ``"im2col"``: the patches (strided slices, one spatial axis at a time) times
              ``w.reshape(-1, C_out)`` as one matmul, with a hand-written backward pass of
              matmuls too (``patches^T @ g``; col2im of ``g @ w^T``, one kernel row at a time).
            - ``"auto"`` (default): ``"im2col"`` when JAX's default backend is the CPU,
              ``"xla"`` elsewhere (not measured off CPU), decided when ``apply`` is traced.

            Measured on XLA:CPU (jax 0.10.2, 2 cores, batch 128, Adam; figures in
            ``benchmarks/results/conv-lowering/``): the benchmark's LeNet-5 step is 1.57x
            faster than XLA's convolution (with C1 as patches) and its fused ``lax.scan``
            4.11x, where XLA's convolution gradients get slow layouts. One exception
            measured: ``nnlect train lenet5 --arch cnn``'s step loop (16@5x5 then 32@5x5
            "SAME") is faster with ``"xla"`` (12.9 vs 9.9 steps/s), since its 40 MB patch
            matrix puts the step's scratch memory over glibc's 32 MiB mmap threshold and
            every call then page-faults a fresh buffer; fused, ``"im2col"`` is its fastest
            form (18.5). ``"im2col"`` has no forward-mode derivative (a ``custom_vjp``):
            ``jax.jvp`` / ``jax.jacfwd`` need ``impl="xla"``.

    Params: ``{"w": (*kernel, C_in, features), "b": (features,)}``; ``(..., *spatial, C_in)
    -> (..., *spatial', features)``. An input too small for the kernel is refused by ``init``.
    """
    features = _checks.positive_int("features", features)
    if not isinstance(impl, str) or impl not in IMPLS:
        raise ValueError(f"impl: expected one of {', '.join(map(repr, IMPLS))}, got {impl!r}")
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
        out: Array
        if _pick(impl) == "xla":
            out = lax.conv_general_dilated(xb, w, stride, padding, rhs_dilation=dilation, dimension_numbers=numbers)
        else:
            try:
                out = _conv_im2col(xb, w, stride, _pads(xb.shape[1:-1], kernel, stride, padding, dilation), dilation)
            except TypeError as e:  # JAX's own message does not say what to do
                if "forward-mode" not in str(e):
                    raise
                raise TypeError(f"impl: conv's {impl!r} lowering (im2col, the default on CPU) has no forward-mode "
                                "derivative (jax.jvp, jax.jacfwd, jax.hessian); build the conv with impl='xla' "
                                "for those") from e
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
