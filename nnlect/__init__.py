"""nnlect: a classic neural-networks lecture as fast, pure JAX functions.

>>> import jax, nnlect as nl
>>> model = nl.mlp([784, 512, 512, 10], activation="relu", dropout=0.5)
>>> params = model.init(jax.random.key(0))

Modules map to the lecture's topics: :mod:`~nnlect.activations`,
:mod:`~nnlect.losses`, :mod:`~nnlect.dropout`, :mod:`~nnlect.initializers`,
:mod:`~nnlect.models` (perceptron, MLP, LeNet-5, Elman RNN),
:mod:`~nnlect.reference` (backprop by hand), :mod:`~nnlect.train`,
:mod:`~nnlect.data`.
"""

from nnlect import activations, checkpoint, initializers, lm, losses, parallel, reference, train
from nnlect.dropout import dropout
from nnlect.losses import accuracy, half_squared_error, softmax_cross_entropy
from nnlect.models import Model, Perceptron, cnn, count_params, elman_rnn, lenet5, mlp, perceptron

__version__ = "0.1.0"

__all__ = [
    "Model", "Perceptron", "accuracy", "activations", "checkpoint", "cnn", "count_params", "dropout", "elman_rnn",
    "half_squared_error", "initializers", "lenet5", "lm", "losses", "mlp", "parallel", "perceptron",
    "reference", "softmax_cross_entropy", "train",
]
