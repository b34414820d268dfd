"""Merge result files from several machines into one Markdown report and one PNG chart.

Each file is one run (:func:`nnlect.bench.run.write`); a run is a column group, labelled
``<backend> <mode>`` (``cpu quick``, ``gpu full bf16``, ...), with the device kind, the host
and the time added until every label is unique. Rows are workload x implementation.

The chart shows what the README quotes: nnlect's speed over each peer, per workload, as
ratios measured side by side in one run, with min-max bars (the slowest repeat of one
against the fastest of the other). The absolute figures are in the Markdown tables.
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


def labels(runs: list[dict]) -> list[str]:
    """One label per run, unique: ``<backend> <mode>[ bf16]``, then the device kind, the host
    and the UTC time, each added only to runs that still share a label and differ in it."""
    out = [label(r) for r in runs]
    extras = (lambda r: r["env"].get("device_kind", "?"), lambda r: r["env"].get("host", "?"),
              lambda r: r.get("created", "?"))
    for extra in extras:
        groups: dict[str, list[int]] = {}
        for i, x in enumerate(out):
            groups.setdefault(x, []).append(i)
        for members in groups.values():
            if len(members) > 1 and len({extra(runs[i]) for i in members}) > 1:
                for i in members:
                    out[i] = f"{out[i]} {extra(runs[i])}"
    return [x if out.count(x) == 1 else f"{x} #{i + 1}" for i, x in enumerate(out)]


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
    names = labels(runs)
    for name, run in zip(names, runs):
        e, p = run["env"], run["peak"]
        v = e["versions"]
        vers = ", ".join(f"{k} {v[k]}" for k in ("jax", "flax", "numpy", "torch") if v.get(k))
        pk = f"{p['float32_machine']['gflops']:.1f} (XLA {p['float32']['gflops']:.1f}, NumPy {p['numpy_float32']['gflops']:.1f})"
        if p.get("float32_highest"):
            pk += f"; true f32 {p['float32_highest']['gflops']:.1f}"
        if p.get("bfloat16"):
            pk += f"; bf16 {p['bfloat16']['gflops']:.1f}"
        load = e.get("load_average_1_5_15") or ["?"]
        out.append(f"| {name} | {e['device_count']}x {e['device_kind']} | {e['cpu_model']} ({e['cpus_usable']} usable) "
                   f"| {vers} | {pk} | {load[0]:.2f} | {e['env_vars'].get('OPENBLAS_CORETYPE') or 'unset'} |")
    head = "| workload | impl |" + "".join(f" {n} examples/s | x NumPy | % peak | compile s / first ms |" for n in names)
    out += ["", "## Throughput", "", head, "|---|---|" + "---|---|---|---|" * len(runs)]
    index = [{(r["workload"], r["impl"]): r for r in run["rows"]} for run in runs]
    for key in _order(runs):
        cells = sum((_cell(ix.get(key)) for ix in index), [])
        out.append(f"| {key[0]} | {key[1]} | " + " | ".join(cells) + " |")
    out += ["", ratios_markdown(runs)]
    for name, run in zip(labels(runs), runs):
        if run.get("fit_overhead"):
            from nnlect.bench import overhead

            out += [f"## fit overhead ({name}, nnlect.bench.overhead)", "", overhead.table(run["fit_overhead"]), ""]
    for run in runs:
        if run.get("scaling"):
            from nnlect.bench import scaling

            out += [f"## Data-parallel scaling ({labels(runs)[runs.index(run)]}, nnlect.bench.scaling)", "", scaling.table(run["scaling"]), ""]
    notes = sorted({(r["workload"], r["impl"], r["note"]) for run in runs for r in run["rows"] if r["note"]})
    if notes:
        out += ["## Notes", ""] + [f"- {w} / {i}: {n}" for w, i, n in notes]
    return "\n".join(out) + "\n"


PEERS = tuple(p for p in IMPLS if p not in ("nnlect", "nnlect_fused"))


def ratio(mine: dict, peer: dict) -> dict:
    """nnlect's examples/s over the peer's, from one run: the median ratio, and the range from
    nnlect's slowest repeat over the peer's fastest to nnlect's fastest over the peer's slowest."""
    a, b = mine["examples_per_s"], peer["examples_per_s"]
    return {"median": a["median"] / b["median"], "min": a["min"] / b["max"], "max": a["max"] / b["min"]}


def ratio_rows(run: dict) -> list[dict]:
    """Every (workload, nnlect impl, peer) of one run where both rows were timed; batch-sweep
    workloads left out (the chart and the README quote the main ones)."""
    index = {(r["workload"], r["impl"]): r for r in run["rows"]}
    out = []
    for name in run["workloads"]:
        if name.startswith("mlp_b"):
            continue
        for mine in ("nnlect", "nnlect_fused", "nnlect_bf16", "nnlect_fused_bf16"):
            row = index.get((name, mine))
            if row is None or row["status"] != "ok":
                continue
            for peer in PEERS:
                other = index.get((name, peer))
                if other is not None and other["status"] == "ok":
                    out.append({"workload": name, "impl": mine, "peer": peer, "precision": row.get("precision", "f32"),
                                **ratio(row, other)})
    return out


def ratios_markdown(runs: list[dict]) -> str:
    """The ratio tables, one per run: what ``nnlect bench report`` prints."""
    out = ["## nnlect over each peer (same run, ratio of examples/s; > 1 means nnlect is faster)", "",
           "median (min–max: nnlect's slowest repeat over the peer's fastest, and the reverse)", ""]
    for name, run in zip(labels(runs), runs):
        out += [f"**{name}**", "", "| workload | nnlect impl | precision | " + " | ".join(f"÷ {p}" for p in PEERS) + " |",
                "|---|---|---|" + "---|" * len(PEERS)]
        by_key: dict[tuple[str, str], dict] = {}
        for r in ratio_rows(run):
            by_key.setdefault((r["workload"], r["impl"]), {"precision": r["precision"]})[r["peer"]] = r
        for (workload, mine), cells in by_key.items():
            shown = [f"{cells[p]['median']:.2f}x ({cells[p]['min']:.2f}–{cells[p]['max']:.2f})" if p in cells else "–"
                     for p in PEERS]
            out.append(f"| {workload} | {mine} | {cells['precision']} | " + " | ".join(shown) + " |")
        out.append("")
    return "\n".join(out)


def chart(runs: list[dict], path: str) -> str:
    """nnlect's speed over each peer (log scale, 1 = as fast), one bar per run for each
    (workload, nnlect impl, peer: NumPy, Flax, PyTorch), with min–max error bars; written
    atomically to ``path``."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from nnlect.io import atomic_write_bytes

    names = labels(runs)
    # the peers the README quotes; the jitted jnp reference stays in the tables
    per_run = [{(r["workload"], r["impl"], r["peer"]): r for r in ratio_rows(run) if r["peer"] != "jnp_ref"} for run in runs]
    keys = list(dict.fromkeys(k for rows in per_run for k in rows))
    height = 0.8 / max(len(runs), 1)
    fig, ax = plt.subplots(figsize=(8.5, 0.42 * max(len(keys), 1) * max(1, len(runs)) ** 0.5 + 1.8))
    for j, (name, rows) in enumerate(zip(names, per_run)):
        ys, xs, lo, hi = [], [], [], []
        for i, key in enumerate(keys):
            if key in rows:
                r = rows[key]
                ys.append(i + j * height)
                xs.append(r["median"])
                lo.append(r["median"] - r["min"])
                hi.append(r["max"] - r["median"])
        ax.barh(ys, xs, height=height, xerr=[lo, hi], capsize=2, label=name, alpha=0.85)
    ax.axvline(1.0, color="black", lw=1)
    ax.set_yticks([i + height * (len(runs) - 1) / 2 for i in range(len(keys))])
    ax.set_yticklabels([f"{w}: {m} ÷ {p}" for w, m, p in keys], fontsize=9)
    ax.set_ylim(len(keys) - 0.3, -0.5)  # first row on top, no empty band
    ax.set_xscale("log")
    ax.set_xlabel("nnlect ÷ peer, training examples/s in one run (> 1: nnlect faster; bars: min–max)")
    ax.set_title("nnlect against the handwritten references and peer libraries")
    ax.grid(axis="x", which="both", alpha=0.3)
    ax.legend(fontsize=9, loc="lower right")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return path
