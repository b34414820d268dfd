"""Argument checks shared by every module: each error names the argument,
what was expected and what came, and fires before anything is traced.

Shapes and dtypes are static under ``jax.jit``, so these checks run once at
trace time and cost nothing per step.
"""

from __future__ import annotations

import math
from typing import Any

import jax.numpy as jnp
import numpy as np


def array(name: str, x: Any) -> None:
    """Raise unless ``x`` is an array (``jax.Array``, ``np.ndarray``): a Python list has no
    shape or dtype to check, and converting it silently would hide which dtype was meant."""
    if getattr(x, "shape", None) is None or getattr(x, "dtype", None) is None:
        raise TypeError(f"{name}: expected an array (jax.Array or numpy.ndarray), got {type(x).__name__}; "
                        f"convert it first, e.g. jnp.asarray({name}, jnp.float32) or jnp.asarray({name}, jnp.int32)")


def finite_values(name: str, x: Any) -> None:
    """Raise when concrete ``x`` holds NaN or inf (skipped for tracers under ``jit``)."""
    if not is_concrete(x):
        return
    values = np.asarray(x)
    if values.size and jnp.issubdtype(values.dtype, jnp.floating) and not np.isfinite(values).all():
        bad = values[~np.isfinite(values)]
        raise ValueError(f"{name}: expected finite values, got {bad.size} NaN/inf entries (first: {bad.reshape(-1)[0]})")


def nonempty(name: str, x: Any, what: str = "example") -> None:
    """Raise when the leading (batch) axis of ``x`` has length 0."""
    if len(x.shape) == 0 or x.shape[0] == 0:
        raise ValueError(f"{name}: expected at least one {what} on the leading axis, got shape {tuple(x.shape)}")


def floating_array(name: str, x: Any, *, ndim: int | None = None) -> None:
    """Raise unless ``x`` is an array of a floating dtype (and rank ``ndim``)."""
    array(name, x)
    shape, dtype = x.shape, x.dtype
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(
            f"{name}: expected a floating dtype (float32, float64, bfloat16), got {dtype}; "
            f"convert with {name}.astype(jnp.float32)"
        )
    if ndim is not None and len(shape) != ndim:
        raise ValueError(f"{name}: expected rank {ndim}, got shape {tuple(shape)} (rank {len(shape)})")


def integer_array(name: str, x: Any, *, ndim: int | None = None) -> None:
    """Raise unless ``x`` is an array of an integer dtype (and rank ``ndim``)."""
    array(name, x)
    dtype = x.dtype
    if not jnp.issubdtype(dtype, jnp.integer):
        raise TypeError(f"{name}: expected an integer array, got {dtype}")
    if ndim is not None and len(x.shape) != ndim:
        raise ValueError(f"{name}: expected rank {ndim}, got shape {tuple(x.shape)} (rank {len(x.shape)})")


def same_shape(name_a: str, a: Any, name_b: str, b: Any) -> None:
    """Raise unless ``a`` and ``b`` have exactly the same shape (no broadcasting)."""
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(
            f"{name_a} and {name_b}: expected the same shape, got {tuple(a.shape)} and {tuple(b.shape)}"
        )


def rate(name: str, value: Any) -> float:
    """A probability in [0, 1) given as a Python number (it is static config)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected a float in [0, 1), got {value!r}") from None
    if not (0.0 <= value < 1.0) or math.isnan(value):
        raise ValueError(f"{name}: expected a float in [0, 1), got {value}")
    return value


def positive(name: str, value: Any) -> float:
    """A strictly positive finite Python number, such as a learning rate eta."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected a positive number, got {value!r}") from None
    if not (value > 0.0) or not math.isfinite(value):
        raise ValueError(f"{name}: expected a positive finite number, got {value}")
    return value


def fraction(name: str, value: Any) -> float:
    """A finite Python number in [0, 1], such as a target error rate."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected a fraction in [0, 1], got {value!r}") from None
    if not (0.0 <= value <= 1.0):  # NaN fails this too
        raise ValueError(f"{name}: expected a fraction in [0, 1] (0.03 is 3%), got {value}")
    return value


def positive_int(name: str, value: Any) -> int:
    """A strictly positive Python int (a size, a count of epochs)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}: expected a positive int, got {value!r}")
    return int(value)


def is_concrete(x: Any) -> bool:
    """True when ``x`` holds values we can read now (not a tracer under jit)."""
    try:
        np.asarray(x)
    except Exception:  # jax raises TracerArrayConversionError for tracers
        return False
    return True
