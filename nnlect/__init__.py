"""nnlect: a classic neural-networks lecture as fast, pure JAX functions.

>>> import jax, nnlect as nl
>>> model = nl.mlp([784, 512, 512, 10], activation="relu", dropout=0.5)
>>> params = model.init(jax.random.key(0))

Modules map to the lecture's topics: :mod:`~nnlect.activations`,
:mod:`~nnlect.losses`, :mod:`~nnlect.regularization` (dropout), :mod:`~nnlect.initializers`,
:mod:`~nnlect.layers` (the modules networks are composed from: ``nl.serial``, ``nl.build``),
:mod:`~nnlect.models` (perceptron, MLP, LeNet-5, Elman RNN),
:mod:`~nnlect.reference` (backprop by hand), :mod:`~nnlect.train`,
:mod:`~nnlect.data`.
"""

from typing import TYPE_CHECKING

from nnlect import activations, initializers, layers, losses, parallel, regularization, train
from nnlect.layers import serial
from nnlect.losses import accuracy, half_squared_error, softmax_cross_entropy
from nnlect.models import Model, Perceptron, build, count_params
from nnlect.models.cnn import cnn, lenet5
from nnlect.models.lenet1998 import lenet5_1998
from nnlect.models.mlp import mlp
from nnlect.models.perceptron import perceptron
from nnlect.models.rnn import elman_rnn
from nnlect.regularization import dropout

if TYPE_CHECKING:
    from nnlect import checkpoint, data, lm, reference

_LAZY = ("checkpoint", "data", "lm", "reference")  # imported on first use: `import nnlect` stays light


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return importlib.import_module(f"nnlect.{name}")
    raise AttributeError(f"module 'nnlect' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


def _version() -> str:
    """``[project] version`` of pyproject.toml, the one place the version lives: read from the
    installed metadata, or, in a source tree that was never installed, from that file itself."""
    import importlib.metadata
    import pathlib
    import tomllib

    try:
        return importlib.metadata.version("nnlect")
    except importlib.metadata.PackageNotFoundError:
        pyproject = pathlib.Path(__file__).resolve().parent.parent / "pyproject.toml"
        try:
            return tomllib.loads(pyproject.read_text())["project"]["version"]
        except (OSError, KeyError, tomllib.TOMLDecodeError):
            return "0+unknown"


__version__ = _version()

__all__ = [
    "Model", "Perceptron", "accuracy", "activations", "build", "checkpoint", "cnn", "count_params", "data", "dropout",
    "elman_rnn", "half_squared_error", "initializers", "layers", "lenet5", "lenet5_1998", "lm", "losses", "mlp", "parallel",
    "perceptron", "reference", "regularization", "serial", "softmax_cross_entropy", "train",
]
