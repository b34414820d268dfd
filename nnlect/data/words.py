r"""Words for a word-level language model: a tokenizer, a capped vocabulary with ``<unk>``,
and the default corpus, the English of the installed Python standard library (its
docstrings and comments; no download).

The lecture: a language model can be "word-level or even character-level". At the word
level each token is a word, so the vocabulary is large and open: a held-out text holds
words the training text never had. :class:`WordVocabulary` keeps the ``K`` most frequent
training words and maps every other word to ``<unk>`` (id 0).
"""

from __future__ import annotations

import ast
import collections
import hashlib
import io
import os
import re
import sys
import tokenize as py_tokenize
from collections.abc import Iterable
from typing import NamedTuple

import numpy as np

from nnlect import _checks
from nnlect.data.text import stdlib_files

UNK = "<unk>"
#: A word (letters, with an inner apostrophe: "don't"), a number, or one punctuation mark.
TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?|[0-9]+|[.,;:!?()]")
STDLIB_MAX_WORDS = 1_000_000
# tests hold fixtures rather than prose; encodings' comments are tables of character names
_NOT_ENGLISH = ("__pycache__", "test", "tests", "encodings")


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens of ``text``: words, numbers and the marks ``. , ; : ! ? ( )``;
    every other character separates tokens.

    >>> tokenize("Return the value, don't copy it (twice).")
    ['return', 'the', 'value', ',', "don't", 'copy', 'it', '(', 'twice', ')', '.']
    """
    if not isinstance(text, str):
        raise TypeError(f"text: expected a str, got {type(text).__name__}")
    return TOKEN.findall(text.lower())


class WordVocabulary(NamedTuple):
    """Id 0 is ``<unk>``; ids ``1..K`` are words, most frequent first (ties alphabetical)."""

    words: tuple[str, ...]

    @classmethod
    def from_tokens(cls, tokens: Iterable[str], max_size: int) -> WordVocabulary:
        """The ``max_size`` most frequent of ``tokens`` (a training text's), plus ``<unk>``."""
        max_size = _checks.positive_int("max_size", max_size)
        counts = collections.Counter(tokens)
        counts.pop(UNK, None)
        if not counts:
            raise ValueError("tokens: expected a non-empty training text to build a vocabulary from, got no words")
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:max_size]
        return cls((UNK, *(w for w, _ in ranked)))

    @classmethod
    def from_words(cls, words: Iterable[str]) -> WordVocabulary:
        """Rebuild a saved vocabulary (e.g. a checkpoint's meta): ``<unk>`` first, then distinct words."""
        words = tuple(words)
        if not words or words[0] != UNK or len(set(words)) != len(words) or not all(isinstance(w, str) and w for w in words):
            raise ValueError(f"words: expected '{UNK}' then distinct non-empty words, got {list(words[:5])!r}...")
        return cls(words)

    @property
    def size(self) -> int:
        return len(self.words)

    def encode(self, text: str | list[str]) -> np.ndarray:
        """``(n,)`` int32 ids of a text (tokenized with :func:`tokenize`) or of a token list;
        a word outside the vocabulary becomes ``<unk>`` (0)."""
        tokens = tokenize(text) if isinstance(text, str) else list(text)
        index = {w: i for i, w in enumerate(self.words)}
        return np.array([index.get(t, 0) for t in tokens], np.int32)

    def decode(self, ids) -> str:
        """The words of ``ids`` ``(n,)`` joined by spaces (no space before ``. , ; : ! ? )``)."""
        ids = np.asarray(ids).reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= self.size):
            raise ValueError(f"ids: expected ids in [0, {self.size}), got {int(ids.min())}..{int(ids.max())}")
        text = " ".join(self.words[int(i)] for i in ids)
        return re.sub(r" ([.,;:!?)])", r"\1", text).replace("( ", "(")


def _english(source: str) -> list[str]:
    """The docstrings and ``#`` comments of one Python source, in order of appearance."""
    parts = []
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return parts
    docs = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node)
            if doc and node.body:
                docs[node.body[0].lineno] = doc
    comments = {}
    try:
        for tok in py_tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == py_tokenize.COMMENT and not tok.string.startswith("#!"):
                comments.setdefault(tok.start[0], tok.string.lstrip("#").strip())
    except (py_tokenize.TokenError, IndentationError, SyntaxError):
        pass
    for line in sorted(set(docs) | set(comments)):
        parts.append(docs.get(line) or comments[line])
    return [p for p in parts if p]


def stdlib_english(max_words: int = STDLIB_MAX_WORDS, root: str | os.PathLike | None = None) -> tuple[str, dict]:
    """The docstrings and comments of the installed standard library, read deterministically.

    The ``.py`` files under ``sysconfig.get_paths()["stdlib"]`` (or ``root``), skipping
    ``site-packages``, ``test`` and ``encodings`` (tables of character names), in sorted order of their relative path; from
    each, its docstrings and comments in order, one paragraph each, until the text holds
    ``max_words`` tokens.

    Returns:
        ``(text, info)``; ``info`` names the root, the Python version, the files read, the
        number of tokens and a SHA-256 prefix of the text.
    """
    max_words = _checks.positive_int("max_words", max_words)
    root, paths = stdlib_files(root, skip=tuple(_NOT_ENGLISH))
    paragraphs, n_tokens, files = [], 0, 0
    for path in paths:
        try:
            source = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        files += 1
        for part in _english(source):
            paragraphs.append(part)
            n_tokens += len(tokenize(part))
        if n_tokens >= max_words:
            break
    if not paragraphs:
        raise FileNotFoundError(f"root: no docstrings or comments in the .py files under {root}")
    text = "\n\n".join(paragraphs)
    info = {"corpus": "stdlib_english", "root": str(root), "python": sys.version.split()[0], "files": files,
            "tokens": len(tokenize(text)), "chars": len(text),
            "sha256_16": hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]}
    return text, info
