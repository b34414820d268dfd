"""Model factories; each returns a NamedTuple of pure functions (see :mod:`nnlect.models.base`)."""

from nnlect.models.base import Model, count_params
from nnlect.models.mlp import mlp
from nnlect.models.perceptron import Perceptron, perceptron

__all__ = ["Model", "Perceptron", "count_params", "mlp", "perceptron"]
