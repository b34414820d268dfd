"""Checkpoints: atomic, checked on restore, and a resumed run equals an uninterrupted one bit for bit."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import nnlect as nl
from nnlect import checkpoint, cli, io

SMALL = ["--hidden", "32", "--dropout", "0.2", "--batch-size", "100", "--quiet"]


def _leaves(path, target):
    tree, meta = checkpoint.restore(path, target)
    return [np.asarray(leaf) for leaf in jax.tree_util.tree_leaves(tree)], meta


def _mlp_target():
    model = nl.mlp([64, 32, 10], "relu", dropout=0.2)
    return nl.train.init_state(model.init(jax.random.key(0)), optax.adam(1e-3))


def _assert_bit_identical(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.dtype == y.dtype and x.shape == y.shape
        assert x.tobytes() == y.tobytes()


def test_fit_resumed_from_checkpoint_equals_uninterrupted_fit_bit_for_bit(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 5)).astype(np.float32)
    y = rng.integers(0, 3, size=96).astype(np.int32)
    model = nl.mlp([5, 16, 3], "tanh", dropout=0.3)
    optimizer = optax.adam(1e-2)
    params = model.init(jax.random.key(1))
    key = jax.random.key(2)
    loss = nl.softmax_cross_entropy

    whole, whole_history = nl.train.fit(model, params, loss, optimizer, x, y, key=key, epochs=4, batch_size=16)

    path = tmp_path / "ck.msgpack"
    saver = checkpoint.epoch_saver(path, meta={"seed": 2})
    nl.train.fit(model, params, loss, optimizer, x, y, key=key, epochs=2, batch_size=16, callback=saver)
    fresh = nl.train.init_state(model.init(jax.random.key(99)), optimizer)  # values unused
    state, done, history = checkpoint.resume(path, fresh, meta={"seed": 2})
    assert done == 2 and [r["epoch"] for r in history] == [1, 2]
    resumed, rest = nl.train.fit(model, None, loss, optimizer, x, y, key=key, epochs=2, batch_size=16,
                                 state=state, start_epoch=done)

    assert [r["epoch"] for r in rest] == [3, 4]
    assert [r["train_loss"] for r in rest] == [r["train_loss"] for r in whole_history[2:]]
    _assert_bit_identical([np.asarray(v) for v in jax.tree_util.tree_leaves(whole)],
                          [np.asarray(v) for v in jax.tree_util.tree_leaves(resumed)])


def test_train_resume_after_interrupt_is_bit_identical(tmp_path, monkeypatch, capsys):
    assert cli.main(["train", "mlp", "--epochs", "4", "--out", str(tmp_path / "whole"), *SMALL]) == 0

    real_save = checkpoint.save

    def save_then_crash(path, tree, *, meta=None):
        real_save(path, tree, meta=meta)
        if meta and meta.get("epoch") == 2:
            raise KeyboardInterrupt  # as if Ctrl-C arrived right after epoch 2 was saved

    monkeypatch.setattr(checkpoint, "save", save_then_crash)
    interrupted = tmp_path / "interrupted"
    assert cli.main(["train", "mlp", "--epochs", "4", "--out", str(interrupted), *SMALL]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "after epoch 2; rerun the same command with --resume" in err
    assert checkpoint.load_meta(interrupted / "checkpoint.msgpack")["epoch"] == 2
    monkeypatch.setattr(checkpoint, "save", real_save)

    assert cli.main(["train", "mlp", "--epochs", "4", "--resume", "--out", str(interrupted), *SMALL]) == 0
    assert "resumed from" in capsys.readouterr().out
    whole, whole_meta = _leaves(tmp_path / "whole" / "checkpoint.msgpack", _mlp_target())
    resumed, resumed_meta = _leaves(interrupted / "checkpoint.msgpack", _mlp_target())
    _assert_bit_identical(whole, resumed)
    timing = {"seconds", "compile_seconds", "compiles", "steps_per_s"}  # of this process, not of the run

    def numbers(history):
        return [{k: v for k, v in row.items() if k not in timing} for row in history]

    assert numbers(resumed_meta["history"]) == numbers(whole_meta["history"])


def test_a_corrupt_checkpoint_is_refused_with_a_clear_error(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["train", "mlp", "--epochs", "1", "--out", str(out), *SMALL]) == 0
    path = out / "checkpoint.msgpack"
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    path.write_bytes(bytes(blob))
    with pytest.raises(checkpoint.CheckpointError, match="checksum mismatch"):
        checkpoint.restore(path, _mlp_target())
    assert cli.main(["train", "mlp", "--epochs", "2", "--resume", "--out", str(out), *SMALL]) == 2
    err = capsys.readouterr().err
    assert "checksum mismatch" in err and str(path) in err

    path.write_bytes(blob[: len(blob) // 3].replace(b"NNLECT", b"XXXXXX"))
    with pytest.raises(checkpoint.CheckpointError, match="not an nnlect checkpoint"):
        checkpoint.restore(path, _mlp_target())


def test_a_checkpoint_of_another_model_or_setting_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["train", "mlp", "--epochs", "1", "--out", str(out), *SMALL]) == 0
    wider = [a if a != "32" else "48" for a in SMALL]
    assert cli.main(["train", "mlp", "--epochs", "2", "--resume", "--out", str(out), *wider]) == 2
    assert "checkpoint" in capsys.readouterr().err
    # Same shapes, another seed: resuming would not continue the same run.
    assert cli.main(["train", "mlp", "--epochs", "2", "--resume", "--seed", "1", "--out", str(out), *SMALL]) == 2
    assert "was written with seed=0, this run has seed=1" in capsys.readouterr().err
    with pytest.raises(checkpoint.CheckpointError, match=r"leaf .*dense_0.* has shape \(32,\) float32, the model expects \(48,\)"):
        model = nl.mlp([64, 48, 10], "relu")
        checkpoint.restore(out / "checkpoint.msgpack",
                           nl.train.init_state(model.init(jax.random.key(0)), optax.adam(1e-3)))


def test_resume_without_a_checkpoint_says_so(tmp_path, capsys):
    assert cli.main(["train", "mlp", "--epochs", "1", "--resume", "--out", str(tmp_path / "none"), *SMALL]) == 2
    assert "no checkpoint at" in capsys.readouterr().err


def test_a_crash_while_writing_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "ck.msgpack"
    first = {"w": jnp.arange(4.0)}
    checkpoint.save(path, first, meta={"epoch": 1})
    before = path.read_bytes()

    def crash(src, dst):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(io.os, "replace", crash)
    with pytest.raises(OSError, match="simulated"):
        checkpoint.save(path, {"w": jnp.arange(4.0) + 1}, meta={"epoch": 2})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["ck.msgpack"]  # no temp file left behind
    tree, meta = checkpoint.restore(path, first)
    assert meta == {"epoch": 1} and np.array_equal(tree["w"], np.arange(4.0))


def test_an_interrupt_while_writing_leaves_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "ck.msgpack"

    def interrupted(fd):
        raise KeyboardInterrupt  # Ctrl-C between the write and the rename

    monkeypatch.setattr(io.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save(path, {"w": jnp.ones(3)})
    assert list(tmp_path.iterdir()) == []


def _dead_pid() -> int:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid  # reaped: no process has this pid now (until the kernel reuses it)


def test_temp_files_a_killed_save_left_are_removed_by_the_next_save_or_resume(tmp_path):
    import os

    path = tmp_path / "ck.msgpack"
    target = {"w": jnp.arange(3.0)}
    checkpoint.save(path, target, meta={"epoch": 1})
    dead = _dead_pid()
    fragments = [tmp_path / f".ck.msgpack.pid{dead}.k3j2h1g0.tmp",  # as SIGKILL leaves them: 0 B and 2 MB, 0600
                 tmp_path / ".ck.msgpack.x7y8z9w0.tmp"]  # the naming before pids were recorded
    fragments[0].write_bytes(b"")
    fragments[1].write_bytes(b"\0" * 2_000_000)
    for f in fragments:
        f.chmod(0o600)
    kept = [tmp_path / f".ck.msgpack.pid{os.getppid()}.a1b2c3d4.tmp",  # a live writer's: not ours to remove
            tmp_path / ".other.msgpack.x7y8z9w0.tmp", tmp_path / "notes.tmp"]
    for f in kept:
        f.write_bytes(b"keep")

    checkpoint.resume(path, target)
    assert not any(f.exists() for f in fragments) and all(f.exists() for f in kept)

    fragments[0].write_bytes(b"")
    checkpoint.save(path, target, meta={"epoch": 2})
    assert not fragments[0].exists() and all(f.exists() for f in kept)
    assert checkpoint.load_meta(path) == {"epoch": 2}


def test_epoch_saver_history_names_only_what_the_file_holds(tmp_path, monkeypatch):
    import jax.numpy as jnp

    from nnlect import checkpoint

    path = tmp_path / "ckpt.msgpack"
    saver = checkpoint.epoch_saver(path)
    saver({"epoch": 1, "train_loss": 0.5}, {"w": jnp.ones(2)})

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint, "save", interrupted)
    try:
        saver({"epoch": 2, "train_loss": 0.4}, {"w": jnp.zeros(2)})
    except KeyboardInterrupt:
        pass
    assert [r["epoch"] for r in saver.history] == [1]
    assert checkpoint.load_meta(path)["epoch"] == 1
