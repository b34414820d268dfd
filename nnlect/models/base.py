"""The model contract shared by every factory (see DESIGN.md).

A factory closes over the static configuration and returns a :class:`Model`,
a NamedTuple of two pure functions, the way Optax returns a
``GradientTransformation``:

- ``init(key) -> params``: a plain nested dict of arrays;
- ``apply(params, x, *, key=None, train=False) -> y``: batched, leading batch axis.

Because the configuration lives in the closure, ``apply`` needs no static
arguments under ``jax.jit``, and params map, save and shard as ordinary pytrees.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from nnlect import initializers

Array = Any
Params = dict[str, Any]


class Model(NamedTuple):
    """``init(key) -> params`` and ``apply(params, x, *, key=None, train=False) -> y``."""

    init: Callable[..., Params]
    apply: Callable[..., Array]


def dense_init(key: Array, n_in: int, n_out: int, init: str, dtype: Any = jnp.float32) -> Params:
    r"""One fully connected layer :math:`net_j = \sum_m x_m w_{mj} + b_j`.

    Returns ``{"w": (n_in, n_out), "b": (n_out,)}``: ``w[m, j]`` is the lecture's
    :math:`w_{j,m}`, stored input-major so a batch computes as ``x @ w``.
    """
    return {"w": initializers.get(init)(key, (n_in, n_out), dtype), "b": jnp.zeros((n_out,), dtype)}


def dense(layer: Params, h: Array) -> Array:
    r"""The affine map :math:`net = h W + b` of a ``{"w": (n_in, n_out), "b": (n_out,)}`` layer.

    ``h`` is ``(..., n_in)``; the bias is reshaped explicitly to ``(1, ..., n_out)`` so the
    code runs under ``jax_numpy_rank_promotion="raise"``. Works on NumPy arrays too.
    """
    b = layer["b"]
    return h @ layer["w"] + b.reshape((1,) * (h.ndim - 1) + b.shape)


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


def require_key(key: Array | None, why: str) -> None:
    """Training with randomness and no key is an error that says how to fix the call."""
    if key is None:
        raise ValueError(
            f"apply(train=True) with {why} needs a PRNG key: call apply(params, x, key=jax.random.key(seed), "
            "train=True), with a fresh key per step (jax.random.fold_in(key, step)); or pass train=False"
        )


def count_params(params: Params) -> int:
    """Total number of scalars in a params pytree."""
    return sum(int(x.size) for x in jax.tree_util.tree_leaves(params))
