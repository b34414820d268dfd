"""The character language model: truncated BPTT with the state carried, the recipe, sampling."""

import argparse
import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nnlect import cli, lm, parallel
from nnlect.data import text
from nnlect.models.rnn import elman_rnn
from nnlect.recipes import charlm
from nnlect.train import init_state

B, T, K = 4, 16, 4


@pytest.fixture(scope="module")
def setup():
    corpus, _ = text.stdlib_corpus(max_chars=20_000)
    vocab = text.Vocabulary.from_text(corpus)
    xs, ys = text.bptt_windows(vocab.encode(corpus), B, T)
    model = elman_rnn(vocab.size, 32, vocab.size)
    optimizer = lm.lm_optimizer(1e-2, 1.0)
    run = lm.make_lm_train_scan(model, optimizer)

    def fresh():  # run() donates its inputs, so every run starts from new buffers
        return init_state(model.init(jax.random.key(0)), optimizer), model.initial_state(B)

    return model, optimizer, run, fresh, jnp.asarray(xs), jnp.asarray(ys), vocab


def test_a_few_steps_of_truncated_bptt_lower_the_loss(setup):
    model, _, run, fresh, xs, ys, vocab = setup
    state, h = fresh()
    losses = []
    for k in range(0, 48, K):
        state, h, window_losses = run(state, h, xs[k:k + K], ys[k:k + K], jax.random.key(1))
        losses += np.asarray(window_losses).tolist()
    assert losses[0] == pytest.approx(math.log(vocab.size), abs=0.5)  # starts near a uniform guess
    assert np.mean(losses[-8:]) < np.mean(losses[:8]) - 0.5, losses
    assert int(state.step) == 48 and h.shape == (B, 32) and np.isfinite(np.asarray(h)).all()


def test_fused_windows_equal_one_window_per_call(setup):
    _, _, run, fresh, xs, ys, _ = setup
    key = jax.random.key(2)
    fused, h_fused, losses = run(*fresh(), xs[:K], ys[:K], key)
    state, h = fresh()
    one_by_one = []
    for k in range(K):
        state, h, loss = run(state, h, xs[k:k + 1], ys[k:k + 1], key)
        one_by_one.append(float(loss[0]))
    np.testing.assert_allclose(losses, one_by_one, rtol=1e-5)
    np.testing.assert_allclose(h_fused, h, rtol=1e-4, atol=1e-6)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6), fused.params, state.params)


def test_the_state_is_carried_within_a_pass_and_reset_at_its_start(setup):
    _, _, run, fresh, xs, ys, _ = setup
    key = jax.random.key(3)
    pass_xs, pass_ys = xs[:2 * K], ys[:2 * K]  # a pass over this text is 2 calls of K windows
    # by hand: call 2 starts from the h that call 1 ended with; call 3 (a new pass) from zeros
    state, h = fresh()
    state, h, first = run(state, h, pass_xs[:K], pass_ys[:K], key)
    state_1, h_1 = jax.tree.map(jnp.copy, (state, h))
    state, h, second = run(state, h, pass_xs[K:], pass_ys[K:], key)
    _, _, next_pass = run(state, jnp.zeros_like(h), pass_xs[:K], pass_ys[:K], key)
    _, _, second_if_reset = run(state_1, jnp.zeros_like(h_1), pass_xs[K:], pass_ys[K:], key)
    assert abs(float(np.mean(second_if_reset)) - float(np.mean(second))) > 1e-3  # carrying matters

    _, _, history = lm.train_lm(run, *fresh(), pass_xs, pass_ys, key=key, total_steps=3 * K, windows_per_call=K)
    assert [(r["epoch"], r["step"]) for r in history] == [(1.0, 2 * K), (1.5, 3 * K)]
    np.testing.assert_allclose(history[0]["train_loss"], np.mean(np.concatenate([first, second])), rtol=1e-5)
    np.testing.assert_allclose(history[1]["train_loss"], np.mean(next_pass), rtol=1e-5)


def test_a_resumed_run_continues_exactly(setup):
    _, _, run, fresh, xs, ys, _ = setup
    key = jax.random.key(4)
    straight, h_straight, _ = lm.train_lm(run, *fresh(), xs, ys, key=key, total_steps=3 * K, windows_per_call=K)
    half, h_half, _ = lm.train_lm(run, *fresh(), xs, ys, key=key, total_steps=K, windows_per_call=K)
    resumed, h_resumed, _ = lm.train_lm(run, half, h_half, xs, ys, key=key, total_steps=3 * K, windows_per_call=K)
    assert int(resumed.step) == 3 * K
    np.testing.assert_array_equal(h_resumed, h_straight)
    jax.tree.map(np.testing.assert_array_equal, resumed.params, straight.params)


def test_held_out_evaluation_scores_every_character_once(setup):
    model, _, _, fresh, _, _, vocab = setup
    state, _ = fresh()
    ids = vocab.encode("def f(x):\n    return x + 1\n" * 5)
    result = lm.make_evaluate_lm(model, batch_size=3, seq_len=7)(state.params, ids)
    assert result["chars"] == 3 * ((len(ids) - 1) // 3)
    assert result["bits_per_char"] == pytest.approx(result["nats_per_char"] / math.log(2))
    # one stream read whole in a single window gives the same mean as many carried windows
    x, y = text.streams(ids, 3)
    whole = float(lm.window_loss(model, state.params, jnp.asarray(x), jnp.asarray(y), model.initial_state(3))[0])
    assert result["nats_per_char"] == pytest.approx(whole, rel=1e-5)


def test_train_sample_and_resume_from_the_command_line(tmp_path, capsys):
    corpus, _ = text.stdlib_corpus(max_chars=12_000)
    (tmp_path / "code.py").write_text(corpus)
    flags = ["train", "charlm", "--text", str(tmp_path / "code.py"), "--out", str(tmp_path / "run"), "--hidden", "16",
             "--batch-size", "4", "--seq-len", "8", "--windows-per-call", "4", "--sample-length", "20"]
    assert cli.main(flags + ["--steps", "8"]) == 0
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    assert result["training"]["steps"] == 8 and result["vocab_size"] == len(set(corpus))
    held = result["held_out"]
    assert held["bits_per_char"] == pytest.approx(held["nats_per_char"] / math.log(2))
    assert 0 < held["unigram_entropy_bits_per_char"] < math.log2(result["vocab_size"])
    assert result["sample"]["prompt"] == "\n" and len(result["sample"]["text"]) == 20
    capsys.readouterr()
    assert cli.main(["sample", "--checkpoint", str(tmp_path / "run" / "checkpoint.msgpack"), "--prompt", "def ",
                     "--length", "25", "--seed", "1"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("def ") and len(printed.rstrip("\n")) >= 4 + 25 - 1
    assert cli.main(flags + ["--steps", "12", "--resume"]) == 0
    resumed = json.loads((tmp_path / "run" / "result.json").read_text())
    assert resumed["training"]["steps"] == 12 and [r["step"] for r in resumed["history"]] == [8, 12]
    assert cli.main(["sample", "--checkpoint", str(tmp_path / "run" / "checkpoint.msgpack"), "--prompt", "é"]) == 2


def test_tiny_shakespeare_trains_on_train_and_holds_out_validation():
    tfds = pytest.importorskip("tensorflow_datasets")
    args = argparse.Namespace(text=None, corpus="tiny_shakespeare", data_dir=None, held_out=0.1, max_chars=1000)
    with tfds.testing.mock_data(num_examples=1):  # never the network
        train, held, info = charlm.load_corpus(args)
        expected_train, _ = text.tiny_shakespeare("train")
        expected_held, _ = text.tiny_shakespeare("validation")
    assert (train, held) == (expected_train, expected_held)
    assert info["held_out_split"] == "validation"


def test_data_parallel_training_equals_single_device(setup):
    _, optimizer, run, fresh, xs, ys, _ = setup
    model = setup[0]
    mesh = parallel.data_parallel_mesh(jax.devices()[:1])
    run_mesh = lm.make_lm_train_scan(model, optimizer, mesh=mesh)
    key = jax.random.key(5)
    single, h_single, _ = run(*fresh(), xs[:K], ys[:K], key)
    state, h, xs_m, ys_m = lm.shard_for_mesh(mesh, *fresh(), xs, ys)
    sharded, h_sharded, _ = run_mesh(state, h, xs_m[:K], ys_m[:K], key)
    np.testing.assert_allclose(h_sharded, h_single, rtol=1e-5, atol=1e-6)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), sharded.params, single.params)


@pytest.mark.slow
def test_data_parallel_recipe_on_two_simulated_devices(tmp_path):
    """``nnlect train charlm --data-parallel`` splits the B streams over 2 (simulated CPU) devices."""
    import os
    import subprocess
    import sys

    (tmp_path / "code.py").write_text(text.stdlib_corpus(max_chars=12_000)[0])
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    flags = ["--text", str(tmp_path / "code.py"), "--hidden", "16", "--seq-len", "8", "--windows-per-call", "4",
             "--steps", "8", "--sample-length", "10", "--data-parallel"]

    def train(out, batch):
        return subprocess.run([sys.executable, "-m", "nnlect.cli", "train", "charlm", "--out", str(tmp_path / out),
                               "--batch-size", str(batch), *flags], env=env, capture_output=True, text=True)

    done = train("dp", 4)
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "dp" / "result.json").read_text())
    assert result["training"]["data_parallel_devices"] == 2 and result["training"]["steps"] == 8
    refused = train("odd", 3)
    assert refused.returncode == 2 and "multiple of the 2 devices" in refused.stderr
