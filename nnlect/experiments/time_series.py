r"""Slide "Recurrent Neural Network (RNN)": RNNs model sequential data, such as a time series.
A recurrent network carries a state along the series, so what it saw long ago can still
decide its answer; a feed-forward network on a fixed window of the last ``W`` steps cannot
see past the window.

**The series.** Each has ``T = 32`` noisy steps (noise :math:`\sigma = 0.3`): a sinusoid at
one of three frequencies (periods of 12, 6 and 4 steps) at a random phase, which starts
from one of three levels (-1, 0 or +1 added for the first 10 steps) and then falls back to 0.

**Two tasks**, both three-way classifications:

- *frequency*: which frequency is the series at; the answer lies in every part of it,
  the window included;
- *start*: which level did it start from; the answer lies 22 steps back or more, outside
  a window of the last ``W = 16``.

**Three models**, all composed of :mod:`nnlect.layers` and trained alike (Adam, the same
steps and batch size): an MLP on the window (``dense(64)``, tanh, ``dense(3)``), a 1-D CNN
on the window (``conv(16, (5,))``, relu, ``max_pool((2,))``, ``conv(16, (5,))``, relu,
flatten, ``dense(3)``), and the lecture's Elman RNN on the whole series
(``recurrent(elman(32), output="last")``, ``dense(3)``), which reads one step at a time and
has no window.

The claim: on *frequency* all three do well; on *start* the window models stay at chance
(1/3), the RNN does not.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

import nnlect as nl
from nnlect.experiments._common import Claim, new_figure

L = nl.layers
FREQUENCIES = (1 / 12, 1 / 6, 1 / 4)  # cycles per step
LEVELS = (-1.0, 0.0, 1.0)
LENGTH, SWITCH, WINDOW = 32, 10, 16
TASKS = ("frequency", "start")
MODELS = ("mlp", "cnn", "rnn")


def generate(n: int, *, key: jax.Array, noise: float = 0.3) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``n`` series ``(n, LENGTH, 1)`` float32 and their labels ``(n,)`` by task: the
    frequency's index (``"frequency"``) and the starting level's (``"start"``)."""
    k_freq, k_level, k_phase, k_noise = jax.random.split(key, 4)
    freq = jax.random.randint(k_freq, (n,), 0, len(FREQUENCIES))
    level = jax.random.randint(k_level, (n,), 0, len(LEVELS))
    phase = jax.random.uniform(k_phase, (n, 1), maxval=2 * jnp.pi)
    t = jnp.arange(LENGTH, dtype=jnp.float32)
    wave = jnp.sin(2 * jnp.pi * jnp.asarray(FREQUENCIES)[freq][:, None] * t[None, :] + phase)
    start = jnp.where(t[None, :] < SWITCH, jnp.asarray(LEVELS)[level][:, None], 0.0)
    x = wave + start + noise * jax.random.normal(k_noise, wave.shape)
    return np.asarray(x[..., None], np.float32), {"frequency": np.asarray(freq, np.int32),
                                                  "start": np.asarray(level, np.int32)}


def models() -> dict[str, tuple[nl.Model, slice]]:
    """Each model and the part of the series it reads: the last ``WINDOW`` steps, or all."""
    window = slice(LENGTH - WINDOW, LENGTH)
    mlp = nl.build(nl.serial(L.flatten(), L.dense(64), L.activation("tanh"), L.dense(3)), (WINDOW, 1))
    cnn = nl.build(nl.serial(L.conv(16, (5,)), L.activation("relu"), L.max_pool((2,)), L.conv(16, (5,)),
                             L.activation("relu"), L.flatten(), L.dense(3)), (WINDOW, 1))
    # the lecture's Elman cell (orthogonal W_hh at init) learns this; measured once with the same
    # data and 200 steps, a default GRU stayed at chance and an LSTM needed forget_bias=3
    rnn = nl.build(nl.serial(L.recurrent(L.elman(32), output="last"), L.dense(3)), (LENGTH, 1))
    return {"mlp": (mlp, window), "cnn": (cnn, window), "rnn": (rnn, slice(0, LENGTH))}


def train_and_test(model: nl.Model, x: np.ndarray | jax.Array, y: np.ndarray | jax.Array,
                   x_test: np.ndarray | jax.Array, y_test: np.ndarray | jax.Array, *,
                   steps: int, key: jax.Array, batch_size: int = 64, learning_rate: float = 1e-2):
    """Adam (cosine decay) on minibatches drawn with replacement for ``steps`` steps, all in
    one ``lax.scan``; returns the test accuracy.

    ``y`` ``(n,)`` and ``y_test`` ``(n_test,)`` train one model; ``(K, n)`` and ``(K, n_test)``
    train K independent models on the same inputs, one per label set, in one vmapped call
    (one compilation), and return K accuracies ``(K,)``.
    """
    optimizer = optax.adam(optax.cosine_decay_schedule(learning_rate, steps))
    x, y, x_test, y_test = map(jnp.asarray, (x, y, x_test, y_test))
    single = y.ndim == 1
    y, y_test = (y[None], y_test[None]) if single else (y, y_test)
    if y.shape[1:] != x.shape[:1] or y_test.shape[1:] != x_test.shape[:1] or y.shape[0] != y_test.shape[0]:
        raise ValueError(f"y, y_test: expected ({x.shape[0]},) and ({x_test.shape[0]},) labels (or K of each), "
                         f"got {tuple(y.shape)} and {tuple(y_test.shape)}")

    def one(key, labels, labels_test):
        init_key, batch_key = jax.random.split(key)

        def step(carry, k):
            params, opt_state = carry
            idx = jax.random.randint(k, (batch_size,), 0, x.shape[0])
            grads = jax.grad(lambda p: nl.softmax_cross_entropy(model.apply(p, x[idx]), labels[idx]))(params)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), None

        params = model.init(init_key)
        (params, _), _ = jax.lax.scan(step, (params, optimizer.init(params)), jax.random.split(batch_key, steps))
        return nl.accuracy(model.apply(params, x_test), labels_test)

    accuracies = np.asarray(jax.jit(jax.vmap(one))(jax.random.split(key, y.shape[0]), y, y_test))
    return float(accuracies[0]) if single else accuracies


def compare(*, seed: int = 0, n_train: int = 2000, n_test: int = 1000, steps: int = 250) -> dict:
    """Test accuracy of every model on every task, ``{"accuracy": {task: {model: acc}}, ...}``,
    and three test series with their labels for the figure."""
    k_train, k_test, k_fit = jax.random.split(jax.random.key(seed), 3)
    x, labels = generate(n_train, key=k_train)
    x_test, labels_test = generate(n_test, key=k_test)
    accuracy: dict[str, dict[str, float]] = {task: {} for task in TASKS}
    y = np.stack([labels[task] for task in TASKS])
    y_test = np.stack([labels_test[task] for task in TASKS])
    for i, (name, (model, part)) in enumerate(models().items()):
        # both tasks at once: two independent models in one compiled call
        both = train_and_test(model, x[:, part], y, x_test[:, part], y_test, steps=steps, key=jax.random.fold_in(k_fit, i))
        for task, acc in zip(TASKS, np.atleast_1d(both)):  # K label sets in, K accuracies out
            accuracy[task][name] = float(acc)
    return {"accuracy": accuracy, "examples": x_test[:3, :, 0], "labels": {t: v[:3] for t, v in labels_test.items()},
            "n_train": n_train, "n_test": n_test, "steps": steps, "chance": 1 / len(LEVELS)}


def run(*, seed: int = 0, small: bool = False) -> Claim:
    """The tour's entry (``small``: fewer training steps)."""
    r = compare(seed=seed, steps=150 if small else 250)
    acc = r["accuracy"]
    holds = (min(acc["frequency"].values()) > 0.9 and acc["start"]["rnn"] > 0.9
             and max(acc["start"]["mlp"], acc["start"]["cnn"]) < r["chance"] + 0.1)
    summary = [f"{task:9s}: " + ", ".join(f"{m} {100 * acc[task][m]:.1f}%" for m in MODELS) for task in TASKS]
    summary.append(f"test accuracy on {r['n_test']} series; the MLP and the CNN read the last {WINDOW} of {LENGTH} "
                   f"steps, the RNN all of them; chance {100 * r['chance']:.0f}%")
    return Claim("time_series", "An RNN remembers a time series past any fixed window", bool(holds), summary, r, plot)


def plot(r: dict):
    fig, (ax_series, ax_bars) = new_figure(2, width=4.6)
    t = np.arange(LENGTH)
    for i, series in enumerate(r["examples"]):
        ax_series.plot(t, series + 4 * i, lw=1)
        period = round(1 / FREQUENCIES[int(r["labels"]["frequency"][i])])
        level = LEVELS[int(r["labels"]["start"][i])]
        ax_series.text(LENGTH + 0.5, 4 * i, f"period {period}\nstart {level:+.0f}", fontsize=7, va="center")
    ax_series.axvspan(LENGTH - WINDOW - 0.5, LENGTH - 0.5, color="0.9", label=f"window (last {WINDOW})")
    ax_series.axvline(SWITCH - 0.5, color="k", ls=":", lw=1)
    ax_series.set(xlabel="step t", yticks=[], title="three test series", xlim=(0, LENGTH + 10))
    ax_series.legend(loc="upper left", fontsize=7)
    width = 0.25
    for k, model in enumerate(MODELS):
        ax_bars.bar(np.arange(len(TASKS)) + (k - 1) * width, [r["accuracy"][task][model] for task in TASKS],
                    width, label=model)
    ax_bars.axhline(r["chance"], color="k", ls="--", lw=1, label="chance")
    ax_bars.set(xticks=range(len(TASKS)), xticklabels=["which frequency", "which start level"], ylim=(0, 1.05),
                ylabel="test accuracy", title="three-way classification")
    ax_bars.legend(fontsize=7)
    return fig
