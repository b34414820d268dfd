"""Checks of ``nnlect train`` flags, run before any data is read or anything is trained.

One table for every recipe: a recipe that has the flag gets the check, so a bad value is
refused with exit code 2 and a message naming the flag, never after an epoch of work.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from nnlect import _checks


def _positive_int(flag: str, value) -> None:
    _checks.positive_int(flag, value)


def _non_negative_int(flag: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{flag}: expected an int >= 0, got {value!r}")


def _positive(flag: str, value) -> None:
    _checks.positive(flag, value)


def _widths(flag: str, value) -> None:
    for width in value if isinstance(value, (list, tuple)) else [value]:
        if isinstance(width, bool) or not isinstance(width, int) or width < 1:
            raise ValueError(f"{flag}: expected positive layer widths, got {width!r}"
                             + (f" in {list(value)}" if isinstance(value, (list, tuple)) else ""))


#: attribute of the parsed args -> (flag, check); None values (an unset optional flag) pass.
FLAG_CHECKS = {
    "epochs": ("--epochs", _positive_int),
    "batch_size": ("--batch-size", _positive_int),
    "hidden": ("--hidden", _widths),
    "lr": ("--lr", _positive),
    "target_error": ("--target-error", _checks.fraction),
    "dropout": ("--dropout", _checks.rate),
    "time_budget": ("--time-budget", _positive),
    "steps": ("--steps", _positive_int),
    "seq_len": ("--seq-len", _positive_int),
    "windows_per_call": ("--windows-per-call", _positive_int),
    "unroll": ("--unroll", _positive_int),
    "max_chars": ("--max-chars", _positive_int),
    "clip": ("--clip", _positive),
    "temperature": ("--temperature", _positive),
    "sample_length": ("--sample-length", _positive_int),
    "train_size": ("--train-size", _positive_int),
    "validation_size": ("--validation-size", _non_negative_int),
    "shift": ("--shift", _non_negative_int),
    "held_out": ("--held-out", _checks.rate),
}


def check_flags(args: argparse.Namespace) -> None:
    """Apply :data:`FLAG_CHECKS` to every flag ``args`` has; the first bad one raises."""
    for attr, (flag, check) in FLAG_CHECKS.items():
        value = getattr(args, attr, None)
        if value is not None:
            check(flag, value)


def check_out(out: str | os.PathLike, flag: str = "--out") -> Path:
    """Raise unless ``out`` is a folder we can write in, or one we could create; writes nothing.

    An existing file, a path under a file, or a folder that cannot be created or written
    (``/proc/x``, a read-only mount) is refused now, naming ``flag``, instead of after the
    first epoch has trained.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{flag}: expected a folder, got an existing file {out}")
    created = []
    try:
        missing = [p for p in [out, *out.parents] if not p.exists()]
        for folder in reversed(missing):  # probe: create what is missing, then remove it again
            folder.mkdir()
            created.append(folder)
        probe = out / f".nnlect-write-probe-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise PermissionError(f"{flag}: cannot write in {out} ({reason}); pass a folder you can write to") from None
    finally:
        for folder in reversed(created):
            try:
                folder.rmdir()
            except OSError:
                pass
    return out


#: ``--data`` choice of the image recipes -> :func:`nnlect.data.mnist.load` source.
IMAGE_SOURCES = {"digits": "digits", "mnist": "mnist", "idx": "idx", "tfds": "tfds", "auto": "auto"}
IMAGE_DATA_HELP = ("digits: scikit-learn's 1797 8x8 digits (bundled, no download); mnist: the four MNIST IDX "
                   "files in --data-dir or $NNLECT_DATA_DIR (md5-checked); idx: any dataset in MNIST's IDX "
                   "layout (Fashion-MNIST, KMNIST, ...: *train-images-idx3-ubyte[.gz] ... in --data-dir, "
                   "structure-checked); tfds: MNIST through tensorflow-datasets (--download to fetch it)")


def add_download_flag(group) -> None:
    """``--download``: let tensorflow-datasets fetch what is not prepared (needs network)."""
    group.add_argument("--download", action="store_true",
                       help="let tensorflow-datasets download the data when it is not prepared in --data-dir "
                       "(needs network; offline this fails within seconds)")


def load_images(args: argparse.Namespace, **options):
    """:func:`nnlect.data.mnist.load` for ``--data``/``--data-dir``/``--download``."""
    from nnlect.data import mnist

    if args.data == "idx" and args.data_dir is None:
        raise FileNotFoundError("--data idx: pass --data-dir DIR, the folder of the four IDX files "
                                "(*train-images-idx3-ubyte[.gz], *train-labels-idx1-ubyte, *t10k-images-idx3-ubyte, "
                                "*t10k-labels-idx1-ubyte)")
    return mnist.load(IMAGE_SOURCES[args.data], data_dir=args.data_dir, download=getattr(args, "download", False),
                      **options)
