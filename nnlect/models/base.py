"""The model contract shared by every factory (see DESIGN.md).

A factory closes over the static configuration and returns a :class:`Model`,
a NamedTuple of two pure functions, the way Optax returns a
``GradientTransformation``:

- ``init(key) -> params``: a plain nested dict of arrays;
- ``apply(params, x, *, key=None, train=False) -> y``: batched, leading batch axis.

:func:`build` makes one from any :class:`~nnlect.layers.Layer` (``nl.serial(...)``); the
named factories (``mlp``, ``cnn``, ``lenet5``, ``elman_rnn``) are such compositions.

Because the configuration lives in the closure, ``apply`` needs no static
arguments under ``jax.jit``, and params map, save and shard as ordinary pytrees.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from nnlect import _checks
from nnlect.layers._core import Layer

Array = Any
Params = dict[str, Any]


class Model(NamedTuple):
    """``init(key) -> params`` and ``apply(params, x, *, key=None, train=False) -> y``."""

    init: Callable[..., Params]
    apply: Callable[..., Array]


def check_params(params: Params, expected: dict[str, dict[str, tuple[int, ...]]]) -> None:
    """Raise unless ``params`` has exactly the layers and leaf shapes ``expected``."""
    if not isinstance(params, dict):
        raise TypeError(f"params: expected a dict of layers, got {type(params).__name__}")
    if set(params) != set(expected):
        raise ValueError(f"params: expected layers {sorted(expected)}, got {sorted(params)}")
    for layer, leaves in expected.items():
        got = params[layer]
        if not isinstance(got, dict) or set(got) != set(leaves):
            raise ValueError(f"params[{layer!r}]: expected keys {sorted(leaves)}, got {sorted(got) if isinstance(got, dict) else got!r}")
        for name, shape in leaves.items():
            if tuple(jnp.shape(got[name])) != tuple(shape):
                raise ValueError(
                    f"params[{layer!r}][{name!r}]: expected shape {tuple(shape)}, got {tuple(jnp.shape(got[name]))}"
                )


def count_params(params: Params) -> int:
    """Total number of scalars in a params pytree."""
    return sum(int(x.size) for x in jax.tree_util.tree_leaves(params))


def _shape(name: str, shape: Any) -> tuple:
    if isinstance(shape, (int, str)) or shape is None:
        raise ValueError(f"{name}: expected a tuple of per-example sizes (no batch axis), e.g. (28, 28, 1), got {shape!r}")
    shape = tuple(shape)
    for d in shape:
        if d is not None:
            _checks.positive_int(name, d)
    return shape


def build(layer: Layer, input_shape: tuple) -> Model:
    r"""Turn a layer (usually ``nl.serial(...)``) into a :class:`Model`.

    Arguments:
        layer: an :class:`~nnlect.layers.Layer`.
        input_shape: the shape of ONE example, no batch axis: ``(784,)``, ``(28, 28, 1)``,
            ``(None,)`` for token sequences of any length. ``None`` is an axis of any size.

    Returns:
        ``Model(init, apply)``: ``init(key) -> params``; ``apply(params, x, *, key=None,
        train=False)`` takes ``x`` of shape ``(*lead, *input_shape)`` with any number of
        leading axes (none under ``jax.vmap``), runs the layer on them folded into one
        batch axis, and returns ``(*lead, *out_shape)``.

    Every shape is worked out here, abstractly (``jax.eval_shape``: no params are drawn),
    so an impossible network fails now, naming the layer.

    Example:
        >>> import jax, jax.numpy as jnp, nnlect as nl
        >>> L = nl.layers
        >>> model = nl.build(nl.serial(L.dense(32), L.activation("tanh"), L.dense(2)), (5,))
        >>> params = model.init(jax.random.key(0))
        >>> model.apply(params, jnp.zeros((8, 5))).shape, model.apply(params, jnp.zeros(5)).shape
        ((8, 2), (2,))
    """
    if not isinstance(layer, Layer):
        raise TypeError(f"layer: expected an nnlect.layers.Layer (e.g. nl.serial(...)), got {type(layer).__name__}")
    input_shape = _shape("input_shape", input_shape)
    jax.eval_shape(lambda k: layer.init(k, input_shape)[1], jax.random.key(0))
    k = len(input_shape)
    expected = ", ".join("T" if d is None else str(d) for d in input_shape)

    def init(key: Array) -> Params:
        return layer.init(key, input_shape)[1]

    def apply(params: Params, x: Array, *, key: Array | None = None, train: bool = False) -> Array:
        shape = getattr(x, "shape", None)
        if shape is None:
            raise TypeError(f"x: expected an array of shape (..., {expected}), got {type(x).__name__}")
        if len(shape) < k or any(d is not None and d != s for d, s in zip(input_shape, shape[len(shape) - k:])):
            raise ValueError(f"x: expected shape (..., {expected}), got {tuple(shape)}")
        lead = shape[:len(shape) - k]
        y = layer.apply(params, x.reshape((math.prod(lead), *shape[len(shape) - k:])), key=key, train=train)
        return y.reshape((*lead, *y.shape[1:]))

    return Model(init, apply)
