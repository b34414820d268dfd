"""Slides "Properties of Perceptron": Rosenblatt's rule converges on linearly
separable data (Novikoff) and cannot learn XOR (Minsky and Papert)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import nnlect as nl
from nnlect.data import toy
from nnlect.experiments._common import Claim, new_figure


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
        "seed": seed,
        "n": n,
        "margin": margin,
        "mistakes_separable": np.asarray(mistakes).tolist(),
        "accuracy_separable": acc,
        "novikoff_bound": (r / margin) ** 2,
        "total_updates_separable": int(np.sum(mistakes)),
        "mistakes_xor": np.asarray(xmistakes).tolist(),
        "accuracy_xor": xacc,
        "params_separable": jax.tree.map(np.asarray, params),
        "params_xor": jax.tree.map(np.asarray, xparams),
    }


def run(*, seed: int = 0, small: bool = False) -> Claim:
    """The tour's entry: :func:`separable_vs_xor` as a :class:`~nnlect.experiments._common.Claim`."""
    r = separable_vs_xor(seed=seed, epochs=12 if small else 20)
    holds = (r["accuracy_separable"] == 1.0 and r["accuracy_xor"] < 1.0
             and r["total_updates_separable"] <= r["novikoff_bound"])
    summary = [
        f"separable data: mistakes per epoch {r['mistakes_separable'][:8]}..., accuracy {r['accuracy_separable']:.0%}; "
        f"{r['total_updates_separable']} updates <= Novikoff bound (R/gamma)^2 = {r['novikoff_bound']:.0f}",
        f"XOR: mistakes per epoch {r['mistakes_xor'][:8]}..., accuracy {r['accuracy_xor']:.0%} "
        "(never 100%: not linearly separable)",
    ]
    return Claim("perceptron", "The perceptron converges on separable data and cannot learn XOR",
                 bool(holds), summary, r, plot)


def _boundary(ax, params, low: float, high: float) -> None:
    """Draw the line w . x + b = 0 across [low, high]."""
    w, b = np.asarray(params["w"], np.float64), float(params["b"])
    xs = np.linspace(low, high, 2)
    if abs(w[1]) > 1e-12:
        ax.plot(xs, -(w[0] * xs + b) / w[1], "k-", lw=1.5, label="w.x + b = 0")
    elif abs(w[0]) > 1e-12:
        ax.axvline(-b / w[0], color="k", lw=1.5, label="w.x + b = 0")
    ax.set_xlim(low, high)
    ax.set_ylim(low, high)


def plot(r: dict):
    """Mistakes per epoch for both sets, and the learned line on each."""
    fig, (ax_m, ax_s, ax_x) = new_figure(3)
    epochs = np.arange(1, len(r["mistakes_separable"]) + 1)
    ax_m.plot(epochs, r["mistakes_separable"], "o-", label="separable")
    ax_m.plot(epochs, r["mistakes_xor"], "s-", label="XOR")
    ax_m.set(xlabel="epoch", ylabel="mistakes (updates) in the epoch", title="Rosenblatt's rule")
    ax_m.legend()

    x, y, _ = toy.linearly_separable(r["n"], margin=r["margin"], seed=r["seed"])
    ax_s.scatter(*x[y > 0].T, s=10, c="tab:blue", label="+1")
    ax_s.scatter(*x[y < 0].T, s=10, c="tab:red", label="-1")
    _boundary(ax_s, r["params_separable"], -1.1, 1.1)
    ax_s.set(title=f"separable: accuracy {r['accuracy_separable']:.0%}", aspect="equal")

    xx, xy = toy.xor("sign")
    ax_x.scatter(*xx[xy > 0].T, s=80, c="tab:blue", label="+1")
    ax_x.scatter(*xx[xy < 0].T, s=80, c="tab:red", marker="s", label="-1")
    _boundary(ax_x, r["params_xor"], -0.5, 1.5)
    ax_x.set(title=f"XOR: accuracy {r['accuracy_xor']:.0%} (no line works)", aspect="equal")
    ax_x.legend(loc="upper right")
    return fig
