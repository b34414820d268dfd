"""The Python API half of the bad-input table: ``(id, call, exception type, pattern)``.

``pattern`` is a regex the message must match: it names the argument (and what was
expected). ``call`` builds what it needs itself, from the small shared objects below, so
a case is a few milliseconds and nothing here is trained beyond a step.
"""

from __future__ import annotations

import functools
import gzip
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

import nnlect as nl
from nnlect import activations, checkpoint, initializers, layers as L, lm
from nnlect.data import mnist, text, toy


@functools.cache
def small_mlp():
    model = nl.mlp([4, 8, 3])
    return model, model.init(jax.random.key(0))


@functools.cache
def small_rnn():
    model = nl.elman_rnn(5, 8, 5)
    return model, model.init(jax.random.key(0))


@functools.cache
def small_perceptron():
    model = nl.perceptron(2)
    return model, model.init(jax.random.key(0))


def _x(*shape, dtype=jnp.float32):
    return jnp.ones(shape, dtype)


def _ids(*shape):
    return jnp.zeros(shape, jnp.int32)


def _mlp_apply(x, params=None, **kw):
    model, p = small_mlp()
    return model.apply(params if params is not None else p, x, **kw)


def _rnn_apply(x, **kw):
    model, p = small_rnn()
    return model.apply(p, x, **kw)


def _sample(prompt, length=3, temperature=1.0):
    model, p = small_rnn()
    return nl.models.rnn.make_sampler(model, length)(p, prompt, jax.random.key(0), temperature)


def _p_apply(x):
    model, p = small_perceptron()
    return model.apply(p, x)


def _p_fit(x, y=None, **kw):
    model, p = small_perceptron()
    y = jnp.ones((x.shape[0],)) if y is None else y
    return model.fit(p, x, y, **kw)


def _fit(x, y, optimizer=None, **kw):
    model, p = small_mlp()
    options = {"key": jax.random.key(0), "epochs": 1, "batch_size": 2, **kw}
    return nl.train.fit(model, p, nl.softmax_cross_entropy, optimizer or optax.sgd(0.1), x, y, **options)


def _offline(call):
    """``call()`` as on a machine without network (tests never download)."""
    from unittest import mock

    from nnlect.data import _tfds

    with mock.patch.object(_tfds, "online", lambda *a, **k: False):
        return call()


def _evaluate(x, y):
    model, p = small_mlp()
    return nl.train.make_evaluate(model, nl.softmax_cross_entropy)(p, x, y)


def _write_idx(path: Path, array, dims=None) -> Path:
    array = np.asarray(array, np.uint8)
    header = bytes([0, 0, 8, dims or array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    data = header + array.tobytes()
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


def idx_folder(tmp: Path, *, train_n=6, test_n=4, labels_n=None, label_value=1, image_dims=3, size=(5, 5),
               test_size=None, gz=True) -> Path:
    """A tiny dataset in MNIST's IDX layout, altered as asked."""
    folder = tmp / "idx"
    folder.mkdir(exist_ok=True)
    ext = ".gz" if gz else ""
    rng = np.random.default_rng(0)
    for split, n, shape in (("train", train_n, size), ("t10k", test_n, test_size or size)):
        images = rng.integers(0, 256, (n, *shape), dtype=np.uint8)
        if image_dims == 1:
            images = images.reshape(-1)
        _write_idx(folder / f"{split}-images-idx3-ubyte{ext}", images)
        count = n if labels_n is None else labels_n
        _write_idx(folder / f"{split}-labels-idx1-ubyte{ext}", np.full(count, label_value))
    return folder


def _checkpoint_file(tmp: Path, payload: bytes | None = None, *, header: bytes = checkpoint.MAGIC) -> Path:
    import hashlib

    path = tmp / "ck.msgpack"
    if payload is None:
        checkpoint.save(path, {"w": jnp.ones(2)}, meta={"seed": 0})
    else:
        path.write_bytes(header + hashlib.sha256(payload).digest() + payload)
    return path


def _text_file(tmp: Path, content: bytes) -> Path:
    path = tmp / "corpus.txt"
    path.write_bytes(content)
    return path


NAN, INF = float("nan"), float("inf")

# (id, call(tmp_path), exception, pattern)
CASES = [
    # -- nl.mlp: construction
    *[(f"mlp-sizes-{i}", (lambda s: lambda t: nl.mlp(s))(s), ValueError, r"sizes(\[\d\] \(.*width\))?: expected")
      for i, s in enumerate([[3], [], 5, "34", [3, 0, 1], [3, -2], [0, 4], [3, 4, 0], [3, 2.5, 1], [3, True, 1]])],
    ("mlp-activation", lambda t: nl.mlp([2, 3, 1], "gelu"), ValueError, r"activation: expected one of .*'gelu'"),
    ("mlp-activation-per-layer-count", lambda t: nl.mlp([2, 3, 3, 1], ["relu"]), ValueError, r"activation: expected one value per hidden layer \(2\), got 1"),
    ("mlp-output-activation", lambda t: nl.mlp([2, 3, 1], output_activation="relu"), ValueError, r"output_activation: expected one of"),
    ("mlp-init", lambda t: nl.mlp([2, 3, 1], init="xavier"), ValueError, r"init: expected one of .*'xavier'"),
    *[(f"mlp-dropout-{v}", (lambda v: lambda t: nl.mlp([2, 3, 1], dropout=v))(v), (ValueError, TypeError), r"dropout: expected a float in \[0, 1\)")
      for v in (-0.1, 1.0, 1.5, NAN, "half")],
    ("mlp-dropout-per-layer-count", lambda t: nl.mlp([2, 3, 3, 1], dropout=[0.1]), ValueError, r"dropout: expected one value per hidden layer"),
    *[(f"mlp-maxout-pieces-{v}", (lambda v: lambda t: nl.mlp([2, 3, 1], "maxout", maxout_pieces=v))(v), ValueError, r"maxout_pieces: expected a positive int")
      for v in (0, -1, 1.5)],
    # -- mlp apply
    ("mlp-x-width", lambda t: _mlp_apply(_x(2, 5)), ValueError, r"x: expected shape \(\.\.\., 4\), got \(2, 5\)"),
    ("mlp-x-scalar", lambda t: _mlp_apply(_x()), ValueError, r"x: expected shape \(\.\.\., 4\), got \(\)"),
    ("mlp-x-int", lambda t: _mlp_apply(_x(2, 4, dtype=jnp.int32)), TypeError, r"x: expected a floating dtype .* got int32"),
    ("mlp-x-bool", lambda t: _mlp_apply(_x(2, 4, dtype=jnp.bool_)), TypeError, r"x: expected a floating dtype .* got bool"),
    ("mlp-x-list", lambda t: _mlp_apply([[1.0, 2.0, 3.0, 4.0]]), TypeError, r"x: expected an array"),
    ("mlp-x-none", lambda t: _mlp_apply(None), TypeError, r"x: expected an array"),
    ("mlp-params-other-width", lambda t: _mlp_apply(_x(2, 4), nl.mlp([4, 9, 3]).init(jax.random.key(0))), ValueError, r"params: expected w \(n_in, 8\)"),
    ("mlp-params-deeper", lambda t: _mlp_apply(_x(2, 4), nl.mlp([4, 8, 8, 3]).init(jax.random.key(0))), ValueError, r"params: unexpected keys \['dense_2'\]"),
    ("mlp-params-missing-layer", lambda t: _mlp_apply(_x(2, 4), {"dense_0": small_mlp()[1]["dense_0"]}), ValueError, r"\(dense_1\): params: expected keys \['b', 'w'\], got \[\]"),
    ("mlp-jit-x-width", lambda t: jax.jit(small_mlp()[0].apply)(small_mlp()[1], _x(2, 5)), ValueError, r"x: expected shape \(\.\.\., 4\)"),
    ("mlp-dropout-train-without-key", lambda t: nl.mlp([4, 8, 3], dropout=0.5).apply(small_mlp()[1], _x(2, 4), train=True), ValueError, r"key"),
    # -- losses
    ("sce-labels-list", lambda t: nl.softmax_cross_entropy(_x(2, 3), [0, 1]), TypeError, r"labels: expected an array"),
    ("sce-logits-list", lambda t: nl.softmax_cross_entropy([[1.0, 2.0]], jnp.zeros(1, jnp.int32)), TypeError, r"logits: expected an array"),
    ("sce-logits-int", lambda t: nl.softmax_cross_entropy(_x(2, 3, dtype=jnp.int32), _ids(2)), TypeError, r"logits: expected a floating dtype"),
    ("sce-labels-shape", lambda t: nl.softmax_cross_entropy(_x(2, 3), _ids(3)), ValueError, r"labels: expected integer shape \(2,\)"),
    ("sce-labels-too-big", lambda t: nl.softmax_cross_entropy(_x(2, 3), jnp.array([0, 3])), ValueError, r"labels: expected classes in \[0, 3\), got values in \[0, 3\]"),
    ("sce-labels-negative", lambda t: nl.softmax_cross_entropy(_x(2, 3), jnp.array([-1, 0])), ValueError, r"labels: expected classes in \[0, 3\)"),
    ("sce-empty-batch", lambda t: nl.softmax_cross_entropy(_x(0, 3), _ids(0)), ValueError, r"logits: expected at least one example"),
    ("sce-one-hot-shape", lambda t: nl.softmax_cross_entropy(_x(2, 3), _x(2, 4)), ValueError, r"logits and labels: expected the same shape"),
    ("hse-shape", lambda t: nl.half_squared_error(_x(2, 3), _x(2, 1)), ValueError, r"y and d: expected the same shape"),
    ("hse-y-int", lambda t: nl.half_squared_error(_x(2, 3, dtype=jnp.int32), _x(2, 3)), TypeError, r"y: expected a floating dtype"),
    ("hse-d-list", lambda t: nl.half_squared_error(_x(2, 1), [[1.0], [0.0]]), TypeError, r"d: expected an array"),
    ("accuracy-one-column", lambda t: nl.accuracy(_x(4, 1), _ids(4)), ValueError, r"logits: accuracy needs K >= 2"),
    ("accuracy-labels-list", lambda t: nl.accuracy(_x(2, 3), [0, 1]), TypeError, r"labels: expected an array"),
    ("accuracy-labels-range", lambda t: nl.accuracy(_x(2, 3), jnp.array([0, 7])), ValueError, r"labels: expected classes in \[0, 3\)"),
    # -- perceptron
    *[(f"perceptron-n_in-{v}", (lambda v: lambda t: nl.perceptron(v))(v), ValueError, r"n_in: expected a positive int") for v in (0, -1, 2.0, "2")],
    ("perceptron-init", lambda t: nl.perceptron(2, init="ones"), ValueError, r"init: expected 'zeros' or 'normal'"),
    ("perceptron-apply-nan", lambda t: _p_apply(jnp.array([[NAN, 0.0]])), ValueError, r"x: expected finite values, got 1 NaN/inf"),
    ("perceptron-apply-inf", lambda t: _p_apply(jnp.array([[INF, 0.0]])), ValueError, r"x: expected finite values"),
    ("perceptron-apply-width", lambda t: _p_apply(_x(3, 3)), ValueError, r"x: expected shape \(batch, 2\)"),
    ("perceptron-apply-rank", lambda t: _p_apply(_x(2)), ValueError, r"x: expected rank 2"),
    ("perceptron-apply-int", lambda t: _p_apply(_x(2, 2, dtype=jnp.int32)), TypeError, r"x: expected a floating dtype"),
    ("perceptron-apply-list", lambda t: _p_apply([[0.0, 1.0]]), TypeError, r"x: expected an array"),
    ("perceptron-fit-nan", lambda t: _p_fit(jnp.array([[NAN, 1.0], [0.0, 1.0]])), ValueError, r"x: expected finite values"),
    ("perceptron-fit-1e38", lambda t: _p_fit(jnp.full((4, 2), 1e38), jnp.array([1.0, -1.0, 1.0, -1.0])), ValueError, r"x: values up to 1e\+38 overflow float32"),
    ("perceptron-fit-empty", lambda t: _p_fit(_x(0, 2), jnp.zeros((0,))), ValueError, r"x: expected at least one example"),
    ("perceptron-fit-labels-01", lambda t: _p_fit(_x(2, 2), jnp.array([0.0, 1.0])), ValueError, r"y: expected labels in \{\+1, -1\}, got \[0.0\]"),
    ("perceptron-fit-labels-length", lambda t: _p_fit(_x(2, 2), jnp.ones(3)), ValueError, r"y: expected shape \(2,\)"),
    ("perceptron-fit-labels-list", lambda t: _p_fit(_x(2, 2), [1.0, -1.0]), TypeError, r"y: expected an array"),
    *[(f"perceptron-fit-eta-{v}", (lambda v: lambda t: _p_fit(_x(2, 2), eta=v))(v), ValueError, r"eta: expected a positive finite number") for v in (0, -1, NAN, INF)],
    *[(f"perceptron-fit-epochs-{v}", (lambda v: lambda t: _p_fit(_x(2, 2), epochs=v))(v), ValueError, r"epochs: expected a positive int") for v in (0, -3, 2.5)],
    # -- Elman RNN
    *[(f"rnn-{arg}-{v}", (lambda kw: lambda t: nl.elman_rnn(**{"n_in": 5, "n_hidden": 8, "n_out": 5, **kw}))({arg: v}),
       ValueError, rf"{arg}: expected") for arg, v in (("n_in", 0), ("n_hidden", 0), ("n_hidden", -4), ("unroll", 0), ("dropout", 1.0), ("dropout", -0.5))],
    ("rnn-x-list", lambda t: _rnn_apply([[1, 2]]), TypeError, r"x: expected an array"),
    ("rnn-x-empty-batch", lambda t: _rnn_apply(_ids(0, 3)), ValueError, r"x: expected at least one sequence \(B >= 1"),
    ("rnn-x-empty-batch-float", lambda t: _rnn_apply(_x(0, 3, 5)), ValueError, r"x: expected at least one sequence"),
    ("rnn-x-no-time-steps", lambda t: _rnn_apply(_ids(2, 0)), ValueError, r"x: expected at least one time step"),
    ("rnn-x-float-width", lambda t: _rnn_apply(_x(2, 3, 4)), ValueError, r"x: expected"),
    ("rnn-h0-shape", lambda t: _rnn_apply(_ids(2, 3), h0=jnp.zeros((3, 8))), ValueError, r"h0: expected"),
    ("rnn-initial-state-0", lambda t: small_rnn()[0].initial_state(0), ValueError, r"batch_size: expected a positive int"),
    ("sampler-length-0", lambda t: nl.models.rnn.make_sampler(small_rnn()[0], 0), ValueError, r"length: expected a positive int"),
    ("sampler-prompt-too-big", lambda t: _sample(jnp.array([[1, 5]])), ValueError, r"prompt: expected token ids in \[0, 5\), got values in \[1, 5\]"),
    ("sampler-prompt-negative", lambda t: _sample(jnp.array([[-1, 2]])), ValueError, r"prompt: expected token ids in \[0, 5\)"),
    ("sampler-prompt-float", lambda t: _sample(_x(1, 2)), TypeError, r"prompt: expected an integer array"),
    ("sampler-prompt-list", lambda t: _sample([[1, 2]]), TypeError, r"prompt: expected an array"),
    ("sampler-prompt-1d", lambda t: _sample(jnp.array([1, 2])), ValueError, r"prompt: expected rank 2"),
    ("sampler-prompt-empty", lambda t: _sample(_ids(1, 0)), ValueError, r"prompt: expected \(B, P\) ids with B >= 1 and P >= 1"),
    *[(f"sampler-temperature-{v}", (lambda v: lambda t: _sample(_ids(1, 2), temperature=v))(v), ValueError, r"temperature: expected a positive finite number") for v in (0.0, -1.0, NAN)],
    # -- training
    ("evaluate-empty", lambda t: _evaluate(_x(0, 4), _ids(0)), ValueError, r"x: expected at least one example to evaluate"),
    ("fit-epochs-0", lambda t: _fit(_x(4, 4), _ids(4), epochs=0), ValueError, r"epochs: expected a positive int"),
    ("fit-batch-size-0", lambda t: _fit(_x(4, 4), _ids(4), batch_size=0), ValueError, r"batch_size: expected a positive int"),
    ("fit-batch-size-too-big", lambda t: _fit(_x(4, 4), _ids(4), batch_size=5), ValueError, r"batch_size: expected at most"),
    ("fit-x-y-length", lambda t: _fit(_x(4, 4), _ids(3)), ValueError, r"x and y: expected the same number of examples"),
    ("fit-x-list", lambda t: _fit([[0.0] * 4] * 4, _ids(4)), TypeError, r"x: expected an array"),
    ("fit-y-list", lambda t: _fit(_x(4, 4), [0, 1, 2, 0]), TypeError, r"y: expected an array"),
    ("fit-empty-eval", lambda t: _fit(_x(4, 4), _ids(4), eval_data=(_x(0, 4), _ids(0))), ValueError, r"x: expected at least one example|eval_data"),
    ("fit-labels-out-of-range", lambda t: _fit(_x(4, 4), jnp.array([0, 1, 2, 7])), ValueError, r"(labels|y): expected class(es| indices) in \[0, 3\)"),
    ("fit-sgd-1e39-diverges", lambda t: _fit(_x(8, 4), _ids(8), optimizer=optax.sgd(1e39), eval_data=(_x(8, 4), _ids(8))),
     FloatingPointError, r"diverged .*lower the learning rate"),
    ("fit-state-of-another-optimizer", lambda t: _fit(_x(4, 4), _ids(4), state=nl.train.init_state(small_mlp()[1], optax.adam(0.1))),
     ValueError, r"state: its optimizer state does not match the optimizer passed to fit"),
    ("train-scan-repeat-0", lambda t: nl.train.make_train_scan(small_mlp()[0], nl.softmax_cross_entropy, optax.sgd(0.1), repeat=0), ValueError, r"repeat: expected a positive int"),
    ("epoch-order-batch-0", lambda t: nl.train.epoch_order(jax.random.key(0), 0, 10, 0), ValueError, r"batch_size: expected a positive int"),
    ("epoch-order-traced-step", lambda t: jax.jit(lambda s: nl.train.epoch_order(jax.random.key(0), s, 10, 2))(0), TypeError, r"step: expected a concrete int"),
    ("lm-optimizer-clip-0", lambda t: lm.lm_optimizer(1e-3, 0.0), ValueError, r"clip_norm: expected a positive"),
    ("lm-optimizer-lr-neg", lambda t: lm.lm_optimizer(-1e-3), ValueError, r"learning_rate: expected a positive"),
    ("lm-evaluate-short", lambda t: lm.make_evaluate_lm(small_rnn()[0])(small_rnn()[1], np.array([1])), ValueError, r"ids: expected a held-out text of at least 2"),
    ("lm-evaluate-batch-0", lambda t: lm.make_evaluate_lm(small_rnn()[0], batch_size=0), ValueError, r"batch_size: expected a positive int"),
    ("lm-sample-empty-prompt", lambda t: lm.sample_text(small_rnn()[0], small_rnn()[1], text.Vocabulary("abcde"), "", 3), ValueError, r"prompt: expected at least one character"),
    ("lm-sample-unknown-char", lambda t: lm.sample_text(small_rnn()[0], small_rnn()[1], text.Vocabulary("abcde"), "az", 3), ValueError, r"text: characters 'z' are not in the vocabulary"),
    # -- checkpoints
    ("ckpt-meta-not-json", lambda t: checkpoint.save(t / "c.msgpack", {"w": jnp.ones(2)}, meta={"when": object()}), TypeError, r"meta: expected a JSON-serializable dict"),
    ("ckpt-missing", lambda t: checkpoint.restore(t / "none.msgpack", {"w": jnp.ones(2)}), FileNotFoundError, r"checkpoint: no file at"),
    ("ckpt-bad-header", lambda t: checkpoint.restore(_checkpoint_file(t, b"x", header=b"NOT-A-CKPT\n"), {"w": jnp.ones(2)}), checkpoint.CheckpointError, r"not an nnlect checkpoint \(bad header\)"),
    ("ckpt-not-msgpack", lambda t: checkpoint.restore(_checkpoint_file(t, b"\xc1 this is not msgpack"), {"w": jnp.ones(2)}), checkpoint.CheckpointError, r"the payload is not msgpack data \(FormatError\)"),
    ("ckpt-msgpack-not-ours", lambda t: checkpoint.restore(_checkpoint_file(t, b"\x01"), {"w": jnp.ones(2)}), checkpoint.CheckpointError, r"expected a payload with 'meta' and 'tree', got int"),
    ("ckpt-checksum", lambda t: checkpoint.restore(_corrupt(_checkpoint_file(t)), {"w": jnp.ones(2)}), checkpoint.CheckpointError, r"checksum mismatch"),
    ("ckpt-other-structure", lambda t: checkpoint.restore(_checkpoint_file(t), {"v": jnp.ones(2)}), checkpoint.CheckpointError, r"does not match the model's structure"),
    ("ckpt-other-shape", lambda t: checkpoint.restore(_checkpoint_file(t), {"w": jnp.ones(3)}), checkpoint.CheckpointError, r"leaf \['w'\] has shape \(2,\)"),
    ("ckpt-other-dtype", lambda t: checkpoint.restore(_checkpoint_file(t), {"w": jnp.ones(2, jnp.int32)}), checkpoint.CheckpointError, r"leaf \['w'\] .* float32, the model expects \(2,\) int32"),
    ("ckpt-resume-other-setting", lambda t: checkpoint.resume(_checkpoint_file(t), {"w": jnp.ones(2)}, meta={"seed": 1}), checkpoint.CheckpointError, r"was written with seed=0, this run has seed=1"),
    ("ckpt-resume-unknown-setting", lambda t: checkpoint.resume(_checkpoint_file(t), {"w": jnp.ones(2)}, meta={"lr": 1}), checkpoint.CheckpointError, r"records no 'lr'"),
    ("ckpt-run-file-resume", lambda t: checkpoint.run_file(t / "none", resume=True), FileNotFoundError, r"--resume: no checkpoint at"),
    ("lm-load-not-charlm", lambda t: lm.load_checkpoint(_checkpoint_file(t)), checkpoint.CheckpointError, r"not a charlm checkpoint"),
    # -- MNIST and IDX data
    ("mnist-source", lambda t: mnist.load("emnist"), ValueError, r"source: expected one of"),
    *[(f"mnist-validation-size-{v}", (lambda v: lambda t: mnist.load("digits", validation_size=v))(v), ValueError, r"validation_size: expected") for v in (-1, True, 1.5, 1500, 10**6)],
    ("mnist-missing-files", lambda t: mnist.load("mnist", data_dir=t), FileNotFoundError, r"source='mnist': the four MNIST IDX files .* are not all in"),
    ("idx-no-dir", lambda t: mnist.load("idx", data_dir=t / "absent"), FileNotFoundError, r"source='idx': no folder"),
    ("idx-empty-dir", lambda t: mnist.load("idx", data_dir=t), FileNotFoundError, r"source='idx': .* lacks \*train-images-idx3-ubyte\[\.gz\]"),
    ("idx-count-mismatch", lambda t: mnist.load("idx", data_dir=idx_folder(t, labels_n=5)), mnist.MnistFileError, r"train-labels-idx1-ubyte.gz: 5 labels for the 6 images"),
    ("idx-labels-over-9", lambda t: mnist.load("idx", data_dir=idx_folder(t, label_value=10)), mnist.MnistFileError, r"labels-idx1-ubyte.gz: labels must be in 0..9"),
    ("idx-images-1d", lambda t: mnist.load("idx", data_dir=idx_folder(t, image_dims=1)), mnist.MnistFileError, r"images-idx3-ubyte.gz: expected \(N, H, W\) images, magic 0x00000803"),
    ("idx-sizes-differ", lambda t: mnist.load("idx", data_dir=idx_folder(t, test_size=(4, 4))), mnist.MnistFileError, r"train images are \(5, 5\), test images \(4, 4\)"),
    ("idx-truncated", lambda t: mnist.load("idx", data_dir=_truncate(idx_folder(t, gz=False) / "t10k-images-idx3-ubyte")), mnist.MnistFileError, r"t10k-images-idx3-ubyte: truncated"),
    ("idx-not-gzip", lambda t: mnist.load("idx", data_dir=_garble(idx_folder(t) / "train-labels-idx1-ubyte.gz")), mnist.MnistFileError, r"train-labels-idx1-ubyte.gz: cannot be decompressed"),
    ("idx-two-candidates", lambda t: mnist.load("idx", data_dir=_twin(idx_folder(t))), mnist.MnistFileError, r"more than one file for the train images"),
    ("read-idx-html", lambda t: mnist.read_idx(_text_file(t, b"<html>404</html>")), mnist.MnistFileError, r"corpus.txt: not a uint8 IDX file"),
    ("tfds-download-offline", lambda t: _offline(lambda: mnist.load("tfds", data_dir=t, download=True)), ConnectionError,
     r"source='tfds' \(--data tfds\) with --download / download=True: no network .* use --data mnist"),
    ("tiny-shakespeare-download-offline", lambda t: _offline(lambda: text.tiny_shakespeare("train", data_dir=str(t), download=True)),
     ConnectionError, r"--corpus tiny_shakespeare with --download .* no network .* use --corpus stdlib"),
    ("tfds-not-prepared", lambda t: mnist.load("tfds", data_dir=t), FileNotFoundError, r"not prepared .* pass --download"),
    # -- text data
    ("vocab-empty", lambda t: text.Vocabulary.from_text(""), ValueError, r"text: expected a non-empty corpus"),
    ("vocab-unsorted", lambda t: text.Vocabulary.from_chars("ba"), ValueError, r"chars: expected the sorted distinct"),
    ("vocab-not-str", lambda t: text.Vocabulary.from_chars(["a"]), ValueError, r"chars: expected the sorted distinct"),
    ("vocab-unknown", lambda t: text.Vocabulary("ab").encode("abc"), ValueError, r"text: characters 'c' are not in the vocabulary"),
    ("text-file-missing", lambda t: text.text_file(t / "none.txt"), FileNotFoundError, r"--text: no file at"),
    ("text-file-empty", lambda t: text.text_file(_text_file(t, b"")), ValueError, r"--text: .* is empty"),
    ("text-file-latin1", lambda t: text.text_file(_text_file(t, "caf\xe9".encode("latin-1"))), ValueError, r"--text: .* is not UTF-8"),
    ("text-file-dir", lambda t: text.text_file(t), FileNotFoundError, r"--text: no file at"),
    *[(f"held-out-{v}", (lambda v: lambda t: text.split_held_out("abcdefghij", v))(v), ValueError, r"held_out fraction: expected a float in \[0, 1\)") for v in (-0.1, 1.0, NAN)],
    ("held-out-empty-split", lambda t: text.split_held_out("abc", 0.01), ValueError, r"held_out fraction: .* leaves an empty split"),
    ("streams-batch-0", lambda t: text.streams(np.arange(10), 0), ValueError, r"batch_size: expected a positive int"),
    ("streams-too-short", lambda t: text.streams(np.arange(3), 4), ValueError, r"batch_size: 4 streams need at least 5 characters"),
    ("windows-seq-len-0", lambda t: text.bptt_windows(np.arange(100), 2, 0), ValueError, r"seq_len: expected a positive int"),
    ("windows-too-long", lambda t: text.bptt_windows(np.arange(10), 4, 5), ValueError, r"seq_len: 4 streams of 2 characters hold no window of 5"),
    ("stdlib-max-chars-0", lambda t: text.stdlib_corpus(0), ValueError, r"max_chars: expected a positive int"),
    ("stdlib-root-missing", lambda t: text.stdlib_corpus(root=t / "none"), FileNotFoundError, r"root: no standard-library folder"),
    ("stdlib-root-empty", lambda t: text.stdlib_corpus(root=t), FileNotFoundError, r"root: no readable ASCII .py files"),
    ("tiny-shakespeare-not-prepared", lambda t: text.tiny_shakespeare("train", data_dir=str(t)), FileNotFoundError, r"--corpus tiny_shakespeare: .* not prepared .* pass --download"),
    # -- toy data, activations, initializers, layers, CNNs
    ("xor-labels", lambda t: toy.xor("ternary"), ValueError, r"labels: expected 'binary' or 'sign'"),
    ("separable-n-0", lambda t: toy.linearly_separable(0), ValueError, r"n: expected a positive int"),
    ("separable-margin", lambda t: toy.linearly_separable(10, margin=0.6), ValueError, r"margin: expected less than half the radius"),
    ("separable-margin-0", lambda t: toy.linearly_separable(10, margin=0.0), ValueError, r"margin: expected a positive"),
    ("target-function-name", lambda t: toy.target_function("cos"), ValueError, r"name: expected one of"),
    ("activation-get", lambda t: activations.get("gelu"), ValueError, r"activation: expected one of .*'gelu'"),
    ("initializer-get", lambda t: initializers.get("xavier"), ValueError, r"init: expected one of .*'xavier'"),
    ("dropout-fn-rate", lambda t: nl.dropout(_x(2, 2), 1.5, key=jax.random.key(0)), ValueError, r"rate: expected a float in \[0, 1\)"),
    ("dropout-fn-no-key", lambda t: nl.dropout(_x(2, 2), 0.5, key=None), ValueError, r"key"),
    ("layer-dropout-rate", lambda t: L.dropout(1.0), ValueError, r"rate: expected a float in \[0, 1\)"),
    ("lenet5-pooling", lambda t: nl.lenet5(pooling="median"), ValueError, r"pooling: expected one of \['avg', 'max'\]"),
    ("lenet5-activation", lambda t: nl.lenet5(activation="maxout"), ValueError, r"activation: 'maxout' is not supported here"),
    ("cnn-dropout", lambda t: nl.cnn([(6, 5, 2)], [10], dropout=2.0), ValueError, r"dropout: expected a float in \[0, 1\)"),
]


def _corrupt(path: Path) -> Path:
    blob = bytearray(path.read_bytes())
    blob[-1] ^= 0xFF
    path.write_bytes(bytes(blob))
    return path


def _truncate(path: Path) -> Path:
    path.write_bytes(path.read_bytes()[:-7])
    return path.parent


def _garble(path: Path) -> Path:
    path.write_bytes(path.read_bytes()[:12])
    return path.parent


def _twin(folder: Path) -> Path:
    (folder / "fashion-train-images-idx3-ubyte.gz").write_bytes((folder / "train-images-idx3-ubyte.gz").read_bytes())
    return folder


