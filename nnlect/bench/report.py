"""Merge result files from several machines into one Markdown report and one PNG chart.

Each file is one run (:func:`nnlect.bench.run.write`); a run is a column group, labelled
``<backend> <mode>`` (``cpu quick``, ``gpu full``, ...). Rows are workload x implementation.
"""

from __future__ import annotations

import json
import os
from typing import Any

from nnlect.bench.run import IMPLS, SCHEMA

REQUIRED = ("schema", "mode", "backend", "env", "peak", "rows", "workloads")
ROW_REQUIRED = ("workload", "family", "impl", "status", "note")
TIMED_REQUIRED = ("step_s", "examples_per_s", "gflops", "fraction_of_peak", "compile_s", "first_step_s",
                  "loss_after_check", "speedup")


def validate(result: Any, source: str = "result") -> dict:
    """Raise ValueError naming ``source`` and the missing piece unless ``result`` is a results dict."""
    if not isinstance(result, dict):
        raise ValueError(f"{source}: expected a JSON object, got {type(result).__name__}")
    if result.get("schema") != SCHEMA:
        raise ValueError(f"{source}: expected schema {SCHEMA!r}, got {result.get('schema')!r}")
    missing = [k for k in REQUIRED if k not in result]
    if missing:
        raise ValueError(f"{source}: missing keys {missing}")
    for i, row in enumerate(result["rows"]):
        need = ROW_REQUIRED + (TIMED_REQUIRED if row.get("status") == "ok" else ())
        missing = [k for k in need if k not in row]
        if missing:
            raise ValueError(f"{source}: rows[{i}] ({row.get('workload')}/{row.get('impl')}) misses {missing}")
    return result


def load(paths: list[str]) -> list[dict]:
    """Read and validate result files (FileNotFoundError / ValueError name the bad file)."""
    runs = []
    for path in paths:
        if not os.path.exists(path):
            raise FileNotFoundError(f"FILES: no such results file {path!r}")
        with open(path) as f:
            try:
                runs.append(validate(json.load(f), path))
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}: not valid JSON ({e})") from None
    return runs


def label(run: dict) -> str:
    return f"{run['backend']} {run['mode']}" + (" bf16" if run.get("dtype") == "bfloat16" else "")


def _si(x: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if x >= scale:
            return f"{x / scale:.3g}{unit}"
    return f"{x:.3g}"


def _order(runs: list[dict]) -> list[tuple[str, str]]:
    """(workload, impl) pairs in suite order, then implementation order."""
    seen: dict[tuple[str, str], None] = {}
    for run in runs:
        for row in run["rows"]:
            seen.setdefault((row["workload"], row["impl"]), None)
    workload_order = {}
    for run in sorted(runs, key=lambda r: -len(r["workloads"])):  # the fullest run sets the order
        for name in run["workloads"]:
            workload_order.setdefault(name, len(workload_order))
    impl_rank = {impl: i for i, impl in enumerate(IMPLS)}
    return sorted(seen, key=lambda k: (workload_order.get(k[0], 99), impl_rank.get(k[1].removesuffix("_bf16"), 99),
                                       k[1]))


def _cell(row: dict | None) -> list[str]:
    if row is None:
        return ["", "", "", ""]
    if row["status"] != "ok":
        return [row["status"], "", "", ""]
    eps = row["examples_per_s"]
    vs_np = row["speedup"].get("numpy_ref")
    return [f"{_si(eps['median'])} ({_si(eps['min'])}–{_si(eps['max'])})",
            f"{vs_np:.2f}x" if vs_np else "–", f"{100 * row['fraction_of_peak']:.1f}%",
            f"{row['compile_s']:.2f} / {1e3 * row['first_step_s']:.1f}"]


def markdown(runs: list[dict]) -> str:
    """The merged Markdown: environment per run, main table, nnlect-vs-peer ratios, notes."""
    out = ["# nnlect benchmark results", "",
           "examples/s: median over repeats (min–max); x NumPy: speed over the handwritten NumPy "
           "reference in the same run; % peak: achieved GFLOP/s over the run's measured float32 matmul "
           "peak; compile / first: JAX trace+compile seconds / first step ms after compiling.", "",
           "## Runs", "", "| run | device | CPU | versions | peak f32 GFLOP/s | load (1 min) | OPENBLAS_CORETYPE |",
           "|---|---|---|---|---|---|---|"]
    for run in runs:
        e, p = run["env"], run["peak"]
        v = e["versions"]
        vers = ", ".join(f"{k} {v[k]}" for k in ("jax", "flax", "numpy", "torch") if v.get(k))
        pk = f"{p['float32_machine']['gflops']:.1f} (XLA {p['float32']['gflops']:.1f}, NumPy {p['numpy_float32']['gflops']:.1f})"
        if p.get("bfloat16"):
            pk += f"; bf16 {p['bfloat16']['gflops']:.1f}"
        load = e.get("load_average_1_5_15") or ["?"]
        out.append(f"| {label(run)} | {e['device_count']}x {e['device_kind']} | {e['cpu_model']} ({e['cpus_usable']} usable) "
                   f"| {vers} | {pk} | {load[0]:.2f} | {e['env_vars'].get('OPENBLAS_CORETYPE') or 'unset'} |")
    head = "| workload | impl |" + "".join(f" {label(r)} examples/s | x NumPy | % peak | compile s / first ms |" for r in runs)
    out += ["", "## Throughput", "", head, "|---|---|" + "---|---|---|---|" * len(runs)]
    index = [{(r["workload"], r["impl"]): r for r in run["rows"]} for run in runs]
    for key in _order(runs):
        cells = sum((_cell(ix.get(key)) for ix in index), [])
        out.append(f"| {key[0]} | {key[1]} | " + " | ".join(cells) + " |")
    out += ["", "## nnlect over each peer (same run, ratio of steps/s; > 1 means nnlect is faster)", ""]
    for run, ix in zip(runs, index):
        peers = [p for p in IMPLS if p not in ("nnlect", "nnlect_fused")]
        out += [f"**{label(run)}**", "", "| workload | nnlect impl | " + " | ".join(f"÷ {p}" for p in peers) + " |",
                "|---|---|" + "---|" * len(peers)]
        for name in run["workloads"]:
            for mine in ("nnlect", "nnlect_fused"):
                row = ix.get((name, mine))
                if row is None or row["status"] != "ok":
                    continue
                ratios = [f"{row['speedup'][p]:.2f}x" if p in row["speedup"] else "–" for p in peers]
                out.append(f"| {name} | {mine} | " + " | ".join(ratios) + " |")
        out.append("")
    for run in runs:
        if run.get("scaling"):
            from nnlect.bench import scaling

            out += [f"## Data-parallel scaling ({label(run)}, nnlect.bench.scaling)", "", scaling.table(run["scaling"]), ""]
    notes = sorted({(r["workload"], r["impl"], r["note"]) for run in runs for r in run["rows"] if r["note"]})
    if notes:
        out += ["## Notes", ""] + [f"- {w} / {i}: {n}" for w, i, n in notes]
    return "\n".join(out) + "\n"


def chart(runs: list[dict], path: str) -> str:
    """A horizontal bar chart of examples/s (log scale), one bar per run, for each row."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = _order(runs)
    index = [{(r["workload"], r["impl"]): r for r in run["rows"]} for run in runs]
    height = 0.8 / max(len(runs), 1)
    fig, ax = plt.subplots(figsize=(9, 0.28 * len(keys) * max(1, len(runs)) ** 0.5 + 1.5))
    for j, (run, ix) in enumerate(zip(runs, index)):
        ys, xs = [], []
        for i, key in enumerate(keys):
            row = ix.get(key)
            if row is not None and row["status"] == "ok":
                ys.append(i + j * height)
                xs.append(row["examples_per_s"]["median"])
        ax.barh(ys, xs, height=height, label=label(run))
    ax.set_yticks([i + height * (len(runs) - 1) / 2 for i in range(len(keys))])
    ax.set_yticklabels([f"{w} / {i}" for w, i in keys], fontsize=7)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("training examples per second (median, log scale)")
    ax.set_title("nnlect benchmark: training throughput")
    ax.grid(axis="x", which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    from nnlect.io import atomic_write_bytes
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return path
