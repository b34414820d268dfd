r"""Slide "Difficulty of Training Deep Nets": gradient vanishing, "now we use ReLU".

Backprop multiplies the error by :math:`f'(net)` once per layer,
:math:`\delta^{(l)} = f'(net^{(l)}) \odot (W^{(l+1)} \delta^{(l+1)})`. With the sigmoid,
:math:`f' \le 1/4`, so in a 10-layer net the first layer's gradient is orders of
magnitude smaller than the last one's and the first layers barely learn; with
ReLU (:math:`f' = 1` where active) and He initialization it is not.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

import nnlect as nl
from nnlect.experiments._common import Claim, new_figure
from nnlect.experiments.dropout import noisy_quadrants

ACTIVATIONS = ("sigmoid", "tanh", "relu")


def gradient_norms(activation: str, *, depth: int = 10, width: int = 32, seed: int = 0,
                   steps: int = 500, learning_rate: float = 0.1, n: int = 512) -> dict:
    r"""Per-layer gradient norms at initialization, then plain gradient descent.

    The net is ``2 -> width x (depth - 1) -> 2`` (``depth`` weight layers), initialized by
    the activation's default (Glorot for sigmoid/tanh, He for ReLU), trained full-batch
    with :math:`W \leftarrow W - \eta \nabla E` on softmax cross-entropy.

    Returns:
        ``layer_norms`` ``(depth,)``: :math:`\|\partial E / \partial W^{(l)}\|_F` at init, input
        layer first; ``first_to_last`` their ratio; ``loss_curve`` ``(steps,)``; ``accuracy``.
    """
    x, y = noisy_quadrants(n, noise=0.0, seed=seed)  # XOR of signs, clean labels
    model = nl.mlp([2] + [width] * (depth - 1) + [2], activation)
    params = model.init(jax.random.key(seed))
    grads = jax.grad(lambda p: nl.softmax_cross_entropy(model.apply(p, jnp.asarray(x)), jnp.asarray(y)))(params)
    norms = [float(jnp.linalg.norm(grads[f"dense_{l}"]["w"])) for l in range(depth)]
    optimizer = optax.sgd(learning_rate)
    train = nl.train.make_train_scan(model, nl.softmax_cross_entropy, optimizer, repeat=steps)
    state, losses = train(nl.train.init_state(params, optimizer), jnp.asarray(x), jnp.asarray(y), jax.random.key(seed))
    accuracy = float(nl.accuracy(model.apply(state.params, jnp.asarray(x)), jnp.asarray(y)))
    return {"activation": activation, "layer_norms": norms, "first_to_last": norms[0] / norms[-1],
            "loss_curve": np.asarray(losses).tolist(), "accuracy": accuracy}


def compare(activations=ACTIVATIONS, **kwargs) -> dict:
    """:func:`gradient_norms` for each activation, keyed by name."""
    return {name: gradient_norms(name, **kwargs) for name in activations}


def run(*, seed: int = 0, small: bool = False) -> Claim:
    """The tour's entry: sigmoid vs tanh vs ReLU in a 10-layer net."""
    r = compare(seed=seed, steps=150 if small else 1000)
    holds = (r["sigmoid"]["first_to_last"] < 1e-2 and r["relu"]["first_to_last"] > 100 * r["sigmoid"]["first_to_last"]
             and r["relu"]["accuracy"] > r["sigmoid"]["accuracy"])
    summary = [
        "10-layer net, ||dE/dW|| of layer 1 / layer 10 at init: "
        + ", ".join(f"{name} {r[name]['first_to_last']:.1e}" for name in r),
        "training accuracy after gradient descent (XOR of signs, 512 points): "
        + ", ".join(f"{name} {r[name]['accuracy']:.0%}" for name in r),
    ]
    return Claim("vanishing_gradients", "Gradients vanish through sigmoid layers; ReLU keeps them alive",
                 bool(holds), summary, r, plot)


def plot(r: dict):
    """Gradient norm per layer at init (log scale) and the training loss curves."""
    fig, (ax_g, ax_l) = new_figure(2, width=4.8)
    for name, res in r.items():
        layers = np.arange(1, len(res["layer_norms"]) + 1)
        ax_g.semilogy(layers, res["layer_norms"], "o-", label=name)
        ax_l.plot(res["loss_curve"], label=f"{name} (accuracy {res['accuracy']:.0%})")
    ax_g.set(xlabel="layer (1 = input side)", ylabel="||dE/dW|| at initialization",
             title="gradient norm per layer, 10-layer net")
    ax_l.set(xlabel="gradient descent step", ylabel="training loss (cross-entropy)", title="training")
    for ax in (ax_g, ax_l):
        ax.legend(fontsize=8)
        ax.grid(True, alpha=0.3)
    return fig
