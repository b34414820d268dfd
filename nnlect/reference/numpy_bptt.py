r"""Backpropagation through time for the Elman network, written by hand in NumPy (no autodiff).

Forward (:func:`nnlect.elman_rnn`, params in its layout), for :math:`t = 1..T`:

.. math::
    net^h_t = W_{xh} x_t + W_{hh} h_{t-1} + b_h, \quad h_t = \tanh(net^h_t), \quad
    net^y_t = W_{hy} h_t + b_y

and the loss is softmax cross-entropy averaged over all :math:`N = B T` predictions, as
:func:`nnlect.losses.softmax_cross_entropy` computes it on ``(B, T, K)`` logits.

Backward, with the lecture's :math:`\delta = -\partial E / \partial net`:

1. output errors: :math:`\delta^y_t = (d_t - \mathrm{softmax}(net^y_t)) / N`;
2. hidden errors, from :math:`t = T` down to 1, through the output *and* through time:
   :math:`\delta^h_t = f'(net^h_t) \odot (\delta^y_t W_{hy}^\top + \delta^h_{t+1} W_{hh}^\top)`,
   with :math:`\delta^h_{T+1} = 0` and :math:`f'(net) = 1 - h_t^2` for tanh;
3. gradients, summed over time because every step shares the weights:
   :math:`\partial E/\partial W_{hh} = -\sum_t h_{t-1}^\top \delta^h_t`,
   :math:`\partial E/\partial W_{xh} = -\sum_t x_t^\top \delta^h_t`,
   :math:`\partial E/\partial W_{hy} = -\sum_t h_t^\top \delta^y_t`, and the biases sum the deltas.

Only step 2 is a loop; the products of step 3 run once over all time steps.
Integer inputs ``(B, T)`` are one-hot codes, as in :func:`nnlect.elman_rnn`: the input
product is the row lookup ``w_xh[x_t]`` and its gradient a scatter-add into those rows.
Float inputs ``(B, T, n_in)`` are multiplied in full.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlect.reference.numpy_backprop import to_numpy  # noqa: F401  (same nested layout)

Array = Any


def _split(params: dict) -> tuple[np.ndarray, ...]:
    cell, out = params["cell"], params["readout"]
    return tuple(np.asarray(a) for a in (cell["w_xh"], cell["w_hh"], cell["b_h"], out["w"], out["b"]))


def _input_projection(w_xh: np.ndarray, x: np.ndarray) -> np.ndarray:
    """:math:`W_{xh} x_t` time-major ``(T, B, H)`` from ids ``(B, T)`` or floats ``(B, T, n_in)``."""
    if np.issubdtype(x.dtype, np.integer):
        if x.ndim != 2:
            raise ValueError(f"x: expected integer ids of shape (B, T), got shape {x.shape}")
        if x.size and (x.min() < 0 or x.max() >= w_xh.shape[0]):
            raise ValueError(f"x: expected token ids in [0, {w_xh.shape[0]}), got values in [{x.min()}, {x.max()}]")
        return w_xh[x.T]
    if x.ndim != 3 or x.shape[-1] != w_xh.shape[0]:
        raise ValueError(f"x: expected floats of shape (B, T, {w_xh.shape[0]}), got shape {x.shape}")
    return np.swapaxes(x, 0, 1) @ w_xh


def forward(params: dict, x: Array, h0: Array) -> tuple[np.ndarray, np.ndarray]:
    """The forward pass keeping every state.

    Arguments:
        params: :func:`nnlect.elman_rnn` params (any arrays; computed in NumPy).
        x: ``(B, T)`` ids or ``(B, T, n_in)`` floats.
        h0: ``(B, H)`` initial state.

    Returns:
        ``(hs, logits)``: ``hs`` ``(T + 1, B, H)`` time-major with ``hs[0] = h0``, and the
        logits :math:`net^y` ``(B, T, K)``.
    """
    w_xh, w_hh, b_h, w_hy, b_y = _split(params)
    x, h0 = np.asarray(x), np.asarray(h0)
    xw = _input_projection(w_xh, x) + b_h
    if h0.shape != xw.shape[1:]:
        raise ValueError(f"h0: expected shape {xw.shape[1:]}, got {h0.shape}")
    hs = np.empty((xw.shape[0] + 1,) + h0.shape, dtype=xw.dtype)
    hs[0] = h0
    for t in range(xw.shape[0]):
        hs[t + 1] = np.tanh(xw[t] + hs[t] @ w_hh)
    logits = np.swapaxes(hs[1:] @ w_hy + b_y, 0, 1)
    return hs, logits


def loss_and_gradients(params: dict, x: Array, targets: Array, h0: Array) -> tuple[float, dict, np.ndarray]:
    r"""Loss, :math:`\partial E/\partial \theta` in params' layout, and the final state.

    Arguments:
        params, x, h0: as in :func:`forward`.
        targets: ``(B, T)`` integer next tokens :math:`d_t` in ``[0, K)``.

    Returns:
        ``(loss, grads, h_T)``: the mean cross-entropy in nats, the gradients (a dict
        like ``params``) and :math:`h_T` ``(B, H)`` to carry into the next window.
    """
    w_xh, w_hh, b_h, w_hy, b_y = _split(params)
    x, targets = np.asarray(x), np.asarray(targets)
    hs, logits = forward(params, x, h0)
    if targets.shape != logits.shape[:2] or not np.issubdtype(targets.dtype, np.integer):
        raise ValueError(f"targets: expected integer ids of shape {logits.shape[:2]}, got {targets.dtype} {targets.shape}")
    n = targets.size
    z = logits - logits.max(axis=-1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    picked = np.take_along_axis(log_p, targets[..., None], axis=-1)
    loss = float(-picked.mean())

    # 1. delta^y_t = (d_t - softmax(net^y_t)) / N, time-major (T, B, K)
    one_hot = targets[..., None] == np.arange(logits.shape[-1])
    delta_y = np.swapaxes(one_hot - np.exp(log_p), 0, 1) / n
    # 2. delta^h_t = (1 - h_t^2) * (delta^y_t W_hy^T + delta^h_{t+1} W_hh^T), t = T..1
    from_output = delta_y @ w_hy.T
    delta_h = np.empty_like(from_output)
    carried = np.zeros_like(from_output[0])
    for t in range(from_output.shape[0] - 1, -1, -1):
        delta_h[t] = (1.0 - hs[t + 1] ** 2) * (from_output[t] + carried)
        carried = delta_h[t] @ w_hh.T
    # 3. weight gradients, summed over time
    hidden = w_hh.shape[0]
    flat_dh = delta_h.reshape(-1, hidden)
    if np.issubdtype(x.dtype, np.integer):
        g_xh = np.zeros_like(w_xh)
        np.add.at(g_xh, x.T.reshape(-1), -flat_dh)
    else:
        g_xh = -(np.swapaxes(x, 0, 1).reshape(-1, w_xh.shape[0]).T @ flat_dh)
    grads = {
        "cell": {"w_xh": g_xh, "w_hh": -(hs[:-1].reshape(-1, hidden).T @ flat_dh), "b_h": -flat_dh.sum(axis=0)},
        "readout": {
            "w": -(hs[1:].reshape(-1, hidden).T @ delta_y.reshape(-1, w_hy.shape[1])),
            "b": -delta_y.sum(axis=(0, 1)),
        },
    }
    return loss, grads, hs[-1]


def gradients(params: dict, x: Array, targets: Array, h0: Array) -> dict:
    r""":math:`\partial E/\partial \theta` of the mean cross-entropy, in params' layout (see :func:`loss_and_gradients`)."""
    return loss_and_gradients(params, x, targets, h0)[1]


def sgd_step(params: dict, x: Array, targets: Array, h0: Array, *, eta: float) -> tuple[dict, np.ndarray, float]:
    r"""One truncated-BPTT step :math:`\theta \leftarrow \theta - \eta\, \partial E/\partial \theta` on a window.

    Returns:
        ``(params, h_T, loss)``: new params (NumPy), the state to carry into the next
        window, and this window's loss before the update.
    """
    loss, grads, h_last = loss_and_gradients(params, x, targets, h0)
    new = {layer: {k: np.asarray(v) - eta * grads[layer][k] for k, v in leaves.items()} for layer, leaves in params.items()}
    return new, h_last, loss
