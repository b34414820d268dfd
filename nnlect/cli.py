"""The ``nnlect`` command line: ``nnlect {tour,train,bench,sample} ...``.

Each subcommand lives in its own module of :mod:`nnlect.commands` and exposes
``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``; this
file only finds them and dispatches, so a new command is a new module.

Exit codes: 0 success, 1 the job ran and failed (e.g. a target missed or
training diverged), 2 bad usage or bad input (unknown flag, missing file, a
missing optional dependency, data that cannot be fetched offline), 130
interrupted (Ctrl-C). ``NNLECT_DEBUG=1`` prints the traceback behind an exit 2.

Ctrl-C: run as the program (``main()`` with no ``argv``), an interrupt unwinds as a
``KeyboardInterrupt`` (so a recipe can say where its checkpoint stands and a half
written file is removed), then the process ends with ``os._exit(130)`` after flushing
its output. It never returns into interpreter shutdown, which could tear XLA down
while a computation is still running on its threads (a segfault, rc -11). A second
Ctrl-C, or cleanup that takes longer than :data:`GRACE_SECONDS`, exits at once.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import signal
import sys
import threading
import traceback

import nnlect.commands
from nnlect import _xla_flags

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
GRACE_SECONDS = 10.0

#: import name of an optional dependency -> the pip line that installs it.
EXTRAS = {
    "tensorflow_datasets": 'pip install "nnlect[tfds]"',
    "matplotlib": 'pip install "nnlect[plots]"',
    "tqdm": 'pip install "nnlect[progress]"',
    "threadpoolctl": 'pip install "nnlect[bench]"',
    "torch": "pip install torch",
    "flax": 'pip install "nnlect"',
    # a base dependency (the default `train mlp --data digits` needs it): missing only where
    # it was uninstalled
    "sklearn": 'pip install "scikit-learn>=1.4"',
}

#: Bad input or an environment that cannot run the command: rc 2 and one line.
USAGE_ERRORS = (ValueError, TypeError, FileNotFoundError, FileExistsError, NotADirectoryError,
                IsADirectoryError, PermissionError, ConnectionError, TimeoutError)


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


def missing_dependency_message(e: ImportError) -> str:
    """One line for a missing optional module: what is missing and the pip line that installs it."""
    top = (e.name or "").split(".")[0]
    line = EXTRAS.get(top)
    if line is None:
        return f"missing module {e.name or '?'} ({e})"
    detail = str(e) if str(e) and "No module named" not in str(e) and "halted" not in str(e) else f"this needs {top}"
    return detail if line in detail else f"{detail}; install it with: {line}"


def _flush_and_exit(code: int) -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # a closed pipe: nothing more to say
            pass
    os._exit(code)


def _install_interrupt_handler() -> None:
    """First Ctrl-C: ``KeyboardInterrupt`` (cleanup runs) with a watchdog; a second one exits now."""
    state = {"count": 0}

    def on_sigint(signum, frame):
        state["count"] += 1
        if state["count"] > 1:
            print("nnlect: interrupted", file=sys.stderr)
            _flush_and_exit(EXIT_INTERRUPTED)
        watchdog = threading.Timer(GRACE_SECONDS, _flush_and_exit, (EXIT_INTERRUPTED,))
        watchdog.daemon = True
        watchdog.start()
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_sigint)


def enable_compilation_cache() -> str | None:
    """JAX's persistent compilation cache in ``$NNLECT_CACHE_DIR`` (default
    ``$XDG_CACHE_HOME/nnlect/jax`` or ``~/.cache/nnlect/jax``), so that a second ``nnlect``
    run of the same model loads its executables instead of compiling them again.

    The ``nnlect`` program calls this; a library user can do the same with
    ``jax.config.update("jax_compilation_cache_dir", path)``. ``NNLECT_CACHE_DIR=""`` turns it
    off. Returns the folder, or None when off or not writable (the run goes on uncached).
    """
    import jax

    folder = os.environ.get("NNLECT_CACHE_DIR")
    if folder is None:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        folder = os.path.join(base, "nnlect", "jax")
    if not folder:
        return None
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError:
        return None
    jax.config.update("jax_compilation_cache_dir", folder)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.1)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return folder


def main(argv: list[str] | None = None) -> int:
    """Run the command line. With ``argv=None`` (the ``nnlect`` program) this owns the process:
    an interrupt ends it with exit code 130 (see the module docstring); with an ``argv`` list
    (tests, notebooks) it returns the exit code instead."""
    owns_process = argv is None
    command = "nnlect"
    try:
        if owns_process and threading.current_thread() is threading.main_thread():
            _install_interrupt_handler()
        if owns_process:
            enable_compilation_cache()
            _xla_flags.enable_small_loop_kernels()  # small scans as one kernel (nnlect/_xla_flags.py)
        args = build_parser().parse_args(argv)
        command = f"nnlect {args.command}"
        return int(args._run(args) or EXIT_OK)
    except ImportError as e:
        if os.environ.get("NNLECT_DEBUG") == "1":
            traceback.print_exc()
        print(f"{command}: error: {missing_dependency_message(e)}", file=sys.stderr)
        return EXIT_USAGE
    except USAGE_ERRORS as e:
        # Bad input: say what was wrong in one line; NNLECT_DEBUG=1 shows where it was raised.
        if os.environ.get("NNLECT_DEBUG") == "1":
            traceback.print_exc()
        print(f"{command}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except (FloatingPointError, OSError) as e:
        print(f"{command}: failed: {e}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(f"{command}: interrupted", file=sys.stderr)
        if owns_process:
            _flush_and_exit(EXIT_INTERRUPTED)
        return EXIT_INTERRUPTED
    finally:
        if owns_process and threading.current_thread() is threading.main_thread():
            # The work is over and its exit code decided: a Ctrl-C now would only turn a
            # finished run's exit into a traceback during interpreter shutdown.
            signal.signal(signal.SIGINT, signal.SIG_IGN)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
