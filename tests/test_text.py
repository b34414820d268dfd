"""Text for the character language model: corpora, vocabulary, truncated-BPTT windows."""

import math

import numpy as np
import pytest

from nnlect.data import text


def test_vocabulary_round_trips_and_names_unknown_characters():
    vocab = text.Vocabulary.from_text("hello, world\n")
    assert vocab.chars == "\n ,dehlorw" and vocab.size == 10
    ids = vocab.encode("hello")
    assert ids.dtype == np.int32 and ids.tolist() == [5, 4, 6, 6, 7]
    assert vocab.decode(vocab.encode("low, droll\n")) == "low, droll\n"
    with pytest.raises(ValueError, match="'Xz'"):
        vocab.encode("helXz")
    with pytest.raises(ValueError, match="non-empty"):
        text.Vocabulary.from_text("")


def test_vocabulary_encodes_any_unicode():
    vocab = text.Vocabulary.from_text("naïve café ☕ 𝄞")
    assert vocab.decode(vocab.encode("☕ café 𝄞")) == "☕ café 𝄞"


def test_stdlib_corpus_is_the_same_text_every_time_and_respects_the_cap():
    first, info = text.stdlib_corpus(max_chars=50_000)
    again, info_again = text.stdlib_corpus(max_chars=50_000)
    assert first == again and info == info_again
    assert 0 < len(first) <= 50_000 and info["chars"] == len(first) and info["files"] >= 1
    assert first.isascii() and "def " in first and "import " in first  # real Python


def test_stdlib_corpus_reads_sorted_ascii_files_and_skips_site_packages(tmp_path):
    (tmp_path / "b.py").write_text("b = 2\n")
    (tmp_path / "a.py").write_text("a = 1\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "c.py").write_text("c = 3\n")
    (tmp_path / "accent.py").write_text("name = 'José'\n", encoding="utf-8")
    (tmp_path / "site-packages").mkdir()
    (tmp_path / "site-packages" / "vendored.py").write_text("third_party = True\n")
    (tmp_path / "notes.txt").write_text("not python\n")
    corpus, info = text.stdlib_corpus(root=tmp_path)
    assert corpus == "a = 1\nb = 2\nc = 3\n"
    assert info["files"] == 3 and info["skipped_non_ascii_or_unreadable"] == 1
    assert info["first_file"] == "a.py" and info["last_file"] == "pkg/c.py"
    capped, info = text.stdlib_corpus(max_chars=13, root=tmp_path)  # whole files only
    assert capped == "a = 1\nb = 2\n" and info["files"] == 2
    assert text.stdlib_corpus(max_chars=3, root=tmp_path)[0] == "a ="  # a first file bigger than the cap is cut


def test_text_file_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no file"):
        text.text_file(tmp_path / "missing.txt")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(ValueError, match="not UTF-8"):
        text.text_file(tmp_path / "latin1.txt")
    (tmp_path / "ok.txt").write_text("some text")
    assert text.text_file(tmp_path / "ok.txt")[0] == "some text"


def test_held_out_split_is_the_end_of_the_text():
    train, held = text.split_held_out("abcdefghij", 0.2)
    assert (train, held) == ("abcdefgh", "ij")
    with pytest.raises(ValueError, match="empty split"):
        text.split_held_out("abc", 0.01)


def test_windows_continue_each_other_so_the_state_can_be_carried():
    ids = np.arange(2 * 3 * 4 + 5)  # B=2 streams, T=3, 4 windows per stream, a remainder
    xs, ys = text.bptt_windows(ids, batch_size=2, seq_len=3)
    assert xs.shape == ys.shape == (4, 2, 3)
    np.testing.assert_array_equal(ys, xs + 1)  # the target is the next character
    for b in range(2):
        stream = np.concatenate(list(xs[:, b]))  # window k+1 of row b continues window k
        np.testing.assert_array_equal(stream, np.arange(len(stream)) + stream[0])
    assert xs[0, 1, 0] == (len(ids) - 1) // 2  # row 1 starts where row 0's stream ends
    with pytest.raises(ValueError, match="seq_len"):
        text.bptt_windows(np.arange(10), batch_size=4, seq_len=5)


def test_unigram_entropy_in_bits():
    assert text.unigram_entropy_bits(np.array([0, 1, 2, 3] * 5), 4) == pytest.approx(2.0)
    assert text.unigram_entropy_bits(np.array([3, 3, 3]), 4) == 0.0
    assert text.BITS_PER_NAT == pytest.approx(1 / math.log(2))


def test_tiny_shakespeare_through_mocked_tfds():
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=2):  # no network: tfds generates random text
        train, info = text.tiny_shakespeare("train")
        held, _ = text.tiny_shakespeare("validation")
    assert isinstance(train, str) and len(train) > 0 and len(held) > 0
    assert info["corpus"] == "tiny_shakespeare" and info["chars"] == len(train)


def test_tiny_shakespeare_offline_fails_at_once_with_what_to_do(tmp_path, monkeypatch, capsys):
    pytest.importorskip("tensorflow_datasets")
    from nnlect import cli
    from nnlect.data import _tfds

    with pytest.raises(FileNotFoundError, match=r"not prepared .* pass --download .* --corpus stdlib"):
        text.tiny_shakespeare("train", data_dir=str(tmp_path))
    monkeypatch.setattr(_tfds, "online", lambda *a, **k: False)  # no test ever downloads
    out = tmp_path / "run"
    assert cli.main(["train", "charlm", "--corpus", "tiny_shakespeare", "--download", "--data-dir", str(tmp_path),
                     "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "with --download / download=True: no network" in err and "--corpus stdlib" in err
    assert not out.exists() or not any(out.iterdir())


def test_a_tfds_fetch_that_hangs_is_abandoned_after_its_timeout(monkeypatch):
    tfds = pytest.importorskip("tensorflow_datasets")
    import threading

    from nnlect.data import _tfds

    release = threading.Event()
    monkeypatch.setattr(_tfds, "online", lambda *a, **k: True)
    monkeypatch.setattr(tfds, "data_source", lambda *a, **k: release.wait(60))  # as urllib3 retrying for minutes
    try:
        with pytest.raises(TimeoutError, match=r"--corpus tiny_shakespeare: no tiny_shakespeare after 0 s; use --corpus stdlib"):
            text.tiny_shakespeare("train", download=True, timeout=0.2)
    finally:
        release.set()
