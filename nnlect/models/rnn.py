r"""Elman recurrent network (slides "Recurrent Neural Network (RNN)"), unrolled with ``lax.scan``.

.. math::
    h_t = \tanh(W_{xh} x_t + W_{hh} h_{t-1} + b_h), \qquad y_t = W_{hy} h_t + b_y

It is three layers of :mod:`nnlect.layers`: ``recurrent(elman(H, vocab=n_in))`` named
``"cell"``, ``dropout``, and ``dense(n_out)`` named ``"readout"``. Params, input-major
(``x @ w``) as in :func:`nnlect.mlp`::

    {"cell":    {"w_xh": (n_in, H), "w_hh": (H, H), "b_h": (H,)},
     "readout": {"w": (H, n_out), "b": (n_out,)}}

(0.1.0 called the readout's leaves ``w_hy`` and ``b_y``; :mod:`nnlect.checkpoint` renames
them when it restores an old file.)

Inputs are batch-major ``(B, T, ...)``. Integer inputs ``(B, T)`` are token ids in
``[0, n_in)``, read as one-hot codes: :math:`W_{xh} x_t` is then the row ``w_xh[x_t]``,
an embedding lookup that never builds the one-hot matrix (so ``w_xh`` is the embedding
table, of width ``H``); an id out of range reads NaN. Float inputs ``(B, T, n_in)`` are
multiplied in full. The input projection and the readout of every step are each one big
matrix product outside the scan; only :math:`W_{hh} h_{t-1}` is sequential, and its
backward pass is the lecture's backprop through time written by hand
(:func:`nnlect.layers.cells.elman_bptt`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from nnlect import _checks, layers as L
from nnlect.layers._core import apply_in_order, context, expect_keys
from nnlect.models.base import Model, build

Array = Any


class RecurrentModel(Model):
    """A :class:`~nnlect.models.base.Model` ``(init, apply)`` that also exposes its recurrence.

    It is still the 2-tuple ``(init, apply)``; the extra attributes are pure functions too:

    - ``initial_state(batch_size) -> (B, H)`` zeros, like Haiku's ``core.initial_state``;
    - ``step(params, h, x_t) -> (h_t, y_t)``: one time step, ``x_t`` ``(B,)`` ids or
      ``(B, n_in)`` floats (what sampling scans over);
    - ``n_in``, ``n_hidden``, ``n_out``, ``unroll``: the static configuration.
    """

    # Plain attributes set in __new__ (a NamedTuple subclass has a __dict__), not tuple fields.
    initial_state: Callable[[int], Array]
    step: Callable[..., tuple[Array, Array]]
    n_in: int
    n_hidden: int
    n_out: int
    unroll: int

    def __new__(cls, init: Callable, apply: Callable, *, initial_state: Callable, step: Callable,
                n_in: int, n_hidden: int, n_out: int, unroll: int):
        model = super().__new__(cls, init, apply)
        model.initial_state, model.step = initial_state, step
        model.n_in, model.n_hidden, model.n_out, model.unroll = n_in, n_hidden, n_out, unroll
        return model


def elman_rnn(n_in: int, n_hidden: int, n_out: int, *, dropout: float = 0.0, unroll: int = 1,
              init: str = "glorot", backward: str = "bptt", dtype: Any = jnp.float32,
              compute_dtype: Any = None) -> RecurrentModel:
    r"""An Elman network :math:`h_t = \tanh(W_{xh} x_t + W_{hh} h_{t-1} + b_h)`, :math:`y_t = W_{hy} h_t + b_y`.

    Arguments:
        n_in: input width, or the vocabulary size for integer token inputs.
        n_hidden: :math:`H`, the width of the hidden state.
        n_out: output width (the vocabulary size for a language model: logits).
        dropout: drop probability in ``[0, 1)`` on :math:`h_t` before the readout (the
            non-recurrent connection only, so the carried state is never dropped).
        unroll: time steps per ``lax.scan`` iteration (``1`` is a plain loop).
        init: initializer of ``w_xh`` and the readout (``"glorot"``, ``"lecun"``, ``"he"``);
            ``w_hh`` is a random orthogonal matrix, so :math:`W_{hh}` starts norm-preserving.
        backward: ``"bptt"`` (hand-written, fast) or ``"autodiff"``, which also allows
            forward-mode derivatives (``jax.jvp``); see :func:`nnlect.layers.elman`.
        dtype, compute_dtype: param (storage) and compute dtypes, as in :func:`nnlect.mlp`.

    Returns:
        A :class:`RecurrentModel`. ``apply(params, x, *, key=None, train=False, h0=None,
        return_state=False)``:

        - ``x``: ``(B, T)`` integer ids in ``[0, n_in)`` or ``(B, T, n_in)`` floats, ``T >= 1``
            (any number of leading axes in place of ``B``, none included);
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
    rate = _checks.rate("dropout", dropout)
    unroll = _checks.positive_int("unroll", unroll)
    p = {"param_dtype": dtype, "compute_dtype": compute_dtype}
    cell = L.named("cell", L.recurrent(L.elman(n_hidden, vocab=n_in, init=init, backward=backward, **p), unroll=unroll))
    head = [L.dropout(rate), L.named("readout", L.dense(n_out, init=init, **p))]
    net = L.serial(cell, *head)  # its init works out the params; apply below adds the carried state
    init_fn = build(net, (None,)).init

    def initial_state(batch_size: int) -> Array:
        """:math:`h_0 = 0`, shape ``(batch_size, H)``."""
        return jnp.zeros((_checks.positive_int("batch_size", batch_size), n_hidden), dtype)

    def apply(params: dict, x: Array, *, key: Array | None = None, train: bool = False,
              h0: Array | None = None, return_state: bool = False):
        expect_keys(params, ("cell", "readout"))
        _checks.array("x", x)
        if x.ndim >= 2 and x.shape[0] == 0:
            raise ValueError(f"x: expected at least one sequence (B >= 1 in (B, T{', n_in' if x.ndim > 2 else ''})), "
                             f"got shape {tuple(x.shape)}")
        with context("layer 0 (cell)"):
            hs, h_last = cell.apply(params["cell"], x, h0=h0, return_state=True)
        logits = apply_in_order([(layer.name, layer) for layer in head], params, hs, key=key, train=train, start=1)
        return (logits, h_last) if return_state else logits

    def step(params: dict, h: Array, x_t: Array) -> tuple[Array, Array]:
        r"""One step: ``h`` ``(B, H)``, ``x_t`` ``(B,)`` ids or ``(B, n_in)``; returns :math:`(h_t, y_t)`."""
        y, h = apply(params, x_t[:, None], h0=h, return_state=True)
        return h, y[:, 0]

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
        if prompt.shape[0] == 0 or prompt.shape[1] == 0:
            raise ValueError(f"prompt: expected (B, P) ids with B >= 1 and P >= 1, got shape {tuple(prompt.shape)}")
        # Checked here, on concrete values, before ``run``'s jit: inside it an id out of range
        # cannot raise and would read NaN, and the draw would silently be token 0.
        if _checks.is_concrete(prompt):
            ids = np.asarray(prompt)
            lo, hi = int(ids.min()), int(ids.max())
            if lo < 0 or hi >= model.n_in:
                raise ValueError(f"prompt: expected token ids in [0, {model.n_in}), got values in [{lo}, {hi}]")
        return run(params, prompt, key, jnp.asarray(temperature, jnp.float32))

    return sample
