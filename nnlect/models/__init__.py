"""Models: the :class:`Model` contract, :func:`build`, and the lecture's named networks.

The factories live in modules named after their topic and are re-exported at the top
level (``nl.mlp``, ``nl.cnn``, ``nl.lenet5``, ``nl.elman_rnn``, ``nl.perceptron``); this
package binds no function to a module's name, so ``import nnlect.models.cnn`` is the module.
"""

from nnlect.models.base import Model, build, count_params
from nnlect.models.perceptron import Perceptron
from nnlect.models.rnn import RecurrentModel

__all__ = ["Model", "Perceptron", "RecurrentModel", "build", "count_params"]
