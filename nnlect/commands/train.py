"""``nnlect train RECIPE``: train one of the lecture's models and write a JSON result."""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
from pathlib import Path

import nnlect.recipes
from nnlect import io
from nnlect.commands import _args

NAME = "train"
HELP = "train a model (mlp, lenet5, charlm) and write a JSON result"


def recipes() -> dict:
    """The recipe modules of :mod:`nnlect.recipes` by name."""
    found = {}
    for info in pkgutil.iter_modules(nnlect.recipes.__path__):
        if not info.name.startswith("_"):
            module = importlib.import_module(f"nnlect.recipes.{info.name}")
            found[module.NAME] = module
    return dict(sorted(found.items()))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="recipe", metavar="RECIPE", required=True)
    for name, module in recipes().items():
        p = sub.add_parser(name, help=module.HELP, description=getattr(module, "DESCRIPTION", module.HELP),
                           formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        p.add_argument("--epochs", type=int, default=getattr(module, "DEFAULT_EPOCHS", 10), help="passes over the training set")
        p.add_argument("--seed", type=int, default=0, help="PRNG seed for init, shuffling and dropout")
        p.add_argument("--out", type=Path, default=Path("runs") / name,
                       help="folder for result.json (and checkpoints where the recipe writes them)")
        p.add_argument("--resume", action="store_true",
                       help="continue from OUT/checkpoint.msgpack (saved after every epoch) instead of starting over")
        p.add_argument("--quiet", action="store_true", help="no progress bar or per-epoch lines")
        p.add_argument("--data-parallel", action="store_true",
                       help="shard each batch over all local devices (params replicated); the batch size must divide by the device count")
        module.add_arguments(p)
        p.set_defaults(_recipe=module)


def run(args: argparse.Namespace) -> int:
    """Run the recipe; it reads ``args.epochs``, ``args.seed``, ``args.out``, ``args.resume``,
    ``args.data_parallel`` and its own flags, checkpoints to ``nnlect.checkpoint.run_file(args.out, resume=args.resume)``, and
    returns the JSON-able result (an ``exit_code`` key, if present, becomes the exit code)."""
    _args.check_flags(args)  # every flag of the table that this recipe has, before any work
    _args.check_out(args.out)
    if args.data_parallel:
        from nnlect import parallel

        # Multi-host (NNLECT_COORDINATOR / NNLECT_DISTRIBUTED=1) must initialize before any JAX computation.
        parallel.maybe_initialize()
    result = args._recipe.run(args)
    path = Path(args.out) / "result.json"
    io.atomic_write_text(path, json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(f"wrote {path}")
    return int(result.get("exit_code", 0))
