"""The Flax NNX peer: the same networks as ``nnx.Module`` s, trained the way the Flax
documentation does it (``nnx.jit`` over ``nnx.value_and_grad`` and ``nnx.Optimizer``).

Weights are copied from the shared initial params, so the function and every step match
nnlect's; ``nnx.Linear`` and ``nnx.Conv`` store kernels input-major (``(in, out)``,
``HWIO``) exactly as nnlect does.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from nnlect.bench.impls_jax import optimizer
from nnlect.bench.workloads import Workload, loss_fn


def _set(variable: Any, value: np.ndarray) -> None:
    variable.set_value(jnp.asarray(value))


class _MLP(nnx.Module):
    def __init__(self, params: dict, hidden_act, out_act):
        rngs = nnx.Rngs(0)
        self.n_layers = len(params)
        self.hidden_act, self.out_act = hidden_act, out_act
        for l in range(self.n_layers):
            w, b = params[f"dense_{l}"]["w"], params[f"dense_{l}"]["b"]
            layer = nnx.Linear(w.shape[0], w.shape[1], rngs=rngs)
            _set(layer.kernel, w)
            _set(layer.bias, b)
            setattr(self, f"dense_{l}", layer)

    def __call__(self, x):
        for l in range(self.n_layers):
            x = getattr(self, f"dense_{l}")(x)
            x = self.hidden_act(x) if l < self.n_layers - 1 else self.out_act(x)
        return x


class _LeNet5(nnx.Module):
    """C1 (5x5, padded 28 -> 32), S2 avg, C3 (5x5), S4 avg, C5 = dense 400 -> 120, F6, output; tanh."""

    def __init__(self, params: dict):
        rngs = nnx.Rngs(0)
        self.conv_0 = nnx.Conv(1, 6, (5, 5), padding=((2, 2), (2, 2)), rngs=rngs)
        self.conv_1 = nnx.Conv(6, 16, (5, 5), padding="VALID", rngs=rngs)
        for name in ("conv_0", "conv_1"):
            _set(getattr(self, name).kernel, params[name]["w"])
            _set(getattr(self, name).bias, params[name]["b"])
        self.dense = _MLP({f"dense_{j}": params[f"dense_{j}"] for j in range(3)}, jnp.tanh, lambda z: z)

    def __call__(self, x):
        x = nnx.avg_pool(jnp.tanh(self.conv_0(x)), (2, 2), strides=(2, 2))
        x = nnx.avg_pool(jnp.tanh(self.conv_1(x)), (2, 2), strides=(2, 2))
        return self.dense(x.reshape(x.shape[0], -1))


def build_module(w: Workload, params: dict) -> nnx.Module:
    """The Flax NNX module of a workload, holding ``params``."""
    if w.family == "xor":
        return _MLP(params, jax.nn.sigmoid, jax.nn.sigmoid)
    if w.family == "mlp":
        return _MLP(params, jax.nn.relu, lambda z: z)
    if w.family == "lenet5":
        return _LeNet5(params)
    from nnlect.bench import rnn_support

    return rnn_support.flax_module(w, params)


class FlaxRunner:
    """``nnx.jit``-compiled train step per Python iteration, as in the Flax examples."""

    def __init__(self, w: Workload, params: dict, data: tuple, steps_per_call: int):
        self.n = steps_per_call
        self.model = build_module(w, params)
        self.opt = nnx.Optimizer(self.model, optimizer(w), wrt=nnx.Param)
        self.x, self.y = jax.device_put(data)
        loss = loss_fn(w)

        @nnx.jit
        def train_step(model, opt, x, y):
            value, grads = nnx.value_and_grad(lambda m: loss(m(x), y))(model)
            opt.update(model, grads)
            return value

        @nnx.jit
        def evaluate(model, x, y):
            return loss(model(x), y)

        self.step, self.evaluate = train_step, evaluate

    def call(self) -> Any:
        for _ in range(self.n):
            value = self.step(self.model, self.opt, self.x, self.y)
        return value

    def block(self, token: Any) -> None:
        jax.block_until_ready(token)

    def loss(self) -> float:
        return float(self.evaluate(self.model, self.x, self.y))


IMPLS = {"flax": FlaxRunner}
