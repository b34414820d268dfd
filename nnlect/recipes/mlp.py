r"""``nnlect train mlp``: a fully connected network on handwritten digits.

The lecture's MLP (slides "Hidden Layers and Backpropagation", "Deep Neural Network")
on flattened images, softmax cross-entropy, Adam, optional dropout. Data: the 8x8
scikit-learn digits (bundled, no download), MNIST (the IDX files in ``--data-dir`` /
``$NNLECT_DATA_DIR``, md5-checked), any dataset in MNIST's IDX layout (``--data idx``,
e.g. Fashion-MNIST) or MNIST through tensorflow-datasets (``--download`` to fetch it),
through :func:`nnlect.data.mnist.load`. ``result.json`` records the data's source, folder
and content hash (``data``).

A checkpoint (:mod:`nnlect.checkpoint`) is written atomically after every epoch;
``--resume`` continues from it and ends with the same params, bit for bit, as a run
that was never interrupted: the shuffling and dropout keys depend only on the seed and
the step counter saved in the state. ``--epochs`` is the total, so rerunning the same
command with ``--resume`` finishes the job.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import jax
import numpy as np
import optax

import nnlect as nl
from nnlect import checkpoint
from nnlect.commands import _args
from nnlect.commands._progress import EpochBar

NAME = "mlp"
HELP = "MLP on handwritten digits (sklearn 8x8 digits, or MNIST), with dropout and resumable checkpoints"
DEFAULT_EPOCHS = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    data = parser.add_argument_group("data")
    data.add_argument("--data", choices=("digits", "mnist", "idx", "tfds"), default="digits", help=_args.IMAGE_DATA_HELP)
    data.add_argument("--data-dir", type=Path, default=None, help="folder of the IDX files (or tfds data_dir)")
    _args.add_download_flag(data)
    model = parser.add_argument_group("model and training")
    model.add_argument("--hidden", type=int, nargs="+", default=[256, 256], metavar="UNITS",
                       help="width of each hidden layer, e.g. --hidden 512 512")
    model.add_argument("--activation", default="relu",
                       help="hidden activation: sigmoid, tanh, relu, leaky_relu, elu, softplus, maxout, noisy_relu")
    model.add_argument("--dropout", type=float, default=0.0, help="drop probability after each hidden layer, in [0, 1)")
    model.add_argument("--batch-size", type=int, default=64, help="minibatch size")
    model.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (constant)")
    model.add_argument("--target-error", type=float, default=None,
                       help="exit with code 1 when the final test error (a fraction, e.g. 0.03) is above this")


def run(args: argparse.Namespace) -> dict:
    t0 = time.perf_counter()  # the flags and --out were checked before this (commands/_args.py)
    splits = _args.load_images(args)
    (x, y), (x_test, y_test) = splits.train, splits.test
    x, x_test = x.reshape(len(x), -1), x_test.reshape(len(x_test), -1)
    if args.batch_size > len(x):
        raise ValueError(f"--batch-size: expected at most the {len(x)} training examples, got {args.batch_size}")
    sizes = [x.shape[1], *args.hidden, 10]
    model = nl.mlp(sizes, args.activation, dropout=args.dropout)
    optimizer = optax.adam(args.lr)
    init_key, run_key = jax.random.split(jax.random.key(args.seed))
    params = model.init(init_key)
    settings = {"recipe": NAME, "data": splits.source, "data_sha256_16": splits.sha256_16, "sizes": sizes, "activation": args.activation,
                "dropout": args.dropout, "batch_size": args.batch_size, "learning_rate": args.lr, "seed": args.seed}

    path = checkpoint.run_file(args.out, resume=args.resume)
    state, done, earlier = None, 0, []
    if args.resume:
        state, done, earlier = checkpoint.resume(path, nl.train.init_state(params, optimizer), meta=settings)
        print(f"resumed from {path} after epoch {done} (step {int(state.step)})")
    saver = checkpoint.epoch_saver(path, meta=settings)
    saver.history[:0] = earlier
    history = list(earlier)
    if done < args.epochs:
        bar = EpochBar(args.epochs, initial=done, desc=f"mlp {'-'.join(map(str, sizes))}", enabled=not args.quiet,
                       steps_per_epoch=len(x) // args.batch_size)

        def callback(row, state):
            saver(row, state)
            bar.update(row)

        try:
            state, new_rows = nl.train.fit(model, params, nl.softmax_cross_entropy, optimizer, x, y, key=run_key,
                                           epochs=args.epochs - done, batch_size=args.batch_size,
                                           eval_data=(x_test, y_test), state=state, start_epoch=done,
                                           callback=callback, data_parallel=args.data_parallel, **bar.hooks())
        except KeyboardInterrupt:
            where = f"after epoch {saver.history[-1]['epoch']}" if saver.history else "none yet"
            print(f"checkpoint {path}: {where}; rerun the same command with --resume to continue", file=sys.stderr)
            raise
        finally:
            bar.close()
        history += new_rows
    assert state is not None  # fit ran, or the resumed run had nothing left to do
    params = jax.device_get(state.params)
    logits = np.asarray(model.apply(params, x_test))
    test_error = float(np.mean(logits.argmax(axis=1) != y_test))
    train_error = float(np.mean(np.asarray(model.apply(params, x)).argmax(axis=1) != y))
    missed = args.target_error is not None and test_error > args.target_error
    print(f"mlp {sizes}: test error {test_error:.2%} ({int(round(test_error * len(y_test)))} of {len(y_test)}), "
          f"train error {train_error:.2%}" + (f"; target {args.target_error:.2%} MISSED" if missed else ""))
    return {
        "recipe": NAME, "data": splits.record(), "train_size": len(x), "test_size": len(x_test),
        "model": {"sizes": sizes, "activation": args.activation, "dropout": args.dropout,
                  "params": nl.count_params(params)},
        "training": {"epochs": args.epochs, "resumed_from_epoch": done if args.resume else None,
                     "batch_size": args.batch_size, "learning_rate": args.lr, "seed": args.seed,
                     "steps": int(state.step)},
        "test_error": test_error, "test_errors": int(round(test_error * len(y_test))), "train_error": train_error,
        "target_error": args.target_error, "exit_code": 1 if missed else 0,
        "history": history, "checkpoint": str(path), "wall_seconds": time.perf_counter() - t0,
    }
