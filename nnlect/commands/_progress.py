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
