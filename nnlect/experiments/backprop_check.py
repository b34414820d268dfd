"""Slides "Learning NN by Back-Propagation": the delta rule written by hand
equals what ``jax.grad`` derives, layer by layer, in float64."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import nnlect as nl
from nnlect.experiments._common import Claim, new_figure
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


def run(*, seed: int = 0, small: bool = False) -> Claim:
    """The tour's entry: both losses, every activation, as a :class:`~nnlect.experiments._common.Claim`."""
    del small
    r = {"half_squared_error": all_activations(seed=seed),
         "softmax_cross_entropy": all_activations(seed=seed, loss="softmax_cross_entropy")}
    worst = max(max(d.values()) for d in r.values())
    summary = [f"5-7-6-3 net, float64, {len(r['half_squared_error'])} activations x 2 losses: "
               f"max |handwritten delta rule - jax.grad| = {worst:.1e}"]
    return Claim("backprop_check", "The handwritten delta rule computes exactly what jax.grad derives",
                 worst < 1e-10, summary, r, plot)


def plot(r: dict):
    """The largest difference per activation and loss, on a log scale."""
    fig, (ax,) = new_figure(1, width=6.0)
    names = list(r["half_squared_error"])
    positions = np.arange(len(names))
    for offset, (loss, diffs) in zip((-0.2, 0.2), r.items()):
        ax.bar(positions + offset, [max(diffs[n], 1e-20) for n in names], width=0.4, label=loss)
    ax.set_yscale("log")
    ax.set_xticks(positions, names, rotation=30)
    ax.axhline(np.finfo(np.float64).eps, color="grey", lw=0.8, label="float64 machine epsilon")
    ax.set(ylabel="max |handwritten - jax.grad|", title="backprop by hand vs autodiff (float64)")
    ax.legend(fontsize=8)
    return fig
