r"""Feed-forward layers (slides "Hidden Layers and Backpropagation", "Activation Functions",
"Dropout"): dense, activation, dropout, flatten, and the two ways to read token ids,
:func:`one_hot` and :func:`embed`.

Each is a factory returning a :class:`~nnlect.layers.Layer`; see :mod:`nnlect.layers`
for the contract. Shapes below are per example; ``apply`` takes any leading axes
(except :func:`flatten`, which keeps exactly one).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from nnlect import _checks, activations, initializers
from nnlect.layers._core import Layer, Shape, draw_dtype, expect_keys, no_params, require_key, to_compute
from nnlect.regularization import dropout as _dropout

Array = Any


def affine(params: dict, h: Array) -> Array:
    r""":math:`net = h W + b` for ``{"w": (n_in, n_out), "b": (n_out,)}`` and ``h`` ``(..., n_in)``.

    ``w[m, j]`` is the lecture's :math:`w_{j,m}`, stored input-major so a batch computes
    as ``h @ w``. The bias is reshaped explicitly so the code runs under
    ``jax_numpy_rank_promotion="raise"``; NumPy arrays work too (the reference uses it).
    """
    b = params["b"]
    return h @ params["w"] + b.reshape((1,) * (h.ndim - 1) + b.shape)


def _known(name: str, size: Any) -> int:
    if size is None:
        raise ValueError(f"{name}: needs a known size here, got an axis of any size (None)")
    return size


def dense(n: int, *, init: str = "lecun", param_dtype: Any = jnp.float32, compute_dtype: Any = None) -> Layer:
    r"""Fully connected: :math:`net_j = \sum_m h_m w_{j,m} + b_j`, ``(..., n_in) -> (..., n)``.

    Arguments:
        n: output width.
        init: ``"lecun"``, ``"glorot"`` or ``"he"`` (:mod:`nnlect.initializers`) for ``w``;
            ``b`` starts at zero.
        param_dtype: dtype of the stored params (drawn in float32, then cast).
        compute_dtype: dtype of the product; None computes in the params' dtype. With
            float32 params and ``bfloat16`` here, the float32 master weights are cast on
            every call (mixed precision) and the output is bfloat16.

    Params: ``{"w": (n_in, n), "b": (n,)}``. Applied to ``(B, T, D)`` it maps every step.
    """
    n = _checks.positive_int("n", n)
    draw = initializers.get(init)

    def init_fn(key: Array, in_shape: Shape) -> tuple[Shape, dict]:
        if len(in_shape) < 1:
            raise ValueError(f"in_shape: expected (..., features), got {tuple(in_shape)}; put flatten() or one_hot() first")
        n_in = _known("in_shape[-1]", in_shape[-1])
        w = draw(key, (n_in, n), draw_dtype(param_dtype)).astype(param_dtype)
        return (*in_shape[:-1], n), {"w": w, "b": jnp.zeros((n,), param_dtype)}

    def apply(params: dict, x: Array, *, key: Array | None = None, train: bool = False) -> Array:
        expect_keys(params, ("b", "w"))
        w, b = params["w"], params["b"]
        if w.ndim != 2 or w.shape[1] != n or tuple(b.shape) != (n,):
            raise ValueError(f"params: expected w (n_in, {n}) and b ({n},), got w {tuple(w.shape)}, b {tuple(b.shape)}")
        _checks.floating_array("x", x)
        if x.ndim < 1 or x.shape[-1] != w.shape[0]:
            raise ValueError(f"x: expected shape (..., {w.shape[0]}), got {tuple(x.shape)}")
        params, x = to_compute(compute_dtype, params, x)
        return affine(params, x)

    return Layer(init_fn, apply, "dense")


def activation(fn: str | Callable[[Array], Array], **options: Any) -> Layer:
    r"""An activation :math:`h = f(net)`: any name of :data:`nnlect.activations.ACTIVATIONS`,
    ``"softmax"`` (over the last axis), or an elementwise function.

    Arguments:
        fn: the name (``"relu"``, ``"tanh"``, ...) or a callable ``f(z) -> same shape``;
            ``"softmax"`` computes (and returns) float32 even for bfloat16 inputs.
        **options: ``pieces=2`` for ``"maxout"`` (``(..., n * pieces) -> (..., n)``);
            ``stddev=1.0`` for ``"noisy_relu"``, which adds :math:`N(0, s^2)` noise in
            training (needs ``key``) and is a plain ReLU in evaluation; ``negative_slope``
            for ``"leaky_relu"``, ``alpha`` for ``"elu"``.

    The layer is named after the activation (``"relu"``, ...); it has no params.
    """
    if callable(fn) and not isinstance(fn, str):
        if options:
            raise ValueError(f"options: a callable activation takes no options, got {sorted(options)}")
        f, name, pieces = fn, getattr(fn, "__name__", "activation"), 1
    elif fn == "softmax":
        f, name, pieces = (lambda z: jax.nn.softmax(z.astype(jnp.promote_types(z.dtype, jnp.float32)), axis=-1)), "softmax", 1
    else:
        activations.get(fn)
        allowed = {"maxout": {"pieces"}, "noisy_relu": {"stddev"}, "leaky_relu": {"negative_slope"}, "elu": {"alpha"}}
        extra = set(options) - allowed.get(fn, set())
        if extra:
            raise ValueError(f"options: {fn!r} takes {sorted(allowed.get(fn, set())) or 'no options'}, got {sorted(extra)}")
        name = fn
        pieces = _checks.positive_int("pieces", options.get("pieces", 2)) if fn == "maxout" else 1
        stddev = options.get("stddev", 1.0)
        if fn == "maxout":
            f = lambda z: activations.maxout(z, pieces)
        elif fn == "noisy_relu":
            _checks.positive("stddev", stddev)
            f = None  # needs the key: see apply
        else:
            base = activations.get(fn).fn
            f = (lambda z: base(z, **options)) if options else base

    def init_fn(key: Array, in_shape: Shape) -> tuple[Shape, dict]:
        if pieces == 1:
            return tuple(in_shape), {}
        width = _known("in_shape[-1]", in_shape[-1] if in_shape else None)
        if width % pieces:
            raise ValueError(f"in_shape: maxout with pieces={pieces} needs a last axis divisible by {pieces}, got {tuple(in_shape)}")
        return (*in_shape[:-1], width // pieces), {}

    def apply(params: dict, x: Array, *, key: Array | None = None, train: bool = False) -> Array:
        no_params(params)
        _checks.floating_array("x", x)
        if f is not None:
            return f(x)
        if not train:
            return activations.relu(x)
        require_key(key, "noisy_relu")
        return activations.noisy_relu(x, key=key, stddev=stddev)

    return Layer(init_fn, apply, name)


def dropout(rate: float) -> Layer:
    r"""Dropout: in training, zero each entry with probability ``rate`` (the DROP
    probability, not the keep one) and scale the rest by :math:`1/(1-\text{rate})`;
    the identity in evaluation. ``train=True`` needs ``key``; shape-preserving."""
    rate = _checks.rate("rate", rate)

    def init_fn(key: Array, in_shape: Shape) -> tuple[Shape, dict]:
        return tuple(in_shape), {}

    def apply(params: dict, x: Array, *, key: Array | None = None, train: bool = False) -> Array:
        no_params(params)
        _checks.floating_array("x", x)
        if train and rate > 0:
            require_key(key, f"dropout(rate={rate})")
        return _dropout(x, rate, key=key, train=train)

    return Layer(init_fn, apply, "dropout")


def flatten() -> Layer:
    """``(B, d1, ..., dk) -> (B, d1 * ... * dk)``, row-major: every axis after the FIRST.

    A flatten cannot tell leading axes from per-example ones, so it keeps exactly one
    leading (batch) axis. :func:`nnlect.build` always hands its layers one batch axis,
    so a built model still takes any leading axes and ``jax.vmap`` (no batch axis).
    """

    def init_fn(key: Array, in_shape: Shape) -> tuple[Shape, dict]:
        if any(d is None for d in in_shape):
            raise ValueError(f"in_shape: flatten needs every axis known, got {tuple(in_shape)}")
        return (math.prod(in_shape),), {}

    def apply(params: dict, x: Array, *, key: Array | None = None, train: bool = False) -> Array:
        no_params(params)
        if getattr(x, "ndim", 0) < 1:
            raise ValueError(f"x: expected (batch, ...), got shape {tuple(getattr(x, 'shape', ()))}")
        return x.reshape(x.shape[0], math.prod(x.shape[1:]))

    return Layer(init_fn, apply, "flatten")


def _token_ids(x: Array) -> None:
    _checks.integer_array("x", x)


def lookup(table: Array, ids: Array) -> Array:
    """Rows ``table[ids]``, ``(V, D)`` and ``(...)`` -> ``(..., D)``; an id outside ``[0, V)``,
    negative ones included (which ``take`` would wrap), reads a row of NaN."""
    ids = jnp.where(ids < 0, table.shape[0], ids)
    return jnp.take(table, ids, axis=0, mode="fill", fill_value=jnp.nan)


def one_hot(vocab: int, *, dtype: Any = jnp.float32) -> Layer:
    r"""Token ids ``(...)`` in ``[0, vocab)`` -> one-hot codes ``(..., vocab)``.

    An id outside the range gives a row of NaN (never a silent row of zeros): the
    check costs no host sync, and a NaN loss stops :func:`nnlect.train.fit`.
    """
    vocab = _checks.positive_int("vocab", vocab)

    def init_fn(key: Array, in_shape: Shape) -> tuple[Shape, dict]:
        return (*in_shape, vocab), {}

    def apply(params: dict, x: Array, *, key: Array | None = None, train: bool = False) -> Array:
        no_params(params)
        _token_ids(x)
        codes = jax.nn.one_hot(x, vocab, dtype=dtype)
        valid = ((x >= 0) & (x < vocab))[..., None]
        return jnp.where(valid, codes, jnp.asarray(jnp.nan, dtype))

    return Layer(init_fn, apply, "one_hot")


def embed(vocab: int, dim: int, *, param_dtype: Any = jnp.float32, compute_dtype: Any = None) -> Layer:
    r"""A learned lookup table: ids ``(...)`` -> rows ``(..., dim)``; the same as
    :func:`one_hot` then a bias-free :func:`dense`, without building the one-hot matrix.

    Params: ``{"table": (vocab, dim)}``, drawn from :math:`N(0, 1/\text{dim})`. An id
    outside ``[0, vocab)`` reads a row of NaN. ``param_dtype``, ``compute_dtype`` as in :func:`dense`.
    """
    vocab = _checks.positive_int("vocab", vocab)
    dim = _checks.positive_int("dim", dim)

    def init_fn(key: Array, in_shape: Shape) -> tuple[Shape, dict]:
        table = jax.random.normal(key, (vocab, dim), draw_dtype(param_dtype)) / math.sqrt(dim)
        return (*in_shape, dim), {"table": table.astype(param_dtype)}

    def apply(params: dict, x: Array, *, key: Array | None = None, train: bool = False) -> Array:
        expect_keys(params, ("table",))
        if tuple(params["table"].shape) != (vocab, dim):
            raise ValueError(f"params: expected table ({vocab}, {dim}), got {tuple(params['table'].shape)}")
        _token_ids(x)
        return lookup(to_compute(compute_dtype, params)[0]["table"], x)

    return Layer(init_fn, apply, "embed")
