"""The word-level language model: tokenizer and vocabulary, the count baselines, the
hand-written BPTT on the embedded-input path, and a tiny corpus the model must learn."""

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nnlect.cli import main
from nnlect.data import words
from nnlect.losses import softmax_cross_entropy
from nnlect.recipes import wordlm
from nnlect.reference import numpy_bptt


def test_tokenizer_lowercases_and_splits_off_punctuation():
    assert words.tokenize("Hello, World! It's 42 (ok).") == ["hello", ",", "world", "!", "it's", "42", "(", "ok", ")", "."]
    assert words.tokenize("  \n\t ") == []


def test_vocabulary_keeps_the_k_most_frequent_words_and_maps_the_rest_to_unk():
    tokens = "b a b c a b d".split()
    vocab = words.WordVocabulary.from_tokens(tokens, 2)
    assert vocab.words == ("<unk>", "b", "a")
    assert vocab.encode("b c a zebra").tolist() == [1, 0, 2, 0]
    assert vocab.decode([1, 2, 0]) == "b a <unk>"
    assert words.WordVocabulary.from_words(vocab.words) == vocab


def test_vocabulary_bad_input_is_named():
    with pytest.raises(ValueError, match="max_size"):
        words.WordVocabulary.from_tokens(["a"], 0)
    with pytest.raises(ValueError, match="tokens"):
        words.WordVocabulary.from_tokens([], 5)
    with pytest.raises(ValueError, match="words"):
        words.WordVocabulary.from_words(["a", "<unk>"])
    with pytest.raises(ValueError, match="words"):
        words.WordVocabulary.from_words(["<unk>", "a", "a"])
    with pytest.raises(TypeError, match="text"):
        words.tokenize(b"bytes")
    with pytest.raises(ValueError, match="ids"):
        words.WordVocabulary(("<unk>", "a")).decode([2])


def test_stdlib_english_reads_docstrings_and_comments(tmp_path):
    (tmp_path / "mod.py").write_text('"""Module words here."""\n# a comment line\nx = "not a docstring"\n'
                                     'def f():\n    """Function doc."""\n    return 1  # trailing note\n')
    (tmp_path / "encodings").mkdir()
    (tmp_path / "encodings" / "cp.py").write_text("# LATIN SMALL LETTER A\n")
    text, info = words.stdlib_english(100, root=tmp_path)
    assert text.split("\n\n") == ["Module words here.", "a comment line", "Function doc.", "trailing note"]
    assert info["files"] == 1 and info["tokens"] == len(words.tokenize(text))
    with pytest.raises(FileNotFoundError, match="root"):
        words.stdlib_english(100, root=tmp_path / "missing")


def test_count_baselines_by_hand():
    train = np.array([1, 2, 1, 2, 1])  # V = 3: counts [0, 3, 2]; as contexts 1 and 2 twice each; pairs (1,2) x2, (2,1) x2
    x, y = np.array([1, 2]), np.array([2, 0])
    got = wordlm.count_baselines(train, x, y, 3)
    unigram = [(2 + 1) / (5 + 3), (0 + 1) / (5 + 3)]
    bigram = [(2 + 1) / (2 + 3), (0 + 1) / (2 + 3)]
    assert got["unigram_perplexity"] == pytest.approx(math.exp(-np.mean(np.log(unigram))))
    assert got["bigram_add_one_perplexity"] == pytest.approx(math.exp(-np.mean(np.log(bigram))))
    with pytest.raises(ValueError, match="train_ids"):
        wordlm.count_baselines(train, x, y[:1], 3)


def _embedded_problem(backward, seed=0, batch=3, seq_len=7, vocab=11, dim=4, hidden=5):
    model = wordlm.word_rnn(vocab, dim, hidden, backward=backward, dtype=jnp.float64)
    params = model.init(jax.random.key(seed))
    params["cell"]["b_h"] = 0.1 * jnp.arange(hidden, dtype=jnp.float64)  # a general point, not b = 0
    rng = np.random.default_rng(seed)
    x = jnp.asarray(rng.integers(0, vocab, (batch, seq_len)))
    targets = jnp.asarray(rng.integers(0, vocab, (batch, seq_len)))
    h0 = jnp.asarray(0.5 * rng.normal(size=(batch, hidden)))
    return model, params, x, targets, h0


def _loss(model):
    def loss(p, x, targets, h0):
        return softmax_cross_entropy(model.apply(p, x, h0=h0), targets)
    return loss


def test_handwritten_bptt_equals_autodiff_on_the_embedded_input_path():
    with jax.enable_x64(True):
        model, params, x, targets, h0 = _embedded_problem("bptt")
        auto_model = _embedded_problem("autodiff")[0]
        grads = jax.grad(_loss(model))(params, x, targets, h0)
        auto = jax.grad(_loss(auto_model))(params, x, targets, h0)
        # every leaf, the embedding table included: it gets its gradient through the
        # hand-written backward's input cotangent, which the one-hot path never uses
        for (path, expected), got in zip(jax.tree_util.tree_flatten_with_path(auto)[0], jax.tree.leaves(grads)):
            np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-14, err_msg=jax.tree_util.keystr(path))
        assert float(jnp.max(jnp.abs(grads["embed"]["table"]))) > 0
        # and the NumPy BPTT of the lecture, fed the embedded floats, gives the same cell and readout gradients
        embedded = np.asarray(params["embed"]["table"])[np.asarray(x)]
        hand_loss, hand, _ = numpy_bptt.loss_and_gradients({"cell": params["cell"], "readout": params["readout"]},
                                                           embedded, np.asarray(targets), np.asarray(h0))
        np.testing.assert_allclose(hand_loss, float(_loss(model)(params, x, targets, h0)), rtol=1e-10)
        for layer in ("cell", "readout"):
            for leaf in hand[layer]:
                np.testing.assert_allclose(hand[layer][leaf], grads[layer][leaf], rtol=1e-8, atol=1e-14,
                                           err_msg=f"{layer}.{leaf}")


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_other_cells_carry_their_state(cell):
    model = wordlm.word_rnn(9, 3, 4, cell=cell)
    params = model.init(jax.random.key(0))
    h = model.initial_state(2)
    assert h.shape == (2, 4 if cell == "gru" else 8)
    logits, h_last = model.apply(params, jnp.zeros((2, 5), jnp.int32), h0=h, return_state=True)
    assert logits.shape == (2, 5, 9) and h_last.shape == h.shape


def test_word_rnn_bad_input_is_named():
    with pytest.raises(ValueError, match="cell"):
        wordlm.word_rnn(9, 3, 4, cell="transformer")
    with pytest.raises(ValueError, match="embed_dim"):
        wordlm.word_rnn(9, 0, 4)


def _tiny_corpus(path, lines=800, seed=0):
    rng = np.random.default_rng(seed)
    subjects, verbs, objects = ["the cat", "a dog", "my friend"], ["sees", "likes", "eats"], ["the fish", "a ball", "some bread"]
    text = "\n".join(f"{rng.choice(subjects)} {rng.choice(verbs)} {rng.choice(objects)} ." for _ in range(lines))
    path.write_text(text)
    return path


def test_wordlm_beats_the_unigram_on_a_tiny_corpus_and_samples(tmp_path, capsys):
    corpus = _tiny_corpus(tmp_path / "tiny.txt")
    out = tmp_path / "run"
    rc = main(["train", "wordlm", "--text", str(corpus), "--out", str(out), "--hidden", "24", "--embed", "8",
               "--batch-size", "4", "--seq-len", "8", "--epochs", "2", "--vocab", "10", "--prompt", "the cat",
               "--sample-length", "6"])
    assert rc == 0
    result = json.loads((out / "result.json").read_text())
    held = result["held_out"]
    assert result["vocab_size"] == 11  # 10 words and <unk>
    assert held["perplexity"] < 0.8 * held["unigram_perplexity"], held
    assert len(words.tokenize(result["sample"]["text"])) == 6
    capsys.readouterr()
    assert main(["sample", "--checkpoint", str(out / "checkpoint.msgpack"), "--length", "5", "--prompt", "a dog"]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed.startswith("a dog ") and len(words.tokenize(printed)) == 7


def test_wordlm_refuses_bad_flags_before_training(tmp_path, capsys):
    corpus = _tiny_corpus(tmp_path / "tiny.txt", lines=20)
    for flags, named in [(["--vocab", "0"], "--vocab"), (["--prompt", "   "], "--prompt"),
                         (["--held-out", "0"], "--held-out"), (["--temperature", "0"], "--temperature")]:
        rc = main(["train", "wordlm", "--text", str(corpus), "--out", str(tmp_path / "r"), *flags])
        assert rc == 2 and named in capsys.readouterr().err, flags
    assert not (tmp_path / "r" / "checkpoint.msgpack").exists()
