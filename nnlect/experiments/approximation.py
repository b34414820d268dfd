"""Slide "Universal Approximation Theorem": one hidden layer approximates a
continuous function on a compact set, better as it widens."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

import nnlect as nl
from nnlect.data import toy


def fit_width(width: int, *, function: str = "sin", activation: str = "relu", steps: int = 3000,
              learning_rate: float = 0.02, seed: int = 0) -> dict:
    """Fit ``1 -> width -> 1`` to ``function`` by full-batch Adam (cosine-decayed) on the half squared error.

    ReLU is the default because its fit is a piecewise-linear interpolant with ``width``
    kinks, whose error falls steadily with width; a smooth tanh net fits sin so well
    with 2 units that optimization noise, not width, sets the error.

    Returns:
        ``mse`` on a dense grid of the interval, ``max_error``, and ``x``, ``target``, ``prediction``.
    """
    x, t = toy.target_function(function, 256)
    model = nl.mlp([1, width, 1], activation)
    optimizer = optax.adam(optax.cosine_decay_schedule(learning_rate, steps))
    state = nl.train.init_state(model.init(jax.random.key(seed)), optimizer)
    run = nl.train.make_train_scan(model, nl.half_squared_error, optimizer, repeat=steps)
    state, _ = run(state, jnp.asarray(x), jnp.asarray(t), jax.random.key(seed))
    xg, tg = toy.target_function(function, 1024)
    pred = np.asarray(model.apply(state.params, jnp.asarray(xg)))
    err = pred - tg
    return {"width": width, "mse": float(np.mean(err ** 2)), "max_error": float(np.max(np.abs(err))),
            "x": xg[:, 0], "target": tg[:, 0], "prediction": pred[:, 0]}


def error_vs_width(widths=(2, 8, 32), **kwargs) -> dict:
    """:func:`fit_width` for each width; ``mse`` is a list aligned with ``widths``."""
    fits = [fit_width(w, **kwargs) for w in widths]
    return {"widths": list(widths), "mse": [f["mse"] for f in fits], "fits": fits}
