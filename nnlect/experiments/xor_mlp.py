"""Slide "Hidden Layers and Backpropagation": one hidden layer learns XOR, because
the hidden layer maps the four points to where one line separates them."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

import nnlect as nl
from nnlect import activations
from nnlect.data import toy
from nnlect.experiments._common import Claim, new_figure, plane_grid


def mlp_solves_xor(*, seed: int = 0, n_hidden: int = 4, steps: int = 1000, learning_rate: float = 0.1) -> dict:
    """Train a 2-``n_hidden``-1 tanh/sigmoid MLP on the lecture's E(W) with full-batch Adam.

    Returns:
        ``accuracy`` (threshold 0.5), ``outputs`` for the four points, ``loss_curve``,
        ``params``, ``hidden`` ``(4, n_hidden)`` (the hidden layer's outputs :math:`h_j`)
        and ``grid_x``, ``grid_output`` (the network's output over the plane).
    """
    x, d = toy.xor("binary")
    model = nl.mlp([2, n_hidden, 1], "tanh", output_activation="sigmoid", init="glorot")
    optimizer = optax.adam(learning_rate)
    state = nl.train.init_state(model.init(jax.random.key(seed)), optimizer)
    run_steps = nl.train.make_train_scan(model, nl.half_squared_error, optimizer, repeat=steps)
    state, losses = run_steps(state, jnp.asarray(x), jnp.asarray(d), jax.random.key(seed))
    params = jax.tree.map(np.asarray, state.params)
    y = np.asarray(model.apply(state.params, jnp.asarray(x)))
    grid, _, _ = plane_grid(-0.5, 1.5, 120)
    return {
        "accuracy": float(np.mean((y > 0.5) == (d > 0.5))),
        "outputs": y[:, 0].tolist(),
        "loss_curve": np.asarray(losses).tolist(),
        "params": params,
        "hidden": activations.tanh(x @ params["dense_0"]["w"] + params["dense_0"]["b"]),
        "grid_x": grid,
        "grid_output": np.asarray(model.apply(state.params, jnp.asarray(grid)))[:, 0],
    }


def run(*, seed: int = 0, small: bool = False) -> Claim:
    """The tour's entry: :func:`mlp_solves_xor` as a :class:`~nnlect.experiments._common.Claim`."""
    r = mlp_solves_xor(seed=seed)
    summary = [f"2-4-1 tanh/sigmoid MLP, outputs {[round(v, 3) for v in r['outputs']]} for (0,0) (0,1) (1,0) (1,1): "
               f"accuracy {r['accuracy']:.0%}, final E(W) {r['loss_curve'][-1]:.1e}"]
    return Claim("xor_mlp", "One hidden layer learns XOR", r["accuracy"] == 1.0, summary, r, plot)


def plot(r: dict):
    """Decision boundary over the plane, the hidden units' outputs, and the points in hidden space."""
    x, d = toy.xor("binary")
    labels = d[:, 0] > 0.5
    fig, (ax_b, ax_h, ax_p) = new_figure(3)
    n = int(np.sqrt(len(r["grid_output"])))
    gx, gy = r["grid_x"][:, 0].reshape(n, n), r["grid_x"][:, 1].reshape(n, n)
    filled = ax_b.contourf(gx, gy, r["grid_output"].reshape(n, n), levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.8)
    ax_b.contour(gx, gy, r["grid_output"].reshape(n, n), levels=[0.5], colors="k")
    ax_b.scatter(*x[labels].T, s=90, c="tab:red", edgecolors="k", label="XOR = 1")
    ax_b.scatter(*x[~labels].T, s=90, c="tab:blue", marker="s", edgecolors="k", label="XOR = 0")
    fig.colorbar(filled, ax=ax_b, label="network output y")
    ax_b.set(title="output y of the 2-4-1 MLP", xlabel="input x1", ylabel="input x2", aspect="equal")

    hidden = np.asarray(r["hidden"])
    image = ax_h.imshow(hidden, cmap="PuOr", vmin=-1, vmax=1)
    ax_h.set(title="hidden outputs h_j = tanh(net_j)", xlabel="hidden unit j", ylabel="input (x1, x2)",
             yticks=range(4), yticklabels=["(0,0)", "(0,1)", "(1,0)", "(1,1)"],
             xticks=range(hidden.shape[1]))
    fig.colorbar(image, ax=ax_h, label="h_j")

    # In hidden space the output unit is linear: net_out = w . h + b. Plot each point's
    # net_out against its component orthogonal to w: one vertical line separates them.
    w, b = r["params"]["dense_1"]["w"][:, 0], float(r["params"]["dense_1"]["b"][0])
    net_out = hidden @ w + b
    unit = w / np.linalg.norm(w)
    rest = hidden - np.outer(hidden @ unit, unit)
    _, _, vt = np.linalg.svd(rest, full_matrices=False)
    other = rest @ vt[0]
    ax_p.scatter(net_out[labels], other[labels], s=90, c="tab:red", edgecolors="k", label="XOR = 1")
    ax_p.scatter(net_out[~labels], other[~labels], s=90, c="tab:blue", marker="s", edgecolors="k", label="XOR = 0")
    ax_p.axvline(0, color="k", label="decision boundary: y = 0.5, i.e. the output unit's net = 0")
    ax_p.set(title="hidden space: one line\nnow separates XOR", xlabel="output unit's net = w.h + b",
             ylabel="hidden component orthogonal to w")
    handles, names = ax_p.get_legend_handles_labels()  # one legend for all panels, below them: it hides no point
    fig.legend(handles, names, loc="outside lower center", ncols=3, fontsize=8)
    return fig
