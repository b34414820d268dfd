r"""Weight initializers: draw a ``(fan_in, fan_out)`` matrix whose scale keeps
the variance of :math:`net_j` roughly constant from layer to layer.

========  ==================================================  ======================
name      distribution                                        suits
========  ==================================================  ======================
lecun     :math:`N(0, 1/\mathrm{fan\_in})`                    tanh, selu-like units
glorot    :math:`U(\pm\sqrt{6/(\mathrm{fan\_in}+\mathrm{fan\_out})})`  sigmoid, tanh
he        :math:`N(0, 2/\mathrm{fan\_in})`                    relu and its variants
========  ==================================================  ======================

Each is ``init(key, shape, dtype=jnp.float32) -> array``; for convolution
kernels ``(kh, kw, c_in, c_out)`` the receptive field counts into both fans.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

Initializer = Callable[..., jax.Array]


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight ``(..., n_in, n_out)``; leading axes are the receptive field."""
    if len(shape) < 2:
        raise ValueError(f"shape: expected a weight shape (..., n_in, n_out) of at least 2 axes, got {tuple(shape)}")
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def lecun(key: jax.Array, shape: tuple[int, ...], dtype: Any = jnp.float32) -> jax.Array:
    """LeCun normal: standard deviation ``1/sqrt(fan_in)``."""
    fan_in, _ = _fans(shape)
    return jax.random.normal(key, shape, dtype) * math.sqrt(1.0 / fan_in)


def glorot(key: jax.Array, shape: tuple[int, ...], dtype: Any = jnp.float32) -> jax.Array:
    """Glorot (Xavier) uniform: limit ``sqrt(6 / (fan_in + fan_out))``."""
    fan_in, fan_out = _fans(shape)
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return jax.random.uniform(key, shape, dtype, -limit, limit)


def he(key: jax.Array, shape: tuple[int, ...], dtype: Any = jnp.float32) -> jax.Array:
    """He (Kaiming) normal: standard deviation ``sqrt(2/fan_in)``."""
    fan_in, _ = _fans(shape)
    return jax.random.normal(key, shape, dtype) * math.sqrt(2.0 / fan_in)


INITIALIZERS: dict[str, Initializer] = {"lecun": lecun, "glorot": glorot, "he": he}

#: The initializer each activation gets when none is asked for.
DEFAULT_FOR_ACTIVATION = {
    "sigmoid": "glorot", "tanh": "glorot", "softplus": "glorot", "identity": "lecun", "step": "lecun",
    "relu": "he", "leaky_relu": "he", "elu": "he", "noisy_relu": "he", "maxout": "he",
}


def get(name: str, *, argument: str = "init") -> Initializer:
    """Look an initializer up by name; an unknown name lists the known ones."""
    if name not in INITIALIZERS:
        raise ValueError(f"{argument}: expected one of {sorted(INITIALIZERS)}, got {name!r}")
    return INITIALIZERS[name]
