"""The PyTorch peer (optional: its rows are skipped with a note when torch is missing).

Idiomatic eager PyTorch: ``nn.Sequential`` / ``nn.RNN`` modules, ``loss.backward()`` and a
``torch.optim`` optimizer (``SGD`` or ``Adam``, default ``foreach`` kernels), on CUDA when
torch sees a GPU, else on the CPU with torch's default thread count. Weights are copied
from the shared initial params (``nn.Linear`` stores ``(out, in)``: transposed; convs
``OIHW``; LeNet's flatten is channel-major in NCHW, so C5's rows are permuted), so the
function and every step match nnlect's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlect.bench.workloads import Workload


def skip_reason(w: Workload) -> str | None:
    """Why the PyTorch rows cannot run (None when they can)."""
    try:
        import torch  # noqa: F401  # pyright: ignore[reportMissingImports]
    except ImportError:
        return "torch is not importable: install the CPU build (pip install torch) to add these rows"
    return None


def _device():
    import torch  # pyright: ignore[reportMissingImports]  optional peer, not in CI

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _tensor(a: np.ndarray, device):
    import torch  # pyright: ignore[reportMissingImports]  optional peer, not in CI

    return torch.from_numpy(np.array(a, order="C")).to(device)  # a writable copy


def _linear(layer: dict, device):
    import torch  # pyright: ignore[reportMissingImports]  optional peer, not in CI

    w = layer["w"]
    lin = torch.nn.Linear(w.shape[0], w.shape[1])
    with torch.no_grad():
        lin.weight.copy_(_tensor(w.T, "cpu"))
        lin.bias.copy_(_tensor(layer["b"], "cpu"))
    return lin


def _conv(layer: dict, padding: int):
    import torch  # pyright: ignore[reportMissingImports]  optional peer, not in CI

    w = layer["w"]  # HWIO -> OIHW
    conv = torch.nn.Conv2d(w.shape[2], w.shape[3], w.shape[:2], padding=padding)
    with torch.no_grad():
        conv.weight.copy_(_tensor(w.transpose(3, 2, 0, 1), "cpu"))
        conv.bias.copy_(_tensor(layer["b"], "cpu"))
    return conv


def build_module(w: Workload, params: dict):
    """The ``torch.nn.Module`` of a workload, holding ``params``; input layout per family."""
    from torch import nn  # pyright: ignore[reportMissingImports]  optional peer, not in CI

    if w.family in ("xor", "mlp"):
        act = nn.Sigmoid if w.family == "xor" else nn.ReLU
        layers = []
        for l in range(len(params)):
            layers.append(_linear(params[f"dense_{l}"], "cpu"))
            if l < len(params) - 1 or w.family == "xor":
                layers.append(act())
        return nn.Sequential(*layers)
    if w.family == "lenet5":
        c5 = dict(params["dense_0"])
        # nnlect flattens (5, 5, 16) NHWC; torch flattens (16, 5, 5): permute C5's input rows.
        c5["w"] = params["dense_0"]["w"].reshape(5, 5, 16, -1).transpose(2, 0, 1, 3).reshape(400, -1)
        return nn.Sequential(
            _conv(params["conv_0"], 2), nn.Tanh(), nn.AvgPool2d(2),
            _conv(params["conv_1"], 0), nn.Tanh(), nn.AvgPool2d(2), nn.Flatten(),
            _linear(c5, "cpu"), nn.Tanh(), _linear(params["dense_1"], "cpu"), nn.Tanh(),
            _linear(params["dense_2"], "cpu"),
        )
    from nnlect.bench import rnn_support

    return rnn_support.torch_module(w, params)


def _inputs(w: Workload, data: tuple, device):
    x, y = data
    if w.family == "lenet5":
        x = x.transpose(0, 3, 1, 2)  # NHWC -> NCHW, torch's native layout
    if w.family == "rnn":
        from nnlect.bench import rnn_support

        x = rnn_support.torch_inputs(x, w.config["vocab"])
    if w.family in ("mlp", "lenet5", "rnn"):
        y = y.astype(np.int64)  # torch's cross_entropy wants int64 class indices
    return _tensor(x, device), _tensor(y, device)


class TorchRunner:
    """Eager PyTorch: zero_grad, forward, backward, optimizer step, per Python iteration."""

    def __init__(self, w: Workload, params: dict, data: tuple, steps_per_call: int):
        import torch  # pyright: ignore[reportMissingImports]  optional peer, not in CI
        import torch.nn.functional as F  # pyright: ignore[reportMissingImports]  optional peer, not in CI

        self.torch, self.n = torch, steps_per_call
        self.device = _device()
        self.model = build_module(w, params).to(self.device)
        self.x, self.y = _inputs(w, data, self.device)
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        self.opt = (torch.optim.Adam(trainable, lr=w.learning_rate, eps=1e-8) if w.optimizer == "adam"
                    else torch.optim.SGD(trainable, lr=w.learning_rate))
        if w.family == "xor":
            self.objective = lambda out, d: 0.5 * ((out - d) ** 2).sum(-1).mean()
        else:
            self.objective = lambda logits, labels: F.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                                                   labels.reshape(-1))

    def call(self) -> Any:
        for _ in range(self.n):
            self.opt.zero_grad(set_to_none=True)
            value = self.objective(self.model(self.x), self.y)
            value.backward()
            self.opt.step()
        return value

    def block(self, token: Any) -> None:
        if self.device.type == "cuda":
            self.torch.cuda.synchronize()

    def loss(self) -> float:
        with self.torch.no_grad():
            return float(self.objective(self.model(self.x), self.y))


IMPLS = {"torch": TorchRunner}
