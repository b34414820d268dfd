"""The lecture's backpropagation written by hand: no autodiff anywhere.

- :mod:`nnlect.reference.numpy_backprop`: the delta rule for an MLP, in NumPy.
- :mod:`nnlect.reference.jax_backprop`: the same formulas traced by ``jax.jit`` in ``jax.numpy``.
- :mod:`nnlect.reference.numpy_bptt`: backpropagation through time for the Elman RNN, in NumPy.

Both must agree with ``jax.grad`` (tests), and the benchmark suite races them.
"""

from nnlect.reference import jax_backprop, numpy_backprop, numpy_bptt

__all__ = ["jax_backprop", "numpy_backprop", "numpy_bptt"]
