r"""Slides "Non-linear Activation Functions" and "Activation functions": each
function and its derivative, the hand-written derivative checked against
``jax.grad``, and the numbers behind the lecture's remarks:

- sigmoid: :math:`f' = f(1-f) \le 1/4`, so saturated units pass almost no gradient;
- tanh: :math:`f' = 1 - f^2 \le 1`, zero-centred output in :math:`[-1, 1]`;
- ReLU: :math:`f' = 1` for every :math:`x > 0`, "doesn't vanish as we increase x";
  softplus :math:`\log(1 + e^x)` approximates it.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from nnlect import activations
from nnlect.experiments._common import Claim, new_figure

#: The activations the lecture plots, in its order.
PLOTTED = ("sigmoid", "tanh", "relu", "softplus", "leaky_relu", "elu")


def curves(names=PLOTTED, *, low: float = -5.0, high: float = 5.0, n: int = 1001) -> dict:
    r""":math:`f` and the hand-written :math:`f'` on a grid, and their gap to ``jax.grad``.

    Returns:
        ``z`` ``(n,)``; per name: ``value`` and ``derivative`` ``(n,)``,
        ``max_derivative`` and ``derivative_at_5`` (:math:`f'(5)`), and
        ``max_gap_to_autodiff``: max over the grid (kinks excluded) of
        :math:`|f'_{hand} - \mathrm{jax.grad}(f)|`.
    """
    z = np.linspace(low, high, n).astype(np.float32)
    out: dict[str, Any] = {"z": z}
    smooth = np.abs(z) > 1e-3  # relu and friends have no derivative at the kink
    for name in names:
        act = activations.get(name)
        auto = np.asarray(jax.vmap(jax.grad(act.fn))(jnp.asarray(z)))
        hand = np.asarray(act.derivative(z))
        out[name] = {
            "value": np.asarray(act.fn(z)),
            "derivative": hand,
            "max_derivative": float(hand.max()),
            "derivative_at_5": float(act.derivative(np.float32(5.0))),
            "max_gap_to_autodiff": float(np.max(np.abs(hand - auto)[smooth])),
        }
    return out


def run(*, seed: int = 0, small: bool = False) -> Claim:
    """The tour's entry (deterministic: ``seed`` and ``small`` are unused)."""
    del seed, small
    r = curves()
    gap = max(r[name]["max_gap_to_autodiff"] for name in PLOTTED)
    holds = (abs(r["sigmoid"]["max_derivative"] - 0.25) < 1e-3 and abs(r["tanh"]["max_derivative"] - 1.0) < 1e-3
             and r["relu"]["derivative_at_5"] == 1.0 and r["sigmoid"]["derivative_at_5"] < 0.01 and gap < 1e-5)
    summary = [
        f"max f': sigmoid {r['sigmoid']['max_derivative']:.3f}, tanh {r['tanh']['max_derivative']:.3f}, "
        f"relu {r['relu']['max_derivative']:.0f}; at x = 5: sigmoid {r['sigmoid']['derivative_at_5']:.4f}, "
        f"tanh {r['tanh']['derivative_at_5']:.5f}, relu {r['relu']['derivative_at_5']:.0f}",
        f"hand-written derivatives vs jax.grad on [-5, 5]: max |difference| {gap:.1e}",
    ]
    return Claim("activations", "Sigmoid and tanh saturate (f' -> 0), ReLU's gradient does not vanish",
                 bool(holds), summary, r, plot)


def plot(r: dict):
    """The functions (left) and their derivatives (right), like the lecture's plots."""
    fig, (ax_f, ax_d) = new_figure(2, width=4.8)
    for name in PLOTTED:
        ax_f.plot(r["z"], r[name]["value"], label=name)
        ax_d.plot(r["z"], r[name]["derivative"], label=name)
    ax_f.set(xlabel="z", ylabel="f(z)", title="activation functions", ylim=(-1.5, 5))
    ax_d.set(xlabel="z", ylabel="f'(z)", title="their derivatives (hand-written)", ylim=(-0.1, 1.1))
    for ax in (ax_f, ax_d):
        ax.axhline(0, color="grey", lw=0.5)
        ax.axvline(0, color="grey", lw=0.5)
        ax.legend(fontsize=8)
    return fig
