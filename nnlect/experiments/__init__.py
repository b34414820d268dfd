"""The lecture's claims as functions that return their numbers and a figure.

Each module has ``run(*, seed=0, small=False) -> Claim`` (see
:class:`nnlect.experiments._common.Claim`: ``holds``, ``summary``, ``numbers``,
``figure()``) plus the lower-level functions it is built from. ``nnlect tour``,
the notebooks in ``examples/`` and the tests all call these same functions.
Everything runs on generated or bundled data (no download), in seconds on a CPU.

Modules are imported on demand, so ``import nnlect`` stays light.
"""

#: The experiments in the lecture's order: module names under ``nnlect.experiments``.
NAMES = ("perceptron", "xor_mlp", "backprop_check", "activations", "approximation",
         "vanishing_gradients", "dropout", "lenet5", "charlm", "time_series")


def load(name: str):
    """The experiment module ``name`` (one of :data:`NAMES`)."""
    import importlib

    if name not in NAMES:
        raise ValueError(f"experiment: expected one of {list(NAMES)}, got {name!r}")
    return importlib.import_module(f"nnlect.experiments.{name}")
