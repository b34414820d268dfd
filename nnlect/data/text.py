r"""Text for character language models: corpora, a character vocabulary, (B, T) windows.

Corpora (each returns ``(text, info)``, ``info`` a JSON-able record of what was read):

- :func:`stdlib_corpus`: the ``.py`` files of the installed Python standard library, the
  default; real text on every machine, no download, the same text on the same Python version;
- :func:`text_file`: any UTF-8 text file;
- :func:`tiny_shakespeare`: through tensorflow-datasets (``pip install nnlect[tfds]``).

:func:`bptt_windows` lays a token stream out for truncated backprop through time: the
text is cut into ``B`` contiguous streams, and window ``k`` holds characters
``[kT, (k+1)T)`` of every stream, so window ``k+1`` continues window ``k`` row by row and
the hidden state can be carried from one to the next.
"""

from __future__ import annotations

import hashlib
import math
import os
import sys
import sysconfig
from pathlib import Path
from typing import NamedTuple

import numpy as np

from nnlect import _checks
from nnlect.data import _tfds

STDLIB_MAX_CHARS = 2_000_000
SKIPPED_DIRS = ("site-packages", "dist-packages")


class Vocabulary(NamedTuple):
    """The sorted distinct characters of a corpus; id ``i`` is ``chars[i]``."""

    chars: str

    @classmethod
    def from_chars(cls, chars: str) -> Vocabulary:
        """Rebuild a saved vocabulary (e.g. from a checkpoint's meta), checking it is sorted and distinct."""
        if not isinstance(chars, str) or not chars or list(chars) != sorted(set(chars)):
            raise ValueError(f"chars: expected the sorted distinct characters of a corpus, got {chars!r:.60}")
        return cls(chars)

    @classmethod
    def from_text(cls, text: str) -> Vocabulary:
        if not text:
            raise ValueError("text: expected a non-empty corpus to build a vocabulary from, got ''")
        return cls("".join(sorted(set(text))))

    @property
    def size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """``(len(text),)`` int32 ids; a character outside the vocabulary is an error naming it."""
        unknown = sorted(set(text) - set(self.chars))
        if unknown:
            raise ValueError(f"text: characters {''.join(unknown)!r} are not in the vocabulary of {self.size} characters")
        # chars are sorted by code point, so an id is the rank of the code point among them
        return np.searchsorted(_code_points(self.chars), _code_points(text)).astype(np.int32)

    def decode(self, ids) -> str:
        """The text of a sequence of ids ``(n,)``."""
        return "".join(self.chars[int(i)] for i in np.asarray(ids).reshape(-1))


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def stdlib_files(root: str | os.PathLike | None = None, *, skip: tuple[str, ...] = ()) -> tuple[Path, list[Path]]:
    """``(root, paths)``: the ``.py`` files under the installed standard library (or ``root``),
    sorted by relative path, not walking ``site-packages``, ``__pycache__`` or the folders
    named in ``skip``."""
    root = Path(root if root is not None else sysconfig.get_paths()["stdlib"])
    if not root.is_dir():
        raise FileNotFoundError(f"root: no standard-library folder at {root}")
    pruned = {*SKIPPED_DIRS, "__pycache__", *skip}
    paths = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in pruned]  # prune, don't walk them
        paths += [Path(folder, n) for n in names if n.endswith(".py")]
    paths.sort(key=lambda p: p.relative_to(root).as_posix())
    return root, paths


def stdlib_corpus(max_chars: int = STDLIB_MAX_CHARS, root: str | os.PathLike | None = None) -> tuple[str, dict]:
    """The installed standard library's source code, read deterministically.

    The ``.py`` files under ``sysconfig.get_paths()["stdlib"]`` (or ``root``), skipping
    ``site-packages``, are taken in sorted order of their relative path; files that are not
    pure ASCII are skipped (a few hold accented names or symbols that would add a hundred
    rare characters to the vocabulary); whole files are appended until the next would pass
    ``max_chars`` (a first file larger than that is cut).

    Returns:
        ``(text, info)``; ``info`` names the root, the Python version, the number of files
        read and skipped, the first and last file, the size and a SHA-256 prefix of the text.
    """
    max_chars = _checks.positive_int("max_chars", max_chars)
    root, paths = stdlib_files(root)
    parts, files, skipped, size = [], [], 0, 0
    for path in paths:
        try:
            source = path.read_text(encoding="ascii")
        except (UnicodeDecodeError, OSError):
            skipped += 1
            continue
        if size + len(source) > max_chars:
            if not parts:
                parts, files, size = [source[:max_chars]], [path], max_chars
            break
        parts.append(source)
        files.append(path)
        size += len(source)
    if not parts:
        raise FileNotFoundError(f"root: no readable ASCII .py files under {root}")
    text = "".join(parts)
    info = {
        "corpus": "stdlib", "root": str(root), "python": sys.version.split()[0], "files": len(files),
        "skipped_non_ascii_or_unreadable": skipped, "first_file": files[0].relative_to(root).as_posix(),
        "last_file": files[-1].relative_to(root).as_posix(), "chars": len(text), "sha256_16": _digest(text),
    }
    return text, info


def text_file(path: str | os.PathLike) -> tuple[str, dict]:
    """A UTF-8 text file, whole; returns ``(text, info)``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--text: no file at {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"--text: {path} is not UTF-8 text ({e})") from None
    if not text:
        raise ValueError(f"--text: {path} is empty")
    return text, {"corpus": "file", "path": str(path), "chars": len(text), "sha256_16": _digest(text)}


def tiny_shakespeare(split: str = "train", *, data_dir: str | None = None, download: bool = False,
                     timeout: float = 120.0) -> tuple[str, dict]:
    """The ``tiny_shakespeare`` split (``"train"``, ``"validation"`` or ``"test"``) through tfds.

    Each split is one example whose ``text`` feature is the whole split. Uses
    ``tfds.data_source``, which needs no TensorFlow (tests mock it with ``tfds.testing.mock_data``).
    Without ``download`` the data must be prepared in ``data_dir``; with it, an offline
    machine fails within seconds (see :mod:`nnlect.data._tfds`), and the fetch gives up
    after ``timeout`` seconds.
    """
    source = _tfds.data_source("tiny_shakespeare", split, data_dir=data_dir, download=download, timeout=timeout,
                               what="--corpus tiny_shakespeare",
                               instead="use --corpus stdlib (no download) or --text FILE")
    text = "".join(_as_str(example["text"]) for example in (source[i] for i in range(len(source))))
    if not text:
        raise ValueError(f"tiny_shakespeare: split {split!r} is empty")
    return text, {"corpus": "tiny_shakespeare", "split": split, "chars": len(text), "sha256_16": _digest(text)}


def _as_str(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def split_held_out(text: str, fraction: float = 0.1) -> tuple[str, str]:
    """``(train, held_out)``: the last ``fraction`` of the text is held out (no shuffling,
    so held-out characters never sit inside training windows)."""
    fraction = _checks.rate("held_out fraction", fraction)
    cut = len(text) - int(round(len(text) * fraction))
    if fraction > 0 and (cut < 2 or cut == len(text)):
        raise ValueError(f"held_out fraction: {fraction} of {len(text)} characters leaves an empty split")
    return text[:cut], text[cut:]


def streams(ids: np.ndarray, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut ``ids`` ``(N,)`` into ``B`` contiguous streams: inputs and next-char targets ``(B, L)``.

    ``L = (N - 1) // B``; the last ``(N - 1) % B`` characters are dropped.
    """
    batch_size = _checks.positive_int("batch_size", batch_size)
    ids = np.asarray(ids)
    length = (len(ids) - 1) // batch_size
    if length < 1:
        raise ValueError(f"batch_size: {batch_size} streams need at least {batch_size + 1} characters, got {len(ids)}")
    x = ids[: batch_size * length].reshape(batch_size, length)
    y = ids[1: batch_size * length + 1].reshape(batch_size, length)
    return x, y


def bptt_windows(ids: np.ndarray, batch_size: int, seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Consecutive ``(B, T)`` windows of :func:`streams`: inputs and targets ``(W, B, T)``.

    ``xs[k + 1, b]`` continues ``xs[k, b]`` in the text, and ``ys[k, b, t]`` is the character
    after ``xs[k, b, t]``. ``W = L // T``; the tail of each stream shorter than ``T`` is dropped.
    """
    seq_len = _checks.positive_int("seq_len", seq_len)
    x, y = streams(ids, batch_size)
    n_windows = x.shape[1] // seq_len
    if n_windows < 1:
        raise ValueError(f"seq_len: {batch_size} streams of {x.shape[1]} characters hold no window of {seq_len}; "
                         "use a longer text or smaller --batch-size / --seq-len")
    cut = n_windows * seq_len
    def to_windows(a):
        return np.ascontiguousarray(a[:, :cut].reshape(batch_size, n_windows, seq_len).swapaxes(0, 1))
    return to_windows(x), to_windows(y)


def unigram_entropy_bits(ids: np.ndarray, vocab_size: int) -> float:
    r"""Entropy :math:`-\sum_c p_c \log_2 p_c` of the character frequencies of ``ids``, in bits/char.

    It is the cross-entropy of the best possible context-free model *of this very split*, so
    a language model must beat it by using context.
    """
    counts = np.bincount(np.asarray(ids).reshape(-1), minlength=vocab_size).astype(np.float64)
    p = counts[counts > 0] / counts.sum()
    return max(0.0, float(-(p * np.log2(p)).sum()))  # one character: 0, not -0


BITS_PER_NAT = 1.0 / math.log(2.0)
