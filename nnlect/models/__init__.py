"""Model factories; each returns a NamedTuple of pure functions (see :mod:`nnlect.models.base`)."""

from nnlect.models.base import Model, count_params
from nnlect.models.cnn import cnn, lenet5
from nnlect.models.mlp import mlp
from nnlect.models.perceptron import Perceptron, perceptron
from nnlect.models.rnn import RecurrentModel, elman_rnn

__all__ = ["Model", "Perceptron", "RecurrentModel", "cnn", "count_params", "elman_rnn", "lenet5", "mlp", "perceptron"]
