r"""Recurrent cells (slides "Recurrent Neural Network (RNN)"): one interface, three cells on
it (:func:`elman`, the lecture's, with its hand-written BPTT; :func:`gru`; :func:`lstm`).
:func:`nnlect.layers.recurrent` runs any of them over time with ``lax.scan``.

A **cell** splits its work in two, so only the sequential part sits in the loop:

- ``project(params, x) -> a``: the input's contribution to every step at once, one big
  matrix product outside the scan (``x`` ``(N, T, n_in)`` floats, or ``(N, T)`` token ids
  for a cell built with ``vocab=``: then :math:`W x_t` is the row ``w_x[x_t]`` of the
  one-hot code, an embedding lookup that never builds the one-hot matrix);
- ``scan(params, a, s0, unroll) -> (outputs, s_T)``: the recurrence over ``a``
  ``(T, N, P)``, time-major, from the state ``s0`` ``(N, S)``; ``outputs`` ``(T, N, H)``.

The state is one array ``(N, S)``: :math:`h` for Elman and GRU (``S = H``), the
concatenation :math:`[h, c]` for the LSTM (``S = 2H``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple, cast

import jax
import jax.numpy as jnp

from nnlect import _checks, initializers
from nnlect.layers._core import draw_dtype, expect_keys, to_compute
from nnlect.layers.feedforward import lookup

Array = Any
BACKWARDS = ("bptt", "autodiff")


class Cell(NamedTuple):
    """``init(key, n_in) -> params`` (``n_in`` None for token ids), ``project``, ``scan``
    (see the module docstring), ``n_hidden`` :math:`H`, ``state_size`` :math:`S`, ``name``."""

    init: Callable[[Array, int | None], dict]
    project: Callable[[dict, Array], Array]
    scan: Callable[[dict, Array, Array, int], tuple[Array, Array]]
    n_hidden: int
    state_size: int
    name: str


def _input_params(key: Array, n_in: int | None, vocab: int | None, width: int, draw, dtype) -> Array:
    """``w_x`` ``(n_in, width)``; for token ids (``n_in`` None) its rows are the vocabulary's."""
    if n_in is None:
        if vocab is None:
            raise ValueError("in_shape: (T,) is a sequence of token ids; build the cell with vocab=V, "
                             "or put one_hot(V) or embed(V, dim) before recurrent()")
        n_in = vocab
    elif vocab is not None and n_in != vocab:
        raise ValueError(f"in_shape: the cell was built with vocab={vocab}, got {n_in} input features")
    return draw(key, (n_in, width), draw_dtype(dtype)).astype(dtype)


def _orthogonal(key: Array, shape: tuple[int, int], dtype) -> Array:
    """A random (semi-)orthogonal matrix, drawn in float32 (QR has no bfloat16 kernel), then cast."""
    return jax.nn.initializers.orthogonal()(key, shape, draw_dtype(dtype)).astype(dtype)


def _check(params: dict, expected: dict[str, tuple]) -> None:
    """Exactly the keys of ``expected`` with those shapes (None: any size)."""
    expect_keys(params, tuple(expected))
    for name, shape in expected.items():
        got = tuple(getattr(params[name], "shape", ()))
        if len(got) != len(shape) or any(e is not None and e != g for e, g in zip(shape, got)):
            want = ", ".join("n" if e is None else str(e) for e in shape)
            raise ValueError(f"params[{name!r}]: expected shape ({want}{',' if len(shape) == 1 else ''}), got {got}")


def _project(w_x: Array, b: Array, x: Array) -> Array:
    r""":math:`x_t W + b` for every step: ids ``(N, T)`` read rows (an id outside the table
    reads NaN, never a clamped row); floats ``(N, T, n_in)`` multiply in full."""
    if jnp.issubdtype(x.dtype, jnp.integer):
        xw = lookup(w_x, x)
    else:
        if x.shape[-1] != w_x.shape[0]:
            raise ValueError(f"x: expected {w_x.shape[0]} input features, got shape {tuple(x.shape)}")
        xw = x @ w_x
    return xw + b.reshape(1, 1, -1)


# --- Elman: the lecture's cell, with its hand-written BPTT ---------------------------------

def _elman_forward(w_hh: Array, a: Array, h0: Array, unroll: int) -> Array:
    r""":math:`h_t = \tanh(a_t + h_{t-1} W_{hh})` for ``t = 1..T``: ``a`` ``(T, N, H)`` -> ``(T, N, H)``."""

    def step(h_prev, a_t):
        h_t = jnp.tanh(a_t + h_prev @ w_hh)
        return h_t, h_t

    return jax.lax.scan(step, h0, a, unroll=unroll)[1]


@partial(jax.custom_vjp, nondiff_argnums=(3,))
def elman_bptt(w_hh: Array, a: Array, h0: Array, unroll: int) -> Array:
    r"""The Elman recurrence with the lecture's backprop through time as its backward pass.

    Arguments:
        w_hh: ``(H, H)``; a: ``(T, N, H)`` the pre-activations :math:`W_{xh} x_t + b_h`;
        h0: ``(N, H)``; unroll: passed to both ``lax.scan`` loops.

    Returns:
        ``hs`` ``(T, N, H)``, :math:`h_1 .. h_T`.

    The backward pass is a reverse scan that carries only the deltas
    :math:`\delta_t = (g_t + \delta_{t+1} W_{hh}^\top) \odot (1 - h_t^2)`; then
    :math:`\partial E / \partial W_{hh} = \sum_t h_{t-1}^\top \delta_t` is ONE matrix product
    over all ``T * N`` rows, where autodiff of ``lax.scan`` accumulates it step by step.
    Being a ``jax.custom_vjp``, it has no forward-mode derivative (``jvp``, ``jacfwd``):
    build the cell with ``backward="autodiff"`` for those.
    """
    return _elman_forward(w_hh, a, h0, unroll)


def _elman_fwd(w_hh, a, h0, unroll):
    hs = _elman_forward(w_hh, a, h0, unroll)
    return hs, (w_hh, h0, hs)


def _times_transpose(delta: Array, w: Array) -> Array:
    r""":math:`\delta W^\top`, ``(N, H)`` by ``(H, H)``, contracting ``w``'s second axis in place.

    ``delta @ w.T`` makes XLA:CPU copy the transposed ``(H, H)`` matrix once per training
    step before the loop; this reads ``w`` as stored: one op fewer per step, the same
    values (its speed effect is within the noise, ``benchmarks/results/rnn-small/README.md``).
    """
    return jax.lax.dot_general(delta, w, (((1,), (1,)), ((), ())))


def _elman_bwd(unroll, residuals, g):
    w_hh, h0, hs = residuals

    def step(from_next, inputs):  # from_next = delta_{t+1} W_hh^T
        g_t, h_t = inputs
        delta = (g_t + from_next) * (1 - h_t * h_t)
        return _times_transpose(delta, w_hh), delta

    d_h0, deltas = jax.lax.scan(step, jnp.zeros_like(hs[0]), (g, hs), reverse=True, unroll=unroll)
    n_hidden = hs.shape[-1]
    h_prev = jnp.concatenate([h0[None].astype(hs.dtype), hs[:-1]], axis=0).reshape(-1, n_hidden)
    d_w_hh = h_prev.T @ deltas.reshape(-1, n_hidden)
    return d_w_hh.astype(w_hh.dtype), deltas.astype(g.dtype), d_h0.astype(h0.dtype)


elman_bptt.defvjp(_elman_fwd, _elman_bwd)


def elman(n_hidden: int, *, vocab: int | None = None, init: str = "glorot", backward: str = "bptt",
          param_dtype: Any = jnp.float32, compute_dtype: Any = None) -> Cell:
    r"""The Elman cell :math:`h_t = \tanh(W_{xh} x_t + W_{hh} h_{t-1} + b_h)`.

    Arguments:
        n_hidden: :math:`H`.
        vocab: read ``(T,)`` token ids in ``[0, vocab)`` as one-hot codes (``w_xh`` is then
            the ``(vocab, H)`` embedding table); float inputs of width ``vocab`` still work.
        init: initializer of ``w_xh``; ``w_hh`` is a random orthogonal matrix, so the
            recurrence starts norm-preserving.
        backward: ``"bptt"``, the hand-written backprop through time (:func:`elman_bptt`,
            fastest for training); ``"autodiff"``, JAX's own derivative of the scan, which
            also gives forward-mode derivatives (``jax.jvp``, ``jax.jacfwd``) that a
            ``custom_vjp`` cannot.
        param_dtype, compute_dtype: storage and compute dtypes, as in :func:`~nnlect.layers.dense`
            (the same for :func:`gru` and :func:`lstm`); the carried state takes the compute dtype.

    Params: ``{"w_xh": (n_in, H), "w_hh": (H, H), "b_h": (H,)}``.
    """
    n_hidden = _checks.positive_int("n_hidden", n_hidden)
    vocab = None if vocab is None else _checks.positive_int("vocab", vocab)
    if backward not in BACKWARDS:
        raise ValueError(f"backward: expected one of {list(BACKWARDS)}, got {backward!r}")
    draw = initializers.get(init)
    # a jax.custom_vjp or a plain function: both (w_hh, a, h0, unroll) -> hs (T, B, H)
    recurrence = cast(Callable[..., Array], elman_bptt if backward == "bptt" else _elman_forward)

    def init_fn(key: Array, n_in: int | None) -> dict:
        k_xh, k_hh = jax.random.split(key)
        return {"w_xh": _input_params(k_xh, n_in, vocab, n_hidden, draw, param_dtype),
                "w_hh": _orthogonal(k_hh, (n_hidden, n_hidden), param_dtype),
                "b_h": jnp.zeros((n_hidden,), param_dtype)}

    def project(params: dict, x: Array) -> Array:
        _check(params, {"w_xh": (None, n_hidden), "w_hh": (n_hidden, n_hidden), "b_h": (n_hidden,)})
        params, x = to_compute(compute_dtype, params, x)
        return _project(params["w_xh"], params["b_h"], x)

    def scan(params: dict, a: Array, s0: Array, unroll: int) -> tuple[Array, Array]:
        params, _ = to_compute(compute_dtype, params)
        hs = recurrence(params["w_hh"], a, s0.astype(a.dtype), unroll)
        return hs, hs[-1]

    return Cell(init_fn, project, scan, n_hidden, n_hidden, "elman")


# --- GRU and LSTM: the same interface, more gates ------------------------------------------

def _gated_init(key, n_in, vocab, n_hidden, gates, draw, dtype) -> dict:
    k_x, k_h = jax.random.split(key)
    return {"w_x": _input_params(k_x, n_in, vocab, gates * n_hidden, draw, dtype),
            "w_h": _orthogonal(k_h, (n_hidden, gates * n_hidden), dtype),
            "b": jnp.zeros((gates * n_hidden,), dtype)}


def gru(n_hidden: int, *, vocab: int | None = None, init: str = "glorot", param_dtype: Any = jnp.float32,
        compute_dtype: Any = None) -> Cell:
    r"""Gated recurrent unit (Cho et al., 2014), in the "reset after" form of cuDNN and PyTorch:

    .. math::
        z_t = \sigma(a^z_t + h_{t-1} U_z), \quad r_t = \sigma(a^r_t + h_{t-1} U_r), \quad
        n_t = \tanh(a^n_t + r_t \odot (h_{t-1} U_n + b_{hn})), \quad
        h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}

    with :math:`a_t = x_t W + b` projected outside the loop, so each step is ONE
    ``(N, H) x (H, 3H)`` product. Params: ``{"w_x": (n_in, 3H), "w_h": (H, 3H), "b": (3H,),
    "b_hn": (H,)}``, gates in the order z, r, n. ``vocab`` as in :func:`elman`.
    """
    n_hidden = _checks.positive_int("n_hidden", n_hidden)
    vocab = None if vocab is None else _checks.positive_int("vocab", vocab)
    draw = initializers.get(init)

    def init_fn(key: Array, n_in: int | None) -> dict:
        return {**_gated_init(key, n_in, vocab, n_hidden, 3, draw, param_dtype), "b_hn": jnp.zeros((n_hidden,), param_dtype)}

    def project(params: dict, x: Array) -> Array:
        _check(params, {"w_x": (None, 3 * n_hidden), "w_h": (n_hidden, 3 * n_hidden), "b": (3 * n_hidden,),
                        "b_hn": (n_hidden,)})
        params, x = to_compute(compute_dtype, params, x)
        return _project(params["w_x"], params["b"], x)

    def scan(params: dict, a: Array, s0: Array, unroll: int) -> tuple[Array, Array]:
        params, _ = to_compute(compute_dtype, params)
        w_h, b_hn = params["w_h"], params["b_hn"][None, :]

        def step(h, a_t):
            a_z, a_r, a_n = jnp.split(a_t, 3, axis=-1)
            u_z, u_r, u_n = jnp.split(h @ w_h, 3, axis=-1)
            z, r = jax.nn.sigmoid(a_z + u_z), jax.nn.sigmoid(a_r + u_r)
            h = (1 - z) * jnp.tanh(a_n + r * (u_n + b_hn)) + z * h
            return h, h

        h_last, hs = jax.lax.scan(step, s0.astype(a.dtype), a, unroll=unroll)
        return hs, h_last

    return Cell(init_fn, project, scan, n_hidden, n_hidden, "gru")


def lstm(n_hidden: int, *, vocab: int | None = None, init: str = "glorot", forget_bias: float = 1.0,
         param_dtype: Any = jnp.float32, compute_dtype: Any = None) -> Cell:
    r"""Long short-term memory (Hochreiter & Schmidhuber, 1997):

    .. math::
        [i, f, g, o]_t = [\sigma, \sigma, \tanh, \sigma] (a_t + h_{t-1} U), \quad
        c_t = f_t \odot c_{t-1} + i_t \odot g_t, \quad h_t = o_t \odot \tanh(c_t)

    with :math:`a_t = x_t W + b` projected outside the loop. The state is
    :math:`[h, c]` ``(N, 2H)``; the outputs are :math:`h_t`. The forget gate's bias starts
    at ``forget_bias`` (1, Jozefowicz et al., 2015), so memory is kept by default.
    Params: ``{"w_x": (n_in, 4H), "w_h": (H, 4H), "b": (4H,)}``, gates in the order i, f, g, o.
    """
    n_hidden = _checks.positive_int("n_hidden", n_hidden)
    vocab = None if vocab is None else _checks.positive_int("vocab", vocab)
    draw = initializers.get(init)

    def init_fn(key: Array, n_in: int | None) -> dict:
        params = _gated_init(key, n_in, vocab, n_hidden, 4, draw, param_dtype)
        params["b"] = params["b"].at[n_hidden:2 * n_hidden].set(forget_bias)
        return params

    def project(params: dict, x: Array) -> Array:
        _check(params, {"w_x": (None, 4 * n_hidden), "w_h": (n_hidden, 4 * n_hidden), "b": (4 * n_hidden,)})
        params, x = to_compute(compute_dtype, params, x)
        return _project(params["w_x"], params["b"], x)

    def scan(params: dict, a: Array, s0: Array, unroll: int) -> tuple[Array, Array]:
        w_h = to_compute(compute_dtype, params)[0]["w_h"]

        def step(state, a_t):
            h, c = jnp.split(state, 2, axis=-1)
            i, f, g, o = jnp.split(a_t + h @ w_h, 4, axis=-1)
            c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
            h = jax.nn.sigmoid(o) * jnp.tanh(c)
            return jnp.concatenate([h, c], axis=-1), h

        s_last, hs = jax.lax.scan(step, s0.astype(a.dtype), a, unroll=unroll)
        return hs, s_last

    return Cell(init_fn, project, scan, n_hidden, 2 * n_hidden, "lstm")
