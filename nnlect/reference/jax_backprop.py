r"""The delta rule of :mod:`nnlect.reference.numpy_backprop`, compiled by ``jax.jit``.

The formulas are the same lines of code (they dispatch on the array namespace);
here they are traced into one XLA computation. No ``jax.grad`` is involved:
this is the handwritten backward pass the benchmark races against autodiff.
"""

from __future__ import annotations

import functools

import jax

from nnlect.reference import numpy_backprop

_STATIC = ("activation", "output_activation", "loss")


def _hashable(kwargs: dict) -> dict:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}


@functools.partial(jax.jit, static_argnames=_STATIC)
def _gradients(params, x, d, *, activation, output_activation, loss):
    return numpy_backprop.gradients(params, x, d, activation=activation,
                                    output_activation=output_activation, loss=loss)


@functools.partial(jax.jit, static_argnames=_STATIC, donate_argnums=0)
def _sgd_step(params, x, d, eta, *, activation, output_activation, loss):
    return numpy_backprop.sgd_step(params, x, d, eta=eta, activation=activation,
                                   output_activation=output_activation, loss=loss)


def gradients(params, x, d, *, activation="sigmoid", output_activation="sigmoid", loss="half_squared_error"):
    """Jitted :func:`nnlect.reference.numpy_backprop.gradients` (same arguments and result)."""
    return _gradients(params, x, d, **_hashable(dict(activation=activation, output_activation=output_activation, loss=loss)))


def sgd_step(params, x, d, *, eta, activation="sigmoid", output_activation="sigmoid", loss="half_squared_error"):
    """Jitted :func:`nnlect.reference.numpy_backprop.sgd_step`; ``params`` is donated (updated in place)."""
    return _sgd_step(params, x, d, eta, **_hashable(dict(activation=activation, output_activation=output_activation, loss=loss)))
