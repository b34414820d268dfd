"""Slide "Hidden Layers and Backpropagation": one hidden layer learns XOR."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

import nnlect as nl
from nnlect.data import toy


def mlp_solves_xor(*, seed: int = 0, n_hidden: int = 4, steps: int = 1000, learning_rate: float = 0.1) -> dict:
    """Train a 2-``n_hidden``-1 tanh/sigmoid MLP on the lecture's E(W) with full-batch Adam.

    Returns:
        ``accuracy`` (threshold 0.5), ``outputs`` for the four points, ``loss_curve`` and ``params``.
    """
    x, d = toy.xor("binary")
    model = nl.mlp([2, n_hidden, 1], "tanh", output_activation="sigmoid", init="glorot")
    optimizer = optax.adam(learning_rate)
    state = nl.train.init_state(model.init(jax.random.key(seed)), optimizer)
    run = nl.train.make_train_scan(model, nl.half_squared_error, optimizer, repeat=steps)
    state, losses = run(state, jnp.asarray(x), jnp.asarray(d), jax.random.key(seed))
    y = np.asarray(model.apply(state.params, jnp.asarray(x)))
    return {
        "accuracy": float(np.mean((y > 0.5) == (d > 0.5))),
        "outputs": y[:, 0].tolist(),
        "loss_curve": np.asarray(losses).tolist(),
        "params": jax.tree.map(np.asarray, state.params),
    }
