r"""The recurrent layer (slides "Recurrent Neural Network (RNN)"): :func:`recurrent` runs any
:class:`~nnlect.layers.cells.Cell` (Elman, GRU, LSTM) over time with ``lax.scan``.
"""

from __future__ import annotations

import math
from typing import Any

import jax.numpy as jnp

from nnlect import _checks
from nnlect.layers._core import Layer, Shape
from nnlect.layers.cells import Cell

Array = Any
OUTPUTS = ("sequence", "last", "state")


def recurrent(cell: Cell, *, output: str = "sequence", unroll: int = 1) -> Layer:
    r"""Run ``cell`` over time with ``lax.scan``: a :class:`~nnlect.layers.Layer`.

    Arguments:
        cell: :func:`elman`, :func:`gru`, :func:`lstm`, or any :class:`Cell`.
        output: ``"sequence"``, every step's output ``(T, H)``; ``"last"``, the last step's
            ``(H,)``; ``"state"``, the final state ``(S,)``. With ``"last"`` and ``"state"``
            a following layer (a readout) runs once per sequence, not once per step.
        unroll: time steps per loop iteration (``lax.scan``'s ``unroll``): less loop overhead
            for more compile time. On CPU a small RNN gains more from XLA compiling the
            whole time loop as one kernel: set the option of :mod:`nnlect._xla_flags`
            before the first computation (the ``nnlect`` program does).

    Per example, ``x`` is ``(T, n_in)`` floats or, for a cell built with ``vocab=``, ``(T,)``
    token ids; ``T`` may be None (any length) in ``init``'s shape. Params are the cell's.

    ``apply(params, x, *, key=None, train=False, h0=None, return_state=False)``: ``h0``
    ``(..., S)`` is the state to start from (zeros by default); with ``return_state=True``
    it returns ``(y, s_T)``, ``s_T`` in ``h0``'s dtype, what truncated backprop through time carries to the next
    window (gradients stop there when the caller passes it back as data).
    """
    if not isinstance(cell, Cell):
        raise TypeError(f"cell: expected an nnlect.layers.Cell (elman, gru, lstm), got {type(cell).__name__}")
    if output not in OUTPUTS:
        raise ValueError(f"output: expected one of {list(OUTPUTS)}, got {output!r}")
    unroll = _checks.positive_int("unroll", unroll)
    width = cell.state_size if output == "state" else cell.n_hidden

    def init_fn(key: Array, in_shape: Shape) -> tuple[Shape, dict]:
        if len(in_shape) not in (1, 2):
            raise ValueError(f"in_shape: expected (T, n_in) floats or (T,) token ids, got {tuple(in_shape)}")
        n_in = in_shape[1] if len(in_shape) == 2 else None
        if len(in_shape) == 2 and n_in is None:
            raise ValueError(f"in_shape: the feature axis must be known, got {tuple(in_shape)}")
        params = cell.init(key, n_in)
        return ((in_shape[0], width) if output == "sequence" else (width,)), params

    def apply(params: dict, x: Array, *, key: Array | None = None, train: bool = False,
              h0: Array | None = None, return_state: bool = False):
        ids = jnp.issubdtype(getattr(x, "dtype", jnp.float32), jnp.integer)
        if ids:
            _checks.integer_array("x", x)
        else:
            _checks.floating_array("x", x)
        rank = 1 if ids else 2
        if x.ndim < rank:
            raise ValueError(f"x: expected (..., T{'' if ids else ', n_in'}), got shape {tuple(x.shape)}")
        lead, example = x.shape[:x.ndim - rank], x.shape[x.ndim - rank:]
        if example[0] == 0:
            raise ValueError(f"x: expected at least one time step, got shape {tuple(x.shape)}")
        n = math.prod(lead)
        a = cell.project(params, x.reshape((n, *example)))  # (N, T, P)
        if h0 is None:
            s0 = jnp.zeros((n, cell.state_size), a.dtype)
        else:
            _checks.floating_array("h0", h0)
            if tuple(h0.shape) != (*lead, cell.state_size):
                raise ValueError(f"h0: expected shape {(*lead, cell.state_size)} (x's leading axes, then the "
                                 f"{cell.name} state), got {tuple(h0.shape)}")
            s0 = h0.reshape(n, cell.state_size)
        hs, s_last = cell.scan(params, jnp.swapaxes(a, 0, 1), s0, unroll)  # (T, N, H), (N, S)
        if output == "sequence":
            y = jnp.swapaxes(hs, 0, 1).reshape((*lead, example[0], cell.n_hidden))
        elif output == "last":
            y = hs[-1].reshape((*lead, cell.n_hidden))
        else:
            y = s_last.reshape((*lead, cell.state_size))
        # the state goes back in h0's dtype, so a loop that carries it keeps one type
        s_last = s_last.reshape((*lead, cell.state_size)).astype(s0.dtype)
        return (y, s_last) if return_state else y

    return Layer(init_fn, apply, "recurrent")
