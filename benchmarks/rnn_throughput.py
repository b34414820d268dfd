"""Training throughput of the Elman RNN char LM: jitted lax.scan vs handwritten NumPy BPTT.

Every implementation runs the same truncated-BPTT SGD step (``theta -= eta * dE/dtheta``,
the state carried from window to window) on the same windows of the stdlib corpus, at the
same sizes (default hidden 256, T 100, batch 32, float32), measured side by side in one
process, round-robin, after a warm-up call that compiles:

- ``numpy_bptt``: :func:`nnlect.reference.numpy_bptt.sgd_step`, one window per call;
- ``jax_scan_1``: :func:`nnlect.lm.make_lm_train_scan` with ``optax.sgd``, one window per call;
- ``jax_scan_K_unroll_U``: K windows fused into one XLA call, ``elman_rnn(unroll=U)``;
- ``jax_recipe_adam_clip``: what ``nnlect train charlm`` runs (clip + Adam, unroll 4), K windows per call.

Run: ``flock /tmp/nnlect-heavy.lock python benchmarks/rnn_throughput.py``; it writes
``benchmarks/results/charlm_throughput.json``. Quote the ratios, not the absolute figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from nnlect import io, lm
from nnlect.data import text
from nnlect.models.rnn import elman_rnn
from nnlect.reference import numpy_bptt
from nnlect.train import init_state


def load() -> float:
    return os.getloadavg()[0]


def numpy_runner(params, xs, ys, batch, hidden, eta):
    state = {"params": numpy_bptt.to_numpy(params), "h": np.zeros((batch, hidden), np.float32), "k": 0}

    def step_windows(n):
        for _ in range(n):
            k = state["k"] % xs.shape[0]
            state["params"], state["h"], _ = numpy_bptt.sgd_step(state["params"], xs[k], ys[k], state["h"], eta=eta)
            state["k"] += 1

    return step_windows


def jax_runner(model, optimizer, params, xs, ys, batch, windows_per_call):
    run = lm.make_lm_train_scan(model, optimizer)
    holder = {"state": init_state(jax.tree.map(jnp.copy, params), optimizer), "h": model.initial_state(batch), "k": 0}
    xs_d, ys_d, key = jnp.asarray(xs), jnp.asarray(ys), jax.random.key(0)

    def step_windows(n):
        for _ in range(n // windows_per_call):
            k = holder["k"] % (xs.shape[0] - windows_per_call + 1)
            holder["state"], holder["h"], losses = run(holder["state"], holder["h"], xs_d[k:k + windows_per_call],
                                                       ys_d[k:k + windows_per_call], key)
            holder["k"] += windows_per_call
        losses.block_until_ready()

    return step_windows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--seq-len", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--windows", type=int, default=10, help="windows per measurement (K for the fused runs)")
    parser.add_argument("--rounds", type=int, default=5, help="round-robin repetitions; the median is reported")
    parser.add_argument("--unroll", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--eta", type=float, default=0.1)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "charlm_throughput.json")
    args = parser.parse_args()

    corpus, info = text.stdlib_corpus()
    vocab = text.Vocabulary.from_text(corpus)
    xs, ys = text.bptt_windows(vocab.encode(corpus)[:200_000], args.batch_size, args.seq_len)
    base = elman_rnn(vocab.size, args.hidden, vocab.size)
    params = base.init(jax.random.key(0))
    sgd = optax.sgd(args.eta)
    runners = {"numpy_bptt": numpy_runner(params, xs, ys, args.batch_size, args.hidden, args.eta),
               "jax_scan_1_window_per_call": jax_runner(base, sgd, params, xs, ys, args.batch_size, 1)}
    for u in args.unroll:
        runners[f"jax_scan_{args.windows}_windows_per_call_unroll_{u}"] = jax_runner(
            elman_rnn(vocab.size, args.hidden, vocab.size, unroll=u), sgd, params, xs, ys, args.batch_size, args.windows)
    recipe_unroll = 4  # nnlect train charlm's default --unroll
    runners[f"jax_recipe_adam_clip_{args.windows}_windows_per_call_unroll_{recipe_unroll}"] = jax_runner(
        elman_rnn(vocab.size, args.hidden, vocab.size, unroll=recipe_unroll), lm.lm_optimizer(2e-3, 1.0), params,
        xs, ys, args.batch_size, args.windows)

    load_before, compile_seconds = load(), {}
    for name, step_windows in runners.items():  # warm-up: compiles, first touch
        tic = time.perf_counter()
        step_windows(args.windows)
        compile_seconds[name] = time.perf_counter() - tic
    seconds = {name: [] for name in runners}
    for _ in range(args.rounds):
        for name, step_windows in runners.items():
            tic = time.perf_counter()
            step_windows(args.windows)
            seconds[name].append(time.perf_counter() - tic)
    chars = args.windows * args.batch_size * args.seq_len
    rates = {name: chars / statistics.median(s) for name, s in seconds.items()}
    numpy_rate = rates["numpy_bptt"]
    result = {
        "sizes": {"hidden": args.hidden, "seq_len": args.seq_len, "batch_size": args.batch_size, "vocab": vocab.size,
                  "dtype": "float32", "windows_per_measurement": args.windows, "rounds": args.rounds},
        "chars_per_s_median": rates,
        "speedup_vs_numpy_bptt": {name: r / numpy_rate for name, r in rates.items()},
        "seconds_per_measurement": seconds, "first_call_seconds_including_compile": compile_seconds,
        "load_average_1min": {"before": load_before, "after": load()},
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "jax": jax.__version__, "numpy": np.__version__},
        "corpus": info,
    }
    io.atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")
    width = max(map(len, rates))
    for name, r in rates.items():
        print(f"{name:{width}s} {r:12,.0f} chars/s  x{r / numpy_rate:6.2f} vs NumPy BPTT")
    print(f"load average {load_before:.2f} -> {load():.2f}; wrote {args.out}")


if __name__ == "__main__":
    main()
