r"""Regularization: dropout (Srivastava et al., 2014): on each training step, drop every unit
with probability ``rate`` and scale the survivors by :math:`1/(1-\text{rate})`
("inverted" dropout), so evaluation is the identity and needs no rescaling.

``rate`` is the probability of DROPPING a unit, not of keeping it (stax's
``Dropout(rate)`` is the keep probability; we do the opposite, like Flax).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from nnlect import _checks

Array = Any


def dropout(x: Array, rate: float, *, key: Array | None, train: bool = True) -> Array:
    r"""Zero each entry of ``x`` with probability ``rate``; scale the rest by :math:`1/(1-\text{rate})`.

    Arguments:
        x: any shape, floating.
        rate: the DROP probability, a Python float in ``[0, 1)``.
        key: a PRNG key (``jax.random.key``); required when ``train`` and ``rate > 0``.
        train: when False, return ``x`` unchanged.

    Returns:
        An array of ``x``'s shape and dtype; :math:`E[\text{out}] = x`.
    """
    rate = _checks.rate("rate", rate)
    _checks.floating_array("x", x)
    if not train or rate == 0.0:
        return x
    if key is None:
        raise ValueError(
            f"dropout: train=True with rate={rate} needs a PRNG key; call with key=jax.random.key(seed) "
            "(derive a fresh one per step, e.g. jax.random.fold_in(key, step)), or pass train=False"
        )
    keep = jax.random.bernoulli(key, 1.0 - rate, jnp.shape(x))
    return jnp.where(keep, x / (1.0 - rate), jnp.zeros((), x.dtype)).astype(x.dtype)
