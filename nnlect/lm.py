r"""Character language model: truncated backprop through time with the state carried.

A language model walks the text in order, and its hidden state flows from one window to
the next. That is what :func:`nnlect.train.fit` does with pre-batched windows and
``carry=h``; this module keeps only what is language-model specific: the windowed
loss, the held-out evaluation in bits/char, sampling and the charlm checkpoint format.

**Truncated BPTT.** The training text is laid out by :func:`nnlect.data.text.bptt_windows`
as ``W`` consecutive windows ``(B, T)``. Window ``k`` starts from the state :math:`h_T` that
window ``k - 1`` ended with, but gradients stop at the window boundary (the carried state
enters the loss as a constant). **Reset policy:** the state is reset to
:math:`h_0 = 0` at the start of every pass over the text (every epoch), and only then.
The position in the text is a function of the step counter (window ``step % W`` of pass
``step // W``), and the carried state is checkpointed with the train state, so a resumed
run continues exactly where it stopped.

**Fused windows.** :func:`make_lm_train_scan` runs ``K`` consecutive windows (``K``
optimizer steps) in one XLA call with ``lax.scan``, carrying ``(TrainState, h)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from nnlect import _checks, checkpoint, parallel
from nnlect.data.text import BITS_PER_NAT, Vocabulary, streams
from nnlect.losses import softmax_cross_entropy
from nnlect.models.rnn import RecurrentModel, elman_rnn, make_sampler
from nnlect.train import DROPOUT, TrainState, fit, init_state, stream

Array = Any


def lm_optimizer(learning_rate: float = 2e-3, clip_norm: float = 1.0) -> optax.GradientTransformation:
    """Adam after clipping the gradient's global norm to ``clip_norm`` (exploding gradients
    through time are the RNN's known failure; clipping bounds each step)."""
    return optax.chain(optax.clip_by_global_norm(_checks.positive("clip_norm", clip_norm)),
                       optax.adam(_checks.positive("learning_rate", learning_rate)))


def window_loss(model: RecurrentModel, params: dict, x: Array, y: Array, h0: Array, *,
                key: Array | None = None, train: bool = False) -> tuple[Array, Array]:
    """Mean cross-entropy in nats/char of one window, and the state to carry.

    Arguments:
        x, y: ``(B, T)`` input ids and next-character targets.
        h0: ``(B, H)`` the state carried in.

    Returns:
        ``(loss, h_T)``.
    """
    logits, h_last = model.apply(params, x, key=key, train=train, h0=h0, return_state=True)
    return softmax_cross_entropy(logits, y), h_last


def make_lm_train_scan(model: RecurrentModel, optimizer: optax.GradientTransformation, *,
                       donate: bool = True, mesh=None) -> Callable[..., tuple[TrainState, Array, Array]]:
    """``run(state, h, xs, ys, key) -> (state, h, losses)``: K windows, one XLA call.

    Arguments:
        state: the :class:`~nnlect.train.TrainState`; ``h``: ``(B, H)`` carried state.
        xs, ys: ``(K, B, T)`` consecutive windows (:func:`nnlect.data.text.bptt_windows`).
        key: the run's base key; dropout at step ``s`` uses ``stream(key, DROPOUT, s)``.
        mesh: a :func:`nnlect.parallel.data_parallel_mesh` to split the B streams over its
            devices (params replicated); place the inputs with :func:`shard_for_mesh` first.

    Returns:
        The state after K updates, the state :math:`h` after the last window, and the
        ``(K,)`` window losses (before each update).
    """

    def run(state: TrainState, h: Array, xs: Array, ys: Array, key: Array):
        def update(carry, xy):
            state, h = carry
            x, y = parallel.constrain_batch(mesh, xy[0]), parallel.constrain_batch(mesh, xy[1])
            h = parallel.constrain_batch(mesh, h)
            # h is an argument, not a parameter: no gradient flows into it (the truncation).
            objective = lambda p: window_loss(model, p, x, y, h, key=stream(key, DROPOUT, state.step), train=True)
            (loss, h_next), grads = jax.value_and_grad(objective, has_aux=True)(state.params)
            updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
            return (TrainState(optax.apply_updates(state.params, updates), opt_state, state.step + 1), h_next), loss

        (state, h), losses = jax.lax.scan(update, (state, h), (xs, ys))
        return state, h, losses

    donate_argnums = (0, 1) if donate else ()
    if mesh is None:
        jitted = jax.jit(run, donate_argnums=donate_argnums)
    else:
        out = (parallel.replicated(mesh), parallel.batch_sharding(mesh, 2), parallel.replicated(mesh))
        jitted = jax.jit(run, donate_argnums=donate_argnums, out_shardings=out)
    # What train_lm hands to nnlect.train.fit, which runs the same update from its own loop.
    return _Named(jitted, model, optimizer, mesh)


class _Named:
    """A jitted ``run`` that also names its model, optimizer and mesh (for :func:`train_lm`)."""

    def __init__(self, run, model, optimizer, mesh):
        self._run, self.model, self.optimizer, self.mesh = run, model, optimizer, mesh

    def __call__(self, *args):
        return self._run(*args)

    def __getattr__(self, name):  # lower, trace, ...: the jitted function's
        return getattr(self._run, name)


def shard_for_mesh(mesh, state: TrainState, h: Array, xs: Array, ys: Array) -> tuple:
    """Place ``(state, h, xs, ys)`` for a data-parallel :func:`make_lm_train_scan`: the
    state replicated, ``h`` ``(B, H)`` and the windows ``(W, B, T)`` split along B."""
    parallel.check_divisible(h.shape[0], mesh)
    return (parallel.replicate(mesh, state), parallel.shard_batch(mesh, h),
            parallel.shard_batch(mesh, xs, axis=1), parallel.shard_batch(mesh, ys, axis=1))


def train_lm(run: Callable, state: TrainState, h: Array, xs: Array, ys: Array, *, key: Array,
             total_steps: int, windows_per_call: int = 10, time_budget: float | None = None,
             callback: Callable[[dict, TrainState, Array], None] | None = None) -> tuple[TrainState, Array, list[dict]]:
    """Train until ``state.step == total_steps`` (or the time budget is spent), with
    :func:`nnlect.train.fit` (the library's one loop) carrying the state between windows.

    Arguments:
        run: from :func:`make_lm_train_scan`, which names the model, optimizer and mesh;
            ``state``, ``h``: where to start (step 0 and zeros, or a checkpoint).
        xs, ys: ``(W, B, T)`` all windows of one pass over the training text (placed with
            :func:`shard_for_mesh` for a mesh).
        windows_per_call: ``K``, the windows fused into one XLA call (``fit``'s ``fused``).
        time_budget: wall seconds of this function (callbacks included); stop after the
            first call that ends past it.
        callback: called with a history row, the state and ``h`` at the end of every pass
            and when training stops (to evaluate and checkpoint).

    Returns:
        ``(state, h, history)``; a row has ``epoch`` (passes done, fractional when stopped
        mid-pass), ``step``, ``train_loss`` (nats/char, mean since the last row), ``seconds``,
        ``compile_seconds`` and ``chars_per_s`` (of the time not spent compiling).
    """
    n_windows, batch, seq_len = xs.shape
    k = _checks.positive_int("windows_per_call", windows_per_call)
    total_steps = _checks.positive_int("total_steps", total_steps)
    step = int(state.step)
    if step >= total_steps:
        return state, h, []
    last = {"h": h}

    def on_row(row: dict, state: TrainState, h: Array) -> None:
        steady = row["seconds"] - row["compile_seconds"]
        done = row["steps_per_s"] * row["seconds"]  # the steps this row covers
        row["chars_per_s"] = done * batch * seq_len / steady if steady > 0 and row["compiles"] == 0 else None
        last["h"] = h
        if callback is not None:
            callback(row, state, h)

    epochs = -(-total_steps // n_windows) - step // n_windows
    state, history = fit(run.model, None, softmax_cross_entropy, run.optimizer, xs, ys, key=key, epochs=epochs,
                         batch_size=None, state=state, carry=h, fused=k, max_steps=total_steps,
                         time_budget=time_budget, callback=on_row, mesh=run.mesh)
    return state, last["h"], history


def make_evaluate_lm(model: RecurrentModel, *, batch_size: int = 32, seq_len: int = 100) -> Callable[[dict, np.ndarray], dict]:
    """``evaluate(params, ids) -> {"nats_per_char", "bits_per_char", "chars"}`` on a held-out text.

    ``ids`` is cut into ``batch_size`` streams (:func:`nnlect.data.text.streams`, at most
    ``batch_size - 1`` characters dropped) read window by window from :math:`h_0 = 0` with the
    state carried, so every character is predicted from all the text before it in its stream.
    """
    batch_size = _checks.positive_int("batch_size", batch_size)
    seq_len = _checks.positive_int("seq_len", seq_len)

    @jax.jit
    def window(params, x, y, h):
        loss, h = window_loss(model, params, x, y, h)
        return loss * y.size, h

    def evaluate(params: dict, ids: np.ndarray) -> dict:
        if len(ids) < 2:
            raise ValueError(f"ids: expected a held-out text of at least 2 characters, got {len(ids)}")
        x, y = streams(ids, min(batch_size, len(ids) - 1))
        h, total = model.initial_state(x.shape[0]), 0.0
        for t in range(0, x.shape[1], seq_len):
            nll, h = window(params, x[:, t:t + seq_len], y[:, t:t + seq_len], h)
            total += float(nll)
        nats = total / y.size
        return {"nats_per_char": nats, "bits_per_char": nats * BITS_PER_NAT, "chars": int(y.size)}

    return evaluate


def sample_text(model: RecurrentModel, params: dict, vocab: Any, prompt: str, length: int, *,
                seed: int = 0, temperature: float = 1.0) -> str:
    """``length`` tokens drawn after ``prompt`` (see :func:`nnlect.models.rnn.make_sampler`).

    ``vocab`` is anything with ``encode(text) -> ids`` and ``decode(ids) -> text``: a
    character :class:`~nnlect.data.text.Vocabulary` or a word vocabulary (``nnlect train wordlm``).
    """
    if not prompt:
        raise ValueError("prompt: expected at least one character to start from, got ''")
    ids = vocab.encode(prompt)[None, :]
    tokens = make_sampler(model, length)(params, jnp.asarray(ids), jax.random.key(seed), temperature)
    return vocab.decode(np.asarray(tokens)[0])


def load_checkpoint(path) -> tuple[RecurrentModel, dict, Vocabulary, dict]:
    """``(model, params, vocab, meta)`` from a ``nnlect train charlm`` checkpoint.

    The file holds ``{"state": TrainState, "h": (B, H)}``; its meta records the vocabulary
    and the settings, from which the model and a target of the same structure are rebuilt.
    """
    meta = checkpoint.load_meta(path)
    missing = {"vocab", "n_hidden", "dropout", "batch_size", "learning_rate", "clip_norm"} - set(meta)
    if missing:
        raise checkpoint.CheckpointError(f"checkpoint {path}: not a charlm checkpoint (meta lacks {sorted(missing)})")
    vocab = Vocabulary.from_chars(meta["vocab"])
    model = elman_rnn(vocab.size, meta["n_hidden"], vocab.size, dropout=meta["dropout"])
    target = {"state": init_state(model.init(jax.random.key(0)), lm_optimizer(meta["learning_rate"], meta["clip_norm"])),
              "h": model.initial_state(meta["batch_size"])}
    tree, meta = checkpoint.restore(path, target)
    return model, tree["state"].params, vocab, meta

