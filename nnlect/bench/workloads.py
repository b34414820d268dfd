r"""The benchmark's workloads: one training step (forward, backward, optimizer update)
of a lecture model on one fixed minibatch, with an analytic FLOP count.

Every implementation (:mod:`nnlect.bench.impls_jax`, ``impls_numpy``, ``impls_flax``,
``impls_torch``) starts from the SAME initial params (:func:`initial_params`, NumPy
arrays in the :mod:`nnlect` layout) and trains on the SAME batch (:func:`batch`), so
their losses agree step by step (checked before any timing).

FLOPs per step count the matrix products and convolutions only (elementwise work is
small next to them except for ``xor``, where nothing is big, and the small RNN): a layer whose forward
pass costs :math:`F = 2 B\, n_{in} n_{out}` costs :math:`F` again for
:math:`\partial E/\partial w` and :math:`F` again for the :math:`\delta` sent to the
layer below (not needed below the first layer), so a step is :math:`3\sum F - F_1`.
An "example" is one input row (one image, one XOR point); for the RNN it is one
character (``batch * T`` per step).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import numpy as np

import nnlect as nl
from nnlect import losses
from nnlect.data import toy
from nnlect.models.base import Model


@dataclasses.dataclass(frozen=True)
class Workload:
    """One benchmark case.

    Attributes:
        name: row id in the results (``"mlp"``, ``"mlp_b1024"``, ``"rnn_small"``, ...).
        family: ``"xor"``, ``"mlp"``, ``"lenet5"`` or ``"rnn"``.
        batch: examples (sequences for the RNN) per step.
        optimizer: ``"sgd"`` or ``"adam"``; ``learning_rate`` its step size.
        config: the family's sizes (``sizes`` for MLPs; ``hidden``, ``steps``, ``vocab`` for RNNs).
        fused_steps: K, the steps per XLA call of the fused (``lax.scan``) implementation.
        sweep: True for the extra batch sizes of the MLP sweep (fewer implementations run them).
    """

    name: str
    family: str
    batch: int
    optimizer: str
    learning_rate: float
    config: dict
    fused_steps: int
    sweep: bool = False

    @property
    def examples_per_step(self) -> int:
        return self.batch * self.config.get("steps", 1)

    @property
    def flops_per_step(self) -> float:
        """Matmul and convolution FLOPs of one training step (see the module docstring)."""
        layers = _forward_flops(self)
        return float(3 * sum(layers) - layers[0])


def _forward_flops(w: Workload) -> list[float]:
    """Forward FLOPs of each weight layer, first layer first."""
    b = w.batch
    if w.family in ("xor", "mlp"):
        s = w.config["sizes"]
        return [2.0 * b * s[i] * s[i + 1] for i in range(len(s) - 1)]
    if w.family == "lenet5":
        # C1 5x5, 1 -> 6 maps at 28x28; C3 5x5, 6 -> 16 maps at 10x10; C5 400->120, F6, output.
        return [2.0 * b * 28 * 28 * 6 * 25 * 1, 2.0 * b * 10 * 10 * 16 * 25 * 6,
                2.0 * b * 400 * 120, 2.0 * b * 120 * 84, 2.0 * b * 84 * 10]
    if w.family == "rnn":
        h, t, v = w.config["hidden"], w.config["steps"], w.config["vocab"]
        # Per time step h_{t-1} W_hh and h_t W_hy; the input term W_xh x_t of a one-hot x_t
        # is a row lookup (nnlect, the references), not counted. Both layers also send a
        # delta below them (through time, and into h_t), hence the explicit 0 first layer.
        return [0.0, 2.0 * b * t * h * h, 2.0 * b * t * h * v]
    raise ValueError(f"family: unknown workload family {w.family!r}")


def make_model(w: Workload, compute_dtype=None) -> Model:
    """The :mod:`nnlect` model of a workload; ``compute_dtype`` (e.g. ``jnp.bfloat16``) is the
    models' precision policy: float32 params, products in that dtype, float32 loss."""
    if w.family == "xor":
        return nl.mlp(w.config["sizes"], "sigmoid", output_activation="sigmoid", compute_dtype=compute_dtype)
    if w.family == "mlp":
        return nl.mlp(w.config["sizes"], "relu", compute_dtype=compute_dtype)
    if w.family == "lenet5":
        return nl.lenet5(compute_dtype=compute_dtype)
    if w.family == "rnn":
        c = w.config
        return nl.elman_rnn(c["vocab"], c["hidden"], c["vocab"], compute_dtype=compute_dtype)
    raise ValueError(f"family: unknown workload family {w.family!r}")


def loss_fn(w: Workload):
    """``loss(model_output, targets) -> scalar`` of a workload (a :mod:`nnlect.losses` function)."""
    return losses.half_squared_error if w.family == "xor" else losses.softmax_cross_entropy


def initial_params(w: Workload, seed: int = 0) -> dict:
    """The shared starting point: the nnlect model's init, as NumPy float32 arrays."""
    params = make_model(w).init(jax.random.key(seed))
    return jax.tree_util.tree_map(lambda a: np.asarray(a, np.float32), params)


def batch(w: Workload, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The one minibatch every step trains on, as NumPy arrays ``(x, targets)``.

    - xor: the four points ``(4, 2)`` and targets ``(4, 1)``;
    - mlp: ``(B, 784)`` uniform pixels and ``(B,)`` int32 labels;
    - lenet5: ``(B, 28, 28, 1)`` NHWC images and ``(B,)`` labels;
    - rnn: ``(B, T)`` int32 characters and the ``(B, T)`` next characters.
    """
    rng = np.random.default_rng(seed)
    if w.family == "xor":
        return toy.xor()
    if w.family == "mlp":
        s = w.config["sizes"]
        return rng.random((w.batch, s[0]), np.float32), rng.integers(0, s[-1], w.batch).astype(np.int32)
    if w.family == "lenet5":
        return (rng.random((w.batch, 28, 28, 1), np.float32),
                rng.integers(0, 10, w.batch).astype(np.int32))
    if w.family == "rnn":
        t, v = w.config["steps"], w.config["vocab"]
        text = rng.integers(0, v, (w.batch, t + 1)).astype(np.int32)
        return text[:, :-1], text[:, 1:]
    raise ValueError(f"family: unknown workload family {w.family!r}")


MLP_SWEEP = (32, 128, 512, 1024, 4096)


def suite(mode: str = "full") -> list[Workload]:
    """The fixed list of workloads.

    Arguments:
        mode: ``"full"`` (the issue's sizes and the batch sweep 32..4096), ``"quick"`` (the
            same sizes, a sweep of two batches) or ``"tiny"`` (toy sizes for the tests).
    """
    if mode not in ("full", "quick", "tiny"):
        raise ValueError(f"mode: expected 'full', 'quick' or 'tiny', got {mode!r}")
    if mode == "tiny":
        return [
            Workload("xor", "xor", 4, "sgd", 0.5, {"sizes": [2, 2, 1]}, fused_steps=8),
            Workload("mlp", "mlp", 8, "adam", 1e-3, {"sizes": [20, 16, 16, 10]}, fused_steps=4),
            Workload("lenet5", "lenet5", 2, "adam", 1e-3, {}, fused_steps=2),
            Workload("rnn", "rnn", 2, "sgd", 0.1, {"hidden": 8, "steps": 5, "vocab": 11}, fused_steps=2),
        ]
    sweep = MLP_SWEEP if mode == "full" else (32, 4096)
    mlp_sizes = [784, 512, 512, 10]
    return [
        Workload("xor", "xor", 4, "sgd", 0.5, {"sizes": [2, 2, 1]}, fused_steps=1000),
        Workload("mlp", "mlp", 256, "adam", 1e-3, {"sizes": mlp_sizes}, fused_steps=10),
        *[Workload(f"mlp_b{b}", "mlp", b, "adam", 1e-3, {"sizes": mlp_sizes},
                   fused_steps=max(1, 2560 // b), sweep=True) for b in sweep],
        Workload("lenet5", "lenet5", 128, "adam", 1e-3, {}, fused_steps=10),
        Workload("rnn", "rnn", 32, "sgd", 0.1, {"hidden": 256, "steps": 100, "vocab": 65}, fused_steps=4),
        Workload("rnn_small", "rnn", 1, "sgd", 0.1, {"hidden": 100, "steps": 25, "vocab": 65}, fused_steps=100),
    ]


def by_name(names: list[str] | None, mode: str) -> list[Workload]:
    """The workloads of ``suite(mode)`` whose name or family is in ``names`` (all for None)."""
    all_ = suite(mode)
    if not names:
        return all_
    known = {w.name for w in all_} | {w.family for w in all_}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"workloads: unknown {unknown}; expected names or families from {sorted(known)}")
    return [w for w in all_ if w.name in names or w.family in names]


def as_dict(w: Workload) -> dict[str, Any]:
    """The JSON description of a workload (stored with every result row)."""
    return {"name": w.name, "family": w.family, "batch": w.batch, "optimizer": w.optimizer,
            "learning_rate": w.learning_rate, "config": w.config, "fused_steps": w.fused_steps,
            "examples_per_step": w.examples_per_step, "flops_per_step": w.flops_per_step}
