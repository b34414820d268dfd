r"""Losses and metrics. Every loss is the mean over the batch (leading axis) of
a per-example loss, so the gradient scale does not depend on the batch size.

- :func:`half_squared_error`: the lecture's :math:`E(W) = \frac12\sum_k (y_k - d_k)^2`.
- :func:`softmax_cross_entropy`: :math:`-\sum_k d_k \log \mathrm{softmax}(z)_k` from logits.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from nnlect import _checks

Array = Any


def _at_least_f32(x: Array) -> Array:
    """Losses compute in float32 at least: a bfloat16 network's outputs are upcast, float64 stays."""
    return x.astype(jnp.promote_types(x.dtype, jnp.float32))


def half_squared_error(y: Array, d: Array) -> Array:
    r"""The lecture's error :math:`E(W) = \frac{1}{2}\sum_k (y_k - d_k)^2`, averaged over the batch.

    Arguments:
        y: ``(B, K)`` network outputs.
        d: ``(B, K)`` desired outputs, same shape as ``y`` (no broadcasting).

    Returns:
        Scalar :math:`\frac{1}{B}\sum_b \frac12 \sum_k (y_{bk} - d_{bk})^2`.
    """
    _checks.floating_array("y", y)
    _checks.floating_array("d", d)
    _checks.same_shape("y", y, "d", d)
    y, d = _at_least_f32(y), _at_least_f32(d)
    return 0.5 * jnp.mean(jnp.sum(jnp.square(y - d), axis=-1))


def _class_labels(labels: Array, logits: Array) -> Array:
    """Integer labels of shape ``logits.shape[:-1]`` in ``[0, K)``; anything else is refused.

    Concrete labels are range-checked now; under ``jit`` an out-of-range label makes
    the result NaN (``fit`` then stops) instead of wrapping around or being clamped.
    """
    n_classes = logits.shape[-1]
    if labels.shape != logits.shape[:-1]:
        raise ValueError(
            f"labels: expected integer shape {tuple(logits.shape[:-1])} to match logits "
            f"{tuple(logits.shape)}, got {tuple(labels.shape)}"
        )
    if _checks.is_concrete(labels) and labels.size:
        lo, hi = int(np.min(np.asarray(labels))), int(np.max(np.asarray(labels)))
        if lo < 0 or hi >= n_classes:
            raise ValueError(f"labels: expected classes in [0, {n_classes}), got values in [{lo}, {hi}]")
    return labels


def _valid(labels: Array, n_classes: int) -> Array:
    return jnp.all((labels >= 0) & (labels < n_classes))


def softmax_cross_entropy(logits: Array, labels: Array) -> Array:
    r"""Cross-entropy of ``softmax(logits)`` against integer labels, averaged over the batch.

    Arguments:
        logits: ``(..., K)`` unnormalized log-probabilities :math:`z`.
        labels: ``(...)`` integer classes in ``[0, K)``, or ``(..., K)`` one-hot /
            probability targets :math:`d`.

    Returns:
        Scalar :math:`-\mathrm{mean}\,\sum_k d_k \log \mathrm{softmax}(z)_k`, computed in float32
        (or float64) whatever the logits' dtype: a bfloat16 network's loss is float32.
    """
    _checks.floating_array("logits", logits)
    _checks.array("labels", labels)
    if logits.size == 0:
        raise ValueError(f"logits: expected at least one example, got shape {tuple(logits.shape)} (the mean of none is NaN)")
    log_p = jax.nn.log_softmax(_at_least_f32(logits), axis=-1)
    if jnp.issubdtype(labels.dtype, jnp.integer):
        labels = _class_labels(labels, logits)
        value = -jnp.mean(jnp.take_along_axis(log_p, labels[..., None], axis=-1))
        return jnp.where(_valid(labels, logits.shape[-1]), value, jnp.nan)
    _checks.same_shape("logits", logits, "labels", labels)
    d = _at_least_f32(labels)
    # d_k log p_k with d_k = 0 is 0 even where p_k = 0 (a -inf logit): 0 * -inf would be NaN.
    return -jnp.mean(jnp.sum(jnp.where(d == 0, 0.0, d * log_p), axis=-1))


def accuracy(logits: Array, labels: Array) -> Array:
    """Fraction of rows whose argmax equals the integer label (or the one-hot's argmax).

    Arguments:
        logits: ``(..., K)`` scores, ``K >= 2`` (an argmax over one column is always 0,
            so a single sigmoid output is refused rather than scored 100%).
        labels: ``(...)`` integer classes in ``[0, K)`` or ``(..., K)`` one-hot.
    """
    _checks.array("logits", logits)
    _checks.array("labels", labels)
    if logits.shape[-1] < 2:
        raise ValueError(
            f"logits: accuracy needs K >= 2 class scores, got shape {tuple(logits.shape)}; for a single "
            "sigmoid output compare (y > 0.5) with the targets, or pass metric=None to fit"
        )
    if not jnp.issubdtype(labels.dtype, jnp.integer):
        _checks.same_shape("logits", logits, "labels", labels)
        labels = jnp.argmax(labels, axis=-1)
    labels = _class_labels(labels, logits)
    value = jnp.mean(jnp.argmax(logits, axis=-1) == labels)
    return jnp.where(_valid(labels, logits.shape[-1]), value, jnp.nan)
