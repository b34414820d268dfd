"""Slide "Universal Approximation Theorem": one hidden layer approximates a
continuous function on a compact set, better as it widens."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

import nnlect as nl
from nnlect.data import toy
from nnlect.experiments._common import Claim, new_figure


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
    return {"widths": list(widths), "mse": [f["mse"] for f in fits], "fits": fits,
            "function": kwargs.get("function", "sin")}


def run(*, seed: int = 0, small: bool = False) -> Claim:
    """The tour's entry: :func:`error_vs_width` as a :class:`~nnlect.experiments._common.Claim`.

    The claim holds when the widest net's error is over 100x below the narrowest's and
    the error never rises more than 2x from one width to the next (room for
    optimization noise).
    """
    widths = (2, 8, 32) if small else (1, 2, 4, 8, 16, 32, 64)
    r = error_vs_width(widths, seed=seed)
    mse = r["mse"]
    holds = mse[-1] * 100 < mse[0] and all(b < 2 * a for a, b in zip(mse, mse[1:]))
    summary = ["1 -> width -> 1 ReLU net fitting sin on [-pi, pi]: mean squared error "
               + ", ".join(f"{e:.1e} (width {w})" for w, e in zip(widths, mse))]
    return Claim("approximation", "One hidden layer approximates a continuous function, better as it widens",
                 bool(holds), summary, r, plot)


def plot(r: dict):
    """The fits of a few widths over the target, and the error against the width (log-log)."""
    fig, (ax_f, ax_e) = new_figure(2, width=4.8)
    fits = r["fits"]
    shown = fits if len(fits) <= 4 else [fits[i] for i in sorted({0, 1, len(fits) // 2, len(fits) - 1})]
    ax_f.plot(fits[0]["x"], fits[0]["target"], "k-", lw=3, alpha=0.35, label=f"target {r['function']}(x)")
    for f in shown:
        ax_f.plot(f["x"], f["prediction"], lw=1.3, label=f"width {f['width']}")
    ax_f.set(xlabel="x", ylabel="y", title="1 -> width -> 1 ReLU network")
    ax_f.legend(fontsize=8)
    ax_e.loglog(r["widths"], r["mse"], "o-")
    ax_e.set(xlabel="hidden units (width)", ylabel="mean squared error on a dense grid",
             title="error vs width")
    ax_e.grid(True, which="both", alpha=0.3)
    return fig
