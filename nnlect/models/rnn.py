r"""Elman recurrent network (slides "Recurrent Neural Network (RNN)"), unrolled with ``lax.scan``.

.. math::
    h_t = \tanh(W_{xh} x_t + W_{hh} h_{t-1} + b_h), \qquad y_t = W_{hy} h_t + b_y

Params are nested per layer, input-major (``x @ w``) as in :func:`nnlect.mlp`::

    {"cell":    {"w_xh": (n_in, H), "w_hh": (H, H), "b_h": (H,)},
     "readout": {"w_hy": (H, n_out), "b_y": (n_out,)}}

Inputs are batch-major ``(B, T, ...)``. Integer inputs ``(B, T)`` are token ids in
``[0, n_in)``, read as one-hot codes: :math:`W_{xh} x_t` is then the row ``w_xh[x_t]``,
an embedding lookup that never builds the one-hot matrix (so ``w_xh`` is the embedding
table, of width ``H``). Float inputs ``(B, T, n_in)`` are multiplied in full.

The scan runs time-major over ``(T, B, H)``; ``unroll`` (a factory argument) is passed to
``lax.scan``: it unrolls that many time steps per loop iteration, trading compile time for
less loop overhead. The input projection :math:`W_{xh} x_t + b_h` of every step and the
readout of every step are each one big matrix product outside the scan; only
:math:`W_{hh} h_{t-1}` is sequential.

The recurrence has a hand-written backward pass (:func:`_recurrence`, a ``jax.custom_vjp``):
the lecture's backprop through time. A reverse scan carries only the deltas
:math:`\delta_t = (g_t + \delta_{t+1} W_{hh}^\top) \odot (1 - h_t^2)`; the gradient
:math:`\partial E / \partial W_{hh} = \sum_t h_{t-1}^\top \delta_t` is then one matrix product
over all ``T * B`` rows after the loop, where autodiff of ``lax.scan`` would accumulate it
one time step at a time inside the reverse loop.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from nnlect import _checks, initializers
from nnlect.dropout import dropout as _dropout
from nnlect.models.base import Model, check_params, require_key

Array = Any


class RecurrentModel(Model):
    """A :class:`~nnlect.models.base.Model` ``(init, apply)`` that also exposes its recurrence.

    It is still the 2-tuple ``(init, apply)``; the extra attributes are pure functions too:

    - ``initial_state(batch_size) -> (B, H)`` zeros, like Haiku's ``core.initial_state``;
    - ``step(params, h, x_t) -> (h_t, y_t)``: one time step, ``x_t`` ``(B,)`` ids or
      ``(B, n_in)`` floats (what sampling scans over);
    - ``n_in``, ``n_hidden``, ``n_out``, ``unroll``: the static configuration.
    """

    def __new__(cls, init: Callable, apply: Callable, *, initial_state: Callable, step: Callable,
                n_in: int, n_hidden: int, n_out: int, unroll: int):
        model = super().__new__(cls, init, apply)
        model.initial_state, model.step = initial_state, step
        model.n_in, model.n_hidden, model.n_out, model.unroll = n_in, n_hidden, n_out, unroll
        return model


def _check_tokens(x: Array, n_in: int) -> None:
    """Out-of-range ids would be clamped by XLA's gather: refuse them while we can see them."""
    if _checks.is_concrete(x) and x.size:
        values = np.asarray(x)  # np.min on a jax.Array would trace under jit
        lo, hi = int(values.min()), int(values.max())
        if lo < 0 or hi >= n_in:
            raise ValueError(f"x: expected token ids in [0, {n_in}), got values in [{lo}, {hi}]")


def _forward_scan(w_hh: Array, a: Array, h0: Array, unroll: int) -> Array:
    r""":math:`h_t = \tanh(a_t + h_{t-1} W_{hh})` for ``t = 1..T``: ``a`` ``(T, B, H)`` -> ``(T, B, H)``."""

    def cell(h_prev, a_t):
        h_t = jnp.tanh(a_t + h_prev @ w_hh)
        return h_t, h_t

    return jax.lax.scan(cell, h0, a, unroll=unroll)[1]


@partial(jax.custom_vjp, nondiff_argnums=(3,))
def _recurrence(w_hh: Array, a: Array, h0: Array, unroll: int) -> Array:
    r"""The sequential part of the Elman network, with the lecture's BPTT as its backward pass.

    Arguments:
        w_hh: ``(H, H)``; a: ``(T, B, H)`` the pre-activations :math:`W_{xh} x_t + b_h`, time-major;
        h0: ``(B, H)``; unroll: passed to both ``lax.scan`` loops.

    Returns:
        ``hs`` ``(T, B, H)``, :math:`h_1 .. h_T` (the final state is ``hs[-1]``, so its cotangent
        arrives as part of ``hs``'s).
    """
    return _forward_scan(w_hh, a, h0, unroll)


def _recurrence_fwd(w_hh, a, h0, unroll):
    hs = _forward_scan(w_hh, a, h0, unroll)
    return hs, (w_hh, h0, hs)


def _recurrence_bwd(unroll, residuals, g):
    r"""BPTT: :math:`\delta_t = (g_t + \delta_{t+1} W_{hh}^\top) \odot (1 - h_t^2)`, ``t = T..1``.

    Returns :math:`(\partial W_{hh}, \partial a, \partial h_0) =
    (\sum_t h_{t-1}^\top \delta_t,\ \delta,\ \delta_1 W_{hh}^\top)`.
    """
    w_hh, h0, hs = residuals
    w_hh_t = w_hh.T

    def step(from_next, inputs):  # from_next = delta_{t+1} W_hh^T
        g_t, h_t = inputs
        delta = (g_t + from_next) * (1 - h_t * h_t)
        return delta @ w_hh_t, delta

    d_h0, deltas = jax.lax.scan(step, jnp.zeros_like(hs[0]), (g, hs), reverse=True, unroll=unroll)
    # dW_hh = sum_t h_{t-1}^T delta_t: ONE (H, T*B) x (T*B, H) product after the loop.
    n_hidden = hs.shape[-1]
    h_prev = jnp.concatenate([h0[None].astype(hs.dtype), hs[:-1]], axis=0).reshape(-1, n_hidden)
    d_w_hh = h_prev.T @ deltas.reshape(-1, n_hidden)
    return d_w_hh.astype(w_hh.dtype), deltas.astype(g.dtype), d_h0.astype(h0.dtype)


_recurrence.defvjp(_recurrence_fwd, _recurrence_bwd)


def elman_rnn(n_in: int, n_hidden: int, n_out: int, *, dropout: float = 0.0, unroll: int = 1,
              init: str = "glorot", dtype: Any = jnp.float32) -> RecurrentModel:
    r"""An Elman network :math:`h_t = \tanh(W_{xh} x_t + W_{hh} h_{t-1} + b_h)`, :math:`y_t = W_{hy} h_t + b_y`.

    Arguments:
        n_in: input width, or the vocabulary size for integer token inputs.
        n_hidden: :math:`H`, the width of the hidden state.
        n_out: output width (the vocabulary size for a language model: logits).
        dropout: drop probability in ``[0, 1)`` on :math:`h_t` before the readout (the
            non-recurrent connection only, so the carried state is never dropped).
        unroll: time steps per ``lax.scan`` iteration (``1`` is a plain loop).
        init: initializer of ``w_xh`` and ``w_hy`` (``"glorot"``, ``"lecun"``, ``"he"``);
            ``w_hh`` is a random orthogonal matrix, so :math:`W_{hh}` starts norm-preserving.
        dtype: parameter dtype.

    Returns:
        A :class:`RecurrentModel`. ``apply(params, x, *, key=None, train=False, h0=None,
        return_state=False)``:

        - ``x``: ``(B, T)`` integer ids in ``[0, n_in)`` or ``(B, T, n_in)`` floats, ``T >= 1``;
        - ``h0``: ``(B, H)`` initial state :math:`h_0`, default zeros (``initial_state(B)``);
        - ``key``: needed when ``train=True`` and ``dropout > 0``;
        - returns the logits ``(B, T, n_out)``, or ``(logits, h_T)`` with ``return_state=True``.

        Truncated backprop through time passes the returned ``h_T`` as the next window's
        ``h0``: gradients then stop at the window boundary while the state flows on.

    Example:
        >>> import jax, jax.numpy as jnp, nnlect as nl
        >>> model = nl.elman_rnn(65, 128, 65)
        >>> params = model.init(jax.random.key(0))
        >>> x = jnp.zeros((4, 10), jnp.int32)
        >>> logits, h = model.apply(params, x, h0=model.initial_state(4), return_state=True)
        >>> logits.shape, h.shape
        ((4, 10, 65), (4, 128))
    """
    n_in = _checks.positive_int("n_in", n_in)
    n_hidden = _checks.positive_int("n_hidden", n_hidden)
    n_out = _checks.positive_int("n_out", n_out)
    rate = _checks.rate("dropout", dropout)
    unroll = _checks.positive_int("unroll", unroll)
    draw = initializers.get(init)
    shapes = {
        "cell": {"w_xh": (n_in, n_hidden), "w_hh": (n_hidden, n_hidden), "b_h": (n_hidden,)},
        "readout": {"w_hy": (n_hidden, n_out), "b_y": (n_out,)},
    }

    def init_fn(key: Array) -> dict:
        k_xh, k_hh, k_hy = jax.random.split(key, 3)
        return {
            "cell": {
                "w_xh": draw(k_xh, (n_in, n_hidden), dtype),
                "w_hh": jax.nn.initializers.orthogonal()(k_hh, (n_hidden, n_hidden), dtype),
                "b_h": jnp.zeros((n_hidden,), dtype),
            },
            "readout": {"w_hy": draw(k_hy, (n_hidden, n_out), dtype), "b_y": jnp.zeros((n_out,), dtype)},
        }

    def initial_state(batch_size: int) -> Array:
        """:math:`h_0 = 0`, shape ``(batch_size, H)``."""
        return jnp.zeros((_checks.positive_int("batch_size", batch_size), n_hidden), dtype)

    def project(cell: dict, x: Array, time_axis: bool) -> Array:
        r""":math:`W_{xh} x_t + b_h` for ids ``x`` ``(B[, T])`` or floats ``(B[, T], n_in)``."""
        lead = 2 if time_axis else 1
        if jnp.issubdtype(x.dtype, jnp.integer):
            _checks.integer_array("x", x, ndim=lead)
            _check_tokens(x, n_in)
            # mode="fill": an id out of range under jit gives NaN, never a silently clamped row.
            xw = jnp.take(cell["w_xh"], x, axis=0, mode="fill", fill_value=jnp.nan)
        else:
            _checks.floating_array("x", x, ndim=lead + 1)
            if x.shape[-1] != n_in:
                raise ValueError(f"x: expected last axis n_in={n_in}, got shape {tuple(x.shape)}")
            xw = x @ cell["w_xh"]
        return xw + jnp.expand_dims(cell["b_h"], tuple(range(lead)))

    def check_h0(h0: Array | None, batch: int) -> Array:
        if h0 is None:
            return initial_state(batch)
        _checks.floating_array("h0", h0, ndim=2)
        if tuple(h0.shape) != (batch, n_hidden):
            raise ValueError(f"h0: expected shape (batch, n_hidden) = {(batch, n_hidden)}, got {tuple(h0.shape)}")
        return h0

    def apply(params: dict, x: Array, *, key: Array | None = None, train: bool = False,
              h0: Array | None = None, return_state: bool = False):
        check_params(params, shapes)
        if getattr(x, "ndim", 0) >= 2 and x.shape[1] == 0:
            raise ValueError(f"x: expected at least one time step, got shape {tuple(x.shape)}")
        if train and rate > 0:
            require_key(key, "dropout")
        cell, out = params["cell"], params["readout"]
        xw = project(cell, x, time_axis=True)  # (B, T, H)
        h = check_h0(h0, xw.shape[0]).astype(xw.dtype)

        hs = _recurrence(cell["w_hh"], jnp.swapaxes(xw, 0, 1), h, unroll)  # (T, B, H)
        h_last = hs[-1]
        hs = jnp.swapaxes(hs, 0, 1)  # (B, T, H)
        if train and rate > 0:
            hs = _dropout(hs, rate, key=key, train=True)
        logits = hs @ out["w_hy"] + out["b_y"][None, None, :]
        return (logits, h_last) if return_state else logits

    def step(params: dict, h: Array, x_t: Array) -> tuple[Array, Array]:
        r"""One step: ``h`` ``(B, H)``, ``x_t`` ``(B,)`` ids or ``(B, n_in)``; returns :math:`(h_t, y_t)`."""
        check_params(params, shapes)
        cell, out = params["cell"], params["readout"]
        xw = project(cell, x_t, time_axis=False)
        h = jnp.tanh(xw + check_h0(h, xw.shape[0]) @ cell["w_hh"])
        return h, h @ out["w_hy"] + out["b_y"][None, :]

    return RecurrentModel(init_fn, apply, initial_state=initial_state, step=step,
                          n_in=n_in, n_hidden=n_hidden, n_out=n_out, unroll=unroll)


def make_sampler(model: RecurrentModel, length: int) -> Callable[..., Array]:
    r"""A jitted ``sample(params, prompt, key, temperature) -> (B, length)`` token ids.

    The prompt ``(B, P)`` (ids, ``P >= 1``) is read with one scan, which gives the state
    :math:`h_P` and the logits :math:`y_P`; then ``length`` steps run in a ``lax.scan``, each
    drawing :math:`x_{t+1} \sim \mathrm{softmax}(y_t / \tau)` and feeding it back. Step ``t``
    uses ``fold_in(key, t)``; ``temperature`` :math:`\tau > 0` is traced (changing it does not
    recompile): small :math:`\tau` approaches the argmax, :math:`\tau = 1` samples the model.
    """
    length = _checks.positive_int("length", length)

    @jax.jit
    def run(params, prompt, key, temperature):
        logits, h = model.apply(params, prompt, return_state=True)

        def draw(carry, t):
            h, last = carry
            token = jax.random.categorical(jax.random.fold_in(key, t), last / temperature, axis=-1)
            h, y = model.step(params, h, token.astype(prompt.dtype))
            return (h, y), token

        _, tokens = jax.lax.scan(draw, (h, logits[:, -1]), jnp.arange(length))
        return jnp.swapaxes(tokens, 0, 1).astype(prompt.dtype)

    def sample(params: dict, prompt: Array, key: Array, temperature: float = 1.0) -> Array:
        _checks.integer_array("prompt", prompt, ndim=2)
        _checks.positive("temperature", temperature)
        return run(params, prompt, key, jnp.asarray(temperature, jnp.float32))

    return sample
