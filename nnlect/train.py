r"""Training: ``jax.jit`` over ``jax.value_and_grad`` with any Optax optimizer.

- :func:`init_state` packs params and optimizer state into a :class:`TrainState` pytree.
- :func:`make_train_step` builds the jitted step ``(state, x, y, key) -> (state, loss)``.
- :func:`make_train_scan` builds K steps as ONE XLA call (``lax.scan``), which is what
  small models need to be fast: the Python loop and its per-step dispatch disappear.
- :func:`fit` is the one training loop: K steps per call (a whole shuffled epoch with
  ``fused=True``), evaluation, hooks, checkpoints through its callback, a metrics history.

Every factory and :func:`fit` take ``mesh=None``; with a mesh from
:func:`nnlect.parallel.setup` (or ``fit(..., data_parallel=True)``) each minibatch is split
over the mesh's ``"data"`` axis, params and optimizer state are replicated, and the same
jitted step runs on every device (XLA all-reduces the gradient). Without a mesh nothing
changes. See :mod:`nnlect.parallel` and docs/scaling.md.

Randomness comes from one key, split into named streams the way Flax NNX does:
dropout for step ``t`` uses ``fold_in(fold_in(key, DROPOUT), t)`` and the shuffle
of the epoch starting at step ``t`` is seeded with ``(key, SHUFFLE, t)`` (:func:`epoch_order`).
Both depend only on ``key`` and the step counter held in the state, so a run
resumed from a checkpoint sees exactly the numbers an uninterrupted run sees.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple, cast

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


def epoch_order(key: Array, step: int, n: int, batch_size: int) -> np.ndarray:
    """The shuffled example indices of the epoch that starts at ``step``: ``(n // batch_size, batch_size)`` int32.

    The one definition of an epoch's minibatches, shared by :func:`fit`'s loops (every
    ``fused`` choice), :func:`nnlect.data.batches` and any recipe's own loop, so all of them
    (and a resumed run) see the same batches. The last ``n % batch_size`` examples of the
    permutation sit this epoch out.

    It is drawn on the host by NumPy (``default_rng`` seeded with the key's words, the
    SHUFFLE stream and ``step``): a sort-based ``jax.random.permutation`` of 25,600 indices
    took 18.9 ms on XLA:CPU, ~60% of a tiny MLP's 400-step epoch (docs/training.md), where
    NumPy takes well under 1 ms. So ``step`` must be a concrete int (not traced), and the order
    is fixed for a given key, step and NumPy version on every backend and host.
    """
    try:
        step = int(step)
    except jax.errors.ConcretizationTypeError:
        raise TypeError("step: expected a concrete int, got a traced value; the order is drawn on the host "
                        "by NumPy, so call epoch_order outside jit and pass the order in") from None
    batch_size = _checks.positive_int("batch_size", batch_size)
    steps = n // batch_size
    words = np.asarray(jax.random.key_data(key) if jnp.issubdtype(key.dtype, jax.dtypes.prng_key) else key)
    rng = np.random.default_rng([*words.ravel().tolist(), SHUFFLE, step])
    return rng.permutation(n)[: steps * batch_size].astype(np.int32).reshape(steps, batch_size)


def _update(model: Model, loss: Loss, optimizer: optax.GradientTransformation, mesh=None, *,
            carry: bool = False):
    """The un-jitted step shared by every runner: ``update(state, c, x, y, key) -> (state, c, loss)``.

    Without ``carry`` the loss is ``loss(model.apply(params, x, key, train=True), y)`` and ``c``
    passes through untouched (runners pass ``()``). With ``carry`` the model is recurrent: it
    starts from ``h0=c`` and returns its last state, which becomes the next ``c``. ``c`` is an
    argument, not a parameter, so no gradient flows into it: truncated backprop through time.
    With a ``mesh`` the minibatch (and ``c``) is constrained to stay split over ``"data"``.
    """

    def objective(params, x, y, key, c):
        if not carry:
            return loss(model.apply(params, x, key=key, train=True), y), c
        out, c = model.apply(params, x, key=key, train=True, h0=c, return_state=True)
        return loss(out, y), c

    def update(state: TrainState, c: Any, x: Array, y: Array, key: Array):
        x, y = parallel.constrain_batch(mesh, x), parallel.constrain_batch(mesh, y)
        if carry:
            c = parallel.constrain_batch(mesh, c)
        (value, c), grads = jax.value_and_grad(objective, has_aux=True)(
            state.params, x, y, stream(key, DROPOUT, state.step), c)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        return TrainState(params, opt_state, state.step + 1), c, value

    return update


def _no_carry(update):
    """``update`` as ``(state, x, y, key) -> (state, loss)``, for the factories without a carry."""
    def step(state, x, y, key):
        state, _, value = update(state, (), x, y, key)
        return state, value

    return step


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


@_memoized
def _make_init(optimizer: optax.GradientTransformation) -> Callable[[Any], TrainState]:
    """``init(params) -> TrainState``: :func:`init_state` on a COPY of ``params`` (fresh buffers,
    so the steps may donate them), as one compiled program rather than an eager copy and
    zeros per leaf, each a small compile of its own on the first run."""
    return jax.jit(lambda params: init_state(params, optimizer))


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
    step = _jit(_no_carry(_update(model, loss, optimizer, mesh)), mesh, donate)
    if mesh is None:
        return step

    def sharded_step(state, x, y, key):
        return step(parallel.replicate(mesh, state), parallel.shard_batch(mesh, x),
                    parallel.shard_batch(mesh, y), parallel.replicate(mesh, key))

    return sharded_step


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
    update = _no_carry(_update(model, loss, optimizer, mesh))
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
def _make_chunk(model: Model, loss: Loss, optimizer: optax.GradientTransformation, *, n: int,
                steps_per_epoch: int, carry: bool, mesh=None):
    """``run(state, c, losses, xs, ys, key) -> (state, c, losses)``: ``n`` steps in one call.

    ``xs`` ``(S, B, ...)`` holds the epoch's minibatches in the order they are trained on
    (:func:`_make_epoch_batches`); step ``s`` (the state's counter) takes ``xs[s % S]``, a
    contiguous slice, so a step moves nothing but its own rows: no index, no gather and
    no host sync per step. Its loss is written at the same position of the ``(S,)``
    buffer ``losses``, read back once per epoch. ``n == 1`` is the step loop's call,
    ``n == S`` a whole fused epoch.
    """
    update = _update(model, loss, optimizer, mesh, carry=carry)

    def run(state: TrainState, c: Any, losses: Array, xs: Array, ys: Array, key: Array):
        def body(sc, _):
            state, c, losses = sc
            i = state.step % steps_per_epoch
            state, c, value = update(state, c, xs[i], ys[i], key)
            return (state, c, losses.at[i].set(value.astype(losses.dtype))), None

        if n == 1:  # no loop at all: what a hand-written step loop runs
            return body((state, c, losses), None)[0]
        return jax.lax.scan(body, (state, c, losses), None, length=n)[0]

    if mesh is None:
        return jax.jit(run, donate_argnums=(0, 1, 2))
    out = (parallel.replicated(mesh), parallel.batch_sharding(mesh, 2) if carry else parallel.replicated(mesh),
           parallel.replicated(mesh))
    return jax.jit(run, donate_argnums=(0, 1, 2), out_shardings=out)


@_memoized
def _make_epoch_batches(steps: int, batch_size: int, mesh=None):
    """``prepare(x, y, order) -> (xs, ys, losses)``: an epoch's minibatches laid out in training
    order, ``(S, B, ...)``, by ONE gather per array (``order`` from :func:`epoch_order`), and a
    zeroed ``(S,)`` loss buffer: an epoch's set-up in one XLA call (with a mesh, split along B).
    """

    def prepare(x: Array, y: Array, order: Array):
        def lay_out(a):
            return a[order.reshape(-1)].reshape(steps, batch_size, *a.shape[1:])

        return lay_out(x), lay_out(y), jnp.zeros((steps,), jnp.float32)

    if mesh is None:
        return jax.jit(prepare)
    split = parallel.batch_sharding(mesh, 2, axis=1)
    return jax.jit(prepare, out_shardings=(split, split, parallel.replicated(mesh)))


@_memoized
def _make_batch_step(model: Model, loss: Loss, optimizer: optax.GradientTransformation, *, carry: bool, mesh=None):
    """``run(state, c, xs, ys, key) -> (state, c, losses (K,))`` over K stacked minibatches
    ``xs`` ``(K, B, ...)`` that came from an iterable source."""
    update = _update(model, loss, optimizer, mesh, carry=carry)

    def run(state: TrainState, c: Any, xs: Array, ys: Array, key: Array):
        def body(sc, xy):
            state, c, value = update(sc[0], sc[1], xy[0], xy[1], key)
            return (state, c), value

        (state, c), values = jax.lax.scan(body, (state, c), (xs, ys))
        return state, c, values

    if mesh is None:
        return jax.jit(run, donate_argnums=(0, 1))
    return jax.jit(run, donate_argnums=(0, 1), out_shardings=parallel.replicated(mesh))


def _named_metrics(metrics: Mapping[str, Callable] | Callable | None) -> dict[str, Callable]:
    """``{"name": fn}`` from a mapping, one callable (named by its ``__name__``) or None."""
    if metrics is None:
        return {}
    if callable(metrics):
        return {getattr(metrics, "__name__", "metric"): metrics}
    if not isinstance(metrics, Mapping) or not all(isinstance(k, str) and callable(v) for k, v in metrics.items()):
        raise TypeError(f"metrics: expected a mapping of names to metric(outputs, y) functions, a function, "
                        f"or None, got {metrics!r}")
    return dict(metrics)


@_memoized
def _make_batch_stats(model: Model, loss: Loss, metrics: tuple):
    @jax.jit
    def batch_stats(params, xb, yb):
        out = model.apply(params, xb)
        return loss(out, yb), {name: fn(out, yb) for name, fn in metrics}

    return batch_stats


def make_evaluate(model: Model, loss: Loss, metrics: Mapping[str, Callable] | Callable | None = accuracy,
                  *, batch_size: int = 1024, mesh=None) -> Callable[[Any, Array, Array], dict]:
    """``evaluate(params, x, y) -> {"loss": float, <metric name>: float, ...}`` over a whole set.

    ``metrics`` maps names to ``metric(outputs, y) -> scalar`` (default ``accuracy``, reported
    as ``"accuracy"``; one function is named by its ``__name__``). Each batch runs one jitted
    forward pass in eval mode (no dropout); batch means are weighted by batch length, so the
    result is the exact mean over the set. With a ``mesh``, params are replicated and a
    batch is split over the devices when its length divides by their count (the last,
    short batch is replicated instead). The jitted pass is cached on the model, loss and
    metrics, so evaluating again compiles nothing.
    """
    named = _named_metrics(metrics)
    batch_size = _checks.positive_int("batch_size", batch_size)
    batch_stats = _make_batch_stats(model, loss, tuple(sorted(named.items())))

    def evaluate(params, x, y) -> dict:
        n = x.shape[0]
        if n == 0:
            raise ValueError(f"x: expected at least one example to evaluate, got shape {tuple(x.shape)}")
        totals = dict.fromkeys(["loss", *named], 0.0)
        if mesh is not None:
            params = parallel.replicate(mesh, params)
        for start in range(0, n, batch_size):
            xb, yb = x[start:start + batch_size], y[start:start + batch_size]
            if mesh is not None:
                place = (parallel.shard_batch if xb.shape[0] % parallel.size(mesh) == 0 else parallel.replicate)
                xb, yb = place(mesh, xb), place(mesh, yb)
            value, stats = batch_stats(params, xb, yb)
            for name, v in [("loss", value), *stats.items()]:
                totals[name] += float(v) * xb.shape[0]
        return {name: total / n for name, total in totals.items()}

    return evaluate


class CompileClock:
    """Seconds JAX spent tracing, lowering and compiling while it is open (``jax.monitoring``),
    and how many compilations there were: what :func:`fit` reports as ``compile_seconds``
    and the bench as ``compile_s`` (:func:`nnlect.bench.measure.compile_clock`)."""

    EVENTS = ("/jax/core/compile/jaxpr_trace_duration", "/jax/core/compile/jaxpr_to_mlir_module_duration",
              "/jax/core/compile/backend_compile_duration")

    def __init__(self):
        self.seconds, self.compiles = 0.0, 0

    def _listen(self, event: str, duration_secs: float, **_) -> None:
        if event in self.EVENTS:
            self.seconds += duration_secs
            self.compiles += event == self.EVENTS[-1]

    def __enter__(self):
        jax.monitoring.register_event_duration_secs_listener(self._listen)
        return self

    def __exit__(self, *exc):
        jax.monitoring.unregister_event_duration_listener(self._listen)


@jax.jit
def _all_finite(tree) -> Array:
    """Whether every float in ``tree`` is finite: ``sum(leaf * 0)`` is 0 for finite values and
    NaN as soon as one is NaN or inf (no overflow, unlike a plain sum). It compiled in 0.20 s
    for LeNet-5's params where ``all(isfinite(leaf))`` per leaf took 0.37 s."""
    zeros = [jnp.sum(leaf * 0, dtype=jnp.float32) for leaf in jax.tree.leaves(tree)
             if jnp.issubdtype(jnp.result_type(leaf), jnp.inexact)]
    return jnp.isfinite(sum(zeros)) if zeros else jnp.array(True)


def _check_labels(model: Model, params: Any, x: Array, y: Array, carry: Any) -> None:
    """Class-index labels must index the model's outputs: ``0 <= y < n_classes``.

    Checked once, on the host, when ``y`` is integer and one rank below the output (softmax
    cross-entropy's layout); an out-of-range label would otherwise read garbage or NaN deep
    inside the loss.
    """
    if not jnp.issubdtype(y.dtype, jnp.integer):
        return
    example = jax.ShapeDtypeStruct((1, *x.shape[1:]) if carry is None else x.shape[1:], x.dtype)
    out = _traced(model, *_structs(params, example, carry)).out
    out = out[0] if carry is not None else out
    if y.ndim + (1 if carry is None else 0) != out.ndim or y.size == 0:
        return
    n_classes = out.shape[-1]
    lo, hi = int(np.min(y)), int(np.max(y))
    if lo < 0 or hi >= n_classes:
        raise ValueError(f"y: expected class indices in [0, {n_classes}) for the model's {n_classes} outputs, "
                         f"got values from {lo} to {hi}")


def _check_state(state: TrainState, optimizer: optax.GradientTransformation) -> None:
    """A resumed ``state`` must hold this optimizer's state for its params."""
    if not isinstance(state, TrainState):
        raise TypeError(f"state: expected a nnlect.train.TrainState, got {type(state).__name__}")
    expected = jax.tree.structure(jax.eval_shape(optimizer.init, state.params))
    got = jax.tree.structure(state.opt_state)
    if expected != got:
        raise ValueError(f"state: its optimizer state does not match the optimizer passed to fit (was it built "
                         f"for another optimizer?): expected {expected}, got {got}")


def _choose_chunk(fused: bool | int | str, *, steps_per_epoch: int, model: Model, params: Any, xb: Array,
                  carry: Any, mesh) -> int:
    """Steps per XLA call: ``fused`` True -> the whole epoch, False -> 1, an int -> itself.

    ``"auto"``: the whole epoch, except on XLA:CPU for a network whose forward pass has an
    XLA convolution (``conv(impl="xla")``), which XLA lowers inside ``lax.scan`` with slow
    layouts (LeNet-5's fused epoch measured 2-3x slower than its step loop, docs/mnist.md):
    one step per call there. ``conv``'s default lowering on CPU is im2col, which has no
    convolution op, so LeNet-5 fuses (1.18x its step loop in the bench).
    """
    if fused is True:
        return steps_per_epoch
    if fused is False:
        return 1
    if isinstance(fused, (int, np.integer)) and not isinstance(fused, bool):
        return min(_checks.positive_int("fused", fused), steps_per_epoch)
    if fused != "auto":
        raise ValueError(f"fused: expected True, False, a number of steps per call, or 'auto', got {fused!r}")
    backend = (mesh.devices.flat[0].platform if mesh is not None else jax.default_backend())
    if backend == "cpu" and _traced(model, *_structs(params, xb, carry)).convolution:
        return 1
    return steps_per_epoch


def _structs(*trees: Any) -> tuple:
    """Hashable shapes and dtypes of ``trees`` (None stays None): a cache key for :func:`_traced`."""
    def struct(tree):
        if tree is None:
            return None
        leaves, treedef = jax.tree.flatten(tree)
        return treedef, tuple(jax.ShapeDtypeStruct(a.shape, a.dtype) for a in leaves)

    return tuple(struct(t) for t in trees)


class _Traced(NamedTuple):
    out: Any  # the model output's ShapeDtypeStruct(s)
    convolution: bool  # whether the forward pass has a convolution


@_memoized
def _traced(model: Model, params: tuple, xb: tuple, carry: tuple | None) -> _Traced:
    """What :func:`fit` needs to know of ``model.apply`` on these shapes, traced once per
    model and shapes (so a second ``fit`` traces nothing)."""
    def forward(p, x, c):
        return model.apply(p, x) if c is None else model.apply(p, x, h0=c, return_state=True)

    jaxpr, out = jax.make_jaxpr(forward, return_shape=True)(
        *(None if t is None else jax.tree.unflatten(*t) for t in (params, xb, carry)))
    return _Traced(out, "conv_general_dilated" in str(jaxpr))


class _Stop(Exception):
    pass


def fit(model: Model, params: Any, loss: Loss, optimizer: optax.GradientTransformation,
        x: Any = None, y: Any = None, *, key: Array, epochs: int,
        batch_size: int | None = None, data: Iterable | Callable[[int], Iterable] | None = None,
        shuffle: bool = True, eval_data: tuple[Array, Array] | None = None,
        metrics: Mapping[str, Callable] | Callable | None = accuracy,
        fused: bool | int | str = "auto", state: Any = None, start_epoch: int | None = None,
        carry: Any = None, max_steps: int | None = None, time_budget: float | None = None,
        callback: Callable[..., None] | None = None,
        on_step: Callable[[dict, TrainState], None] | None = None, log_every: int | None = None,
        mesh=None, data_parallel: bool = False) -> tuple[TrainState, list[dict]]:
    """Train ``model`` for ``epochs`` epochs: the one training loop of nnlect.

    **Data**, one of:

    - ``x, y`` ``(N, ...)`` in memory with ``batch_size``: each epoch is a permutation of the
      N examples (:func:`epoch_order`; ``shuffle=False`` keeps their order) cut into
      ``N // batch_size`` minibatches, gathered inside the jitted call.
    - ``x, y`` ``(S, B, ...)`` already cut into S minibatches, with ``batch_size=None``: taken
      in order, one per step (a language model's windows, :func:`nnlect.data.text.bptt_windows`).
    - ``data``: an iterable of ``(x_batch, y_batch)`` pairs, iterated once per epoch (e.g. a
      ``grain`` DataLoader, or :func:`nnlect.data.batches`), or a function ``epoch -> iterable``
      (epochs counted from 0) so that each epoch's shuffle can depend on the epoch. Each
      batch is moved to the device as it comes; nothing holds the whole set.

    Arguments:
        params: initial params (ignored when ``state`` is given, e.g. to resume).
        key: the run's base PRNG key (dropout and shuffling streams derive from it).
        eval_data: ``(x, y)`` evaluated after every epoch with ``loss`` and ``metrics``.
        metrics: names to ``metric(outputs, y)`` for ``eval_data`` (default ``accuracy``,
            reported as ``eval_accuracy``), one function (named by ``__name__``), or None.
        fused: steps per XLA call. True: a whole epoch (``lax.scan``); False: one jitted call
            per step; an int K: K steps per call; ``"auto"`` (default): a whole epoch, but one
            step per call on CPU for a network with XLA convolutions (``conv(impl="xla")``:
            XLA:CPU is slow at those inside a scan).
            Every choice trains on the same minibatches and gives the same numbers.
        state: continue a run (a checkpoint's :class:`TrainState`). With in-memory data the
            position in the run is ``state.step``, mid-epoch included; ``start_epoch`` (for
            ``data`` iterables, whose epoch length is unknown) numbers the epochs.
        carry: a recurrent model's starting state ``(B, H)``: ``model.apply`` gets
            ``h0=carry, return_state=True`` and the state flows from one minibatch to the next
            with no gradient through the boundary (truncated BPTT); it is reset to zeros at
            the start of every epoch. Use with pre-batched ``x`` (consecutive windows).
        max_steps: stop once ``state.step`` reaches it (counted over the whole run, so a
            resumed run stops where the uninterrupted one would).
        time_budget: wall seconds; stop after the first call that ends past it.
        callback: ``callback(row, state)`` after every epoch and when training stops early
            (``callback(row, state, carry)`` with ``carry``): evaluation, checkpoints. It runs
            after params and losses were checked finite, so it never saves a diverged state.
        on_step: ``on_step(row, state)`` every ``log_every`` steps with
            ``row = {"step", "epoch", "train_loss"}`` (mean over those steps); calls are cut
            at those steps, so only a hook that asks costs a host sync.
        mesh: a :func:`nnlect.parallel.data_parallel_mesh` to split every minibatch over
            (``batch_size`` must divide by its device count); ``data_parallel=True`` builds
            one over all devices. Same numbers as one device, up to float32 rounding of
            the all-reduced gradient sum.

    The jitted functions are cached on ``(model, loss, optimizer, settings)``: a second
    ``fit`` with the same objects and shapes (another run, a resume) compiles nothing.

    Returns:
        ``(state, history)``; one row per epoch with ``epoch`` (fractional when stopped
        mid-epoch), ``step``, ``train_loss`` (mean over the epoch's steps), ``seconds``
        (wall, compilation included), ``compile_seconds`` and ``compiles`` (what JAX spent
        tracing and compiling during the epoch), ``steps_per_s`` and, with ``eval_data``,
        ``eval_loss`` and ``eval_<metric>``.

    Raises:
        FloatingPointError: a non-finite train loss, param or eval loss (before ``callback``).
    """
    epochs = _checks.positive_int("epochs", epochs)
    if max_steps is not None:
        max_steps = _checks.positive_int("max_steps", max_steps)
    if time_budget is not None:
        _checks.positive("time_budget", time_budget)
    every = _checks.positive_int("log_every", log_every) if log_every is not None else 100
    named = _named_metrics(metrics)
    if mesh is None and data_parallel:
        mesh = parallel.data_parallel_mesh()
    if (data is None) == (x is None):
        raise ValueError("x, data: expected either in-memory x and y or an iterable `data` of (x, y) batches, "
                         f"got {'both' if data is not None else 'neither'}")
    steps_per_epoch: Any
    if data is None:
        _checks.array("x", x)
        _checks.array("y", y)
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"x and y: expected the same number of examples, got {x.shape[0]} and {y.shape[0]}")
        if batch_size is None:  # pre-batched (S, B, ...)
            if x.ndim < 2 or y.ndim < 2 or x.shape[1] != y.shape[1]:
                raise ValueError(f"x, y: with batch_size=None expected pre-batched (S, B, ...) arrays with the same "
                                 f"S and B, got shapes {tuple(x.shape)} and {tuple(y.shape)}")
            steps_per_epoch, batch = x.shape[0], x.shape[1]
        else:
            batch_size = _checks.positive_int("batch_size", batch_size)
            if batch_size > x.shape[0]:
                raise ValueError(f"batch_size: expected at most the number of examples ({x.shape[0]}), got {batch_size}")
            steps_per_epoch, batch = x.shape[0] // batch_size, batch_size
        if steps_per_epoch == 0:
            raise ValueError(f"x: expected at least one minibatch, got shape {tuple(x.shape)}")
    else:
        if batch_size is not None:
            raise ValueError("batch_size: the batches of `data` come already cut; pass batch_size=None")
        steps_per_epoch, batch = 0, 0  # unknown until the iterable ends
    if mesh is not None and batch:
        parallel.check_divisible(batch, mesh)
    if carry is not None:
        if data is not None or batch_size is not None:
            raise ValueError("carry: expected pre-batched x, y (S, B, ...) with batch_size=None; a state carried "
                             "from one minibatch to the next needs consecutive windows")
        if carry.shape[0] != batch:
            raise ValueError(f"carry: expected a state with the batch's {batch} rows, got shape {tuple(carry.shape)}")

    if state is None:  # a copy: the calls donate the state's buffers, the caller keeps params
        state = _make_init(optimizer)(params)
    else:
        _check_state(state, optimizer)
    if data is None:
        _check_labels(model, state.params, x, y, carry)
    step = int(state.step)
    if steps_per_epoch:
        derived = step // steps_per_epoch
        if start_epoch is not None and start_epoch != derived:
            raise ValueError(f"start_epoch: the state is at step {step}, i.e. in epoch {derived + 1} of "
                             f"{steps_per_epoch} steps each, but start_epoch={start_epoch} was passed")
        start_epoch = derived
    start_epoch = start_epoch or 0
    c0 = jnp.zeros_like(carry) if carry is not None else None
    c = jnp.copy(carry) if carry is not None else ()

    evaluate = make_evaluate(model, loss, named, mesh=mesh) if eval_data is not None else None
    if data is None:
        if mesh is None:
            x, y = jax.device_put(x), jax.device_put(y)
        elif batch_size is None:  # pre-batched windows: split every window's B streams
            state = parallel.replicate(mesh, state)
            x, y = parallel.shard_batch(mesh, x, axis=1), parallel.shard_batch(mesh, y, axis=1)
            c = parallel.shard_batch(mesh, c) if carry is not None else c
        else:  # the whole set on every device; each epoch's layout is split along B
            state, x, y = parallel.replicate(mesh, (state, x, y))
        # one example (or one window): the shape _check_labels traced, so the trace is reused
        first = jax.ShapeDtypeStruct((1, *x.shape[1:]) if batch_size is not None else x.shape[1:], x.dtype)
        chunk = _choose_chunk(fused, steps_per_epoch=steps_per_epoch, model=model, params=state.params,
                              xb=first, carry=carry, mesh=mesh)
    else:
        if mesh is not None:
            state = parallel.replicate(mesh, state)
        chunk = 1 if fused in ("auto", False) else (
            steps_per_epoch if fused is True else _checks.positive_int("fused", fused))
        if fused is True:
            raise ValueError("fused: True (a whole epoch per call) needs in-memory x, y; with `data`, pass the "
                             "number of batches per call")
    sync = parallel.needs_sync(mesh)
    prepared: dict[int, tuple] = {}  # the next epoch's (xs, ys, losses), dispatched early

    def prepare_epoch(epoch: int) -> tuple:
        b = cast(int, batch_size)
        order = (epoch_order(key, epoch * steps_per_epoch, x.shape[0], b) if shuffle
                 else np.arange(steps_per_epoch * b, dtype=np.int32))
        return _make_epoch_batches(steps_per_epoch, b, mesh)(x, y, order)
    runners: dict[int, Callable] = {}
    history: list[dict] = []
    clock, started = CompileClock(), time.perf_counter()

    def emit(row: dict) -> None:
        """Check, evaluate, record and hand a finished epoch (or the last part of one) on."""
        if not bool(_all_finite(state.params)):
            raise FloatingPointError(f"training diverged in epoch {row['epoch']}: the params hold NaN or inf "
                                     "(nothing was saved); lower the learning rate or check the inputs")
        if evaluate is not None:
            ev = evaluate(state.params, *cast(tuple, eval_data))
            if not np.isfinite(ev["loss"]):
                raise FloatingPointError(f"training diverged in epoch {row['epoch']}: eval loss is {ev['loss']} "
                                         "(nothing was saved); lower the learning rate or check eval_data")
            row.update({f"eval_{name}": value for name, value in ev.items()})
        history.append(row)
        if callback is not None:
            callback(row, state, c) if carry is not None else callback(row, state)

    def collected(losses: list) -> np.ndarray:
        """This epoch's step losses: a slice of the device buffer, or the iterable's chunks."""
        if data is None:
            buffer, first, last = losses
            return np.asarray(buffer)[first:last]
        return np.concatenate([np.asarray(v) for v in losses])

    def check(values: np.ndarray, at: int) -> None:
        if not np.all(np.isfinite(values)):
            bad = float(values[~np.isfinite(values)][0])
            raise FloatingPointError(f"training diverged in epoch {epoch + 1} (by step {at}): train loss is {bad}; "
                                     "lower the learning rate or check the inputs for NaN/inf")

    with clock:
        try:
            for epoch in range(start_epoch, start_epoch + epochs):
                t_epoch, compile_before, compiles_before = time.perf_counter(), clock.seconds, clock.compiles
                losses, calls = [], 0  # array sources: [buffer, first, last position]
                position = logged_from = step % steps_per_epoch if steps_per_epoch else 0
                if data is None:
                    if position == 0 and carry is not None:
                        c = jnp.zeros_like(carry) if mesh is None else parallel.shard_batch(mesh, c0)
                    if batch_size is None:  # pre-batched: the windows in order
                        xs, ys = x, y
                        buffer = jnp.zeros((steps_per_epoch,), jnp.float32)
                        if mesh is not None:
                            buffer = parallel.replicate(mesh, buffer)
                    else:
                        xs, ys, buffer = prepared.pop(epoch, None) or prepare_epoch(epoch)
                    first = position
                    while position < steps_per_epoch:
                        n = min(chunk, steps_per_epoch - position)
                        if max_steps is not None:
                            n = min(n, max_steps - step)
                        if on_step is not None:
                            n = min(n, every - step % every)
                        if n <= 0:
                            raise _Stop
                        run = runners.get(n) or runners.setdefault(n, _make_chunk(
                            model, loss, optimizer, n=n, steps_per_epoch=steps_per_epoch,
                            carry=carry is not None, mesh=mesh))
                        state, c, buffer = run(state, c, buffer, xs, ys, key)
                        calls += 1
                        step, position = step + n, position + n
                        losses = [buffer, first, position]
                        if sync and calls % parallel.SYNC_EVERY == 0:
                            buffer.block_until_ready()  # CPU meshes: cap the collective steps in flight
                        if on_step is not None and step % every == 0:
                            part = np.asarray(buffer)[logged_from:position]
                            check(part, step)
                            on_step({"step": step, "epoch": epoch + position / steps_per_epoch,
                                     "train_loss": float(part.mean())}, state)
                            logged_from = position
                        if (max_steps is not None and step >= max_steps) or (
                                time_budget is not None and time.perf_counter() - started > time_budget):
                            raise _Stop
                    if batch_size is not None and epoch + 1 < start_epoch + epochs:
                        # Queue the next epoch's layout behind this one's steps before the
                        # host waits on this epoch's losses: the device never idles on it.
                        prepared[epoch + 1] = prepare_epoch(epoch + 1)
                else:
                    source = cast(Iterable, data(epoch) if callable(data) else data)
                    pending: list = []
                    for xb, yb in source:
                        pending.append((np.asarray(xb), np.asarray(yb)))
                        if len(pending) < chunk:
                            continue
                        xs = np.stack([p[0] for p in pending])
                        ys = np.stack([p[1] for p in pending])
                        pending = []
                        if mesh is not None:
                            xs, ys = parallel.shard_batch(mesh, xs, axis=1), parallel.shard_batch(mesh, ys, axis=1)
                        state, c, values = _make_batch_step(model, loss, optimizer, carry=False, mesh=mesh)(
                            state, c, xs, ys, key)
                        losses.append(values)
                        step += xs.shape[0]
                        if on_step is not None and step % every < xs.shape[0]:
                            part = np.asarray(values)
                            check(part, step)
                            on_step({"step": step, "epoch": epoch, "train_loss": float(part.mean())}, state)
                        if (max_steps is not None and step >= max_steps) or (
                                time_budget is not None and time.perf_counter() - started > time_budget):
                            raise _Stop
                    if pending:
                        raise ValueError(f"data: {len(pending)} batches were left over at the end of epoch "
                                         f"{epoch + 1}, fewer than fused={chunk} per call")
                    if not losses:
                        raise ValueError(f"data: epoch {epoch + 1} yielded no batches")
                values = collected(losses)
                check(values, step)
                elapsed = time.perf_counter() - t_epoch
                emit({"epoch": epoch + 1, "step": step, "train_loss": float(values.mean()), "seconds": elapsed,
                      "compile_seconds": clock.seconds - compile_before,
                      "compiles": clock.compiles - compiles_before, "steps_per_s": len(values) / elapsed})
        except _Stop:
            if losses:
                values = collected(losses)
                check(values, step)
                elapsed = time.perf_counter() - t_epoch
                whole = data is not None or position == steps_per_epoch
                emit({"epoch": epoch + 1 if whole else round(epoch + position / steps_per_epoch, 4), "step": step,
                      "train_loss": float(values.mean()), "seconds": elapsed,
                      "compile_seconds": clock.seconds - compile_before,
                      "compiles": clock.compiles - compiles_before, "steps_per_s": len(values) / elapsed,
                      "stopped": "max_steps" if max_steps is not None and step >= max_steps else "time_budget"})
    return state, history
