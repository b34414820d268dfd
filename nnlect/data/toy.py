"""The lecture's toy problems, generated on the host as NumPy arrays (no download).

Every generator takes a ``seed`` and returns float32 inputs, so the same call
gives the same data on every machine.
"""

from __future__ import annotations

import numpy as np

from nnlect import _checks


def xor(labels: str = "binary") -> tuple[np.ndarray, np.ndarray]:
    """The four XOR points (slide "The XOR problem").

    Arguments:
        labels: ``"binary"`` for targets ``(4, 1)`` in {0, 1} (for an MLP with a sigmoid output),
            ``"sign"`` for ``(4,)`` labels in {+1, -1} (for the perceptron).

    Returns:
        ``x`` ``(4, 2)`` float32 and the targets.
    """
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    t = np.array([0, 1, 1, 0], np.float32)
    if labels == "binary":
        return x, t[:, None]
    if labels == "sign":
        return x, 2 * t - 1
    raise ValueError(f"labels: expected 'binary' or 'sign', got {labels!r}")


def linearly_separable(n: int = 100, *, dim: int = 2, margin: float = 0.1, seed: int = 0,
                       radius: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Points in a ball of radius ``radius`` labelled by a random hyperplane, with a margin.

    Points closer than ``margin`` to the hyperplane are redrawn, so the set is separable
    with margin at least :math:`\gamma = ` ``margin`` by the unit normal ``u``
    (in the augmented space ``[x, 1]``, as Novikoff's theorem is stated with a bias).

    Returns:
        ``x`` ``(n, dim)`` float32, ``y`` ``(n,)`` in {+1, -1}, and ``u`` ``(dim + 1,)``,
        the unit normal of the separating hyperplane ``[w, b]``.
    """
    n = _checks.positive_int("n", n)
    dim = _checks.positive_int("dim", dim)
    margin = _checks.positive("margin", margin)
    radius = _checks.positive("radius", radius)
    if margin >= 0.5 * radius:
        raise ValueError(f"margin: expected less than half the radius ({0.5 * radius}), got {margin}")
    rng = np.random.default_rng(seed)
    u = rng.normal(size=dim + 1)
    u[-1] *= 0.2 * radius  # keep the plane through the ball
    u /= np.linalg.norm(u)
    xs = []
    while sum(len(c) for c in xs) < n:
        cand = rng.uniform(-radius, radius, size=(4 * n, dim))
        cand = cand[np.linalg.norm(cand, axis=1) <= radius]
        dist = np.concatenate([cand, np.ones((len(cand), 1))], axis=1) @ u
        xs.append(cand[np.abs(dist) >= margin])
    x = np.concatenate(xs)[:n]
    y = np.where(np.concatenate([x, np.ones((n, 1))], axis=1) @ u >= 0, 1.0, -1.0)
    return x.astype(np.float32), y.astype(np.float32), u


def target_function(name: str = "sin", n: int = 256, *, seed: int | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    r"""A continuous 1-D function on a compact interval (slide "Universal Approximation").

    ``"sin"``: :math:`\sin(x)` on :math:`[-\pi, \pi]`; ``"bump"``: :math:`e^{-x^2}\cos(3x)` on
    :math:`[-2, 2]`; ``"abs"``: :math:`|x|` on :math:`[-1, 1]`.
    With ``seed=None`` the ``n`` points are evenly spaced, else drawn uniformly.

    Returns:
        ``x`` ``(n, 1)`` and ``f(x)`` ``(n, 1)``, float32.
    """
    functions = {
        "sin": (np.sin, np.pi),
        "bump": (lambda v: np.exp(-v ** 2) * np.cos(3 * v), 2.0),
        "abs": (np.abs, 1.0),
    }
    if name not in functions:
        raise ValueError(f"name: expected one of {sorted(functions)}, got {name!r}")
    f, half_width = functions[name]
    n = _checks.positive_int("n", n)
    if seed is None:
        x = np.linspace(-half_width, half_width, n)
    else:
        x = np.sort(np.random.default_rng(seed).uniform(-half_width, half_width, n))
    x = x[:, None].astype(np.float32)
    return x, f(x).astype(np.float32)
