"""Progress for long CLI work, on stderr: a tqdm bar (with its ETA) when stderr is a
terminal and tqdm is installed, else plain lines, one per item or epoch, each with an
ETA, and never a ``\\r`` fragment in a log file."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def _tqdm():
    """tqdm's class when stderr is a terminal and tqdm is installed, else None."""
    if not getattr(sys.stderr, "isatty", lambda: False)():
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm is optional (the ``progress`` extra)
        return None
    return tqdm


def eta(seconds: float) -> str:
    """``"1h02m"``, ``"3m05s"`` or ``"42s"``."""
    seconds = max(0, round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


#: ``total_steps`` of a run that only a time budget stops (charlm's ``--time-budget`` without ``--steps``).
UNBOUNDED_STEPS = 2**31 - 1


def run_eta(started: float, first_step: int, step: int, total_steps: int, time_budget: float | None = None) -> str:
    """``", ETA 3m05s"`` for a run that began at ``started`` (``time.perf_counter()``) from
    ``first_step`` and is now at ``step`` of ``total_steps``, capped by what is left of
    ``time_budget`` seconds; ``""`` when nothing can be estimated yet."""
    elapsed, done = time.perf_counter() - started, step - first_step
    left = [elapsed / done * max(total_steps - step, 0)] if done > 0 and total_steps < UNBOUNDED_STEPS else []
    if time_budget is not None:
        left.append(max(time_budget - elapsed, 0.0))
    return f", ETA {eta(min(left))}" if left else ""


def progress(items: Iterable[T], *, total: int | None = None, desc: str = "", enabled: bool = True) -> Iterator[T]:
    """Iterate ``items`` while showing progress on stderr (``enabled=False``: silent)."""
    if not enabled:
        yield from items
        return
    tqdm = _tqdm()
    if tqdm is not None:
        yield from tqdm(items, total=total, desc=desc, file=sys.stderr, leave=False, dynamic_ncols=True)
        return
    items = list(items)
    start = time.perf_counter()
    for i, item in enumerate(items, 1):
        left = "" if i == 1 else f", ETA {eta((time.perf_counter() - start) / (i - 1) * (len(items) - i + 1))}"
        print(f"{desc} {i}/{len(items)}{left}", file=sys.stderr, flush=True)
        yield item


class EpochBar:
    """Progress over a :func:`nnlect.train.fit` run: one line per epoch on stdout (kept in
    logs, with an ETA), and on a terminal a tqdm bar over the steps on stderr.

    Pass ``bar.update`` to fit's ``callback`` (or call it from yours) and ``bar.step`` as
    ``on_step`` (with ``log_every``) to move the bar within an epoch; ``bar.close()`` at
    the end.
    """

    def __init__(self, total: int, *, initial: int = 0, desc: str = "train", enabled: bool = True,
                 steps_per_epoch: int | None = None):
        self.enabled, self.total, self.done = enabled, total, initial
        self.steps_per_epoch = steps_per_epoch
        self._bar, self._start, self._epochs_timed, self._last_step = None, time.perf_counter(), 0, None
        tqdm = _tqdm() if enabled else None
        if tqdm is not None:
            if steps_per_epoch:
                unit, n, at = "step", total * steps_per_epoch, initial * steps_per_epoch
            else:
                unit, n, at = "epoch", total, initial
            self._bar = tqdm(total=n, initial=at, desc=desc, unit=unit, file=sys.stderr, leave=False,
                             dynamic_ncols=True)
            self._unit = unit

    def hooks(self) -> dict:
        """fit's ``on_step`` and ``log_every`` for a bar over steps (terminal only; each
        hook call costs a host sync and cuts the fused calls, so logs go without one)."""
        if self._bar is None or self._unit != "step":
            return {}
        return {"on_step": self.step, "log_every": max(1, (self.steps_per_epoch or 20) // 20)}

    def step(self, row: dict, state=None) -> None:
        """fit's ``on_step`` hook: move the bar to ``row["step"]``."""
        if self._bar is not None and self._unit == "step":
            if self._last_step is not None:
                self._bar.update(row["step"] - self._last_step)
            self._last_step = row["step"]

    def update(self, row: dict, state=None) -> None:
        if not self.enabled:
            return
        self.done = row["epoch"]
        self._epochs_timed += 1
        parts = [f"epoch {row['epoch']}/{self.total}", f"train loss {row['train_loss']:.4f}"]
        if "eval_accuracy" in row:
            parts.append(f"test error {1 - row['eval_accuracy']:.2%}")
        if "validation_error" in row:
            parts.append(f"validation error {row['validation_error']:.2%}")
        parts.append(f"{row['seconds']:.1f} s")
        if row.get("compile_seconds"):
            parts.append(f"compile {row['compile_seconds']:.1f} s")
        per_epoch = (time.perf_counter() - self._start) / self._epochs_timed
        if self.done < self.total:
            parts.append(f"ETA {eta(per_epoch * (self.total - self.done))}")
        line = ", ".join(parts)
        if self._bar is None:
            print(line, flush=True)
            return
        self._bar.write(line)
        if self._unit == "epoch":
            self._bar.update(1)
        elif self.steps_per_epoch:
            self._bar.n = round(row["epoch"] * self.steps_per_epoch)
            self._bar.refresh()
        self._last_step = row["step"]

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
