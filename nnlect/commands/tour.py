"""``nnlect tour``: the lecture's claims rerun on embedded data, figures written to a folder."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from nnlect import io
from nnlect.commands._progress import progress

NAME = "tour"
OPTIONAL_DEPENDENCIES = ("sklearn", "matplotlib", "tqdm", "tensorflow_datasets")  # a claim needing one is SKIPPED
HELP = "rerun the lecture's claims on embedded data, write their figures, print a one-page summary"
DESCRIPTION = (
    "Reruns the lecture's claims as experiments on generated or bundled data (no download): the "
    "perceptron converges on separable data but not on XOR; an MLP learns XOR; the handwritten "
    "backprop equals jax.grad; sigmoid and tanh saturate while ReLU does not; one hidden layer fits "
    "a continuous function better as it widens; gradients vanish in a deep sigmoid net; dropout "
    "curbs overfitting; LeNet-5 reads digits; a char-RNN learns to write; an RNN remembers a time "
    "series past any fixed window. Each claim writes one PNG "
    "figure to --out and one line of verdict; SUMMARY.md there repeats the report. Exit code 0 when "
    "every claim that ran holds, 1 when one does not, 2 for bad flags."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from nnlect.experiments import NAMES

    parser.add_argument("--out", type=Path, default=Path("nnlect-tour"),
                        help="folder for the figures (NAME.png) and SUMMARY.md; created if missing")
    parser.add_argument("--seed", type=int, default=0, help="PRNG seed for every experiment")
    parser.add_argument("--small", action="store_true",
                        help="fewer training steps everywhere (for CI and quick checks); the claims are still tested")
    parser.add_argument("--only", nargs="+", choices=NAMES, metavar="NAME",
                        help=f"run only these experiments, of: {', '.join(NAMES)}")
    parser.add_argument("--no-figures", action="store_true", help="print the summary only; write no files")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from nnlect.experiments import NAMES, _common, load

    if not args.no_figures:
        if args.out.exists() and not args.out.is_dir():
            raise ValueError(f"--out: expected a folder, got the file {args.out}")
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise ValueError("the figures need matplotlib: pip install 'nnlect[plots]', or pass --no-figures") from None
    names = args.only or list(NAMES)
    start = time.perf_counter()
    report, verdicts = [], []
    for name in progress(names, desc="nnlect tour", enabled=not args.quiet):
        t0 = time.perf_counter()
        try:
            module = load(name)
            claim = module.run(seed=args.seed, small=args.small)
        except ModuleNotFoundError as e:
            if (e.name or "").split(".")[0] not in OPTIONAL_DEPENDENCIES:
                raise  # a broken install or a bug, not an optional extra: show it
            report += [f"{len(verdicts) + 1}. {name}: SKIPPED, needs {e.name} ({e})", ""]
            verdicts.append(None)
            continue
        figure = ""
        if not args.no_figures:
            path = _common.save_figure(claim.figure(), args.out / f"{claim.name}.png")
            figure = f" [figure: {path}]"
        verdicts.append(claim.holds)
        report.append(f"{len(verdicts)}. {claim.title}: {'holds' if claim.holds else 'DOES NOT HOLD'} "
                      f"({time.perf_counter() - t0:.1f} s){figure}")
        report += [f"   {line}" for line in claim.summary] + [""]
    ran = [v for v in verdicts if v is not None]
    verdict = (f"{sum(ran)} of {len(ran)} claims hold"
               + (f", {len(verdicts) - len(ran)} skipped" if len(ran) < len(verdicts) else "")
               + f" ({time.perf_counter() - start:.1f} s{', --small' if args.small else ''}, seed {args.seed})")
    text = "\n".join(["nnlect tour: the lecture's claims, rerun", ""] + report + [verdict])
    print(text)
    if not args.no_figures:
        summary = io.atomic_write_text(args.out / "SUMMARY.md", "```\n" + text + "\n```\n")
        print(f"wrote {len(ran)} figures and {summary}", file=sys.stderr)
    return 0 if ran and all(ran) else 1  # nothing ran is no success
