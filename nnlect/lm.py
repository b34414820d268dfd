r"""Character language model: truncated backprop through time with the state carried.

:func:`nnlect.train.fit` trains on independent shuffled minibatches; a language model
instead walks the text in order, and its hidden state must flow from one window to the
next, so its loop lives here. It reuses :class:`nnlect.train.TrainState`,
:func:`nnlect.train.init_state` and the dropout stream :func:`nnlect.train.stream`.

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

import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from nnlect import _checks, checkpoint, parallel
from nnlect.data.text import BITS_PER_NAT, Vocabulary, streams
from nnlect.losses import softmax_cross_entropy
from nnlect.models.rnn import RecurrentModel, elman_rnn, make_sampler
from nnlect.train import DROPOUT, TrainState, init_state, stream

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
        return jax.jit(run, donate_argnums=donate_argnums)
    out = (parallel.replicated(mesh), parallel.batch_sharding(mesh, 2), parallel.replicated(mesh))
    return jax.jit(run, donate_argnums=donate_argnums, out_shardings=out)


def shard_for_mesh(mesh, state: TrainState, h: Array, xs: Array, ys: Array) -> tuple:
    """Place ``(state, h, xs, ys)`` for a data-parallel :func:`make_lm_train_scan`: the
    state replicated, ``h`` ``(B, H)`` and the windows ``(W, B, T)`` split along B."""
    parallel.check_divisible(h.shape[0], mesh)
    return (parallel.replicate(mesh, state), parallel.shard_batch(mesh, h),
            parallel.shard_batch(mesh, xs, axis=1), parallel.shard_batch(mesh, ys, axis=1))


def train_lm(run: Callable, state: TrainState, h: Array, xs: Array, ys: Array, *, key: Array,
             total_steps: int, windows_per_call: int = 10, time_budget: float | None = None,
             callback: Callable[[dict, TrainState, Array], None] | None = None) -> tuple[TrainState, Array, list[dict]]:
    """Train until ``state.step == total_steps`` (or the time budget is spent).

    Arguments:
        run: from :func:`make_lm_train_scan`; ``state``, ``h``: where to start (step 0 and
            zeros, or a checkpoint).
        xs, ys: ``(W, B, T)`` all windows of one pass over the training text.
        windows_per_call: ``K``, the windows fused into one XLA call.
        time_budget: wall seconds of this function (callbacks included); stop after the
            first call that ends past it.
        callback: called with a history row, the state and ``h`` at the end of every pass
            and when training stops (to evaluate and checkpoint).

    Returns:
        ``(state, h, history)``; a row has ``epoch`` (passes done, fractional when stopped
        mid-pass), ``step``, ``train_loss`` (nats/char, mean since the last row), ``seconds``
        and ``chars_per_s`` (of the calls that compiled nothing).
    """
    n_windows, batch, seq_len = xs.shape
    k_max = _checks.positive_int("windows_per_call", windows_per_call)
    start, compiled, history = time.perf_counter(), set(), []
    losses, steady_chars, steady_seconds, row_start = [], 0, 0.0, start
    step = int(state.step)
    while step < total_steps:
        position = step % n_windows
        if position == 0:
            h = jnp.zeros_like(h)  # reset policy: a new pass over the text starts from h_0 = 0
        n = min(k_max, n_windows - position, total_steps - step)
        tic = time.perf_counter()
        state, h, window_losses = run(state, h, xs[position:position + n], ys[position:position + n], key)
        window_losses = np.asarray(window_losses)  # waits for the call
        if n in compiled:
            steady_chars += n * batch * seq_len
            steady_seconds += time.perf_counter() - tic
        compiled.add(n)
        if not np.all(np.isfinite(window_losses)):
            raise FloatingPointError(f"training diverged at step {step}: window loss {window_losses.tolist()}; "
                                     "lower --lr or --clip")
        losses.append(window_losses)
        step += n
        out_of_time = time_budget is not None and time.perf_counter() - start > time_budget
        if step % n_windows == 0 or step >= total_steps or out_of_time:
            now = time.perf_counter()
            row = {"epoch": round(step / n_windows, 4), "step": step, "train_loss": float(np.concatenate(losses).mean()),
                   "seconds": now - row_start,
                   "chars_per_s": steady_chars / steady_seconds if steady_seconds else None}
            history.append(row)
            if callback is not None:
                callback(row, state, h)
            losses, row_start = [], time.perf_counter()  # a row's seconds leave the callback out
        if out_of_time:
            break
    return state, h, history


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


def sample_text(model: RecurrentModel, params: dict, vocab: Vocabulary, prompt: str, length: int, *,
                seed: int = 0, temperature: float = 1.0) -> str:
    """``length`` characters drawn after ``prompt`` (see :func:`nnlect.models.rnn.make_sampler`)."""
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

