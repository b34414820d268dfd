r"""Training: ``jax.jit`` over ``jax.value_and_grad`` with any Optax optimizer.

- :func:`init_state` packs params and optimizer state into a :class:`TrainState` pytree.
- :func:`make_train_step` builds the jitted step ``(state, x, y, key) -> (state, loss)``.
- :func:`make_train_epoch` builds a whole shuffled epoch as ONE XLA call (``lax.scan``
  over minibatches), which is what small models need to be fast: the Python loop and
  its per-step dispatch disappear.
- :func:`fit` runs epochs of either, with evaluation and a metrics history.

Every factory and :func:`fit` take ``mesh=None``; with a mesh from
:func:`nnlect.parallel.setup` (or ``fit(..., data_parallel=True)``) each minibatch is split
over the mesh's ``"data"`` axis, params and optimizer state are replicated, and the same
jitted step runs on every device (XLA all-reduces the gradient). Without a mesh nothing
changes. See :mod:`nnlect.parallel` and docs/scaling.md.

Randomness comes from one key, split into named streams the way Flax NNX does:
dropout for step ``t`` uses ``fold_in(fold_in(key, DROPOUT), t)`` and the shuffle
of the epoch starting at step ``t`` uses ``fold_in(fold_in(key, SHUFFLE), t)``.
Both depend only on ``key`` and the step counter held in the state, so a run
resumed from a checkpoint sees exactly the numbers an uninterrupted run sees.
"""

from __future__ import annotations

import functools
import time
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from nnlect import _checks, parallel
from nnlect.losses import accuracy
from nnlect.models.base import Model

Array = Any
Loss = Callable[[Array, Array], Array]

DROPOUT, SHUFFLE = 0, 1


class TrainState(NamedTuple):
    """Everything that changes during training; a pytree, so it jits and checkpoints."""

    params: Any
    opt_state: Any
    step: Array  # int32 scalar: number of optimizer updates made so far


def init_state(params: Any, optimizer: optax.GradientTransformation) -> TrainState:
    """A fresh :class:`TrainState` at step 0."""
    return TrainState(params, optimizer.init(params), jnp.zeros((), jnp.int32))


def stream(key: Array, name: int, step: Array) -> Array:
    """The key of stream ``name`` (``DROPOUT`` or ``SHUFFLE``) at step ``step``."""
    return jax.random.fold_in(jax.random.fold_in(key, name), step)


def epoch_order(key: Array, step: Array, n: int, batch_size: int) -> Array:
    """The shuffled example indices of the epoch that starts at ``step``: ``(n // batch_size, batch_size)``.

    The one definition of an epoch's minibatches, shared by the fused epoch, the step
    loop and any recipe's own loop, so all of them (and a resumed run) see the same
    batches. The last ``n % batch_size`` examples of the permutation sit this epoch out.
    """
    steps = n // batch_size
    order = jax.random.permutation(stream(key, SHUFFLE, step), n)[: steps * batch_size]
    return order.reshape(steps, batch_size)


def _update(model: Model, loss: Loss, optimizer: optax.GradientTransformation, mesh=None):
    """The un-jitted step shared by the single-step and whole-epoch versions.

    With a ``mesh`` the minibatch is constrained to stay split over its ``"data"`` axis.
    """

    def objective(params, x, y, key):
        return loss(model.apply(params, x, key=key, train=True), y)

    def update(state: TrainState, x: Array, y: Array, key: Array) -> tuple[TrainState, Array]:
        x, y = parallel.constrain_batch(mesh, x), parallel.constrain_batch(mesh, y)
        value, grads = jax.value_and_grad(objective)(state.params, x, y, stream(key, DROPOUT, state.step))
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        return TrainState(params, opt_state, state.step + 1), value

    return update


def _memoized(make):
    """Cache a ``make_*`` factory on its arguments, so a second :func:`fit` (or a second call
    of the factory) with the same model, loss, optimizer and settings reuses the jitted
    function, and with it JAX's compilations. Unhashable arguments skip the cache."""
    cache: dict = {}

    @functools.wraps(make)
    def cached(*args, **kwargs):
        key = (args, tuple(sorted(kwargs.items())))
        try:
            hash(key)
        except TypeError:
            return make(*args, **kwargs)
        if key not in cache:
            if len(cache) >= 64:  # keep the oldest models from living forever
                cache.pop(next(iter(cache)))
            cache[key] = make(*args, **kwargs)
        return cache[key]

    return cached


def _jit(fn, mesh, donate: bool):
    """``jax.jit(fn)``; with a mesh the outputs (state, losses) are pinned replicated."""
    donate_argnums = (0,) if donate else ()
    if mesh is None:
        return jax.jit(fn, donate_argnums=donate_argnums)
    return jax.jit(fn, donate_argnums=donate_argnums, out_shardings=parallel.replicated(mesh))


@_memoized
def make_train_step(model: Model, loss: Loss, optimizer: optax.GradientTransformation, *,
                    donate: bool = True, mesh=None) -> Callable[..., tuple[TrainState, Array]]:
    """A jitted ``step(state, x, y, key) -> (state, loss)``: forward, backward, Optax update.

    Arguments:
        model: any :class:`~nnlect.models.base.Model`.
        loss: ``loss(model_output, y) -> scalar``, e.g. :func:`nnlect.losses.softmax_cross_entropy`.
        optimizer: any ``optax.GradientTransformation``.
        donate: let XLA reuse the old state's buffers for the new one (the caller must not
            use the old state afterwards).

        mesh: a :func:`nnlect.parallel.data_parallel_mesh`; ``x`` ``(B, ...)`` and ``y`` are
            the global batch (B a multiple of the device count), split over the devices
            on the way in; state and key are replicated (no copy when already in place).

    ``key`` is the run's base key; the step folds in its own counter, so pass the same
    key every step.
    """
    step = _jit(_update(model, loss, optimizer, mesh), mesh, donate)
    if mesh is None:
        return step

    def sharded_step(state, x, y, key):
        return step(parallel.replicate(mesh, state), parallel.shard_batch(mesh, x),
                    parallel.shard_batch(mesh, y), parallel.replicate(mesh, key))

    return sharded_step


@_memoized
def make_train_epoch(model: Model, loss: Loss, optimizer: optax.GradientTransformation, *,
                     batch_size: int, donate: bool = True, mesh=None) -> Callable[..., tuple[TrainState, Array]]:
    """A jitted ``epoch(state, x, y, key) -> (state, losses)`` running a whole epoch in one call.

    The ``N`` examples of ``x`` ``(N, ...)`` and ``y`` ``(N, ...)`` (already on the device)
    are shuffled, cut into ``N // batch_size`` minibatches (the remainder is dropped for
    this epoch; a new shuffle drops others next time) and trained on with ``lax.scan``.

    With a ``mesh`` the whole dataset is REPLICATED on every device and each gathered
    minibatch ``x[idx]`` is constrained to be split over ``"data"``. We chose this over
    pre-sharding the dataset (each device owning N/D fixed rows) because the shuffle
    then stays a permutation of the whole set: the minibatches, and so the losses and
    params, are those of the single-device run; it costs D copies of the dataset, which
    for the lecture's sets (MNIST: 188 MB in float32) fits any accelerator. The whole
    epoch stays one XLA call, so the per-step collectives never pile up across
    dispatches (the CPU "rendezvous may be stuck" abort, see :mod:`nnlect.parallel`).

    Returns:
        The new state and the ``(N // batch_size,)`` per-step losses.
    """
    batch_size = _checks.positive_int("batch_size", batch_size)
    if mesh is not None:
        parallel.check_divisible(batch_size, mesh)
    update = _update(model, loss, optimizer, mesh)

    def epoch(state: TrainState, x: Array, y: Array, key: Array):
        n = x.shape[0]
        steps = n // batch_size
        if steps == 0:
            raise ValueError(f"batch_size: expected at most the number of examples ({n}), got {batch_size}")
        order = epoch_order(key, state.step, n, batch_size)

        def body(s, idx):
            return update(s, x[idx], y[idx], key)

        return jax.lax.scan(body, state, order)

    run = _jit(epoch, mesh, donate)
    if mesh is None:
        return run

    def sharded_epoch(state, x, y, key):
        return run(*parallel.replicate(mesh, (state, x, y, key)))

    return sharded_epoch


@_memoized
def make_train_scan(model: Model, loss: Loss, optimizer: optax.GradientTransformation, *,
                    repeat: int | None = None, donate: bool = True,
                    mesh=None) -> Callable[..., tuple[TrainState, Array]]:
    """K training steps in one XLA call: ``run(state, xs, ys, key) -> (state, losses (K,))``.

    With ``repeat=None``, ``xs`` ``(K, B, ...)`` and ``ys`` ``(K, B, ...)`` are K minibatches
    stacked on a leading axis, and the scan walks over them. With ``repeat=K``, ``xs`` and
    ``ys`` are one batch ``(B, ...)`` trained on K times (full-batch gradient descent on a
    small problem, e.g. XOR or a 1-D regression).

    With a ``mesh`` the batch axis ``B`` of ``xs``/``ys`` is split over the devices.
    """
    update = _update(model, loss, optimizer, mesh)
    if repeat is not None:
        repeat = _checks.positive_int("repeat", repeat)

    def run(state: TrainState, xs: Array, ys: Array, key: Array):
        if repeat is None:
            return jax.lax.scan(lambda s, xy: update(s, xy[0], xy[1], key), state, (xs, ys))
        return jax.lax.scan(lambda s, _: update(s, xs, ys, key), state, None, length=repeat)

    scan = _jit(run, mesh, donate)
    if mesh is None:
        return scan
    batch_axis = 1 if repeat is None else 0

    def sharded_scan(state, xs, ys, key):
        return scan(parallel.replicate(mesh, state), parallel.shard_batch(mesh, xs, batch_axis),
                    parallel.shard_batch(mesh, ys, batch_axis), parallel.replicate(mesh, key))

    return sharded_scan


@_memoized
def _make_indexed_step(model: Model, loss: Loss, optimizer: optax.GradientTransformation):
    """``step(state, x, y, order, i, key)``: the training step on minibatch ``x[order[i]]``,
    gathered inside the jitted call (what :func:`fit`'s step loop runs on one device)."""
    update = _update(model, loss, optimizer)

    def step(state: TrainState, x: Array, y: Array, order: Array, i: Array, key: Array):
        idx = order[i]
        return update(state, x[idx], y[idx], key)

    return jax.jit(step, donate_argnums=(0,))


@_memoized
def make_evaluate(model: Model, loss: Loss, metric: Callable[[Array, Array], Array] | None = accuracy,
                  *, batch_size: int = 1024, mesh=None) -> Callable[[Any, Array, Array], dict]:
    """``evaluate(params, x, y) -> {"loss": float, "metric": float}`` over a whole set, in batches.

    Each batch runs one jitted forward pass in eval mode (no dropout); batch means are
    weighted by batch length, so the result is the exact mean over the set. With a
    ``mesh``, params are replicated and a batch is split over the devices when its
    length divides by their count (the last, short batch is replicated instead).
    """

    @jax.jit
    def batch_stats(params, xb, yb):
        out = model.apply(params, xb)
        return loss(out, yb), (metric(out, yb) if metric is not None else jnp.zeros(()))

    def evaluate(params, x, y) -> dict:
        n = x.shape[0]
        if n == 0:
            raise ValueError(f"x: expected at least one example to evaluate, got shape {tuple(x.shape)}")
        total_loss = total_metric = 0.0
        if mesh is not None:
            params = parallel.replicate(mesh, params)
        for start in range(0, n, batch_size):
            xb, yb = x[start:start + batch_size], y[start:start + batch_size]
            if mesh is not None:
                place = (parallel.shard_batch if xb.shape[0] % parallel.size(mesh) == 0 else parallel.replicate)
                xb, yb = place(mesh, xb), place(mesh, yb)
            l, m = batch_stats(params, xb, yb)
            total_loss += float(l) * xb.shape[0]
            total_metric += float(m) * xb.shape[0]
        result = {"loss": total_loss / n}
        if metric is not None:
            result["metric"] = total_metric / n
        return result

    return evaluate


def fit(model: Model, params: Any, loss: Loss, optimizer: optax.GradientTransformation,
        x: Array, y: Array, *, key: Array, epochs: int, batch_size: int,
        eval_data: tuple[Array, Array] | None = None, metric: Callable | None = accuracy,
        fused: bool = True, state: TrainState | None = None, start_epoch: int = 0,
        callback: Callable[[dict, TrainState], None] | None = None,
        mesh=None, data_parallel: bool = False) -> tuple[TrainState, list[dict]]:
    """Train ``model`` for ``epochs`` epochs of shuffled minibatches.

    Arguments:
        params: initial params (ignored when ``state`` is given, e.g. to resume).
        x, y: the training set ``(N, ...)``; moved to the device once.
        key: the run's base PRNG key (dropout and shuffling streams derive from it).
        eval_data: optional ``(x, y)`` evaluated after every epoch.
        metric: ``metric(outputs, y)`` reported for ``eval_data`` (default accuracy), or None.
        fused: run each epoch as one XLA call (:func:`make_train_epoch`); False runs a jitted
            step per minibatch from Python, the minibatch gathered inside the step (no eager
            slicing per step), same numbers.
        state, start_epoch: continue a run (``state`` from a checkpoint, epochs counted from
            ``start_epoch``).
        callback: called after every epoch with the history row and the state
            (progress bars, checkpoints).
        mesh: a :func:`nnlect.parallel.data_parallel_mesh` to split every minibatch over
            (``batch_size`` must divide by its device count); ``data_parallel=True`` builds
            one over all devices. Same numbers as one device, up to float32 rounding of
            the all-reduced gradient sum. Multi-host: every host calls ``fit`` with the same
            ``x``, ``y`` and ``key`` after :func:`nnlect.parallel.initialize`.

    The jitted functions are cached on ``(model, loss, optimizer, batch_size, mesh)``: a
    second ``fit`` with the same objects (another run, a resume) compiles nothing.

    Returns:
        ``(state, history)``; ``history`` has one dict per epoch with ``epoch``,
        ``train_loss`` (mean over the epoch's steps), ``seconds`` and, with ``eval_data``,
        ``eval_loss`` and ``eval_metric``.
    """
    epochs = _checks.positive_int("epochs", epochs)
    batch_size = _checks.positive_int("batch_size", batch_size)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y: expected the same number of examples, got {x.shape[0]} and {y.shape[0]}")
    if batch_size > x.shape[0]:
        raise ValueError(f"batch_size: expected at most the number of examples ({x.shape[0]}), got {batch_size}")
    if mesh is None and data_parallel:
        mesh = parallel.data_parallel_mesh()
    if mesh is not None:
        parallel.check_divisible(batch_size, mesh)
    if state is None:  # a copy: the epochs donate the state's buffers, the caller keeps params
        state = init_state(jax.tree.map(jnp.copy, params), optimizer)
    if mesh is None:
        x, y = jax.device_put(x), jax.device_put(y)
    elif fused:
        state, x, y = parallel.replicate(mesh, (state, x, y))
    else:  # minibatches are gathered on the host and each one is split over the devices
        state, x, y = parallel.replicate(mesh, state), np.asarray(x), np.asarray(y)
    evaluate = make_evaluate(model, loss, metric, mesh=mesh) if eval_data is not None else None
    if fused:
        run_epoch = make_train_epoch(model, loss, optimizer, batch_size=batch_size, mesh=mesh)
    elif mesh is None:
        step_at = _make_indexed_step(model, loss, optimizer)

        def run_epoch(state, x, y, key):
            # The batch is gathered inside the jitted step: no eager slicing per step.
            order = epoch_order(key, state.step, x.shape[0], batch_size)
            losses = []
            for i in range(order.shape[0]):
                state, value = step_at(state, x, y, order, i, key)
                losses.append(value)
            return state, jnp.stack(losses)
    else:
        step = make_train_step(model, loss, optimizer, mesh=mesh)
        sync = parallel.needs_sync(mesh)

        def run_epoch(state, x, y, key):
            order = epoch_order(key, state.step, x.shape[0], batch_size)
            if mesh is not None:
                order = np.asarray(order)
            losses = []
            for i, idx in enumerate(order):
                state, value = step(state, x[idx], y[idx], key)
                losses.append(value)
                if sync and (i + 1) % parallel.SYNC_EVERY == 0:
                    # CPU meshes: cap the collective steps in flight (see parallel.SYNC_EVERY).
                    value.block_until_ready()
            return state, jnp.stack(losses)

    history = []
    for epoch in range(start_epoch, start_epoch + epochs):
        start = time.perf_counter()
        state, losses = run_epoch(state, x, y, key)
        losses = np.asarray(losses)
        row = {"epoch": epoch + 1, "train_loss": float(losses.mean()), "seconds": time.perf_counter() - start}
        if not np.isfinite(row["train_loss"]):
            raise FloatingPointError(
                f"training diverged in epoch {epoch + 1}: train loss is {row['train_loss']}; lower the "
                "learning rate or check the inputs for NaN/inf"
            )
        if evaluate is not None:
            ev = evaluate(state.params, *eval_data)
            row["eval_loss"] = ev["loss"]
            if "metric" in ev:
                row["eval_metric"] = ev["metric"]
        history.append(row)
        if callback is not None:
            callback(row, state)
    return state, history
