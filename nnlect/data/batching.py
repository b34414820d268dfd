"""Minibatches from a random-access source, for :func:`nnlect.train.fit`'s ``data=``.

:func:`batches` reads a set that need not sit in device memory (a NumPy array or memmap,
a ``tfds.data_source``, a ``grain`` source: anything with ``len`` and integer indexing)
one minibatch at a time, each read as ONE vectorized access (``source[indices]`` or
``source.__getitems__(indices)``) rather than item by item. Its shuffle is
:func:`nnlect.train.epoch_order`'s, so ``fit(..., data=lambda e: batches(x, y, ...,
epoch=e))`` trains on exactly the minibatches of ``fit(..., x, y)`` with the same key,
and a resumed run is bit-identical either way. ``shard=(index, count)`` gives each
process of a multi-host run its contiguous share of every global batch.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from nnlect import _checks


def read(source: Any, indices: np.ndarray) -> Any:
    """``source[indices]`` in one access: an array for arrays, else a list of items."""
    if isinstance(source, np.ndarray):
        return source[indices]
    getitems = getattr(source, "__getitems__", None)
    if getitems is not None:
        try:
            return getitems(indices.tolist())
        except TypeError:  # tfds.testing.mock_data's data sources break __getitems__'s signature
            pass
    return [source[int(i)] for i in indices]


def stack(items: Any, field: str | None = None) -> np.ndarray:
    if isinstance(items, np.ndarray):
        return items if field is None else np.asarray(items[field])
    return np.stack([np.asarray(item if field is None else item[field]) for item in items])


def batches(x: Any, y: Any = None, *, batch_size: int, key: Any, epoch: int, shuffle: bool = True,
            fields: Sequence[str] = ("image", "label"), shard: tuple[int, int] | None = None,
            ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The ``N // batch_size`` minibatches ``(x_b, y_b)`` of epoch ``epoch`` (counted from 0).

    Arguments:
        x, y: random-access sources of the same length ``N``; with ``y=None``, ``x`` holds
            records (dicts) and ``fields`` names the input and the label in them (tfds's
            ``("image", "label")`` by default).
        key: the run's base key, the one given to :func:`nnlect.train.fit`: the shuffle of
            epoch ``e`` is ``epoch_order(key, e * (N // batch_size), N, batch_size)``.
        shuffle: False reads the examples in order.
        shard: ``(index, count)``: yield only rows ``[index * b, (index + 1) * b)`` of each
            batch, ``b = batch_size // count`` (one process's share of a global batch).
    """
    from nnlect.train import epoch_order  # fit's own shuffle, so the batches match fit's bit for bit

    batch_size = _checks.positive_int("batch_size", batch_size)
    n = len(x)
    if y is not None and len(y) != n:
        raise ValueError(f"x and y: expected sources of the same length, got {n} and {len(y)}")
    if not 0 < batch_size <= n:
        raise ValueError(f"batch_size: expected at most the number of examples ({n}), got {batch_size}")
    if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
        raise ValueError(f"epoch: expected an epoch number >= 0, got {epoch!r}")
    steps = n // batch_size
    if shuffle:
        order = epoch_order(key, epoch * steps, n, batch_size)
    else:
        order = np.arange(steps * batch_size).reshape(steps, batch_size)
    if shard is not None:
        index, count = shard
        if not (isinstance(count, int) and count >= 1 and isinstance(index, int) and 0 <= index < count
                and batch_size % count == 0):
            raise ValueError(f"shard: expected (index, count) with 0 <= index < count and batch_size "
                             f"({batch_size}) divisible by count, got {shard!r}")
        per = batch_size // count
        order = order[:, index * per:(index + 1) * per]
    for idx in order:
        if y is not None:
            yield stack(read(x, idx)), stack(read(y, idx))
        else:  # records: read once, split into the two fields
            records = read(x, idx)
            yield stack(records, fields[0]), stack(records, fields[1])
