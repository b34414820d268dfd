"""``nnlect bench``: training throughput of nnlect against the handwritten references and peers.

``nnlect bench run [--quick] [--workloads ...] [--impls ...] [--out DIR] [--dtype bf16]
[--numpy-unset-openblas-coretype]`` writes ``DIR/<device>-<host>-<mode>[-bf16]-<UTC time>.json``
(``DIR`` defaults to ``./nnlect-bench``, outside the committed ``benchmarks/results``);
``nnlect bench report FILES... [--out-md PATH] [--out-png PATH]`` merges runs from several
machines into one Markdown report and one chart of ratios, and prints the ratios; ``nnlect bench profile WORKLOAD IMPL``
prints where one implementation's step time goes. See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse

NAME = "bench"
HELP = "benchmark training throughput (run), or merge result files (report)"
DESCRIPTION = (
    "run: time one training step of each workload (xor, mlp + batch sweep, lenet5, rnn) in every "
    "implementation (nnlect, nnlect fused, handwritten NumPy and jnp references, Flax NNX, PyTorch when "
    "importable), after checking they agree on the loss; writes one JSON file per run. "
    "report: merge result files into a Markdown table and a PNG chart."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="bench_command", metavar="{run,report,profile}", required=True)
    r = sub.add_parser("run", help="run the suite and write <out>/<device>-<host>-<mode>-<time>.json",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    r.add_argument("--quick", action="store_true", help="fewer repeats and a 2-point batch sweep (< 3 min on 2 cores)")
    r.add_argument("--workloads", nargs="+", metavar="NAME", help="workload names or families (default: all)")
    r.add_argument("--impls", nargs="+", metavar="IMPL", help="implementations (default: all)")
    r.add_argument("--out", default="nnlect-bench",
                   help="folder for the JSON file (commit results to benchmarks/results deliberately)")
    r.add_argument("--dtype", choices=("f32", "bf16"), default="f32",
                   help="bf16 adds mixed-precision nnlect rows (compute_dtype=bfloat16) for mlp, lenet5, rnn (meant for GPU/TPU)")
    r.add_argument("--numpy-unset-openblas-coretype", action="store_true",
                   help="measure the NumPy reference in a subprocess with OPENBLAS_CORETYPE unset")
    r.add_argument("--seed", type=int, default=0, help="seed of the shared initial params and batches")
    r.add_argument("--devices", type=int, nargs="+", metavar="N",
                   help="also run the data-parallel scaling rows (nnlect.bench.scaling) for these device counts")
    p = sub.add_parser("report", help="merge result files into Markdown and a PNG chart",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("files", nargs="+", metavar="FILES", help="JSON files written by `nnlect bench run`")
    p.add_argument("--out-md", default="nnlect-bench/results.md", help="Markdown output")
    p.add_argument("--out-png", default="nnlect-bench/ratios.png", help="PNG chart of the ratios ('' for none)")
    f = sub.add_parser("profile", help="per-op time of one implementation on one workload",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    f.add_argument("workload", help="a workload name, e.g. lenet5, rnn_small, mlp")
    f.add_argument("impl", help="nnlect, nnlect_fused, jnp_ref, flax or torch")
    f.add_argument("--full", action="store_true", help="take the workload from the full suite (default: quick)")
    f.add_argument("--calls", type=int, default=5, help="profiled calls")
    f.add_argument("--out", help="also write the table to this text file")


def _run(args: argparse.Namespace) -> int:
    from nnlect.bench import run as bench_run

    impls = tuple(args.impls) if args.impls else bench_run.IMPLS
    result = bench_run.run_suite(mode="quick" if args.quick else "full", names=args.workloads, impls=impls,
                                 dtype="bfloat16" if args.dtype == "bf16" else "float32",
                                 numpy_unset_coretype=args.numpy_unset_openblas_coretype, seed=args.seed,
                                 devices=args.devices, log=lambda line: print(line, flush=True))
    path = bench_run.write(result, args.out)
    bad = [r for r in result["rows"] if r["status"] in ("disagrees", "error")]
    for row in result["rows"]:
        eps = row.get("examples_per_s", {}).get("median")
        shown = f"{eps:12.4g} examples/s" if eps else f"{row['status']:>23s}"
        print(f"{row['workload']:12s} {row['impl']:18s} {row.get('precision', ''):17s} {shown}  {row['note']}")
    print(f"wrote {path} ({result['seconds']:.0f} s)")
    return 1 if bad else 0


def _report(args: argparse.Namespace) -> int:
    from nnlect.bench import report
    from nnlect.io import atomic_write_text

    if args.out_png:
        import matplotlib  # noqa: F401  (now, before anything is written: a missing extra is rc 2 with its pip line)
    runs = report.load(args.files)
    print(report.ratios_markdown(runs))
    atomic_write_text(args.out_md, report.markdown(runs))
    print(f"wrote {args.out_md}")
    if args.out_png:
        print(f"wrote {report.chart(runs, args.out_png)}")
    return 0


def _profile(args: argparse.Namespace) -> int:
    from nnlect.bench import profile
    from nnlect.io import atomic_write_text

    text = profile.table(profile.profile(args.workload, args.impl, mode="full" if args.full else "quick",
                                         calls=args.calls))
    print(text)
    if args.out:
        atomic_write_text(args.out, text + "\n")
    return 0


def run(args: argparse.Namespace) -> int:
    return {"run": _run, "report": _report, "profile": _profile}[args.bench_command](args)
