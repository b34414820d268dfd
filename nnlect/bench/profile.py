"""Where a training step's time goes: per-op profiles, to explain a missed target.

- JAX implementations: ``jax.profiler.trace`` of a few warm calls, read back with
  ``jax.profiler.ProfileData``; the XLA ops (thunks) executed on the host threads are summed
  by name, and each name is looked up in the compiled HLO so the table says what the op is
  (``convolution`` of which shapes, which fusion).
- PyTorch: ``torch.profiler`` over the same calls, ops by self CPU time.

``nnlect bench profile WORKLOAD IMPL`` prints the table (see ``benchmarks/README.md``).
"""

from __future__ import annotations

import collections
import glob
import re
import tempfile
import time
from typing import Any

import jax

from nnlect.bench import run, workloads

# Events that wrap other events (the executor, host-side dispatch): not ops of the step.
_WRAPPERS = ("ThunkExecutor", "PjitFunction", "Execute", "ParseArguments", "Handle inputs", "$")


def _hlo_lines(text: str) -> dict[str, str]:
    lines = {}
    for line in text.splitlines():
        m = re.match(r"\s*(?:ROOT\s+)?%?([\w.\-]+)\s*=\s*(.*)", line)
        if m:
            lines.setdefault(m.group(1), m.group(2)[:110])
    return lines


def jax_ops(runner: Any, steps_per_call: int, *, calls: int = 5, top: int = 15) -> dict:
    """Per-op time of a JAX runner (see the module docstring)."""
    for _ in range(2):
        runner.block(runner.call())
    folder = tempfile.mkdtemp(prefix="nnlect-profile-")
    with jax.profiler.trace(folder):
        start = time.perf_counter()
        for _ in range(calls):
            runner.block(runner.call())
        wall = time.perf_counter() - start
    (path,) = glob.glob(f"{folder}/**/*.xplane.pb", recursive=True)
    totals: collections.Counter = collections.Counter()
    for plane in jax.profiler.ProfileData.from_file(path).planes:
        for line in plane.lines:
            if line.name == "python":
                continue
            for event in line.events:
                if not event.name.startswith(_WRAPPERS):
                    totals[event.name] += event.duration_ns
    hlo = _hlo_lines(runner.hlo_text()) if hasattr(runner, "hlo_text") else {}
    steps = calls * steps_per_call
    ops = [{"op": name, "ms_per_step": ns / 1e6 / steps, "hlo": hlo.get(name, "")}
           for name, ns in totals.most_common(top)]
    return {"wall_ms_per_step": 1e3 * wall / steps, "op_ms_per_step_all_threads": sum(totals.values()) / 1e6 / steps,
            "ops": ops}


def torch_ops(runner: Any, steps_per_call: int, *, calls: int = 5, top: int = 15) -> dict:
    """Per-op self CPU time of the PyTorch runner."""
    import torch  # pyright: ignore[reportMissingImports]  optional peer, not in CI

    for _ in range(2):
        runner.block(runner.call())
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        for _ in range(calls):
            runner.block(runner.call())
        wall = time.perf_counter() - start
    steps = calls * steps_per_call
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    ops = [{"op": e.key, "ms_per_step": e.self_cpu_time_total / 1e3 / steps, "hlo": f"{e.count // steps} calls/step"}
           for e in events[:top]]
    return {"wall_ms_per_step": 1e3 * wall / steps, "op_ms_per_step_all_threads": sum(
        e.self_cpu_time_total for e in events) / 1e3 / steps, "ops": ops}


def profile(workload: str, impl: str, *, mode: str = "quick", seed: int = 0, calls: int = 5) -> dict:
    """Profile ``impl`` on ``workload`` (a name from ``workloads.suite(mode)``)."""
    (w,) = [w for w in workloads.suite(mode) if w.name == workload] or [None]
    if w is None:
        raise ValueError(f"workload: expected one of {[w.name for w in workloads.suite(mode)]}, got {workload!r}")
    reason = run.skip_reason(impl, w)
    if reason:
        raise ValueError(f"impl: {impl} cannot run {workload}: {reason}")
    k = run.steps_per_call(impl, w)
    runner = run._factory(impl)(w, workloads.initial_params(w, seed), workloads.batch(w, seed), k)
    if impl.startswith("torch"):
        return {"workload": workload, "impl": impl, **torch_ops(runner, k, calls=calls)}
    if impl == "numpy_ref":
        raise ValueError("impl: numpy_ref has no op profiler here; use python -m cProfile")
    return {"workload": workload, "impl": impl, **jax_ops(runner, k, calls=calls)}


def table(result: dict) -> str:
    """A profile as text: wall time per step, then the top ops."""
    out = [f"{result['workload']} / {result['impl']}: {result['wall_ms_per_step']:.3f} ms per step wall, "
           f"{result['op_ms_per_step_all_threads']:.3f} ms of ops summed over threads",
           f"{'ms/step':>9s}  op  (HLO or calls)"]
    for op in result["ops"]:
        out.append(f"{op['ms_per_step']:9.3f}  {op['op']}  {op['hlo']}")
    return "\n".join(out)
