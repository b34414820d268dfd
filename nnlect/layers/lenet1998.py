r"""The layers only the 1998 LeNet-5 has (LeCun, Bottou, Bengio, Haffner, "Gradient-based
learning applied to document recognition", Proc. IEEE 1998, section II.B and appendix A),
for the slide "Use Case: Digits Recognition":

- :func:`scaled_tanh`, the paper's squashing function :math:`f(a) = A \tanh(S a)` with
  :math:`A = 1.7159`, :math:`S = 2/3` (so :math:`f(\pm 1) = \pm 1`);
- :func:`subsample`, S2 and S4: the mean of each 2x2 window times a trainable
  coefficient plus a trainable bias, one pair per feature map;
- :func:`partial_conv`, C3: a convolution in which output map :math:`j` sees only the
  input maps of a connection table (:data:`C3_TABLE`, the paper's Table I);
- :func:`rbf`, the output layer: Euclidean radial basis units over fixed ``+-1`` codes
  (:data:`DIGIT_CODES`, 7x12 bitmaps), :math:`y_i = \sum_j (x_j - w_{ij})^2`;
- :func:`map_loss`, the paper's loss (its equation 9) on those distances.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from nnlect import _checks
from nnlect.layers._core import Layer, Shape, draw_dtype, expect_keys, no_params, to_compute
from nnlect.layers.convolution import avg_pool, conv

Array = Any
A, S = 1.7159, 2.0 / 3.0

#: Table I of the paper: the S2 maps (0..5) each C3 map (0..15) is connected to; 60 in all.
C3_TABLE: tuple[tuple[int, ...], ...] = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (0, 4, 5), (0, 1, 5),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (0, 3, 4, 5), (0, 1, 4, 5), (0, 1, 2, 5),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)

# The digits of a stylised 7x12 font, '#' = +1 (ink), '.' = -1, in the manner of the paper's
# Figure 3 (a digit's strokes two pixels wide in the upper ten rows, the last two rows blank).
# Drawn for nnlect: the paper prints its bitmaps only as a picture, so these are NOT its
# exact pixels. What the RBF layer needs from them is what the paper asks of its codes:
# fixed, +-1, and far apart (the smallest Hamming distance between two of these is tested).
_DIGITS = """
..###.. ...##.. ..###.. .#####. ....##. ####### ..####. ####### ..###.. ..###..
.##.##. ..###.. .##.##. ##...## ...###. ##..... .##.... ##...## .##.##. .##.##.
##...## .####.. ##...## .....## ..####. ##..... ##..... .....## ##...## ##...##
##...## ...##.. .....## .....## .##.##. ##..... ##..... ....##. ##...## ##...##
##...## ...##.. ....##. ..####. ##..##. ######. ######. ...##.. .##.##. ##...##
##...## ...##.. ...##.. .....## ####### .....## ##...## ..##... ..###.. .######
##...## ...##.. ..##... .....## ....##. .....## ##...## ..##... .##.##. .....##
##...## ...##.. .##.... .....## ....##. .....## ##...## ..##... ##...## .....##
.##.##. ...##.. ##..... ##...## ....##. ##...## .##.##. ..##... .##.##. ....##.
..###.. .######  ####### .#####. ....##. .#####. ..###.. ..##... ..###.. .####..
....... ....... ....... ....... ....... ....... ....... ....... ....... .......
....... ....... ....... ....... ....... ....... ....... ....... ....... .......
"""


def _digit_codes() -> np.ndarray:
    rows = [line.split() for line in _DIGITS.strip("\n").splitlines()]
    assert len(rows) == 12 and all(len(r) == 10 and all(len(c) == 7 for c in r) for r in rows)
    bitmaps = np.array([[[1.0 if ch == "#" else -1.0 for ch in row[d]] for row in rows] for d in range(10)])
    return bitmaps.reshape(10, 84)  # row-major: code[d, 7 * r + c] is pixel (r, c) of digit d


#: ``(10, 84)``: digit ``d``'s 7x12 bitmap, row-major, ``+1`` ink and ``-1`` background.
DIGIT_CODES: np.ndarray = _digit_codes()


def scaled_tanh(a: Array) -> Array:
    r""":math:`f(a) = 1.7159 \tanh(2a/3)`, LeCun's squashing function: :math:`f(\pm1) = \pm1`,
    the second derivative is largest at :math:`a = \pm 1`, and the gain stays near 1 over the
    range the targets live in. Elementwise; use it as ``nl.layers.activation(scaled_tanh)``."""
    return A * jnp.tanh(S * a)


def subsample(window: Sequence[int] = (2, 2), *, param_dtype: Any = jnp.float32, compute_dtype: Any = None) -> Layer:
    r"""LeNet-5's trainable subsampling (S2, S4): :math:`y_k = c_k \cdot \mathrm{mean}_{window}(x_k) + b_k`.

    The paper adds the four inputs and multiplies by a trainable coefficient; the mean is
    the same family (the coefficient absorbs the factor 4) and starts the coefficient at 1.
    Follow it with :func:`scaled_tanh`, as the paper does.

    Arguments:
        window: the pooling window, one int per spatial axis; the stride equals it.
        param_dtype, compute_dtype: as in :func:`~nnlect.layers.dense`.

    Params: ``{"coef": (C,), "b": (C,)}``, one pair per feature map (2C params);
    ``(..., *spatial, C) -> (..., *spatial / window, C)``.
    """
    pool = avg_pool(window)

    def init_fn(key: Array, in_shape: Shape) -> tuple[Shape, dict]:
        out, _ = pool.init(key, in_shape)
        c = in_shape[-1]
        if c is None:
            raise ValueError(f"in_shape: the channel axis must be known, got {tuple(in_shape)}")
        return out, {"coef": jnp.ones((c,), param_dtype), "b": jnp.zeros((c,), param_dtype)}

    def apply(params: dict, x: Array, *, key: Array | None = None, train: bool = False) -> Array:
        expect_keys(params, ("b", "coef"))
        c = x.shape[-1] if getattr(x, "ndim", 0) else None
        if tuple(params["coef"].shape) != (c,) or tuple(params["b"].shape) != (c,):
            raise ValueError(f"params: expected coef and b of shape ({c},) for {c} channels, got coef "
                             f"{tuple(params['coef'].shape)}, b {tuple(params['b'].shape)}")
        params, x = to_compute(compute_dtype, params, x)
        pooled = pool.apply({}, x)
        shape = (1,) * (pooled.ndim - 1) + (c,)
        return pooled * params["coef"].reshape(shape) + params["b"].reshape(shape)

    return Layer(init_fn, apply, "subsample")


def _table(table: Any) -> tuple[tuple[int, ...], ...]:
    try:
        rows = tuple(tuple(int(i) for i in row) for row in table)
    except (TypeError, ValueError):
        raise ValueError(f"table: expected one sequence of input-map indices per output map, got {table!r:.80}") from None
    if not rows or any(not row or len(set(row)) != len(row) or min(row) < 0 for row in rows):
        raise ValueError(f"table: every output map needs distinct input maps >= 0, got {rows}")
    return rows


def partial_conv(table: Sequence[Sequence[int]], kernel: Sequence[int] = (5, 5), *,
                 param_dtype: Any = jnp.float32, compute_dtype: Any = None) -> Layer:
    r"""A convolution with a connection table: output map :math:`j` sums only over the input
    maps in ``table[j]``,

    .. math::
        net_j(r) = b_j + \sum_{m \in \mathrm{table}[j]} \sum_p w_{p,m,j}\, x_m(r + p).

    The paper's reasons (C3, Table I): fewer connections, and broken symmetry, so the maps
    are forced to learn different features.

    Arguments:
        table: one sequence of input-map indices per output map (:data:`C3_TABLE`).
        kernel: the receptive field, one int per spatial axis. Padding is ``"VALID"``.
        param_dtype, compute_dtype: as in :func:`~nnlect.layers.dense`.

    Params: ``{"w": (*kernel, n_connections), "b": (n_out,)}``, only the weights that exist
    (C3: 5*5*60 + 16 = 1,516). ``apply`` scatters them into a full ``(*kernel, C_in, n_out)``
    kernel with zeros elsewhere and runs :func:`~nnlect.layers.conv`, so a missing
    connection has no weight to learn and gets no gradient. Each weight is drawn from
    :math:`N(0, 1/\mathrm{fan\_in}_j)`, :math:`\mathrm{fan\_in}_j = |\mathrm{kernel}| \cdot |\mathrm{table}[j]|`.
    """
    table = _table(table)
    n_out = len(table)
    kernel = tuple(kernel)
    full = conv(n_out, kernel, compute_dtype=compute_dtype)
    inputs = np.array([m for row in table for m in row])
    outputs = np.array([j for j, row in enumerate(table) for _ in row])
    n_inputs = int(inputs.max()) + 1
    area = math.prod(kernel)

    def init_fn(key: Array, in_shape: Shape) -> tuple[Shape, dict]:
        if not in_shape or in_shape[-1] != n_inputs:
            raise ValueError(f"in_shape: the table reads input maps 0..{n_inputs - 1}, so expected {n_inputs} "
                             f"channels last, got {tuple(in_shape)}")
        out, _ = full.init(key, in_shape)
        fan_in = np.array([area * len(table[j]) for j in outputs], np.float32)
        scale = jnp.asarray(1.0 / np.sqrt(fan_in)).reshape((1,) * len(kernel) + (len(inputs),))
        w = jax.random.normal(key, (*kernel, len(inputs)), draw_dtype(param_dtype)) * scale
        return out, {"w": w.astype(param_dtype), "b": jnp.zeros((n_out,), param_dtype)}

    def apply(params: dict, x: Array, *, key: Array | None = None, train: bool = False) -> Array:
        expect_keys(params, ("b", "w"))
        w, b = params["w"], params["b"]
        if tuple(w.shape) != (*kernel, len(inputs)) or tuple(b.shape) != (n_out,):
            raise ValueError(f"params: expected w {(*kernel, len(inputs))} and b ({n_out},), "
                             f"got w {tuple(w.shape)}, b {tuple(b.shape)}")
        kernel_full = jnp.zeros((*kernel, n_inputs, n_out), w.dtype).at[..., inputs, outputs].set(w)
        return full.apply({"w": kernel_full, "b": b}, x)

    return Layer(init_fn, apply, "partial_conv")


def rbf(codes: Any = DIGIT_CODES) -> Layer:
    r"""Euclidean radial basis function units with fixed centres: :math:`y_i = \sum_j (x_j - w_{ij})^2`.

    :math:`y_i` is the squared distance from the input to class :math:`i`'s code, so the
    smallest output wins. The codes are constants, not params (the paper keeps them fixed).

    Arguments:
        codes: ``(n_classes, d)`` centres, :data:`DIGIT_CODES` by default.

    ``(..., d) -> (..., n_classes)`` distances; no params.
    """
    codes = np.asarray(codes, np.float32)
    if codes.ndim != 2 or not codes.size:
        raise ValueError(f"codes: expected a non-empty (n_classes, d) array, got shape {codes.shape}")
    if not np.all(np.isfinite(codes)):
        raise ValueError("codes: expected finite centres, got NaN or inf")
    n_classes, d = codes.shape

    def init_fn(key: Array, in_shape: Shape) -> tuple[Shape, dict]:
        if not in_shape or in_shape[-1] != d:
            raise ValueError(f"in_shape: the codes have {d} components, so expected (..., {d}), got {tuple(in_shape)}")
        return (*in_shape[:-1], n_classes), {}

    def apply(params: dict, x: Array, *, key: Array | None = None, train: bool = False) -> Array:
        no_params(params, "rbf (its codes are fixed)")
        _checks.floating_array("x", x)
        if x.shape[-1:] != (d,):
            raise ValueError(f"x: expected shape (..., {d}), got {tuple(x.shape)}")
        c = jnp.asarray(codes, x.dtype)
        # ||x||^2 - 2 x.c + ||c||^2: one matmul, no (..., n_classes, d) difference tensor
        sq = jnp.sum(x * x, axis=-1, keepdims=True) - 2.0 * (x @ c.T) + jnp.sum(c * c, axis=-1).reshape((1,) * (x.ndim - 1) + (n_classes,))
        return jnp.maximum(sq, 0.0)

    return Layer(init_fn, apply, "rbf")


def map_loss(distances: Array, labels: Array, *, j: float = 1.0) -> Array:
    r"""The paper's loss (its equation 9), averaged over the batch:

    .. math::
        E = \frac{1}{P}\sum_p \Big( y_{D_p}(Z^p) + \log\big(e^{-j} + \sum_i e^{-y_i(Z^p)}\big) \Big)

    the distance to the correct code, plus a term that pushes the other distances up; the
    constant :math:`e^{-j}` (a "rubbish" class) stops it from pushing distances that are
    already large. It is softmax cross-entropy over the logits :math:`-y_i` with one extra
    logit :math:`-j`; :math:`j \to \infty` gives plain cross-entropy over :math:`-y`.

    Arguments:
        distances: ``(B, n_classes)`` RBF outputs :math:`y_i` (:func:`rbf`).
        labels: ``(B,)`` integer classes.
        j: the rubbish class's constant, > 0.
    """
    _checks.floating_array("distances", distances, ndim=2)
    _checks.integer_array("labels", labels, ndim=1)
    if labels.shape[0] != distances.shape[0]:
        raise ValueError(f"labels: expected ({distances.shape[0]},) for {distances.shape[0]} rows of distances, "
                         f"got {tuple(labels.shape)}")
    j = _checks.positive("j", j)
    y = distances.astype(jnp.promote_types(distances.dtype, jnp.float32))
    rubbish = jnp.full((y.shape[0], 1), -j, y.dtype)
    normaliser = jax.nn.logsumexp(jnp.concatenate([-y, rubbish], axis=1), axis=1)
    correct = jnp.take_along_axis(y, labels[:, None], axis=1)[:, 0]
    return jnp.mean(correct + normaliser)
