"""Slides "Properties of Perceptron": Rosenblatt's rule converges on linearly
separable data (Novikoff) and cannot learn XOR (Minsky and Papert)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import nnlect as nl
from nnlect.data import toy


def separable_vs_xor(*, seed: int = 0, epochs: int = 20, n: int = 200, margin: float = 0.05) -> dict:
    """Train the perceptron on separable points and on XOR.

    Returns:
        ``mistakes_separable`` and ``mistakes_xor`` (per epoch), ``accuracy_separable``,
        ``accuracy_xor``, the Novikoff bound ``(R/gamma)^2`` and the total updates made
        on the separable set, and the final params of both runs.
    """
    key = jax.random.key(seed)
    x, y, _ = toy.linearly_separable(n, margin=margin, seed=seed)
    model = nl.perceptron(2)
    params, mistakes = model.fit(model.init(key), jnp.asarray(x), jnp.asarray(y), epochs=epochs, key=key)
    acc = float(jnp.mean(model.apply(params, jnp.asarray(x)) == y))
    r = float(np.max(np.linalg.norm(np.concatenate([x, np.ones((n, 1))], axis=1), axis=1)))

    xx, xy = toy.xor("sign")
    xparams, xmistakes = model.fit(model.init(key), jnp.asarray(xx), jnp.asarray(xy), epochs=epochs, key=key)
    xacc = float(jnp.mean(model.apply(xparams, jnp.asarray(xx)) == xy))
    return {
        "mistakes_separable": np.asarray(mistakes).tolist(),
        "accuracy_separable": acc,
        "novikoff_bound": (r / margin) ** 2,
        "total_updates_separable": int(np.sum(mistakes)),
        "mistakes_xor": np.asarray(xmistakes).tolist(),
        "accuracy_xor": xacc,
        "params_separable": jax.tree.map(np.asarray, params),
        "params_xor": jax.tree.map(np.asarray, xparams),
    }
