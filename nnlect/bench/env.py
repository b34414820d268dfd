"""The environment a benchmark ran in, stored in every results file.

Versions (jax, jaxlib, flax, optax, numpy, torch), the JAX backend, its device kind and
count, the CPU model and thread counts, NumPy's BLAS (threadpoolctl), the environment
variables that change speed (``OPENBLAS_CORETYPE`` among them: set on some machines, it
makes OpenBLAS pick slower kernels), and the load average while the run started.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
from typing import Any

import jax

SPEED_ENV_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                  "XLA_FLAGS", "JAX_PLATFORMS", "JAX_ENABLE_X64", "TF_CPP_MIN_LOG_LEVEL",
                  "CUDA_VISIBLE_DEVICES", "TPU_VISIBLE_CHIPS")


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, ``platform.processor()`` elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_info() -> list[dict]:
    """NumPy's BLAS libraries and their thread counts (empty without threadpoolctl)."""
    try:
        import threadpoolctl
    except ImportError:
        return []
    keep = ("user_api", "internal_api", "num_threads", "version", "architecture", "threading_layer")
    return [{k: v for k, v in lib.items() if k in keep} for lib in threadpoolctl.threadpool_info()]


def torch_info() -> dict | None:
    try:
        import torch  # pyright: ignore[reportMissingImports]  optional peer, not in CI
    except ImportError:
        return None
    return {"version": torch.__version__, "num_threads": torch.get_num_threads(),
            "cuda": torch.cuda.is_available()}


def environment() -> dict[str, Any]:
    """Everything about this machine and process that a reader needs to trust the numbers."""
    devices = jax.devices()
    try:
        load = list(os.getloadavg())
    except OSError:
        load = None
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "versions": {p: _version(p) for p in ("jax", "jaxlib", "flax", "optax", "numpy", "torch")},
        "backend": jax.default_backend(),
        "host": platform.node(),
        "device_kind": devices[0].device_kind,
        "device_count": len(devices),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "blas": blas_info(),
        "torch": torch_info(),
        "env_vars": {k: os.environ.get(k) for k in SPEED_ENV_VARS},
        "load_average_1_5_15": load,
    }
