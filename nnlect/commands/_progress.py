"""Progress bars for long CLI work: tqdm on stderr when it is installed and
stderr is a terminal-like stream, else one plain line per item."""

from __future__ import annotations

import sys
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")


def progress(items: Iterable[T], *, total: int | None = None, desc: str = "", enabled: bool = True) -> Iterator[T]:
    """Iterate ``items`` while showing progress on stderr (``enabled=False``: silent)."""
    if not enabled:
        yield from items
        return
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm is optional (the ``progress`` extra)
        items = list(items)
        for i, item in enumerate(items, 1):
            print(f"{desc} {i}/{len(items)}", file=sys.stderr, flush=True)
            yield item
        return
    yield from tqdm(items, total=total, desc=desc, file=sys.stderr, leave=False, dynamic_ncols=True)


class EpochBar:
    """A bar over training epochs that also prints one line per epoch (kept in logs).

    ``bar.update(row)`` after each epoch with a :func:`nnlect.train.fit` history row;
    ``bar.close()`` at the end.
    """

    def __init__(self, total: int, *, initial: int = 0, desc: str = "train", enabled: bool = True):
        self.enabled = enabled
        self._bar = None
        if enabled:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                pass
            else:
                self._bar = tqdm(total=total, initial=initial, desc=desc, unit="epoch", file=sys.stderr,
                                 leave=False, dynamic_ncols=True)

    def update(self, row: dict) -> None:
        if not self.enabled:
            return
        parts = [f"epoch {row['epoch']}", f"train loss {row['train_loss']:.4f}"]
        if "eval_metric" in row:
            parts.append(f"test error {1 - row['eval_metric']:.2%}")
        parts.append(f"{row['seconds']:.1f} s")
        line = ", ".join(parts)
        if self._bar is None:
            print(line, flush=True)
        else:
            self._bar.write(line)
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
