"""``nnlect train lenet5``: LeNet-5 on MNIST, to the lecture's 0.95% test error.

Recipe (see docs/mnist.md for the measured runs): ReLU + max pooling, Adam with a
one-cycle learning-rate schedule (warm-up to ``--lr`` then cosine decay), batch 128,
each training image translated by up to ``--shift`` pixels (1 by default, chosen on a
10,000-image validation split: docs/mnist.md), all 60,000
training images, evaluated once at the end on the official 10,000 test images.
Training is :func:`nnlect.train.fit`, the library's one loop; its history reports the
compilation apart from the training, so the JSON result can too.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import optax

from nnlect import checkpoint, parallel
from nnlect.commands import _args
from nnlect.commands._progress import EpochBar
from nnlect.losses import accuracy, softmax_cross_entropy
from nnlect.models import count_params
from nnlect.models.base import Model
from nnlect.models.cnn import cnn, lenet5
from nnlect.models.lenet1998 import lenet5_1998
from nnlect.train import fit, init_state, make_evaluate

NAME = "lenet5"
HELP = "LeNet-5 (or a stronger CNN) on MNIST / 8x8 digits; reports the official test error"
DEFAULT_EPOCHS = 8
#: --shift for --arch lenet5: held-out error 0.97% mean over seeds 0-2 against 1.07% without
#: (50,000 train / 10,000 validation images; docs/mnist.md).
DEFAULT_SHIFT = 1
TARGET_ERROR = 0.0095  # the lecture's slide: "Test error rate 0.95%"
ARCHITECTURES = ("lenet5", "cnn", "lenet5-1998")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    data = parser.add_argument_group("data")
    data.add_argument("--data", choices=("mnist", "digits", "idx", "tfds", "auto"), default="mnist",
                      help=_args.IMAGE_DATA_HELP + "; auto: MNIST if found, else digits")
    data.add_argument("--data-dir", default=None, help="folder with the four IDX files (or tfds data_dir)")
    _args.add_download_flag(data)
    data.add_argument("--validation-size", type=int, default=0,
                      help="training images held out and evaluated after every epoch (0: train on all)")
    data.add_argument("--train-size", type=int, default=None, help="use only the first N training images (smoke tests)")
    model = parser.add_argument_group("model and training")
    model.add_argument("--arch", choices=ARCHITECTURES, default="lenet5",
                       help="lenet5: the classic layout; cnn: a wider CNN (16@5x5, 32@5x5 'SAME', 128 dense) for the 0.5%% stretch; "
                       "lenet5-1998: as published (scaled tanh, trainable subsampling, C3's Table I, RBF output; "
                       "--activation, --pooling and --dropout do not apply; docs/mnist.md)")
    model.add_argument("--activation", default="relu", help="tanh (1998) or relu")
    model.add_argument("--pooling", choices=("avg", "max"), default="max", help="avg (1998) or max")
    model.add_argument("--dropout", type=float, default=0.0, help="drop probability before the dense layers")
    model.add_argument("--batch-size", type=int, default=128, help="minibatch size")
    model.add_argument("--lr", type=float, default=3e-3, help="peak Adam learning rate of the one-cycle schedule")
    model.add_argument("--shift", type=int, default=None,
                       help=f"augmentation: random translation of up to this many pixels (default {DEFAULT_SHIFT} for "
                       "--arch lenet5, chosen on a validation split; 0 for the others)")
    model.add_argument("--fused", choices=("auto", "yes", "no"), default="auto",
                       help="yes: each epoch is one XLA call (lax.scan); no: one jitted call per step; auto: "
                       "nl.train.fit's choice (whole epochs; one step per call only for XLA convolution ops on "
                       "CPU, which conv's default im2col lowering there does not use)")
    model.add_argument("--target-error", type=float, default=None,
                       help=f"exit code 1 when the test error is above this fraction; default {TARGET_ERROR} "
                       "(the lecture's 0.95%%) on MNIST, none on other data")


def shifted(model: Model, max_shift: int) -> Model:
    """``model`` whose training-mode ``apply`` first translates each image by a random
    ``(dy, dx)`` in ``[-max_shift, max_shift]`` (zero fill); evaluation is unchanged.

    The shift uses its own key stream (``fold_in(key, 1)``; the model gets ``fold_in(key, 0)``).
    """
    if max_shift == 0:
        return model

    def apply(params, x, *, key=None, train=False):
        if not train:
            return model.apply(params, x)
        if key is None:
            raise ValueError("apply(train=True) with --shift needs a PRNG key: pass key=jax.random.key(seed)")
        b, h, w, _ = x.shape
        s = max_shift
        padded = jnp.pad(x, ((0, 0), (s, s), (s, s), (0, 0)))
        offsets = jax.random.randint(jax.random.fold_in(key, 1), (b, 2), 0, 2 * s + 1)

        def crop(image, offset):
            return jax.lax.dynamic_slice(image, (offset[0], offset[1], 0), (h, w, image.shape[-1]))

        return model.apply(params, jax.vmap(crop)(padded, offsets), key=jax.random.fold_in(key, 0), train=True)

    return Model(model.init, apply)


def build_model(args: argparse.Namespace, image_shape: tuple[int, int, int]) -> Model:
    if args.arch == "lenet5-1998":  # pads 28x28 to its 32x32 field itself, as the paper does
        if args.dropout:
            raise ValueError(f"--dropout: lenet5-1998 is the published network, without dropout; got {args.dropout}")
        return lenet5_1998(input_shape=image_shape)
    if args.arch == "lenet5":
        return lenet5(input_shape=image_shape, activation=args.activation, pooling=args.pooling, dropout=args.dropout)
    return cnn([(16, 5, 2), (32, 5, 2)], [128, 10], input_shape=image_shape, first_padding="SAME",
               conv_padding="SAME", activation=args.activation, pooling=args.pooling, dropout=args.dropout)


def process_seconds() -> float | None:
    """Seconds since this process started (Linux /proc), or None elsewhere."""
    try:
        start_ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def run(args: argparse.Namespace) -> dict:
    t0 = time.perf_counter()  # the flags and --out were checked before this (commands/_args.py)
    mesh = parallel.setup(args.data_parallel)
    splits = _args.load_images(args, validation_size=args.validation_size, seed=args.seed)
    # The lecture's 0.95% is a figure about MNIST: other data has no default target.
    target = args.target_error if args.target_error is not None else TARGET_ERROR if splits.source == "mnist" else None
    x, y = splits.train
    if args.train_size is not None:
        x, y = x[:args.train_size], y[:args.train_size]
    x, y = jax.device_put(x), jax.device_put(y)
    data_seconds = time.perf_counter() - t0

    shift = args.shift if args.shift is not None else DEFAULT_SHIFT if args.arch == "lenet5" else 0
    model = shifted(build_model(args, splits.image_shape), shift)
    steps_per_epoch = len(x) // args.batch_size
    if steps_per_epoch < 1:
        raise ValueError(f"--batch-size: expected at most the {len(x)} training images, got {args.batch_size}")
    schedule = optax.cosine_onecycle_schedule(max(args.epochs * steps_per_epoch, 1), args.lr)
    optimizer = optax.adam(schedule)
    init_key, run_key = jax.random.split(jax.random.key(args.seed))
    state = init_state(model.init(init_key), optimizer)
    settings = {"recipe": NAME, "arch": args.arch, "data": splits.source, "data_sha256_16": splits.sha256_16,
                "activation": args.activation,
                "pooling": args.pooling, "dropout": args.dropout, "batch_size": args.batch_size, "lr": args.lr,
                "shift": shift, "epochs": args.epochs, "seed": args.seed, "train_size": len(x),
                "validation_size": args.validation_size}
    path = checkpoint.run_file(args.out, resume=args.resume)
    saver = checkpoint.epoch_saver(path, meta=settings)
    start_epoch = 0
    if args.resume:
        state, start_epoch, earlier = checkpoint.resume(path, state, meta=settings)
        saver.history.extend(earlier)
        print(f"resumed from {path} after epoch {start_epoch}", flush=True)

    fused = {"yes": True, "no": False, "auto": "auto"}[args.fused]
    evaluate = make_evaluate(model, softmax_cross_entropy, {"accuracy": accuracy}, mesh=mesh)
    print(f"lenet5: {args.arch} ({count_params(state.params)} params) on {splits.source}: {len(x)} train images "
          f"{splits.image_shape}, {steps_per_epoch} steps of {args.batch_size} per epoch; data {data_seconds:.1f} s",
          flush=True)

    bar = EpochBar(args.epochs, initial=start_epoch, desc=f"lenet5 {args.arch}", enabled=not args.quiet,
                   steps_per_epoch=steps_per_epoch)

    def report(row: dict, state) -> None:
        if "eval_accuracy" in row:  # held-out training images (--validation-size), not the test set
            row["validation_error"] = 1.0 - row.pop("eval_accuracy")
        bar.update(row)
        saver(row, state)

    compile_seconds = train_seconds = eval_seconds = 0.0
    if args.epochs > start_epoch:
        try:
            state, history = fit(model, None, softmax_cross_entropy, optimizer, x, y, key=run_key,
                                 epochs=args.epochs - start_epoch, batch_size=args.batch_size,
                                 eval_data=splits.validation, metrics={"accuracy": accuracy}, fused=fused,
                                 state=state, callback=report, mesh=mesh, **bar.hooks())
        finally:
            bar.close()
        compile_seconds = sum(r["compile_seconds"] for r in history)
        train_seconds = sum(r["seconds"] for r in history) - compile_seconds

    tic = time.perf_counter()
    test = evaluate(state.params, *splits.test)
    eval_seconds += time.perf_counter() - tic
    test_error = 1.0 - test["accuracy"]
    n_test = len(splits.test[1])
    met = None if target is None else test_error <= target
    verdict = (f"no target on {splits.source} data (the default {TARGET_ERROR:.2%} is MNIST's; set --target-error)"
               if target is None else f"target {target:.2%} {'met' if met else 'MISSED (exit code 1)'}")
    print(f"test error {100 * test_error:.2f}% ({round(test_error * n_test)} of {n_test} misclassified); {verdict}",
          flush=True)
    return {
        "recipe": NAME, "settings": settings, "params": count_params(state.params),
        "optimizer": f"adam, cosine_onecycle_schedule(peak {args.lr})", "fused": args.fused,
        "data": splits.record(), "train_size": len(x),
        "test_error": test_error, "test_errors": round(test_error * n_test), "test_size": n_test,
        "test_loss": test["loss"], "target_error": target, "target_met": met,
        "epochs": args.epochs, "epochs_run_now": args.epochs - start_epoch,
        "wall_seconds": {"data": data_seconds, "compile": compile_seconds, "train": train_seconds,
                         "evaluate": eval_seconds, "recipe_total": time.perf_counter() - t0,
                         "since_process_start": process_seconds()},
        "device_kind": jax.devices()[0].device_kind, "device_count": parallel.size(mesh) if mesh is not None else 1,
        "history": saver.history, "checkpoint": str(path),
        "exit_code": 1 if met is False else 0,
    }
