"""nnlect's own training step, as a user runs it (:mod:`nnlect.train`):

- ``nnlect``: :func:`nnlect.train.make_train_step`, one jitted step per Python iteration;
- ``nnlect_fused``: :func:`nnlect.train.make_train_scan` with ``repeat=K``, K steps in one
  XLA call (``lax.scan``), what small, dispatch-bound models need.

With ``dtype="bfloat16"`` (``--dtype bf16``) the model is built with
``compute_dtype=jnp.bfloat16``, the layers' precision policy: float32 master weights cast
inside every layer, products in bfloat16, the loss and the gradients in float32; meant for
accelerators, where bf16 matmuls are native.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax

from nnlect import train
from nnlect.bench.workloads import Workload, loss_fn, make_model


def optimizer(w: Workload) -> optax.GradientTransformation:
    """The workload's Optax optimizer (the same update every implementation runs)."""
    return optax.adam(w.learning_rate) if w.optimizer == "adam" else optax.sgd(w.learning_rate)


class NnlectRunner:
    """Runs ``steps_per_call`` training steps per :meth:`call`, looped or fused."""

    def __init__(self, w: Workload, params: dict, data: tuple, steps_per_call: int, *,
                 fused: bool = False, dtype: str = "float32"):
        model = make_model(w, compute_dtype=None if dtype == "float32" else jnp.dtype(dtype))
        loss, opt = loss_fn(w), optimizer(w)
        self.state = train.init_state(jax.device_put(params), opt)
        self.x, self.y = jax.device_put(data)
        self.key = jax.random.key(0)
        if fused:
            self.fn, self.n = train.make_train_scan(model, loss, opt, repeat=steps_per_call), 1
        else:
            self.fn, self.n = train.make_train_step(model, loss, opt), steps_per_call
        self._loss = jax.jit(lambda p, x, y: loss(model.apply(p, x), y))

    def call(self) -> Any:
        for _ in range(self.n):
            self.state, losses = self.fn(self.state, self.x, self.y, self.key)
        return losses

    def block(self, token: Any) -> None:
        jax.block_until_ready(token)

    def loss(self) -> float:
        return float(self._loss(self.state.params, self.x, self.y))

    def hlo_text(self) -> str:
        """The optimized HLO of one call (what :mod:`nnlect.bench.profile` names ops by)."""
        text = self.fn.lower(self.state, self.x, self.y, self.key).compile().as_text()
        if text is None:
            raise RuntimeError("the backend gives no HLO text for the compiled step")
        return text


def _fused(w, params, data, steps_per_call, **kw):
    return NnlectRunner(w, params, data, steps_per_call, fused=True, **kw)


IMPLS = {"nnlect": NnlectRunner, "nnlect_fused": _fused}
