r"""XLA:CPU options that nnlect sets where it owns the process (the ``nnlect`` program).

**Small while loops as one kernel.** XLA:CPU runs a ``lax.scan`` as a ``while`` loop whose
every iteration dispatches each op of the body as a separate runtime call (a "thunk", ~1 µs).
Its ``SmallWhileLoopHoistingPass`` compiles a loop whose body touches few bytes into ONE
kernel instead, but only below ``xla_cpu_small_while_loop_byte_threshold`` (a backend extra
option; small by default), which an RNN's time loop (``(1, H)`` by ``(H, H)`` products,
``H = 100``) already exceeds. :func:`enable_small_loop_kernels` raises it to
:data:`SMALL_LOOP_BYTES` (16 MiB). Loops that hold a scatter, a custom call (the YNNPACK /
XNNPACK matmuls XLA uses for larger products), a convolution or a collective are never
hoisted, whatever the threshold: an MLP's or LeNet-5's compiled step is the same with or
without it.

A library user sets it the same way, before JAX starts its CPU backend (the first
computation, not ``import jax``)::

    XLA_FLAGS="--xla_backend_extra_options=xla_cpu_small_while_loop_byte_threshold=16777216"

or, in Python before the first computation, ``nnlect._xla_flags.enable_small_loop_kernels()``.
"""

from __future__ import annotations

import os
import shlex
import sys

#: the backend extra option (checked in jaxlib 0.10.2's libjax_common.so).
SMALL_LOOP_OPTION = "xla_cpu_small_while_loop_byte_threshold"
#: bytes a loop may touch and still be compiled as one kernel: 16 MiB.
SMALL_LOOP_BYTES = 1 << 24
_EXTRA = "--xla_backend_extra_options="


def _backend_started() -> bool:
    """True once JAX has created its backends (XLA_FLAGS is read then, and never again)."""
    if "jax" not in sys.modules:
        return False
    try:
        from jax._src import xla_bridge  # no public query in jax 0.10
    except ImportError:  # a JAX without the module: assume started, so we never claim an effect
        return True
    return bool(xla_bridge.backends_are_initialized())


def with_small_loop_option(flags: str, threshold: int = SMALL_LOOP_BYTES) -> str:
    """``flags`` (an ``XLA_FLAGS`` value) with the small-while-loop threshold added.

    A threshold already in ``flags`` is kept (the user's choice wins); other backend extra
    options are kept too, the threshold joins their comma-separated list.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 0:
        raise ValueError(f"threshold: expected a byte count >= 0, got {threshold!r}")
    if SMALL_LOOP_OPTION in flags:
        return flags
    option = f"{SMALL_LOOP_OPTION}={threshold}"
    words = shlex.split(flags)
    for i, word in enumerate(words):
        if word.startswith(_EXTRA):
            rest = word[len(_EXTRA):]
            words[i] = f"{_EXTRA}{rest},{option}" if rest else f"{_EXTRA}{option}"
            return shlex.join(words)
    return shlex.join([*words, f"{_EXTRA}{option}"])


def enable_small_loop_kernels(threshold: int = SMALL_LOOP_BYTES) -> str | None:
    """Add the small-while-loop option to ``os.environ["XLA_FLAGS"]`` (see the module docstring).

    Returns None when it is set for this process (added, or already in ``XLA_FLAGS``), or a
    note saying why nothing was done: JAX's backend already started, so the flags were read
    (the environment is then left unchanged, so child processes do not get a flag their
    parent runs without).
    """
    current = os.environ.get("XLA_FLAGS", "")
    updated = with_small_loop_option(current, threshold)
    if updated == current:
        return None
    if _backend_started():
        return ("XLA_FLAGS not changed: JAX's backend has already started and read it; set "
                f"{_EXTRA}{SMALL_LOOP_OPTION}={threshold} in the environment before the first computation")
    os.environ["XLA_FLAGS"] = updated
    return None
