r"""The handwritten references: the lecture's delta rule (and BPTT) with no autodiff,
in NumPy (``numpy_ref``) and the same lines traced by ``jax.jit`` (``jnp_ref``).

The gradients come from :mod:`nnlect.reference` (``numpy_backprop`` for the MLPs,
``numpy_bptt`` for the Elman RNN); the optimizer update is written here, once, in
plain arithmetic that works on NumPy and ``jax.numpy`` arrays alike, so both references
run exactly the update Optax (and PyTorch) run:

- SGD: :math:`w \leftarrow w - \eta\, \partial E/\partial w`;
- Adam: :math:`m \leftarrow \beta_1 m + (1-\beta_1) g`, :math:`v \leftarrow \beta_2 v + (1-\beta_2) g^2`,
  :math:`w \leftarrow w - \eta\, \hat m / (\sqrt{\hat v} + \epsilon)` with
  :math:`\hat m = m / (1-\beta_1^t)`, :math:`\hat v = v / (1-\beta_2^t)`.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from nnlect.bench.workloads import Workload
from nnlect.reference import numpy_backprop

B1, B2, EPS = 0.9, 0.999, 1e-8

_MLP_KWARGS = {
    "xor": dict(activation="sigmoid", output_activation="sigmoid", loss="half_squared_error"),
    "mlp": dict(activation="relu", output_activation="identity", loss="softmax_cross_entropy"),
}


def skip_reason(w: Workload) -> str | None:
    """Why the handwritten references cannot run ``w`` (None when they can)."""
    if w.family == "lenet5":
        return "no handwritten reference: the lecture derives backprop by hand for MLPs and BPTT only"
    if w.family == "rnn":
        try:
            from nnlect.bench import rnn_support
        except ImportError as e:
            return f"the BPTT reference is not available ({e})"
        return rnn_support.reference_skip_reason()
    return None


def _tree_map(fn, *trees):
    return jax.tree_util.tree_map(fn, *trees)


def sgd(params: Any, grads: Any, eta: float) -> Any:
    r""":math:`w \leftarrow w - \eta g` on a params pytree."""
    return _tree_map(lambda p, g: p - eta * g, params, grads)


def adam(params: Any, grads: Any, m: Any, v: Any, t: Any, eta: float) -> tuple[Any, Any, Any]:
    """One Adam update (``t`` is the 1-based step number); returns ``(params, m, v)``."""
    m = _tree_map(lambda m_, g: B1 * m_ + (1 - B1) * g, m, grads)
    v = _tree_map(lambda v_, g: B2 * v_ + (1 - B2) * g * g, v, grads)
    c1, c2 = 1 - B1 ** t, 1 - B2 ** t
    params = _tree_map(lambda p, m_, v_: p - eta * (m_ / c1) / ((v_ / c2) ** 0.5 + EPS), params, m, v)
    return params, m, v


def gradients(w: Workload, params: Any, x: Any, y: Any) -> Any:
    """The handwritten :math:`\\partial E/\\partial w` of a workload (NumPy or traced jnp)."""
    if w.family in _MLP_KWARGS:
        return numpy_backprop.gradients(params, x, y, **_MLP_KWARGS[w.family])
    from nnlect.bench import rnn_support

    return rnn_support.reference_gradients(params, x, y)


def reference_loss(w: Workload, params: Any, x: np.ndarray, y: np.ndarray) -> float:
    """The workload's loss at ``params``, computed in NumPy float64 (for the agreement check)."""
    params = jax.tree_util.tree_map(lambda a: np.asarray(a, np.float64), params)
    x = np.asarray(x)
    if w.family in _MLP_KWARGS:
        kw = _MLP_KWARGS[w.family]
        _, nets, out = numpy_backprop.forward(params, x.astype(np.float64), activation=kw["activation"],
                                              output_activation=kw["output_activation"])
        if w.family == "xor":
            return float(0.5 * np.mean(np.sum((out - y) ** 2, axis=-1)))
        logits = nets[-1]
    else:
        from nnlect.bench import rnn_support

        logits = rnn_support.reference_logits(params, x)
    z = logits - logits.max(axis=-1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    return float(-np.mean(np.take_along_axis(log_p, np.asarray(y)[..., None], axis=-1)))


class NumpyRunner:
    """The NumPy reference: a Python loop of handwritten steps."""

    def __init__(self, w: Workload, params: dict, data: tuple, steps_per_call: int):
        self.w, self.n = w, steps_per_call
        self.params = jax.tree_util.tree_map(np.array, params)
        self.x, self.y = (np.array(a) for a in data)
        self.m = jax.tree_util.tree_map(np.zeros_like, self.params)
        self.v = jax.tree_util.tree_map(np.zeros_like, self.params)
        self.t = 0

    def call(self) -> None:
        for _ in range(self.n):
            grads = gradients(self.w, self.params, self.x, self.y)
            self.t += 1
            if self.w.optimizer == "adam":
                self.params, self.m, self.v = adam(self.params, grads, self.m, self.v, self.t, self.w.learning_rate)
            else:
                self.params = sgd(self.params, grads, self.w.learning_rate)

    def block(self, token: Any) -> None:
        """NumPy is synchronous: nothing to wait for."""

    def loss(self) -> float:
        return reference_loss(self.w, self.params, self.x, self.y)


class JnpRunner:
    """The same handwritten step, traced into one XLA computation by ``jax.jit``."""

    def __init__(self, w: Workload, params: dict, data: tuple, steps_per_call: int):
        self.w, self.n = w, steps_per_call
        self.x, self.y = jax.device_put(data)
        zeros = jax.tree_util.tree_map(np.zeros_like, params)
        t = np.zeros((), np.int32)
        # SGD carries no moments: its step passes only (params, t), as few buffers as nnlect's.
        self.state = (params, t) if w.optimizer == "sgd" else (params, t, zeros, zeros)
        self.state = jax.device_put(self.state)
        eta = w.learning_rate

        def step(state, x, y):
            params, t = state[0], state[1] + 1
            grads = gradients(w, params, x, y)
            if w.optimizer == "adam":
                params, m, v = adam(params, grads, state[2], state[3], t, eta)
                return params, t, m, v
            return sgd(params, grads, eta), t

        self.step = jax.jit(step, donate_argnums=0)

    def call(self) -> Any:
        for _ in range(self.n):
            self.state = self.step(self.state, self.x, self.y)
        return self.state[1]

    def block(self, token: Any) -> None:
        jax.block_until_ready(token)

    def hlo_text(self) -> str:
        text = self.step.lower(self.state, self.x, self.y).compile().as_text()
        if text is None:
            raise RuntimeError("the backend gives no HLO text for the compiled step")
        return text

    def loss(self) -> float:
        return reference_loss(self.w, jax.device_get(self.state[0]), np.asarray(self.x), np.asarray(self.y))


IMPLS = {"numpy_ref": NumpyRunner, "jnp_ref": JnpRunner}
