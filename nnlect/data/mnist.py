r"""MNIST (slide "Use Case: Digits Recognition": 60k training and 10k test digits), or any
dataset in MNIST's IDX layout, as NumPy arrays, from the source asked for:

1. ``"mnist"``: the four original IDX files (``train-images-idx3-ubyte.gz`` ...; gzip or
   uncompressed) in ``data_dir`` or ``$NNLECT_DATA_DIR``. Each ``.gz`` file's md5 is
   checked against the published value; uncompressed files cannot be, so their
   structure is checked instead (magic number, counts, exact length, labels in 0..9).
   A truncated, corrupt or mislabeled file raises :class:`MnistFileError` naming the
   file and what is wrong; no partial data is ever returned.
2. ``"idx"``: any dataset in the same layout (Fashion-MNIST, KMNIST, ...): four files
   ending in ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
   ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` (``.gz`` or not, any prefix
   such as ``emnist-digits-``) in ``data_dir``. No md5 (there is no published value to
   check against); the structure is checked: images are 3-d uint8 IDX (magic 0x0803),
   labels 1-d (0x0801), each split has as many labels as images, train and test images
   have the same size, labels are in 0..9.
3. ``"tfds"``: ``tfds.data_source("mnist")`` from tensorflow-datasets, when prepared
   (or, with ``download=True``, online, e.g. on Colab; offline it fails in seconds
   instead of retrying for minutes).
4. ``"digits"``: scikit-learn's bundled 8x8 digits (1,797 images, no download); the
   first 1,500 are the training set and the last 297 the fixed test set.

``source="auto"`` takes MNIST's files if they are found, else the digits.

Every :class:`Splits` records where it came from (``source``, ``data_dir``) and
``sha256_16``, a hash of the pixels and labels as read, so a result computed on
Fashion-MNIST cannot pass for one on MNIST (:meth:`Splits.record`).

Normalization (``normalize=True``): pixels :math:`p \in \{0..255\}` become
:math:`x = (p/255 - \mu) / \sigma` with :math:`\mu, \sigma` the mean and standard
deviation of the training split's pixels (about 0.1307 and 0.3081 for MNIST), the
same for every split, so the training inputs have mean 0 and variance 1, as LeNet-5's
paper recommends. The validation split is carved from the training set with a
permutation drawn from ``seed``, so the same seed gives the same split.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path
from typing import Any, NamedTuple, cast

import numpy as np

from nnlect.data import _tfds

ENV_VAR = "NNLECT_DATA_DIR"
SOURCES = ("auto", "mnist", "idx", "tfds", "digits")
IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049  # 0x00000803 and 0x00000801: uint8 data, 3 or 1 dims

#: name -> (md5 of the published .gz file, magic, number of items)
FILES = {
    "train-images-idx3-ubyte": ("f68b3c2dcbeaaa9fbdd348bbdeb94873", IMAGES_MAGIC, 60000),
    "train-labels-idx1-ubyte": ("d53e105ee54ea40749a09fcbcd1e9432", LABELS_MAGIC, 60000),
    "t10k-images-idx3-ubyte": ("9fb629c4189551a2d022fa330f9573f3", IMAGES_MAGIC, 10000),
    "t10k-labels-idx1-ubyte": ("ec29112dd5afa0611ce80d1b7f02629c", LABELS_MAGIC, 10000),
}
DIGITS_TRAIN = 1500  # sklearn digits: first 1500 train, last 297 test


class MnistFileError(ValueError):
    """An IDX file that is truncated, corrupt, or not the file its name says."""


class Splits(NamedTuple):
    """``train``, ``validation`` (or None) and ``test`` are ``(x, y)`` pairs: ``x`` is
    ``(N, H, W, 1)`` (float32 when normalized, else uint8), ``y`` is ``(N,)`` int32 in 0..9.
    ``pixel_mean``/``pixel_std`` are the normalization constants (None when not normalized);
    ``data_dir`` the folder read (None for digits) and ``sha256_16`` the first 16 hex digits
    of the SHA-256 of the pixels and labels of both splits as read (before normalization)."""

    train: tuple[np.ndarray, np.ndarray]
    validation: tuple[np.ndarray, np.ndarray] | None
    test: tuple[np.ndarray, np.ndarray]
    source: str
    image_shape: tuple[int, int, int]
    pixel_mean: float | None = None
    pixel_std: float | None = None
    data_dir: str | None = None
    sha256_16: str | None = None

    def record(self) -> dict:
        """What a result file records about the data: ``{"source", "dir", "sha256_16",
        "image_shape", "train_size", "validation_size", "test_size"}``."""
        return {"source": self.source, "dir": self.data_dir, "sha256_16": self.sha256_16,
                "image_shape": list(self.image_shape), "train_size": int(len(self.train[1])),
                "validation_size": int(len(self.validation[1])) if self.validation is not None else 0,
                "test_size": int(len(self.test[1]))}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (gzip or not) into a uint8 array of the shape its header gives.

    Raises :class:`MnistFileError` naming the file when the header is not a uint8 IDX
    header, the gzip stream is broken, or the length is not exactly header + data.
    """
    path = Path(path)
    try:
        raw = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise MnistFileError(f"{path}: cannot be decompressed ({e}); the file is truncated or corrupt") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08 or not 1 <= raw[3] <= 4:
        raise MnistFileError(f"{path}: not a uint8 IDX file (header bytes {raw[:4].hex() or 'missing'}, "
                             "expected 000008 then the number of dimensions)")
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise MnistFileError(f"{path}: truncated IDX header ({len(raw)} bytes)")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", ndim, 4))
    expected = 4 + 4 * ndim + int(np.prod(shape))
    if len(raw) != expected:
        what = "truncated" if len(raw) < expected else "has trailing bytes"
        raise MnistFileError(f"{path}: {what}: {len(raw)} bytes, the header {shape} needs exactly {expected}")
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _idx_path(folder: Path, name: str) -> Path | None:
    for candidate in (folder / f"{name}.gz", folder / name):
        if candidate.is_file():
            return candidate
    return None


def find_idx_dir(data_dir: str | os.PathLike | None = None) -> Path | None:
    """The folder holding all four IDX files: ``data_dir`` if given, else ``$NNLECT_DATA_DIR``; None if it lacks them.

    An explicit ``data_dir`` is never swapped for the environment variable behind the
    caller's back: if it lacks the files, the answer is None.
    """
    folder = data_dir if data_dir is not None else os.environ.get(ENV_VAR)
    if folder and all(_idx_path(Path(folder), name) for name in FILES):
        return Path(folder)
    return None


def _read_checked(folder: Path, name: str) -> np.ndarray:
    md5, magic, count = FILES[name]
    path = _idx_path(folder, name)
    if path is None:
        raise FileNotFoundError(f"MNIST: {folder} has neither {name}.gz nor {name}")
    if path.name.endswith(".gz") and (got := _md5(path)) != md5:
        raise MnistFileError(f"{path}: md5 {got} is not the published {md5}; the file is truncated, corrupt "
                             "or another file under this name (another dataset in MNIST's layout, e.g. "
                             "Fashion-MNIST: source='idx', --data idx, which checks the structure instead)")
    data = read_idx(path)
    want_shape = (count, 28, 28) if magic == IMAGES_MAGIC else (count,)
    if data.shape != want_shape:
        kind = "images" if magic == IMAGES_MAGIC else "labels"
        raise MnistFileError(f"{path}: expected {kind} of shape {want_shape}, got {data.shape}; "
                             "is it another MNIST file under this name?")
    if magic == LABELS_MAGIC and data.max() > 9:
        raise MnistFileError(f"{path}: labels must be in 0..9, found {int(data.max())}")
    return data


def _from_idx(folder: Path) -> tuple:
    arrays = {name: _read_checked(folder, name) for name in FILES}
    (tr_x, tr_y, te_x, te_y) = (arrays[n] for n in FILES)
    return (tr_x[..., None], tr_y), (te_x[..., None], te_y)


#: The four files of the IDX layout, by role: the name ends with this (``.gz`` optional).
IDX_LAYOUT = dict(zip(("train images", "train labels", "test images", "test labels"), FILES))


def find_idx_files(folder: str | os.PathLike) -> dict[str, Path]:
    """The four files of a dataset in MNIST's IDX layout in ``folder``, by role.

    A file plays a role when its name ends with the MNIST name (``train-images-idx3-ubyte``
    ...), with or without ``.gz``, after any prefix (``emnist-digits-train-images-...``).
    Raises ``FileNotFoundError`` naming what is missing, or :class:`MnistFileError` when a
    role has more than one candidate.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"source='idx': no folder {folder}")
    names = sorted(p.name for p in folder.iterdir() if p.is_file())
    found, missing = {}, []
    for role, stem in IDX_LAYOUT.items():
        hits = [n for n in names if n.endswith(stem) or n.endswith(f"{stem}.gz")]
        if not hits:
            missing.append(f"*{stem}[.gz]")
        elif len(hits) > 1:
            raise MnistFileError(f"{folder}: more than one file for the {role}: {hits}; keep one dataset per folder")
        else:
            found[role] = folder / hits[0]
    if missing:
        raise FileNotFoundError(f"source='idx': {folder} lacks {', '.join(missing)} (the four files of MNIST's IDX "
                                f"layout; found {names[:8]})")
    return found


def _from_any_idx(folder: Path) -> tuple:
    """The four files of :func:`find_idx_files`, structure-checked (no md5)."""
    paths = find_idx_files(folder)
    data = {role: read_idx(path) for role, path in paths.items()}
    for role, array in data.items():
        want = 3 if role.endswith("images") else 1
        if array.ndim != want:
            kind = "(N, H, W) images, magic 0x00000803" if want == 3 else "(N,) labels, magic 0x00000801"
            raise MnistFileError(f"{paths[role]}: expected {kind} for the {role}, got a {array.ndim}-d IDX "
                                 f"array of shape {array.shape}")
    for split in ("train", "test"):
        images, labels = data[f"{split} images"], data[f"{split} labels"]
        if len(images) != len(labels):
            raise MnistFileError(f"{paths[f'{split} labels']}: {len(labels)} labels for the {len(images)} "
                                 f"images of {paths[f'{split} images'].name}; expected one label per image")
        if len(images) == 0:
            raise MnistFileError(f"{paths[f'{split} images']}: holds no images")
        if labels.max() > 9:
            raise MnistFileError(f"{paths[f'{split} labels']}: labels must be in 0..9 (the models have 10 "
                                 f"outputs), found {int(labels.max())}")
    if data["train images"].shape[1:] != data["test images"].shape[1:]:
        raise MnistFileError(f"{folder}: train images are {data['train images'].shape[1:]}, test images "
                             f"{data['test images'].shape[1:]}; expected one image size")
    return ((data["train images"][..., None], data["train labels"]),
            (data["test images"][..., None], data["test labels"]))


def _from_tfds(data_dir: Any, download: bool, timeout: float) -> tuple:
    instead = "use --data mnist with the four IDX files in --data-dir (source='mnist'), or --data digits"
    train_ds, test_ds = _tfds.data_source("mnist", ["train", "test"], data_dir=data_dir, download=download,
                                          timeout=timeout, what="source='tfds' (--data tfds)", instead=instead)

    def arrays(ds):
        # Vectorized reads (__getitems__ over 4096 records at a time, as nl.data.batches
        # does), not one ds[i] per image.
        from nnlect.data.batching import read, stack

        n = len(ds)
        parts = [read(ds, np.arange(a, min(a + 4096, n))) for a in range(0, n, 4096)]
        x = np.concatenate([stack(p, "image") for p in parts]).astype(np.uint8).reshape(-1, 28, 28, 1)
        return x, np.concatenate([stack(p, "label") for p in parts]).astype(np.int64)

    return arrays(train_ds), arrays(test_ds)


def _from_digits() -> tuple:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ModuleNotFoundError("source='digits' (--data digits) needs scikit-learn, a dependency of nnlect "
                                  'that is missing here: pip install "scikit-learn>=1.4"', name="sklearn") from None
    # a Bunch; pyright infers load_digits' return from its source, which also admits return_X_y's tuple
    digits = cast(Any, load_digits())
    x = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)[..., None]  # 0..16 -> 0..255
    y = digits.target
    return (x[:DIGITS_TRAIN], y[:DIGITS_TRAIN]), (x[DIGITS_TRAIN:], y[DIGITS_TRAIN:])


def _content_hash(train: tuple, test: tuple) -> str:
    digest = hashlib.sha256()
    for array in (*train, *test):
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape};".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()[:16]


def load(source: str = "auto", *, data_dir: str | os.PathLike | None = None, validation_size: int = 0,
         seed: int = 0, normalize: bool = True, download: bool = False, timeout: float = 300.0) -> Splits:
    """Load MNIST, another dataset in its IDX layout, or the 8x8 digits as NumPy arrays.

    Arguments:
        source: ``"mnist"``, ``"idx"``, ``"tfds"``, ``"digits"`` or ``"auto"`` (MNIST if
            found, else digits); see the module docstring.
        data_dir: folder of the IDX files (default ``$NNLECT_DATA_DIR``), or tfds's data dir.
        validation_size: number of training examples moved to a validation split (0: none).
        seed: seed of the permutation that picks the validation examples.
        normalize: float32 standardized with the training split's pixel mean and std
            (see the module docstring); False returns the raw uint8 pixels.
        download, timeout: tfds only: allow tfds to download (needs network), and give up
            after ``timeout`` seconds.

    Returns:
        :class:`Splits`; images ``(N, H, W, 1)``, labels ``(N,)`` int32.
    """
    if source not in SOURCES:
        raise ValueError(f"source: expected one of {list(SOURCES)}, got {source!r}")
    if isinstance(validation_size, bool) or not isinstance(validation_size, (int, np.integer)) or validation_size < 0:
        raise ValueError(f"validation_size: expected a non-negative int, got {validation_size!r}")
    folder = None
    if source in ("auto", "mnist"):
        folder = find_idx_dir(data_dir)
        if folder is None and source == "mnist":
            where = data_dir or f"${ENV_VAR} ({os.environ.get(ENV_VAR) or 'unset'})"
            raise FileNotFoundError(f"source='mnist': the four MNIST IDX files ({', '.join(f'{n}.gz' for n in FILES)}) "
                                    f"are not all in {where} (another dataset in this layout: source='idx', "
                                    "--data idx)")
        source = "mnist" if folder is not None else "digits"
    if source == "mnist":
        assert folder is not None  # found above, or FileNotFoundError was raised
        train, test = _from_idx(folder)
    elif source == "idx":
        if data_dir is None and not os.environ.get(ENV_VAR):
            raise FileNotFoundError("source='idx': pass data_dir (--data-dir DIR), the folder of the four IDX files")
        folder = Path(data_dir if data_dir is not None else os.environ[ENV_VAR])
        train, test = _from_any_idx(folder)
    elif source == "tfds":
        train, test = _from_tfds(data_dir, download, timeout)
        folder = data_dir
    else:
        train, test = _from_digits()
    sha = _content_hash(train, test)
    (x, y), (x_test, y_test) = train, test
    y, y_test = y.astype(np.int32), y_test.astype(np.int32)
    if validation_size >= len(x):
        raise ValueError(f"validation_size: expected fewer than the {len(x)} training examples, got {validation_size}")
    validation = None
    if validation_size:
        order = np.random.default_rng(seed).permutation(len(x))
        keep, held = np.sort(order[validation_size:]), np.sort(order[:validation_size])
        x, y, validation = x[keep], y[keep], (x[held], y[held])
    mean = std = None
    if normalize:
        # Integer sums: exact, and no float copy of the 47M training pixels.
        n = x.size
        total = float(x.sum(dtype=np.uint64))
        squares = float((x.astype(np.uint32) ** 2).sum(dtype=np.uint64))
        mean = total / n / 255.0
        std = float(np.sqrt(max(squares / n / 255.0**2 - mean**2, 0.0)))
        if std == 0.0:
            raise ValueError("normalize: every training pixel has the same value; the images carry no signal")
        table = ((np.arange(256) / 255.0 - mean) / std).astype(np.float32)

        def scale(images):
            return table[images]

        x, x_test = scale(x), scale(x_test)
        if validation is not None:
            validation = (scale(validation[0]), validation[1])
    return Splits((x, y), validation, (x_test, y_test), source, tuple(x.shape[1:]), mean, std,
                  str(folder) if folder is not None else None, sha)
