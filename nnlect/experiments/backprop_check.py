"""Slides "Learning NN by Back-Propagation": the delta rule written by hand
equals what ``jax.grad`` derives, layer by layer, in float64."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import nnlect as nl
from nnlect.reference import numpy_backprop


def max_difference(activation: str, *, sizes=(5, 7, 6, 3), batch: int = 8, seed: int = 0,
                   loss: str = "half_squared_error") -> float:
    """max |handwritten - jax.grad| over every weight and bias of one random MLP, in float64."""
    output = "sigmoid" if loss == "half_squared_error" else "identity"
    with jax.enable_x64(True):
        model = nl.mlp(list(sizes), activation, output_activation=output, dtype=jnp.float64)
        params = model.init(jax.random.key(seed))
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(batch, sizes[0]))
        if loss == "half_squared_error":
            d = rng.uniform(size=(batch, sizes[-1]))
            loss_fn = nl.half_squared_error
        else:
            d = rng.integers(0, sizes[-1], size=batch)
            loss_fn = nl.softmax_cross_entropy
        auto = jax.grad(lambda p: loss_fn(model.apply(p, jnp.asarray(x)), jnp.asarray(d)))(params)
        hand = numpy_backprop.gradients(numpy_backprop.to_numpy(params), x, d, activation=activation,
                                        output_activation=output, loss=loss)
        diffs = jax.tree.map(lambda a, b: float(np.max(np.abs(np.asarray(a) - b))), auto, hand)
    return max(jax.tree_util.tree_leaves(diffs))


def all_activations(**kwargs) -> dict[str, float]:
    """:func:`max_difference` for every activation the reference supports."""
    return {name: max_difference(name, **kwargs) for name in numpy_backprop.SUPPORTED}
