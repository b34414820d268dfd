r"""Rosenblatt's single-layer perceptron (slides "Perceptron Model", "Training Perceptron").

Prediction with the McCulloch-Pitts threshold unit:

.. math::
    \hat y = \varphi\Big(\sum_{i=1}^m w_i x_i + b\Big), \qquad
    \varphi(z) = +1 \text{ if } z \ge 0 \text{ else } -1

Training, one example at a time, labels :math:`y \in \{+1, -1\}`:

.. math::
    w_i \leftarrow w_i + \eta (y - \hat y) x_i, \qquad b \leftarrow b + \eta (y - \hat y)

On linearly separable data the rule stops making mistakes after at most
:math:`(R/\gamma)^2` updates (Novikoff, 1962); on XOR it never can.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from nnlect import _checks, activations
from nnlect.models.base import check_params

Array = Any


class Perceptron(NamedTuple):
    """The model contract plus Rosenblatt's rule.

    - ``init(key) -> {"w": (m,), "b": ()}``
    - ``apply(params, x, *, key=None, train=False) -> (B,)`` of ``+1.0 / -1.0``
    - ``fit(params, x, y, *, eta=1.0, epochs=10, key=None) -> (params, mistakes)``
    """

    init: Callable[..., dict]
    apply: Callable[..., Array]
    fit: Callable[..., tuple[dict, Array]]


def _check_labels(y: Array, n: int) -> None:
    if getattr(y, "ndim", None) != 1 or y.shape[0] != n:
        raise ValueError(f"y: expected shape ({n},) to match x, got {tuple(getattr(y, 'shape', ()))}")
    if _checks.is_concrete(y):
        values = np.unique(np.asarray(y))
        bad = values[(values != 1) & (values != -1)]
        if bad.size:
            raise ValueError(f"y: expected labels in {{+1, -1}}, got {bad[:5].tolist()}")


def perceptron(n_in: int, *, init: str = "zeros", dtype: Any = jnp.float32) -> Perceptron:
    r"""A threshold unit over ``n_in`` inputs.

    Arguments:
        n_in: number of inputs :math:`m`.
        init: ``"zeros"`` (the setting of Novikoff's bound) or ``"normal"`` (small random weights).

    Returns:
        :class:`Perceptron`.
    """
    n_in = _checks.positive_int("n_in", n_in)
    if init not in ("zeros", "normal"):
        raise ValueError(f"init: expected 'zeros' or 'normal', got {init!r}")
    shapes = {"w": (n_in,), "b": ()}

    def init_fn(key: Array) -> dict:
        if init == "zeros":
            return {"w": jnp.zeros((n_in,), dtype), "b": jnp.zeros((), dtype)}
        return {"w": 0.01 * jax.random.normal(key, (n_in,), dtype), "b": jnp.zeros((), dtype)}

    def _check(params: dict, x: Array) -> None:
        _checks.floating_array("x", x, ndim=2)
        if x.shape[1] != n_in:
            raise ValueError(f"x: expected shape (batch, {n_in}), got {tuple(x.shape)}")
        _checks.finite_values("x", x)  # the threshold reads NaN as "below": -1, silently
        check_params({"perceptron": params}, {"perceptron": shapes})

    def apply(params: dict, x: Array, *, key: Array | None = None, train: bool = False) -> Array:
        del key, train  # deterministic: no dropout, no noise
        _check(params, x)
        return activations.step(x @ params["w"] + params["b"])

    @jax.jit
    def _epochs(params, x, y, eta, order):
        def one_example(p, i):
            y_hat = activations.step(x[i] @ p["w"] + p["b"])
            err = y[i] - y_hat  # 0 when right, +-2 when wrong
            p = {"w": p["w"] + eta * err * x[i], "b": p["b"] + eta * err}
            return p, (err != 0).astype(jnp.int32)

        def one_epoch(p, idx):
            p, wrong = jax.lax.scan(one_example, p, idx)
            return p, wrong.sum()

        return jax.lax.scan(one_epoch, params, order)

    def fit(params: dict, x: Array, y: Array, *, eta: float = 1.0, epochs: int = 10,
            key: Array | None = None) -> tuple[dict, Array]:
        """Run Rosenblatt's rule for ``epochs`` passes over ``(x, y)``.

        Arguments:
            x: ``(N, n_in)`` floating inputs.
            y: ``(N,)`` labels in ``{+1, -1}``.
            eta: learning rate :math:`\\eta > 0`.
            key: if given, each epoch visits the examples in a fresh random order.

        Returns:
            ``(params, mistakes)`` with ``mistakes`` of shape ``(epochs,)``: the number of
            updates made in each epoch (0 once every example is classified right).
        """
        _check(params, x)
        _checks.nonempty("x", x, "example (row)")
        eta = _checks.positive("eta", eta)
        if _checks.is_concrete(x):
            # w grows by 2 eta x per mistake, so w.x reaches about 2 eta |x|^2 m: past the
            # dtype's range the sums are inf - inf = NaN and the rule silently stops working.
            peak, limit = float(np.max(np.abs(np.asarray(x)))), float(jnp.finfo(x.dtype).max)
            if 2.0 * eta * peak * peak * n_in > limit:
                raise ValueError(f"x: values up to {peak:.3g} overflow {x.dtype} in w.x (about 2 eta |x|^2 m = "
                                 f"{2.0 * eta * peak * peak * n_in:.3g} > {limit:.3g}); scale the inputs, e.g. to [-1, 1]")
        epochs = _checks.positive_int("epochs", epochs)
        _checks.array("y", y)
        _check_labels(y, x.shape[0])
        n = x.shape[0]
        if key is None:
            order = jnp.tile(jnp.arange(n), (epochs, 1))
        else:
            order = jax.vmap(lambda k: jax.random.permutation(k, n))(jax.random.split(key, epochs))
        fitted, mistakes = _epochs(params, x, jnp.asarray(y, x.dtype), jnp.asarray(eta, x.dtype), order)
        if _checks.is_concrete(fitted["w"]) and not all(np.isfinite(np.asarray(v)).all() for v in fitted.values()):
            peak = float(np.max(np.abs(np.asarray(x))))
            raise FloatingPointError(
                f"x: the weights overflowed to inf/NaN in {x.dtype} (the largest |x| is {peak:.3g}, eta {eta}); "
                "scale the inputs (e.g. to [-1, 1]) or lower eta")
        return fitted, mistakes

    return Perceptron(init_fn, apply, fit)
