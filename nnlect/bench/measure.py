"""Timing: compile and first step apart from the steady state, and the machine's peak.

A runner (see :mod:`nnlect.bench.impls`) has ``call()`` (run its ``steps_per_call``
training steps, return something to wait on), ``block(token)`` (wait for the device)
and ``loss()``. Data is on the device before the clock starts; every clock read comes
after ``block``.
"""

from __future__ import annotations

import contextlib
import math
import statistics
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


@contextlib.contextmanager
def compile_clock():
    """Collects the seconds JAX spends tracing, lowering and compiling inside the block
    (:class:`nnlect.train.CompileClock`, the one listener on ``jax.monitoring``)."""
    from nnlect.train import CompileClock

    spent = {"seconds": 0.0}
    with CompileClock() as clock:
        try:
            yield spent
        finally:
            spent["seconds"] = clock.seconds


def summary(values: list[float]) -> dict:
    """``{"median", "min", "max"}`` of a list of numbers."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def time_runner(runner: Any, steps_per_call: int, *, repeats: int, min_repeat_s: float,
                max_calls: int = 100_000) -> dict:
    """Time a fresh runner.

    1. first call (includes JAX's trace + compile, reported apart as ``compile_s``);
    2. one warm-up call, which also sizes a repeat to last at least ``min_repeat_s``;
    3. ``repeats`` timed repeats of ``calls`` calls each, blocking before each clock read.

    Returns:
        ``compile_s``, ``first_step_s`` (first call minus compile: first execution and
        transfers), ``calls_per_repeat``, ``step_s`` (seconds per training step:
        median, min and max over repeats).
    """
    with compile_clock() as compiled:
        start = time.perf_counter()
        runner.block(runner.call())
        first = time.perf_counter() - start
    start = time.perf_counter()
    runner.block(runner.call())
    warm = time.perf_counter() - start
    calls = int(min(max_calls, max(1, math.ceil(min_repeat_s / max(warm, 1e-9)))))
    per_step = []
    for _ in range(repeats):
        start = time.perf_counter()
        token = None
        for _ in range(calls):
            token = runner.call()
        runner.block(token)
        per_step.append((time.perf_counter() - start) / (calls * steps_per_call))
    compile_s = compiled["seconds"]
    return {"compile_s": compile_s, "first_step_s": max(first - compile_s, 0.0),
            "first_call_s": first, "calls_per_repeat": calls, "step_s": summary(per_step)}


def _best_seconds(fn, *args, repeats: int) -> float:
    jax.block_until_ready(fn(*args))
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        best = min(best, time.perf_counter() - start)
    return best


def matmul_peak(n: int, dtype: str = "float32", *, repeats: int = 5, precision: str | None = None) -> dict:
    """Achieved GFLOP/s of a jitted ``(n, n) @ (n, n)`` matmul in ``dtype`` (best of ``repeats``),
    at the backend's default matmul precision or at ``precision`` (``"highest"``: true float32
    on GPUs, which otherwise use TF32, and TPUs, which otherwise use bfloat16 passes)."""
    a = jax.random.normal(jax.random.key(0), (n, n), jnp.dtype(dtype))
    b = jax.random.normal(jax.random.key(1), (n, n), jnp.dtype(dtype))
    fn = jax.jit(lambda a, b: jnp.matmul(a, b, precision=precision))
    seconds = _best_seconds(fn, a, b, repeats=repeats)
    return {"n": n, "dtype": dtype, "precision": precision or "default", "seconds": seconds,
            "gflops": 2 * n ** 3 / seconds / 1e9}


def numpy_matmul_peak(n: int, *, repeats: int = 5) -> dict:
    """The same float32 matmul in NumPy (its BLAS), for the NumPy reference's rows."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n), np.float32), rng.standard_normal((n, n), np.float32)
    seconds = _best_seconds(np.matmul, a, b, repeats=repeats)
    return {"n": n, "dtype": "float32", "seconds": seconds, "gflops": 2 * n ** 3 / seconds / 1e9}


def peaks(backend: str, mode: str = "full") -> dict:
    """The machine's measured peaks, one per precision the rows are timed at.

    - ``float32``: XLA at the backend's default precision (TF32 on a GPU, bf16 passes on
      a TPU: what the f32 rows run at); ``numpy_float32``: NumPy's BLAS;
    - ``float32_highest`` (accelerators): true float32;
    - ``bfloat16`` (accelerators; XLA:CPU emulates bf16, not a peak worth quoting).

    ``float32_machine`` is the faster float32 of XLA (default precision) and NumPy: the peak
    the f32 rows' "fraction of peak" divides by; bf16 rows divide by ``bfloat16``.
    ``mode="tiny"`` (tests) uses a small matrix.
    """
    n = 256 if mode == "tiny" else 2048 if backend == "cpu" else 8192
    repeats = 5 if mode == "full" else 3
    out = {"float32": matmul_peak(n, "float32", repeats=repeats),
           "numpy_float32": numpy_matmul_peak(n, repeats=repeats)}
    if backend != "cpu":
        out["float32_highest"] = matmul_peak(n, "float32", repeats=repeats, precision="highest")
        out["bfloat16"] = matmul_peak(n, "bfloat16", repeats=repeats)
    out["float32_machine"] = max((out["float32"], out["numpy_float32"]), key=lambda p: p["gflops"])
    return out
