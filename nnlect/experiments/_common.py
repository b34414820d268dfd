"""What every experiment returns, and the figure plumbing they share.

matplotlib is imported only when a figure is drawn, so ``import nnlect`` and the
number-only paths stay light. Figures are built with ``matplotlib.figure.Figure``
directly, not ``pyplot``: no global backend state is touched, which suits the CLI
(files only) and notebooks (which display a returned ``Figure`` inline) alike.
"""

from __future__ import annotations

import io as _bytes_io
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nnlect.io import atomic_write_bytes


@dataclass
class Claim:
    """One of the lecture's claims, rerun.

    Attributes:
        name: short id, also the figure's file stem (``"perceptron"``).
        title: the claim in words.
        holds: whether the measured numbers support the claim.
        summary: a few lines of measured numbers, for the tour's report.
        numbers: everything measured (plain Python / NumPy), for notebooks and tests.
        plot: ``plot(numbers) -> matplotlib.figure.Figure``.
    """

    name: str
    title: str
    holds: bool
    summary: list[str]
    numbers: dict[str, Any] = field(repr=False)
    plot: Callable[[dict], Any] = field(repr=False)

    def figure(self):
        """The claim's matplotlib ``Figure`` (drawn on each call)."""
        return self.plot(self.numbers)


def new_figure(ncols: int = 1, *, nrows: int = 1, width: float = 4.2, height: float = 3.4, **subplot_kw):
    """A ``(Figure, axes)`` pair of ``nrows x ncols`` panels, ``width x height`` inches each.

    ``axes`` is a flat list (one entry per panel).
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, subplot_kw=subplot_kw or None)
    return fig, [ax for row in axes for ax in row]


def save_figure(fig, path: str | os.PathLike, *, dpi: int = 110) -> Path:
    """Render ``fig`` as PNG in memory, then write it atomically to ``path``."""
    buffer = _bytes_io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return atomic_write_bytes(path, buffer.getvalue())


def plane_grid(low: float, high: float, n: int = 200):
    """A dense ``(n*n, 2)`` float32 grid over ``[low, high]^2`` and its two ``(n, n)`` meshes."""
    import numpy as np

    axis = np.linspace(low, high, n, dtype=np.float32)
    gx, gy = np.meshgrid(axis, axis)
    return np.stack([gx.ravel(), gy.ravel()], axis=1), gx, gy
