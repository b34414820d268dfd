r"""LeNet-5 as LeCun, Bottou, Bengio and Haffner published it in 1998 (slide "Use Case:
Digits Recognition": 0.95% test error, 82 errors pictured), composed of :mod:`nnlect.layers`
and the 1998-only layers of :mod:`nnlect.layers.lenet1998`.

A separate factory, not ``nl.lenet5(variant="1998")``: :func:`nnlect.lenet5`'s arguments
(``activation``, ``pooling``, ``dropout``, ``n_classes``) have no meaning here, the param
tree is a different one, and the output is minus a squared distance rather than a free logit.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from nnlect import layers as L
from nnlect.layers import lenet1998 as L98, serial
from nnlect.models.base import Model, build
from nnlect.models.cnn import LENET5_FIELD

#: Trainable parameters per layer in the paper (section II.B); the factory has exactly these.
PAPER_PARAMS = {"c1": 156, "s2": 12, "c3": 1516, "s4": 32, "c5": 48120, "f6": 10164}


def lenet5_1998(*, input_shape: tuple[int, int, int] = (28, 28, 1), codes: Any = None,
                dtype: Any = jnp.float32, compute_dtype: Any = None) -> Model:
    r"""LeNet-5 (1998): every unit up to F6 squashes with :math:`f(a) = 1.7159 \tanh(2a/3)`.

    ====  ==================================================  ====================  ======
    C1    6 maps, 5x5 conv                                    32x32x1 -> 28x28x6    156
    S2    2x2 mean x coefficient + bias, then f               -> 14x14x6            12
    C3    16 maps, 5x5 conv over Table I's 60 connections     -> 10x10x16           1,516
    S4    as S2                                               -> 5x5x16             32
    C5    120 maps, 5x5 conv over 5x5 (a dense 400 -> 120)    -> 120                48,120
    F6    dense, 84 units                                     -> 84                 10,164
    out   10 Euclidean RBF units, fixed +-1 7x12 codes        -> 10                 0
    ====  ==================================================  ====================  ======

    60,000 trainable parameters, as the paper counts. MNIST's 28x28 digits are zero-padded
    by 2 pixels a side to the 32x32 field inside C1's convolution (smaller images, e.g.
    8x8 digits, are centred the same way).

    The model returns :math:`-y_i`, minus the squared distance of F6's state to digit
    :math:`i`'s code, so it is a logit: the argmax is the nearest code, and
    :func:`nnlect.softmax_cross_entropy` on it is the paper's loss (equation 9,
    :func:`nnlect.layers.lenet1998.map_loss`) without its constant "rubbish" class.

    Arguments:
        input_shape: ``(H, W, 1)`` of one image, ``H, W <= 32``.
        codes: ``(10, 84)`` RBF centres; default :data:`nnlect.layers.lenet1998.DIGIT_CODES`.
        dtype, compute_dtype: param (storage) and compute dtypes, as in :func:`nnlect.mlp`.

    Returns:
        :class:`~nnlect.models.base.Model`; ``apply(params, x)`` maps ``(..., H, W, 1)``
        images to ``(..., 10)`` values :math:`-y_i`. Params: ``c1``, ``s2``, ``c3``, ``s4``,
        ``c5``, ``f6``.
    """
    if isinstance(input_shape, (int, str)) or len(input_shape) != 3 or input_shape[2] != 1:
        raise ValueError(f"input_shape: expected (H, W, 1), got {input_shape!r}")
    h, w = input_shape[0], input_shape[1]
    if not (isinstance(h, int) and isinstance(w, int) and 1 <= h <= LENET5_FIELD and 1 <= w <= LENET5_FIELD):
        raise ValueError(f"input_shape: expected H and W in 1..{LENET5_FIELD} (padded to the {LENET5_FIELD}x"
                         f"{LENET5_FIELD} field), got {tuple(input_shape)}")
    pad = ((LENET5_FIELD - h) // 2, (LENET5_FIELD - h + 1) // 2), ((LENET5_FIELD - w) // 2, (LENET5_FIELD - w + 1) // 2)
    p = {"param_dtype": dtype, "compute_dtype": compute_dtype}
    f = L.activation(L98.scaled_tanh)
    return build(serial(
        L.named("c1", L.conv(6, (5, 5), padding=pad, init="lecun", **p)), f,
        L.named("s2", L98.subsample((2, 2), **p)), f,
        L.named("c3", L98.partial_conv(L98.C3_TABLE, (5, 5), **p)), f,
        L.named("s4", L98.subsample((2, 2), **p)), f,
        L.flatten(), L.named("c5", L.dense(120, init="lecun", **p)), f,
        L.named("f6", L.dense(84, init="lecun", **p)), f,
        L98.rbf(L98.DIGIT_CODES if codes is None else codes),
        L.activation(_negate),
    ), input_shape)


def _negate(y):
    """:math:`-y`: the nearest code gets the largest value."""
    return -y
