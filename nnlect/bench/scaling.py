"""Data-parallel scaling: training throughput against the number of devices (weak scaling).

Each device count ``D`` runs in its own subprocess (``XLA_FLAGS=--xla_force_host_platform_
device_count=D`` must be set before JAX starts, so one process cannot try several), with
a fixed per-device batch ``b``: the global batch is ``D * b``, so ideal scaling keeps the
step time constant and multiplies examples/s by ``D``. On a CPU the ``D`` devices are
simulated and share the same cores: the rows then show the cost of splitting and
all-reducing, not a speedup. On a multi-GPU or TPU host the first ``D`` real devices are
used (the flag only affects the CPU platform) and the rows show the speedup.

Training runs :func:`nnlect.train.make_train_scan` over ``steps`` stacked minibatches per
call (one XLA call, one host sync per call: the CPU rendezvous pitfall of
:mod:`nnlect.parallel` cannot arise), with ``mesh=None`` for ``D = 1`` (the plain
single-device path) and a ``D``-device mesh otherwise.

Row schema (one dict per device count)::

    bench            "scaling"
    workload         "mlp" | "lenet5" | "charlm"
    devices          D
    per_device_batch b
    global_batch     D * b
    platform         "cpu" | "gpu" | "tpu";  device_kind: e.g. "cpu", "NVIDIA H100"
    simulated        True when the devices are --xla_force_host_platform_device_count CPUs
    steps_per_call   training steps per timed call
    compile_s        first call (trace + compile + first run) in seconds
    step_s           {"median", "min", "max"} seconds per training step over the repeats
    examples_per_s   global_batch / median step_s
    speedup          examples_per_s / examples_per_s of the D = 1 row (None without one)
    efficiency       speedup / D  (1.0 = perfect weak scaling)
    loss             training loss after the last timed call (finite: it really trained)
    load_avg         1-minute load average when the row started (other work on the host)

Standalone::

    python -m nnlect.bench.scaling --devices 1 2 4 8 --per-device-batch 64 --workload mlp
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

WORKLOADS = ("mlp", "lenet5", "charlm")


def _workload(name: str, batch: int, steps: int):
    """``(model, loss, stacked xs (steps, batch, ...), ys)`` on synthetic data of the real shapes."""
    import numpy as np

    import nnlect as nl
    from nnlect.losses import softmax_cross_entropy

    rng = np.random.default_rng(0)
    if name == "mlp":  # the lecture's MNIST MLP
        model = nl.mlp([784, 512, 512, 10], activation="relu")
        xs = rng.normal(size=(steps, batch, 784)).astype(np.float32)
        ys = rng.integers(0, 10, (steps, batch)).astype(np.int32)
    elif name == "lenet5":
        from nnlect.models.cnn import lenet5

        model = lenet5()
        xs = rng.normal(size=(steps, batch, 28, 28, 1)).astype(np.float32)
        ys = rng.integers(0, 10, (steps, batch)).astype(np.int32)
    elif name == "charlm":  # an Elman char-RNN over 64-character windows
        from nnlect.models.rnn import elman_rnn

        model = elman_rnn(65, 256, 65)
        tokens = rng.integers(0, 65, (steps, batch, 65)).astype(np.int32)
        xs, ys = tokens[..., :-1], tokens[..., 1:]
    else:
        raise ValueError(f"workload: expected one of {list(WORKLOADS)}, got {name!r}")
    return model, softmax_cross_entropy, xs, ys


def measure(devices: int, per_device_batch: int, workload: str = "mlp", *, steps: int = 10,
            repeats: int = 5, min_repeat_s: float = 0.2) -> dict:
    """One row, measured in THIS process (which must already see at least ``devices`` devices)."""
    import jax
    import numpy as np
    import optax

    from nnlect import parallel, train

    load = os.getloadavg()[0]
    available = jax.devices()
    if len(available) < devices:
        raise ValueError(f"devices: expected at most the {len(available)} devices JAX sees, got {devices}")
    mesh = parallel.data_parallel_mesh(available[:devices]) if devices > 1 else None
    global_batch = devices * per_device_batch
    model, loss, xs, ys = _workload(workload, global_batch, steps)
    optimizer = optax.sgd(0.01, momentum=0.9)
    run = train.make_train_scan(model, loss, optimizer, mesh=mesh)
    key = jax.random.key(1)
    state = train.init_state(model.init(jax.random.key(0)), optimizer)
    if mesh is None:
        xs, ys = jax.device_put(xs, available[0]), jax.device_put(ys, available[0])
        state = jax.device_put(state, available[0])
    else:  # placed once, before the clock: the timed calls find them in place
        state = parallel.replicate(mesh, state)
        xs, ys = parallel.shard_batch(mesh, xs, axis=1), parallel.shard_batch(mesh, ys, axis=1)

    start = time.perf_counter()
    state, losses = run(state, xs, ys, key)
    losses.block_until_ready()
    compile_s = time.perf_counter() - start
    start = time.perf_counter()  # warm-up call, which also sizes a repeat
    state, losses = run(state, xs, ys, key)
    losses.block_until_ready()
    calls = max(1, int(min_repeat_s / max(time.perf_counter() - start, 1e-9)))
    per_step = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            state, losses = run(state, xs, ys, key)
            losses.block_until_ready()  # one sync per call (and per `steps` collectives)
        per_step.append((time.perf_counter() - start) / (calls * steps))
    median = statistics.median(per_step)
    device = available[0]
    return {
        "bench": "scaling", "workload": workload, "devices": devices, "per_device_batch": per_device_batch,
        "global_batch": global_batch, "platform": device.platform, "device_kind": device.device_kind,
        "simulated": device.platform == "cpu" and devices > 1, "steps_per_call": steps,
        "compile_s": compile_s, "step_s": {"median": median, "min": min(per_step), "max": max(per_step)},
        "examples_per_s": global_batch / median, "speedup": None, "efficiency": None,
        "loss": float(np.asarray(losses)[-1]), "load_avg": load,
    }


def scaling_rows(devices: list[int], per_device_batch: int = 64, workload: str = "mlp", *, steps: int = 10,
                 repeats: int = 5, min_repeat_s: float = 0.2, timeout_s: float = 900) -> list[dict]:
    """One row per device count, each measured in a fresh subprocess (see the module docstring).

    ``speedup`` and ``efficiency`` are filled in relative to the ``D = 1`` row when
    ``devices`` includes 1. A device count the host cannot provide gives a row with
    ``"error"`` instead of timings.
    """
    if workload not in WORKLOADS:
        raise ValueError(f"workload: expected one of {list(WORKLOADS)}, got {workload!r}")
    rows = []
    for d in devices:
        if isinstance(d, bool) or not isinstance(d, int) or d < 1:
            raise ValueError(f"devices: expected positive ints, got {d!r} in {devices!r}")
        env = dict(os.environ, XLA_FLAGS=f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={d}".strip())
        cmd = [sys.executable, "-m", "nnlect.bench.scaling", "--worker", "--devices", str(d),
               "--per-device-batch", str(per_device_batch), "--workload", workload, "--steps", str(steps),
               "--repeats", str(repeats), "--min-repeat-s", str(min_repeat_s)]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout_s)
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if done.returncode != 0 or not lines:
            rows.append({"bench": "scaling", "workload": workload, "devices": d, "per_device_batch": per_device_batch,
                         "error": (done.stderr.strip().splitlines() or ["no output"])[-1]})
        else:
            rows.append(json.loads(lines[-1]))
    base = next((r for r in rows if r["devices"] == 1 and "error" not in r), None)
    for r in rows:
        if base is not None and "error" not in r:
            r["speedup"] = r["examples_per_s"] / base["examples_per_s"]
            r["efficiency"] = r["speedup"] / r["devices"]
    return rows


def table(rows: list[dict]) -> str:
    """The rows as a Markdown table."""
    lines = ["| workload | devices | global batch | step ms (median) | examples/s | speedup | efficiency | platform |",
             "|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['workload']} | {r['devices']} | | error: {r['error']} | | | | |")
            continue
        sp = "" if r["speedup"] is None else f"{r['speedup']:.2f}x"
        eff = "" if r["efficiency"] is None else f"{r['efficiency']:.2f}"
        kind = r["device_kind"] + (" (simulated)" if r["simulated"] else "")
        lines.append(f"| {r['workload']} | {r['devices']} | {r['global_batch']} | {1e3 * r['step_s']['median']:.2f} "
                     f"| {r['examples_per_s']:,.0f} | {sp} | {eff} | {kind} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m nnlect.bench.scaling", description=(__doc__ or "").split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--devices", type=int, nargs="+", default=[1, 2, 4, 8], help="device counts, one row each")
    p.add_argument("--per-device-batch", type=int, default=64, help="examples per device per step (weak scaling)")
    p.add_argument("--workload", choices=WORKLOADS, default="mlp")
    p.add_argument("--steps", type=int, default=10, help="training steps per timed call (lax.scan)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--min-repeat-s", type=float, default=0.2, help="each repeat lasts at least this long")
    p.add_argument("--out", help="also write the rows as JSON here")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(measure(args.devices[0], args.per_device_batch, args.workload, steps=args.steps,
                                 repeats=args.repeats, min_repeat_s=args.min_repeat_s)))
        return 0
    rows = scaling_rows(args.devices, args.per_device_batch, args.workload, steps=args.steps,
                        repeats=args.repeats, min_repeat_s=args.min_repeat_s)
    print(table(rows))
    if args.out:
        from nnlect import io

        io.atomic_write_text(args.out, json.dumps(rows, indent=2) + "\n")
    return 0 if all("error" not in r for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
