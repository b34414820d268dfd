r"""Slide "Use Case: Digits Recognition": LeNet-5 reads handwritten digits; the
lecture shows its 82 errors on MNIST's 10,000 test digits ("correct answer left,
machine answer right"). Here: the same network, its confusion matrix and every
misclassified test digit, on scikit-learn's bundled 8x8 digits by default (no
download) or on MNIST (``source="idx"`` with the IDX files, see
:func:`nnlect.data.mnist.load`).
"""

from __future__ import annotations

from typing import cast

import jax
import numpy as np
import optax

import nnlect as nl
from nnlect.experiments._common import Claim, new_figure


def train_and_inspect(*, source: str = "digits", data_dir=None, epochs: int = 15, batch_size: int = 64,
                      learning_rate: float = 2e-3, seed: int = 0, max_train: int | None = None,
                      fused: bool = False, download: bool = False, callback=None) -> dict:
    """Train LeNet-5 (ReLU, max pooling, Adam) and look at its test errors.

    Arguments:
        source: ``"digits"`` (8x8, 1500 train / 297 test), ``"idx"`` or ``"tfds"`` (MNIST 28x28).
        max_train: use only the first ``max_train`` training images (quick runs).
        fused: one XLA call per epoch (``fit(..., fused=True)``); the default
            step loop is the faster one for LeNet-5 on CPU (see docs/mnist.md).
        download: let tensorflow-datasets download MNIST (``source="tfds"``, needs network).
        callback: passed to :func:`nnlect.train.fit`, called after every epoch (progress).

    Returns:
        ``test_error``, ``errors`` (count) and ``test_examples``; ``confusion`` ``(10, 10)``
        int (row: true digit, column: predicted); ``wrong_images`` ``(E, H, W)``,
        ``wrong_labels``, ``wrong_predictions`` ``(E,)``; ``history`` per epoch.
    """
    from nnlect.data import mnist

    splits = mnist.load(source, data_dir=data_dir, seed=seed, download=download)
    (x, y), (x_test, y_test) = splits.train, splits.test
    if max_train is not None:
        x, y = x[:max_train], y[:max_train]
    model = nl.lenet5(input_shape=splits.image_shape, activation="relu", pooling="max")
    init_key, run_key = jax.random.split(jax.random.key(seed))
    state, history = nl.train.fit(model, model.init(init_key), nl.softmax_cross_entropy, optax.adam(learning_rate),
                                  x, y, key=run_key, epochs=epochs, batch_size=batch_size, eval_data=(x_test, y_test),
                                  fused=fused, callback=callback)
    evaluate = jax.jit(lambda p, xb: model.apply(p, xb).argmax(axis=-1))
    predictions = np.concatenate([np.asarray(evaluate(state.params, x_test[i:i + 1000]))
                                  for i in range(0, len(x_test), 1000)])
    confusion = np.zeros((10, 10), np.int64)
    np.add.at(confusion, (y_test, predictions), 1)
    wrong = np.flatnonzero(predictions != y_test)
    return {
        "source": splits.source, "test_examples": int(len(y_test)), "train_examples": int(len(y)),
        "errors": int(len(wrong)), "test_error": float(len(wrong) / len(y_test)),
        "confusion": confusion, "wrong_images": x_test[wrong, :, :, 0], "wrong_labels": y_test[wrong],
        "wrong_predictions": predictions[wrong], "history": history, "epochs": epochs,
    }


def run(*, seed: int = 0, small: bool = False) -> Claim:
    """The tour's entry: LeNet-5 on the bundled 8x8 digits."""
    r = train_and_inspect(seed=seed, epochs=4 if small else 15)
    summary = [f"LeNet-5 (ReLU, max pooling) on {r['train_examples']} 8x8 digits, {r['epochs']} epochs: "
               f"{r['errors']} errors on {r['test_examples']} test digits, test error {r['test_error']:.1%} "
               "(the lecture: 82 errors of 10,000 on MNIST, 0.82%; nnlect train lenet5 --data mnist reruns that)"]
    return Claim("lenet5", "LeNet-5 learns to read handwritten digits (test error far below the 90% of guessing)", r["test_error"] < 0.15, summary, r, plot)


def plot(r: dict, *, max_shown: int = 40):
    """The confusion matrix, and the misclassified test digits labelled ``true -> predicted``."""
    shown = min(r["errors"], max_shown)
    cols = 8
    rows = max(1, -(-shown // cols))
    fig = new_figure(1, width=4.6, height=4.2)[0]
    fig.set_size_inches(4.6 + 0.75 * cols, max(4.2, 0.85 * rows + 0.6))
    # an array of two here; the declared return type also covers subfigures(1, 1)'s lone SubFigure
    left, right = cast(np.ndarray, fig.subfigures(1, 2, width_ratios=[4.6, 0.75 * cols]))
    fig.delaxes(fig.axes[0])
    ax = left.subplots()
    image = ax.imshow(r["confusion"], cmap="Blues")
    for (i, j), n in np.ndenumerate(r["confusion"]):
        if n:
            ax.text(j, i, str(n), ha="center", va="center", fontsize=7, color="white" if n > r["confusion"].max() / 2 else "black")
    ax.set(xlabel="predicted", ylabel="true digit", xticks=range(10), yticks=range(10),
           title=f"confusion matrix ({r['source']}, {r['errors']} errors / {r['test_examples']})")
    left.colorbar(image, ax=ax, shrink=0.7)
    right.suptitle("misclassified test digits: true -> predicted"
                   + (f" (first {shown} of {r['errors']})" if shown < r["errors"] else ""), fontsize=9)
    if shown:
        axes = right.subplots(rows, cols, squeeze=False).ravel()
        for k, a in enumerate(axes):
            a.axis("off")
            if k < shown:
                a.imshow(r["wrong_images"][k], cmap="gray_r")
                a.set_title(f"{r['wrong_labels'][k]} -> {r['wrong_predictions'][k]}", fontsize=8)
    return fig
