"""Ctrl-C and kill -9 at random moments of ``nnlect train mlp``: exit code 130 every time,
no traceback, no temp file left, and a resumed run ends bit for bit where an uninterrupted
one ends (issue 12). Slow: some 30 fresh processes; run with ``pytest -m slow``.

The process is started as the console script starts it (``sys.exit(main())`` with no
``argv``) and prints ``ready`` once ``nnlect.cli`` is imported: a Ctrl-C while Python is
still importing jax, before any nnlect code runs, is the interpreter's to handle.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import optax
import pytest

import nnlect as nl
from nnlect import checkpoint

FLAGS = ["train", "mlp", "--data", "digits", "--hidden", "32", "--batch-size", "100", "--epochs", "12", "--quiet"]
LAUNCH = "import sys; from nnlect import cli; print('ready', flush=True); sys.exit(cli.main())"
INTERRUPTS = 20
KILLS = 6


def _start(out, *extra):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, "-c", LAUNCH, *FLAGS, "--out", str(out), *extra],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert process.stdout.readline().strip() == "ready"
    return process


def _temp_files(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp")) if folder.exists() else []


def _leaves(path):
    model = nl.mlp([64, 32, 10], "relu")
    target = nl.train.init_state(model.init(jax.random.key(0)), optax.adam(1e-3))
    tree, _ = checkpoint.restore(path, target)
    return [np.asarray(leaf) for leaf in jax.tree_util.tree_leaves(tree)]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """One whole run: the reference checkpoint, and how long a run takes after ``ready``."""
    out = tmp_path_factory.mktemp("whole")
    process = _start(out)
    tic = time.monotonic()
    _, err = process.communicate(timeout=600)
    assert process.returncode == 0, err
    return out / checkpoint.FILE_NAME, time.monotonic() - tic


@pytest.mark.slow
def test_ctrl_c_at_random_moments_exits_130_without_traceback_or_temp_files(uninterrupted, tmp_path):
    _, seconds = uninterrupted
    rng = random.Random(12)
    interrupted = finished_first = 0
    while interrupted < INTERRUPTS:
        out = tmp_path / f"run{interrupted}-{finished_first}"
        process = _start(out)
        time.sleep(rng.uniform(0.0, 0.95 * seconds))
        if process.poll() is not None:  # it finished before the signal: not an interrupt
            finished_first += 1
            assert process.returncode == 0 and finished_first < INTERRUPTS, process.stderr.read()
            continue
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=120)
        if process.returncode == 0:  # the signal landed after the result was written
            finished_first += 1
            continue
        interrupted += 1
        assert process.returncode == 130, f"exit {process.returncode}: {err}"
        assert "interrupted" in err and "Traceback" not in err, err
        assert _temp_files(out) == []


@pytest.mark.slow
def test_kill_9_at_random_moments_then_resume_ends_bit_identical_and_leaves_no_temp_files(uninterrupted, tmp_path):
    reference, seconds = uninterrupted
    rng = random.Random(9)
    out = tmp_path / "killed"
    for _ in range(KILLS):
        resume = ["--resume"] if (out / checkpoint.FILE_NAME).exists() else []
        process = _start(out, *resume)
        time.sleep(rng.uniform(0.0, 0.9 * seconds))
        process.kill()
        process.communicate(timeout=120)
    resume = ["--resume"] if (out / checkpoint.FILE_NAME).exists() else []
    process = _start(out, *resume)
    _, err = process.communicate(timeout=600)
    assert process.returncode == 0, err
    assert _temp_files(out) == []  # the fragments of killed saves were removed by the next save or resume
    for a, b in zip(_leaves(reference), _leaves(out / checkpoint.FILE_NAME), strict=True):
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes()
