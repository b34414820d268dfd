r"""Slide "Dropout": randomly dropping units on each training step keeps a large
network from memorizing a small, noisy training set (Srivastava et al., 2014).

The task is made to overfit: 100 training points of XOR-of-signs in the plane
with 20% of the labels flipped, and a 2-256-256-2 ReLU net (over 66k weights).
Without dropout the net fits the flipped labels too; with dropout (rate 0.5 after
each hidden layer) it cannot, and its test error is lower. The best possible test
error is the 20% noise rate.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

import nnlect as nl
from nnlect.experiments._common import Claim, new_figure, plane_grid


def noisy_quadrants(n: int, *, noise: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``x`` ``(n, 2)`` uniform in ``[-1, 1]^2``; ``y`` ``(n,)`` int32 = ``[x1 x2 > 0]``, each flipped with prob. ``noise``."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(n, 2)).astype(np.float32)
    y = (x[:, 0] * x[:, 1] > 0).astype(np.int32)
    flip = rng.uniform(size=n) < noise
    return x, np.where(flip, 1 - y, y).astype(np.int32)


def train_and_test(rate: float, *, seed: int = 0, steps: int = 2000, every: int = 100, n_train: int = 100,
                   n_test: int = 4000, width: int = 256, learning_rate: float = 3e-3, noise: float = 0.2) -> dict:
    """Train ``2 -> width -> width -> 2`` (ReLU, dropout ``rate``) full-batch with Adam.

    Returns:
        ``steps`` (the checkpoints, every ``every`` steps), ``train_error`` and ``test_error``
        at each (``n_test`` test points), ``grid_x`` ``(G, 2)`` and ``grid_probability`` ``(G,)`` (P(y=1) at the end).
    """
    x, y = noisy_quadrants(n_train, noise=noise, seed=seed)
    xt, yt = noisy_quadrants(n_test, noise=noise, seed=seed + 10_000)
    model = nl.mlp([2, width, width, 2], "relu", dropout=rate)
    optimizer = optax.adam(learning_rate)
    state = nl.train.init_state(model.init(jax.random.key(seed)), optimizer)
    chunk = nl.train.make_train_scan(model, nl.softmax_cross_entropy, optimizer, repeat=every)

    def error(params, xs, ys):
        return 1.0 - float(nl.accuracy(model.apply(params, jnp.asarray(xs)), jnp.asarray(ys)))

    out = {"rate": rate, "steps": [], "train_error": [], "test_error": [], "n_test": n_test}
    for done in range(every, steps + 1, every):
        state, _ = chunk(state, jnp.asarray(x), jnp.asarray(y), jax.random.key(seed + 1))
        out["steps"].append(done)
        out["train_error"].append(error(state.params, x, y))
        out["test_error"].append(error(state.params, xt, yt))
    grid, _, _ = plane_grid(-1.0, 1.0, 100)
    out["grid_x"] = grid
    out["grid_probability"] = np.asarray(jax.nn.softmax(model.apply(state.params, jnp.asarray(grid)))[:, 1])
    out["train_x"], out["train_y"] = x, y
    return out


def run(*, seed: int = 0, small: bool = False) -> Claim:
    """The tour's entry: the same net and data without and with dropout."""
    kw = {"seed": seed, "steps": 500 if small else 2000}
    r = {"without": train_and_test(0.0, **kw), "with": train_and_test(0.5, **kw), "noise": 0.2}
    a, b = r["without"], r["with"]
    holds = a["train_error"][-1] < b["train_error"][-1] and b["test_error"][-1] < a["test_error"][-1]
    summary = [
        f"2-256-256-2 ReLU net, 100 noisy training points (20% labels flipped), {a['steps'][-1]} Adam steps:",
        f"without dropout: train error {a['train_error'][-1]:.1%}, test error {a['test_error'][-1]:.1%}; "
        f"with dropout 0.5: train {b['train_error'][-1]:.1%}, test {b['test_error'][-1]:.1%} (best possible 20%)",
    ]
    return Claim("dropout", "Dropout keeps a big net from overfitting a small noisy set", bool(holds), summary, r, plot)


def plot(r: dict):
    """Train and test error over training, and the two decision regions."""
    fig, (ax_e, ax_a, ax_b) = new_figure(3)
    for key, style in (("without", "--"), ("with", "-")):
        res = r[key]
        ax_e.plot(res["steps"], res["train_error"], style, color="tab:blue", label=f"train, {key} dropout")
        ax_e.plot(res["steps"], res["test_error"], style, color="tab:red", label=f"test, {key} dropout")
    ax_e.axhline(r["noise"], color="grey", lw=0.8, label="noise rate (best test error)")
    ax_e.set(xlabel="Adam step", ylabel="error (fraction misclassified)", title="train vs test error", ylim=(-0.02, 0.6))
    ax_e.legend(fontsize=7)
    for ax, key in ((ax_a, "without"), (ax_b, "with")):
        res = r[key]
        n = int(np.sqrt(len(res["grid_probability"])))
        gx, gy = res["grid_x"][:, 0].reshape(n, n), res["grid_x"][:, 1].reshape(n, n)
        ax.contourf(gx, gy, res["grid_probability"].reshape(n, n), levels=[0, 0.5, 1], colors=["#c6dbef", "#fcbba1"])
        x, y = res["train_x"], res["train_y"]
        ax.scatter(*x[y == 1].T, s=14, c="tab:red", label="training point labelled 1")
        ax.scatter(*x[y == 0].T, s=14, c="tab:blue", marker="s", label="training point labelled 0")
        ax.fill_between([], [], color="#fcbba1", label="region the net predicts 1")
        ax.fill_between([], [], color="#c6dbef", label="region the net predicts 0")
        ax.set(title=f"{key} dropout: test error {res['test_error'][-1]:.0%}\n(dots: the {len(y)} training points)",
               xlabel="x1", ylabel="x2", aspect="equal")
    handles, names = ax_b.get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower right", ncols=4, fontsize=8)
    n_train = len(r["with"]["train_y"])
    fig.suptitle(f"{n_train} training points, label = [x1 x2 > 0] with {r['noise']:.0%} of labels flipped; "
                 f"test error on {r['with']['n_test']} fresh points labelled the same way (best possible {r['noise']:.0%})",
                 fontsize=10)
    return fig
