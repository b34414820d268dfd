"""Run the suite: check that every implementation computes the same training step, then
time each one, and write one JSON file per run (see ``benchmarks/README.md``).

Row statuses: ``ok`` (timed), ``skipped`` (not importable / not applicable, with a note),
``disagrees`` (its loss after the check steps differs from nnlect's: not timed),
``error`` (an exception, its message in the note).

**Precision.** The agreement check runs at true float32 (``jax.default_matmul_precision
("highest")``, TF32 off in PyTorch), so a GPU's TF32 or a TPU's bf16 passes cannot make a
correct implementation "disagree". The timed steps run at the backend's default precision,
and every row says which (``precision``: ``f32``, ``f32 (tf32)``, ``f32 (bf16 passes)``,
``bf16``), as does the peak its fraction of peak divides by.

**Files.** :func:`write` names a run by device kind, host, mode and UTC time
(``cpu-myhost-full-20261129T041200Z.json``), so runs of several machines, or a subset run
after a full one, never overwrite each other.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import math
import os
import re
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any, cast

import jax

from nnlect.bench import env as bench_env, measure, workloads
from nnlect.bench.workloads import Workload
from nnlect.commands._progress import eta

LOG = logging.getLogger("nnlect.bench").info  # library code logs; the CLI passes print

SCHEMA = "nnlect-bench/1"
IMPLS = ("nnlect", "nnlect_fused", "numpy_ref", "jnp_ref", "flax", "torch")
SWEEP_IMPLS = {"full": ("nnlect", "numpy_ref", "flax", "torch"), "quick": ("nnlect", "numpy_ref", "torch")}
BF16_FAMILIES = ("mlp", "lenet5", "rnn")
SETTINGS = {  # repeats, seconds per repeat at least, check steps
    "full": {"repeats": 5, "min_repeat_s": 0.5, "check_steps": 3},
    "quick": {"repeats": 3, "min_repeat_s": 0.15, "check_steps": 3},
    "tiny": {"repeats": 2, "min_repeat_s": 0.0, "check_steps": 2},
}
RTOL = 2e-3  # float32 losses after a few steps, different summation orders
RTOL_BF16 = 5e-2  # bfloat16 products (8-bit mantissa) against nnlect's float32 loss


def _factory(impl: str) -> Callable:
    base = impl.removesuffix("_bf16")
    if base in ("nnlect", "nnlect_fused"):
        from nnlect.bench import impls_jax as m
    elif base in ("numpy_ref", "jnp_ref"):
        from nnlect.bench import impls_numpy as m
    elif base == "flax":
        from nnlect.bench import impls_flax as m
    elif base == "torch":
        from nnlect.bench import impls_torch as m
    else:
        raise ValueError(f"impls: unknown implementation {impl!r}; expected one of {list(IMPLS)}")
    # runners take (w, params, data, steps_per_call); the _bf16 ones (nnlect's) also take dtype=
    factory = cast(Callable[..., Any], m.IMPLS[base])
    if impl.endswith("_bf16"):
        return lambda *a: factory(*a, dtype="bfloat16")
    return factory


def skip_reason(impl: str, w: Workload) -> str | None:
    """Why ``impl`` has no row for ``w`` (None: it runs)."""
    if impl in ("numpy_ref", "jnp_ref"):
        from nnlect.bench import impls_numpy

        return impls_numpy.skip_reason(w)
    if impl == "torch":
        from nnlect.bench import impls_torch

        return impls_torch.skip_reason(w)
    return None


def steps_per_call(impl: str, w: Workload) -> int:
    return w.fused_steps if impl.startswith("nnlect_fused") else 1


@contextlib.contextmanager
def true_float32():
    """Float32 matmuls and convolutions at full precision: JAX's ``"highest"`` matmul
    precision, and PyTorch's TF32 switched off (when PyTorch is loaded)."""
    torch = sys.modules.get("torch")
    saved = None
    if torch is not None:
        saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        with jax.default_matmul_precision("highest"):
            yield
    finally:
        if torch is not None and saved is not None:
            torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def precision_label(impl: str, backend: str) -> str:
    """The precision a row is TIMED at: ``bf16``; ``f32 (tf32)`` for XLA on a GPU (and
    PyTorch's convolutions there, cuDNN's default); ``f32 (bf16 passes)`` for XLA on a TPU;
    ``f32`` otherwise."""
    if impl.endswith("_bf16"):
        return "bf16"
    if backend == "gpu" and impl in ("nnlect", "nnlect_fused", "jnp_ref", "flax", "torch"):
        return "f32 (tf32)" if impl != "torch" else "f32 (tf32 convs)"
    if backend == "tpu" and impl in ("nnlect", "nnlect_fused", "jnp_ref", "flax"):
        return "f32 (bf16 passes)"
    return "f32"


def check_loss(impl: str, w: Workload, params: dict, data: tuple, steps: int) -> dict:
    """Losses of a fresh runner at the initial params and after ``steps`` training steps,
    computed at true float32 (:func:`true_float32`) whatever the backend's default."""
    with true_float32():
        runner = _factory(impl)(w, params, data, steps)
        initial = runner.loss()
        runner.block(runner.call())
        return {"loss_initial": initial, "loss_after_check": runner.loss(), "check_steps": steps}


def measure_impl(impl: str, w: Workload, params: dict, data: tuple, settings: dict) -> dict:
    """The check losses and the timings of one implementation on one workload."""
    row: dict[str, Any] = {"workload": w.name, "family": w.family, "impl": impl, "status": "ok", "note": "",
           "precision": precision_label(impl, jax.default_backend())}
    reason = skip_reason(impl, w)
    if reason:
        return {**row, "status": "skipped", "note": reason}
    try:
        row.update(check_loss(impl, w, params, data, settings["check_steps"]))
        k = steps_per_call(impl, w)
        runner = _factory(impl)(w, params, data, k)
        row.update(measure.time_runner(runner, k, repeats=settings["repeats"],
                                       min_repeat_s=settings["min_repeat_s"]))
        row["steps_per_call"] = k
    except Exception as e:  # one broken peer must not lose the rest of the run
        traceback.print_exc()
        return {**row, "status": "error", "note": f"{type(e).__name__}: {e}"}
    return row


def _numpy_in_subprocess(names: list[str], mode: str, seed: int) -> list[dict]:
    """The numpy_ref rows, measured in a child process with OPENBLAS_CORETYPE unset
    (OpenBLAS reads it once, when NumPy loads)."""
    child_env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    child_env["JAX_PLATFORMS"] = "cpu"
    out = subprocess.run([sys.executable, "-m", "nnlect.bench.run", "--child-numpy", mode, str(seed), *names],
                         env=child_env, capture_output=True, text=True, check=True)
    rows = json.loads(out.stdout.strip().splitlines()[-1])
    for row in rows:
        row["note"] = (row["note"] + "; " if row["note"] else "") + "OPENBLAS_CORETYPE unset (subprocess)"
    return rows


def add_derived(row: dict, w: Workload, peak: dict) -> None:
    """examples/s, GFLOP/s and fraction of peak from the step times."""
    row["examples_per_step"], row["flops_per_step"] = w.examples_per_step, w.flops_per_step
    if row["status"] != "ok":
        return
    step = row["step_s"]
    row["steps_per_s"] = 1.0 / step["median"]
    row["examples_per_s"] = {"median": w.examples_per_step / step["median"],
                             "min": w.examples_per_step / step["max"], "max": w.examples_per_step / step["min"]}
    row["gflops"] = w.flops_per_step / step["median"] / 1e9
    ref = peak.get("bfloat16" if row["impl"].endswith("_bf16") else "float32") or peak["float32"]
    row["fraction_of_peak"] = row["gflops"] / ref["gflops"]
    row["peak_precision"] = "bf16" if row["impl"].endswith("_bf16") and peak.get("bfloat16") else "f32 (default)"


def compare(rows: list[dict]) -> None:
    """Mark rows whose loss disagrees with nnlect's, and add each row's speedup over the others."""
    by_workload: dict[str, list[dict]] = {}
    for row in rows:
        by_workload.setdefault(row["workload"], []).append(row)
    for group in by_workload.values():
        anchor = next((r for r in group if r["impl"] == "nnlect" and "loss_after_check" in r), None)
        for row in group:
            if "loss_after_check" in row and not math.isfinite(row["loss_after_check"]) and row["status"] == "ok":
                row["status"] = "error"
                row["note"] = f"loss after check steps is {row['loss_after_check']}: not timed"
            if anchor is not None and "loss_after_check" in row:
                a, b = anchor["loss_after_check"], row["loss_after_check"]
                row["loss_rel_diff"] = abs(a - b) / max(abs(a), 1e-12)
                rtol = RTOL_BF16 if row["impl"].endswith("_bf16") else RTOL
                if not row["loss_rel_diff"] <= rtol and row["status"] == "ok":  # a NaN difference disagrees too
                    row["status"] = "disagrees"
                    row["note"] = f"loss after check steps {b:.6g} vs nnlect {a:.6g}: not timed"
        timed = [r for r in group if r["status"] == "ok"]
        for row in timed:
            row["speedup"] = {o["impl"]: o["step_s"]["median"] / row["step_s"]["median"]
                              for o in timed if o is not row}


def impls_for(w: Workload, impls: tuple[str, ...], dtype: str, mode: str = "full") -> list[str]:
    """The implementations that run ``w``: all of ``impls``, fewer for the batch sweep."""
    chosen = [i for i in impls if not w.sweep or i in SWEEP_IMPLS.get(mode, SWEEP_IMPLS["full"])]
    if dtype == "bfloat16" and w.family in BF16_FAMILIES:
        chosen += [f"{i}_bf16" for i in ("nnlect", "nnlect_fused") if i in impls]
    return chosen


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def run_suite(*, mode: str = "full", names: list[str] | None = None, impls: tuple[str, ...] = IMPLS,
              dtype: str = "float32", numpy_unset_coretype: bool = False, seed: int = 0,
              devices: list[int] | None = None, log: Callable[[str], None] = LOG) -> dict:
    """Run the suite and return the results dict (what :func:`write` stores).

    Arguments:
        mode: ``"full"``, ``"quick"`` or ``"tiny"`` (tests: toy sizes, one call per repeat).
        names: workload names or families (default all of ``mode``); ``"fit_overhead"`` names
            the rows of :mod:`nnlect.bench.overhead` (run by default).
        impls: implementations to run (default all).
        dtype: ``"float32"``, or ``"bfloat16"`` to add mixed-precision nnlect rows for mlp/lenet5.
        numpy_unset_coretype: measure the NumPy reference in a subprocess without OPENBLAS_CORETYPE.
        devices: device counts for the data-parallel scaling rows (:mod:`nnlect.bench.scaling`,
            mlp, one subprocess per count), stored under ``"scaling"``; None: no scaling rows.
    """
    settings = SETTINGS[mode]
    unknown = [i for i in impls if i not in IMPLS]
    if unknown:
        raise ValueError(f"impls: unknown {unknown}; expected some of {list(IMPLS)}")
    if dtype not in ("float32", "bfloat16"):
        raise ValueError(f"dtype: expected 'float32' or 'bfloat16', got {dtype!r}")
    others = [n for n in names if n != "fit_overhead"] if names is not None else None
    chosen = workloads.by_name(others, mode) if others != [] else []  # ["fit_overhead"]: that row only
    started = time.perf_counter()
    result = {"schema": SCHEMA, "mode": mode, "dtype": dtype, "argv": sys.argv,
              "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
              "env": {**bench_env.environment(), "uptime_start": _uptime()}}
    result["backend"] = result["env"]["backend"]
    log(f"peak matmul on {result['backend']} ...")
    peak = measure.peaks(result["backend"], mode)
    result["peak"] = peak
    numpy_rows = {}
    if numpy_unset_coretype and "numpy_ref" in impls:
        numpy_rows = {r["workload"]: r for r in _numpy_in_subprocess([w.name for w in chosen], mode, seed)}
    rows = []
    jobs = [(w, impl) for w in chosen for impl in impls_for(w, impls, dtype, mode)]
    timed = time.perf_counter()
    for i, (w, impl) in enumerate(jobs):
        if i == 0 or jobs[i - 1][0] is not w:
            params, data = workloads.initial_params(w, seed), workloads.batch(w, seed)
        left = f" ETA {eta((time.perf_counter() - timed) / i * (len(jobs) - i))}" if i else ""
        log(f"  [{i + 1}/{len(jobs)}] {w.name:12s} {impl:18s}{left}")
        row = numpy_rows.get(w.name) if impl == "numpy_ref" and numpy_rows else None
        row = row or measure_impl(impl, w, params, data, settings)
        add_derived(row, w, {"float32": peak["float32_machine"], "bfloat16": peak.get("bfloat16")})
        rows.append(row)
    compare(rows)
    if names is None or "fit_overhead" in names:
        from nnlect.bench import overhead

        log("  fit_overhead: fit's step loop and fused epoch over a hand loop")
        result["fit_overhead"] = overhead.fit_overhead(mode, seed=seed, log=log)
    if devices:
        from nnlect.bench import scaling

        log(f"  scaling rows for devices {devices}")
        result["scaling"] = scaling.scaling_rows(list(devices), workload="mlp")
    result["workloads"] = {w.name: workloads.as_dict(w) for w in chosen}
    result["rows"] = rows
    result["env"]["uptime_end"] = _uptime()
    result["seconds"] = time.perf_counter() - started
    return result


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "_", str(text)).strip("_").lower() or "unknown"


def file_name(result: dict) -> str:
    """``<device kind>-<host>-<mode>[-bf16]-<UTC time>.json``, e.g. ``nvidia_h200-node7-full-bf16-20261129T041200Z.json``."""
    created = datetime.datetime.fromisoformat(result["created"]).strftime("%Y%m%dT%H%M%SZ")
    dtype = "-bf16" if result.get("dtype") == "bfloat16" else ""
    return f"{_slug(result['env']['device_kind'])}-{_slug(result['env'].get('host', ''))}-{result['mode']}{dtype}-{created}.json"


def write(result: dict, out_dir: str) -> str:
    """Store ``result`` as ``<out_dir>/`` :func:`file_name` (atomically); returns the path."""
    from nnlect.io import atomic_write_text

    path = os.path.join(out_dir, file_name(result))
    os.makedirs(out_dir, exist_ok=True)
    atomic_write_text(path, json.dumps(result, indent=1, default=float) + "\n")
    return path


def _child_numpy(argv: list[str]) -> None:
    mode, seed, names = argv[0], int(argv[1]), argv[2:]
    settings = SETTINGS[mode]
    rows = []
    for w in workloads.by_name(names, mode):
        rows.append(measure_impl("numpy_ref", w, workloads.initial_params(w, seed), workloads.batch(w, seed),
                                 settings))
    print(json.dumps(rows, default=float))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child-numpy"]:
        jax.config.update("jax_platforms", "cpu")
        _child_numpy(sys.argv[2:])
