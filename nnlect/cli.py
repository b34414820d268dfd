"""The ``nnlect`` command line: ``nnlect {tour,train,bench,sample} ...``.

Each subcommand lives in its own module of :mod:`nnlect.commands` and exposes
``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``; this
file only finds them and dispatches, so a new command is a new module.

Exit codes: 0 success, 1 the job ran and failed (e.g. a target missed or
training diverged), 2 bad usage or bad input (unknown flag, missing file);
``NNLECT_DEBUG=1`` prints the traceback behind an exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import os
import sys
import traceback

import nnlect.commands

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _commands():
    for info in sorted(pkgutil.iter_modules(nnlect.commands.__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            yield importlib.import_module(f"nnlect.commands.{info.name}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nnlect",
        description="A classic neural-networks lecture as fast, pure JAX functions: "
        "run its experiments, train its models, benchmark them.",
    )
    from nnlect import __version__

    parser.add_argument("--version", action="version", version=f"nnlect {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in _commands():
        p = sub.add_parser(module.NAME, help=module.HELP, description=getattr(module, "DESCRIPTION", module.HELP),
                           formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args) or EXIT_OK)
    except (ValueError, TypeError, FileNotFoundError) as e:
        # Bad input: say what was wrong in one line; NNLECT_DEBUG=1 shows where it was raised.
        if os.environ.get("NNLECT_DEBUG") == "1":
            traceback.print_exc()
        print(f"nnlect {args.command}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except FloatingPointError as e:
        print(f"nnlect {args.command}: failed: {e}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(f"nnlect {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
