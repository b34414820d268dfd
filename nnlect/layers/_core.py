r"""The layer contract and the combinators that compose layers (stax's seam, with names).

A **layer** is a :class:`Layer`, a NamedTuple of two pure functions and a name:

- ``init(key, in_shape) -> (out_shape, params)``: shapes are per example (no batch
  axis), so every shape is worked out before any data exists. ``None`` in a shape is an
  axis of any size (a sequence length). ``params`` is a plain dict, ``{}`` for a layer
  without parameters.
- ``apply(params, x, *, key=None, train=False) -> y``: ``x`` has leading axes in front of
  the per-example shape.

:func:`serial` composes layers into a layer; :func:`nnlect.build` turns a layer into a
:class:`~nnlect.models.base.Model` with ``init(key) -> params``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

Array = Any
Shape = tuple  # of int | None
Params = dict


class Layer(NamedTuple):
    """``init(key, in_shape) -> (out_shape, params)``, ``apply(params, x, *, key=None, train=False)``, ``name``.

    ``name`` is where the layer's params sit in a :func:`serial`'s dict; :func:`named`
    sets it.
    """

    init: Callable[[Array, Shape], tuple[Shape, Params]]
    apply: Callable[..., Array]
    name: str = "layer"


def named(name: str, layer: Layer) -> Layer:
    """``layer`` with its params under ``name`` in the enclosing :func:`serial`.

    >>> import nnlect as nl
    >>> L = nl.layers
    >>> net = nl.serial(L.named("conv1", L.conv(4, (3, 3))), L.flatten(), L.dense(2))
    >>> sorted(nl.build(net, (8, 8, 1)).init(__import__("jax").random.key(0)))
    ['conv1', 'dense']
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name: expected a non-empty str, got {name!r}")
    if not isinstance(layer, Layer):
        raise TypeError(f"layer: expected an nnlect.layers.Layer, got {type(layer).__name__}")
    return layer._replace(name=name)


def layer_key(key: Array | None, index: int) -> Array | None:
    """Layer ``index``'s own PRNG stream, ``fold_in(key, index)``; None stays None.

    Streams depend only on the position, so appending a layer never changes the
    randomness (init or dropout) of the layers before it.
    """
    return None if key is None else jax.random.fold_in(key, index)


@contextlib.contextmanager
def context(where: str):
    """Prefix a ValueError or TypeError raised inside with ``where`` (e.g. ``layer 3 (dense_1)``)."""
    try:
        yield
    except (ValueError, TypeError) as e:
        if type(e) not in (ValueError, TypeError):
            raise
        raise type(e)(f"{where}: {e}") from e


def expect_keys(params: Any, keys: tuple[str, ...], what: str = "params") -> None:
    """Raise unless ``params`` is a dict with exactly ``keys``."""
    if not isinstance(params, dict):
        raise TypeError(f"{what}: expected a dict with keys {sorted(keys)}, got {type(params).__name__}")
    if set(params) != set(keys):
        raise ValueError(f"{what}: expected keys {sorted(keys)}, got {sorted(params)}")


def _param_names(layers: tuple[Layer, ...]) -> list[str]:
    """A name used once stays as it is; a name used ``k > 1`` times becomes ``name_0 .. name_{k-1}``."""
    counts: dict[str, int] = {}
    for layer in layers:
        counts[layer.name] = counts.get(layer.name, 0) + 1
    seen: dict[str, int] = {}
    names = []
    for layer in layers:
        if counts[layer.name] == 1:
            names.append(layer.name)
        else:
            names.append(f"{layer.name}_{seen.get(layer.name, 0)}")
            seen[layer.name] = seen.get(layer.name, 0) + 1
    if len(set(names)) != len(names):
        raise ValueError(f"layers: the param names {names} collide; give the layers distinct names with named()")
    return names


def serial(*layers: Layer) -> Layer:
    r"""Layers in sequence: ``serial(f, g, h)`` computes :math:`h(g(f(x)))`.

    Arguments:
        *layers: :class:`Layer` s; a :func:`named` one keeps its params under its name.

    Returns:
        A :class:`Layer` named ``"serial"`` whose params are a dict by layer name, for
        the layers that have params: ``{"conv": {...}, "dense_0": {...}, "dense_1": {...}}``
        (a name used more than once gets ``_0``, ``_1``, ... in order).

    Layer ``i`` draws its init and its training noise from ``fold_in(key, i)``
    (:func:`layer_key`). An error inside layer ``i`` names it: ``layer 2 (max_pool): ...``.

    Example:
        >>> import jax, jax.numpy as jnp, nnlect as nl
        >>> L = nl.layers
        >>> net = nl.serial(L.conv(8, (3, 3)), L.activation("relu"), L.max_pool((2, 2)), L.flatten(), L.dense(10))
        >>> out_shape, params = net.init(jax.random.key(0), (28, 28, 1))
        >>> out_shape, sorted(params)
        ((10,), ['conv', 'dense'])
        >>> net.apply(params, jnp.zeros((4, 28, 28, 1))).shape
        (4, 10)
    """
    if not layers:
        raise ValueError("layers: serial() needs at least one layer")
    for i, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            raise TypeError(f"layers[{i}]: expected an nnlect.layers.Layer (e.g. nl.layers.dense(10)), "
                            f"got {type(layer).__name__}")
    names = _param_names(layers)

    def init(key: Array, in_shape: Shape) -> tuple[Shape, Params]:
        shape, params = tuple(in_shape), {}
        for i, (name, layer) in enumerate(zip(names, layers)):
            with context(f"layer {i} ({name})"):
                shape, p = layer.init(layer_key(key, i), shape)
            if p:
                params[name] = p
        return shape, params

    def apply(params: Params, x: Array, *, key: Array | None = None, train: bool = False) -> Array:
        if not isinstance(params, dict):
            raise TypeError(f"params: expected a dict by layer name {names}, got {type(params).__name__}")
        unknown = sorted(set(params) - set(names))
        if unknown:
            raise ValueError(f"params: unexpected keys {unknown}; this serial's layers are {names}")
        return apply_in_order(list(zip(names, layers)), params, x, key=key, train=train)

    return Layer(init, apply, "serial")


def apply_in_order(named_layers: list[tuple[str, Layer]], params: Params, x: Array, *, key: Array | None,
                   train: bool, start: int = 0) -> Array:
    """What :func:`serial`'s ``apply`` does, for a factory that runs some layers itself:
    layer ``start + i`` gets ``params[name]`` (or ``{}``), the stream ``layer_key(key, start + i)``,
    and its index and name in any error."""
    for i, (name, layer) in enumerate(named_layers, start=start):
        with context(f"layer {i} ({name})"):
            x = layer.apply(params.get(name, {}), x, key=layer_key(key, i), train=train)
    return x


def draw_dtype(param_dtype: Any) -> Any:
    """Initializers draw in float32 at least (QR and normal draws fail or lose accuracy in
    bfloat16), then cast to ``param_dtype``."""
    return jnp.promote_types(param_dtype, jnp.float32)


def to_compute(compute_dtype: Any, params: Params, x: Array | None = None) -> tuple[Params, Array | None]:
    """The precision policy of every layer with params: compute in ``compute_dtype``, or in
    the params' dtype when it is None. Params (the float32 master copy under mixed
    precision) and floating ``x`` are cast; integer ids are left alone."""
    leaves = jax.tree.leaves(params)
    dtype = compute_dtype if compute_dtype is not None else (leaves[0].dtype if leaves else None)
    if dtype is None:
        return params, x
    params = jax.tree.map(lambda a: a.astype(dtype), params)
    if x is not None and jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(dtype)
    return params, x


def no_params(params: Any, what: str = "this layer") -> None:
    """Raise unless ``params`` is empty: what a layer without params accepts."""
    if params not in ({}, None, ()):
        raise ValueError(f"params: {what} has no params, expected {{}}, got {params!r}")


def require_key(key: Array | None, why: str) -> None:
    """Training with randomness and no key is an error that says how to fix the call."""
    if key is None:
        raise ValueError(
            f"apply(train=True) with {why} needs a PRNG key: call apply(params, x, key=jax.random.key(seed), "
            "train=True), with a fresh key per step (jax.random.fold_in(key, step)); or pass train=False"
        )
