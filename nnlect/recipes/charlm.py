"""``nnlect train charlm``: an Elman RNN character language model, truncated BPTT.

Trains on the installed Python standard library's source (default, no download), on
``tiny_shakespeare`` through tensorflow-datasets, or on any ``--text FILE``; reports the
held-out loss in nats/char and bits/char next to the unigram entropy of the same held-out
text, a sample, and the training throughput. See docs/charlm.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import jax
import jax.numpy as jnp

from nnlect import checkpoint, lm, parallel
from nnlect.commands import _args
from nnlect.commands._progress import UNBOUNDED_STEPS, run_eta
from nnlect.data import text as text_data
from nnlect.models import count_params
from nnlect.models.rnn import elman_rnn
from nnlect.train import init_state

NAME = "charlm"
HELP = "Elman RNN character language model (truncated BPTT) on Python's stdlib source, tiny_shakespeare or a text file"
DEFAULT_EPOCHS = 1
DEFAULT_PROMPTS = {"stdlib": "def ", "tiny_shakespeare": "ROMEO:", "file": "\n"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    data = parser.add_argument_group("data")
    data.add_argument("--corpus", choices=("stdlib", "tiny_shakespeare"), default="stdlib",
                      help="stdlib: the installed Python standard library's .py files (no download); "
                      "tiny_shakespeare: through tensorflow-datasets (train split, validation held out)")
    data.add_argument("--text", type=Path, default=None, help="train on this UTF-8 text file instead of --corpus")
    data.add_argument("--max-chars", type=int, default=text_data.STDLIB_MAX_CHARS, help="size cap of the stdlib corpus")
    data.add_argument("--held-out", type=float, default=0.1, help="fraction at the end of the text held out (stdlib, --text)")
    data.add_argument("--data-dir", default=None, help="tensorflow-datasets data_dir")
    _args.add_download_flag(data)
    model = parser.add_argument_group("model and training")
    model.add_argument("--hidden", type=int, default=256, help="hidden units H")
    model.add_argument("--dropout", type=float, default=0.0, help="drop probability on h_t before the readout")
    model.add_argument("--unroll", type=int, default=4,
                       help="time steps per lax.scan iteration (4 was fastest at H 256, T 100, B 32: docs/charlm.md)")
    model.add_argument("--batch-size", type=int, default=32, help="B parallel streams of text")
    model.add_argument("--seq-len", type=int, default=100, help="T, characters per window (BPTT truncation length)")
    model.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate")
    model.add_argument("--clip", type=float, default=1.0, help="clip the gradient's global norm to this")
    model.add_argument("--windows-per-call", type=int, default=10, help="windows (optimizer steps) fused into one XLA call")
    model.add_argument("--steps", type=int, default=None, help="total optimizer steps (windows); default: --epochs passes")
    model.add_argument("--time-budget", type=float, default=None,
                       help="train until this many seconds have passed: the budget, not --epochs, stops training "
                       "(--steps still caps it)")
    sample = parser.add_argument_group("sample")
    sample.add_argument("--prompt", default=None,
                        help="sample prompt (default: 'def ' for stdlib, 'ROMEO:' for tiny_shakespeare, a newline "
                        "for --text; the text's first character when the corpus lacks one of those characters)")
    sample.add_argument("--sample-length", type=int, default=300, help="characters to sample")
    sample.add_argument("--temperature", type=float, default=0.8, help="sampling temperature")


def load_corpus(args: argparse.Namespace) -> tuple[str, str, dict]:
    """``(train_text, held_out_text, info)`` as the flags ask."""
    if args.text is not None:
        text, info = text_data.text_file(args.text)
    elif args.corpus == "tiny_shakespeare":
        train, info = text_data.tiny_shakespeare("train", data_dir=args.data_dir, download=getattr(args, "download", False))
        held, held_info = text_data.tiny_shakespeare("validation", data_dir=args.data_dir, download=getattr(args, "download", False))
        return train, held, {**info, "split": "train", "held_out_split": "validation", "held_out_chars": held_info["chars"]}
    else:
        text, info = text_data.stdlib_corpus(args.max_chars)
    train, held = text_data.split_held_out(text, args.held_out)
    if len(held) < 2:
        raise ValueError(f"--held-out: {args.held_out} of {len(text)} characters leaves fewer than 2 to evaluate on")
    return train, held, {**info, "held_out_fraction": args.held_out}


def run(args: argparse.Namespace) -> dict:
    t0 = time.perf_counter()  # every flag, those that only matter after training too, and --out: commands/_args.py
    mesh = parallel.setup(args.data_parallel)
    train_text, held_text, info = load_corpus(args)
    vocab = text_data.Vocabulary.from_text(train_text + held_text)
    train_ids, held_ids = vocab.encode(train_text), vocab.encode(held_text)
    if args.prompt is not None:
        vocab.encode(args.prompt)  # a character the corpus never had is an error now
    xs, ys = text_data.bptt_windows(train_ids, args.batch_size, args.seq_len)
    n_windows = xs.shape[0]
    if args.steps is not None:
        total_steps = args.steps
    elif args.time_budget is not None:  # the budget is what stops training; --epochs does not
        total_steps = UNBOUNDED_STEPS
    else:
        total_steps = args.epochs * n_windows
    if total_steps < 1:
        raise ValueError(f"--steps: expected a positive int, got {total_steps}")
    load_seconds = time.perf_counter() - t0

    model = elman_rnn(vocab.size, args.hidden, vocab.size, dropout=args.dropout, unroll=args.unroll)
    optimizer = lm.lm_optimizer(args.lr, args.clip)
    init_key, run_key = jax.random.split(jax.random.key(args.seed))
    state = init_state(model.init(init_key), optimizer)
    h = model.initial_state(args.batch_size)
    settings = {"recipe": NAME, "corpus_sha256_16": info["sha256_16"], "vocab": vocab.chars, "n_hidden": args.hidden,
                "dropout": args.dropout, "batch_size": args.batch_size, "seq_len": args.seq_len,
                "learning_rate": args.lr, "clip_norm": args.clip, "seed": args.seed}
    path = checkpoint.run_file(args.out, resume=args.resume)
    history: list[dict] = []
    if args.resume:
        restored, _, history = checkpoint.resume(path, {"state": state, "h": h}, meta=settings)
        state, h = restored["state"], restored["h"]
        print(f"resumed from {path} at step {int(state.step)}")
    xs, ys = jnp.asarray(xs), jnp.asarray(ys)
    if mesh is not None:
        state, h, xs, ys = lm.shard_for_mesh(mesh, state, h, xs, ys)
    evaluate = lm.make_evaluate_lm(model, batch_size=args.batch_size, seq_len=args.seq_len)
    eval_seconds = [0.0]

    best_path = Path(path).with_name("best.msgpack")
    best: dict = {}

    def callback(row: dict, state, h) -> None:
        tic = time.perf_counter()
        held = evaluate(state.params, held_ids)
        row.update({f"held_out_{k}": v for k, v in held.items() if k != "chars"})
        eval_seconds[0] += time.perf_counter() - tic
        history.append(row)
        # Saved at every pass's end and when training stops (epoch may be fractional, so not
        # checkpoint.epoch_saver); checkpoint.resume reads it back, h included.
        meta = {**settings, "epoch": row["epoch"], "history": history}
        checkpoint.save(path, {"state": state, "h": h}, meta=meta)
        improved = not best or held["bits_per_char"] < best["held_out"]["bits_per_char"]
        if improved:  # the held-out best, evaluated the same way at every row: what is reported and sampled
            best.update(params=jax.device_get(state.params), held_out=held, step=row["step"], epoch=row["epoch"])
            checkpoint.save(best_path, {"state": state, "h": h}, meta=meta)
        print(f"epoch {row['epoch']:.3f} step {row['step']}: train {row['train_loss'] * text_data.BITS_PER_NAT:.3f} "
              f"bits/char, held-out {row['held_out_bits_per_char']:.3f} bits/char{' (best)' if improved else ''} "
              f"({row['seconds']:.1f} s{run_eta(t_train, first_step, row['step'], total_steps, args.time_budget)})",
              flush=True)

    print(f"charlm: {len(train_ids)} train / {len(held_ids)} held-out chars, vocab {vocab.size}, "
          f"{n_windows} windows of {args.batch_size}x{args.seq_len} per pass, "
          + (f"{total_steps} steps" if total_steps < UNBOUNDED_STEPS else f"training for {args.time_budget} s"), flush=True)
    t_train, first_step = time.perf_counter(), int(state.step)
    run_windows = lm.make_lm_train_scan(model, optimizer, mesh=mesh)
    state, h, _ = lm.train_lm(run_windows, state, h, xs, ys, key=run_key, total_steps=total_steps,
                                    windows_per_call=args.windows_per_call, time_budget=args.time_budget,
                                    callback=callback)
    train_seconds = time.perf_counter() - t_train - eval_seconds[0]
    if best:
        params, final = best["params"], best["held_out"]
    else:  # a resumed run that had nothing left to train
        params = jax.device_get(state.params)
        final = evaluate(params, held_ids)
        best.update(step=int(state.step), epoch=round(int(state.step) / n_windows, 4))
    unigram = text_data.unigram_entropy_bits(held_ids[1:1 + final["chars"]], vocab.size)
    prompt = _prompt(args, info, vocab, train_text)
    tic = time.perf_counter()
    sample = lm.sample_text(model, params, vocab, prompt, args.sample_length, seed=args.seed, temperature=args.temperature)
    print(f"held-out {final['bits_per_char']:.3f} bits/char at step {best['step']} (best of {len(history)} "
          f"evaluations; unigram {unigram:.3f}); sample from {prompt!r} at temperature {args.temperature}:\n"
          f"{prompt}{sample}", flush=True)
    steps_done = int(state.step)
    rates = [r["chars_per_s"] for r in history if r.get("chars_per_s")]  # rows that compiled nothing
    return {
        "recipe": NAME, "corpus": info, "vocab_size": vocab.size,
        "data": {"source": info["corpus"], "dir": info.get("root") or info.get("path") or args.data_dir,
                 "sha256_16": info["sha256_16"], "train_size": len(train_ids), "test_size": len(held_ids)},
        "train_chars": len(train_ids), "held_out_chars": len(held_ids),
        "model": {"n_hidden": args.hidden, "dropout": args.dropout, "unroll": args.unroll, "params": count_params(params)},
        "training": {"batch_size": args.batch_size, "seq_len": args.seq_len, "learning_rate": args.lr,
                     "clip_norm": args.clip, "windows_per_call": args.windows_per_call, "seed": args.seed,
                     "steps": steps_done, "epochs": round(steps_done / n_windows, 4),
                     "chars_trained": steps_done * args.batch_size * args.seq_len,
                     "stopped_by": "steps" if steps_done >= total_steps else "time_budget",
                     "data_parallel_devices": parallel.size(mesh) if mesh is not None else 1},
        "held_out": {**final, "unigram_entropy_bits_per_char": unigram,
                     "beats_unigram": final["bits_per_char"] < unigram, "step": best["step"], "epoch": best["epoch"],
                     "checkpoint": str(best_path), "note": "the best of the evaluations made at every pass's end "
                     "and at the stop; its params are in the checkpoint and made the sample"},
        "sample": {"prompt": prompt, "temperature": args.temperature, "seed": args.seed, "text": sample},
        "throughput_chars_per_s": sum(rates) / len(rates) if rates else None,
        "wall_seconds": {"load": load_seconds, "train_including_compile": train_seconds, "evaluation": eval_seconds[0],
                         "sample": time.perf_counter() - tic, "total": time.perf_counter() - t0},
        "history": history, "checkpoint": str(path),
    }


def _prompt(args: argparse.Namespace, info: dict, vocab: text_data.Vocabulary, text: str) -> str:
    if args.prompt is not None:
        return args.prompt
    prompt = DEFAULT_PROMPTS.get(info["corpus"], "\n")
    return prompt if set(prompt) <= set(vocab.chars) else text[0]  # e.g. random mock data
