r"""The lecture's activation functions, each with its derivative written by hand.

Every function works elementwise on NumPy arrays (computing in NumPy) and on
JAX arrays or tracers (computing in ``jax.numpy``), so the handwritten backprop
reference in :mod:`nnlect.reference` runs the very same formulas in both.

Derivatives take the pre-activation ``net`` (the lecture's :math:`net_j`) and
return :math:`f'(net)`; where the lecture writes the derivative through the
output (sigmoid: :math:`f(1-f)`, tanh: :math:`1-f^2`) we compute it that way.

====================  ===========================================  ==============================
name                  :math:`f(z)`                                 :math:`f'(z)`
====================  ===========================================  ==============================
``step``              :math:`+1` if :math:`z \ge 0` else :math:`-1`  0 (almost everywhere)
``sigmoid``           :math:`1/(1+e^{-z})`                          :math:`f(1-f)`
``tanh``              :math:`(1-e^{-2z})/(1+e^{-2z})`               :math:`1-f^2`
``relu``              :math:`\max(0, z)`                            :math:`1[z>0]`
``leaky_relu``        :math:`z` if :math:`z>0` else :math:`az`      1 or :math:`a`
``elu``               :math:`z` if :math:`z>0` else :math:`a(e^z-1)` 1 or :math:`ae^z`
``softplus``          :math:`\log(1+e^z)`                           :math:`\sigma(z)`
``noisy_relu``        :math:`\max(0, z + N(0, s^2))`                :math:`1[z+\epsilon>0]`
``maxout``            :math:`\max_k z_{\cdot k}` over k pieces      one-hot of the argmax
====================  ===========================================  ==============================
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

Array = Any

LEAKY_SLOPE = 0.01
ELU_ALPHA = 1.0


def _xp(x: Array):
    """NumPy for NumPy inputs, jax.numpy for everything else (arrays, tracers)."""
    return np if isinstance(x, (np.ndarray, np.generic)) else jnp


def _arrays_only(fn):
    """Let ``fn(z, ...)`` take a Python number too, as a JAX scalar of the default float dtype."""

    @functools.wraps(fn)
    def wrapped(z, *args, **kwargs):
        if isinstance(z, (int, float)) and not isinstance(z, bool):
            z = jnp.asarray(z, jnp.result_type(float))
        return fn(z, *args, **kwargs)

    return wrapped


@_arrays_only
def step(z: Array) -> Array:
    r"""The perceptron's threshold :math:`\varphi(z) = +1` if :math:`z \ge 0` else :math:`-1`."""
    xp = _xp(z)
    return xp.where(z >= 0, 1.0, -1.0).astype(z.dtype)


@_arrays_only
def step_derivative(z: Array) -> Array:
    """Zero everywhere but at 0, where it is undefined: why Rosenblatt needs his own rule."""
    return _xp(z).zeros_like(z)


@_arrays_only
def sigmoid(z: Array) -> Array:
    r""":math:`\sigma(z) = 1/(1+e^{-z})`, computed as :math:`(1+\tanh(z/2))/2` so it never overflows."""
    return 0.5 * (1.0 + _xp(z).tanh(0.5 * z))


@_arrays_only
def sigmoid_derivative(z: Array) -> Array:
    r""":math:`\sigma'(z) = \sigma(z)(1-\sigma(z))` (lecture: ``out (1 - out)``)."""
    s = sigmoid(z)
    return s * (1.0 - s)


@_arrays_only
def tanh(z: Array) -> Array:
    r""":math:`\tanh(z) = (1-e^{-2z})/(1+e^{-2z})`."""
    return _xp(z).tanh(z)


@_arrays_only
def tanh_derivative(z: Array) -> Array:
    r""":math:`\tanh'(z) = 1 - \tanh(z)^2`."""
    t = _xp(z).tanh(z)
    return 1.0 - t * t


@_arrays_only
def relu(z: Array) -> Array:
    r""":math:`\mathrm{ReLU}(z) = \max(0, z)`.

    In JAX this is ``jax.nn.relu``, whose custom JVP takes the derivative at the kink
    to be 0 as the lecture does (a bare ``maximum`` would split it 0.5 / 0.5), and
    which, unlike ``where(z > 0, z, 0)`` or ``z * (z > 0)`` under XLA's simplifier,
    passes a NaN on instead of silently turning it into 0.
    """
    if _xp(z) is np:
        return np.maximum(z, 0.0).astype(z.dtype)
    return jax.nn.relu(z)


@_arrays_only
def relu_derivative(z: Array) -> Array:
    r""":math:`1` if :math:`z > 0` else :math:`0` (the lecture takes 0 at the kink)."""
    return (z > 0).astype(z.dtype)


@_arrays_only
def leaky_relu(z: Array, negative_slope: float = LEAKY_SLOPE) -> Array:
    r""":math:`z` for :math:`z > 0`, :math:`a z` otherwise (slope ``a`` = ``negative_slope``)."""
    return _xp(z).where(z > 0, z, negative_slope * z)


@_arrays_only
def leaky_relu_derivative(z: Array, negative_slope: float = LEAKY_SLOPE) -> Array:
    r""":math:`1` for :math:`z > 0`, :math:`a` otherwise."""
    xp = _xp(z)
    return xp.where(z > 0, 1.0, negative_slope).astype(z.dtype)


@_arrays_only
def elu(z: Array, alpha: float = ELU_ALPHA) -> Array:
    r"""Exponential linear unit: :math:`z` for :math:`z > 0`, :math:`\alpha(e^z - 1)` otherwise."""
    xp = _xp(z)
    return xp.where(z > 0, z, alpha * xp.expm1(xp.minimum(z, 0.0)))


@_arrays_only
def elu_derivative(z: Array, alpha: float = ELU_ALPHA) -> Array:
    r""":math:`1` for :math:`z > 0`, :math:`\alpha e^z` otherwise."""
    xp = _xp(z)
    return xp.where(z > 0, 1.0, alpha * xp.exp(xp.minimum(z, 0.0))).astype(z.dtype)


@_arrays_only
def softplus(z: Array) -> Array:
    r""":math:`\log(1 + e^z)`, the smooth approximation of ReLU (stable for large :math:`|z|`)."""
    return _xp(z).logaddexp(0.0, z).astype(z.dtype)


@_arrays_only
def softplus_derivative(z: Array) -> Array:
    r""":math:`\mathrm{softplus}'(z) = \sigma(z)`."""
    return sigmoid(z)


def _noise(z: Array, key: Array | None, stddev: float) -> Array:
    if key is None:
        raise ValueError(
            "noisy_relu: key is None; the noise needs a PRNG key: pass key=jax.random.key(seed), "
            "or call with train=False for the noiseless ReLU"
        )
    return stddev * jax.random.normal(key, jnp.shape(z), jnp.result_type(z))


@_arrays_only
def noisy_relu(z: Array, *, key: Array | None, stddev: float = 1.0) -> Array:
    r"""Noisy ReLU :math:`\max(0, z + \epsilon)`, :math:`\epsilon \sim N(0, s^2)`, ``s`` = ``stddev``.

    The lecture writes :math:`N(0, \delta(x))`; we take a constant standard
    deviation. At evaluation time use :func:`relu` (the noise has mean zero).
    """
    return jnp.maximum(z + _noise(z, key, stddev), 0.0)


@_arrays_only
def noisy_relu_derivative(z: Array, *, key: Array | None, stddev: float = 1.0) -> Array:
    r""":math:`1[z + \epsilon > 0]` for the same :math:`\epsilon` (same ``key``) as the forward pass."""
    return (z + _noise(z, key, stddev) > 0).astype(jnp.result_type(z))


@_arrays_only
def maxout(z: Array, pieces: int) -> Array:
    r"""Maxout: the max over ``pieces`` linear pieces, :math:`h_j = \max_k z_{j,k}`.

    Arguments:
        z: ``(..., n * pieces)`` pre-activations, laid out as ``n`` groups of ``pieces``.
        pieces: ``k``, the number of linear pieces per unit.

    Returns:
        ``(..., n)``.
    """
    return _pieces(z, pieces).max(axis=-1)


def _pieces(z: Array, pieces: int) -> Array:
    """``(..., n * pieces)`` -> ``(..., n, pieces)``, refusing a width that does not divide."""
    if z.shape[-1] % pieces:
        raise ValueError(f"maxout: last axis of z ({z.shape[-1]}) must divide by pieces={pieces}")
    return z.reshape(*z.shape[:-1], z.shape[-1] // pieces, pieces)


@_arrays_only
def maxout_derivative(z: Array, pieces: int) -> Array:
    r""":math:`\partial h_j / \partial z_{j,k}`: one-hot on the winning piece, shape of ``z``."""
    xp = _xp(z)
    winner = _pieces(z, pieces).argmax(axis=-1)[..., None]
    onehot = (xp.arange(pieces).reshape((1,) * (winner.ndim - 1) + (pieces,)) == winner).astype(z.dtype)
    return onehot.reshape(z.shape)


class Activation(NamedTuple):
    """An activation and its hand derivative, both taking the pre-activation ``net``."""

    fn: Callable[..., Array]
    derivative: Callable[..., Array]


#: The elementwise activations by name (maxout and noisy_relu take extra arguments).
ACTIVATIONS: dict[str, Activation] = {
    "identity": Activation(lambda z: z, lambda z: _xp(z).ones_like(z)),
    "step": Activation(step, step_derivative),
    "sigmoid": Activation(sigmoid, sigmoid_derivative),
    "tanh": Activation(tanh, tanh_derivative),
    "relu": Activation(relu, relu_derivative),
    "leaky_relu": Activation(leaky_relu, leaky_relu_derivative),
    "elu": Activation(elu, elu_derivative),
    "softplus": Activation(softplus, softplus_derivative),
    "noisy_relu": Activation(noisy_relu, noisy_relu_derivative),
    "maxout": Activation(maxout, maxout_derivative),
}


def get(name: str, *, argument: str = "activation") -> Activation:
    """Look an activation up by name; an unknown name lists the known ones."""
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(f"{argument}: expected one of {sorted(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]
