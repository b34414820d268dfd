r"""``nnlect train wordlm``: a word-level recurrent language model, truncated BPTT.

The lecture's RNN slides name language models "word-level or even character-level"; this
is the word level. Words (:func:`nnlect.data.words.tokenize`) of the installed Python
standard library's docstrings and comments (default, no download) or of ``--text FILE``;
the ``--vocab`` most frequent training words plus ``<unk>``; an embedding, a recurrent
layer (the lecture's Elman cell by default, ``--cell gru`` or ``lstm``) and a softmax
readout over the vocabulary:

.. math::
    e_t = E[w_t], \quad h_t = \mathrm{cell}(e_t, h_{t-1}), \quad
    P(w_{t+1} \mid w_{\le t}) = \mathrm{softmax}(W_{hy} h_t + b_y)

Training is :mod:`nnlect.lm`'s truncated BPTT loop with the state carried. The result
reports the held-out perplexity :math:`\exp(-\frac1N \sum \log P)` beside two count
baselines fitted on the same training words and scored on the same held-out targets: a
unigram and an add-one-smoothed bigram. See docs/wordlm.md.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from nnlect import _checks, checkpoint, layers as L, lm, parallel
from nnlect.commands._progress import run_eta
from nnlect.data import text as text_data, words
from nnlect.layers._core import apply_in_order, context, expect_keys
from nnlect.models import count_params
from nnlect.models.base import build
from nnlect.models.rnn import RecurrentModel
from nnlect.train import init_state

NAME = "wordlm"
HELP = "word-level RNN language model (Elman, GRU or LSTM) on Python's stdlib docstrings or a text file"
DEFAULT_EPOCHS = 1
DEFAULT_PROMPT = "return the"
CELLS = {"elman": L.elman, "gru": L.gru, "lstm": L.lstm}


def word_rnn(vocab: int, embed_dim: int, n_hidden: int, *, cell: str = "elman", dropout: float = 0.0,
             unroll: int = 1, backward: str = "bptt", dtype: Any = jnp.float32) -> RecurrentModel:
    r"""``embed(V, D)``, ``recurrent(cell(H))``, dropout, ``dense(V)``: ids ``(B, T)`` -> logits ``(B, T, V)``.

    Arguments:
        vocab: :math:`V`, the number of word ids (``<unk>`` included).
        embed_dim: :math:`D`, the width of a word's embedding :math:`E[w]`.
        n_hidden: :math:`H`, the cell's hidden width.
        cell: ``"elman"`` (the lecture's), ``"gru"`` or ``"lstm"``.
        dropout: drop probability on :math:`h_t` before the readout.
        unroll: time steps per ``lax.scan`` iteration.
        backward: the Elman cell's backward pass, ``"bptt"`` (by hand) or ``"autodiff"``.

    Returns:
        A :class:`~nnlect.models.rnn.RecurrentModel` (the interface :mod:`nnlect.lm`
        trains, evaluates and samples): ``apply(params, x, *, key=None, train=False,
        h0=None, return_state=False)``, ``initial_state(B)`` ``(B, S)`` zeros (``S = 2H``
        for the LSTM), ``step``. Params ``{"embed": {"table"}, "cell": {...}, "readout": {"w", "b"}}``.
    """
    if cell not in CELLS:
        raise ValueError(f"cell: expected one of {list(CELLS)}, got {cell!r}")
    vocab, n_hidden = _checks.positive_int("vocab", vocab), _checks.positive_int("n_hidden", n_hidden)
    options = {"backward": backward} if cell == "elman" else {}
    core = CELLS[cell](n_hidden, param_dtype=dtype, **options)
    embed = L.named("embed", L.embed(vocab, _checks.positive_int("embed_dim", embed_dim), param_dtype=dtype))
    recurrence = L.named("cell", L.recurrent(core, unroll=_checks.positive_int("unroll", unroll)))
    head = [L.dropout(_checks.rate("dropout", dropout)), L.named("readout", L.dense(vocab, param_dtype=dtype))]
    init = build(L.serial(embed, recurrence, *head), (None,)).init

    def apply(params: dict, x: Any, *, key: Any = None, train: bool = False, h0: Any = None, return_state: bool = False):
        expect_keys(params, ("cell", "embed", "readout"))
        with context("layer 0 (embed)"):
            e = embed.apply(params["embed"], x)
        with context("layer 1 (cell)"):
            hs, h_last = recurrence.apply(params["cell"], e, h0=h0, return_state=True)
        logits = apply_in_order([(layer.name, layer) for layer in head], params, hs, key=key, train=train, start=2)
        return (logits, h_last) if return_state else logits

    def initial_state(batch_size: int):
        return jnp.zeros((_checks.positive_int("batch_size", batch_size), core.state_size), dtype)

    def step(params: dict, h: Any, x_t: Any):
        y, h = apply(params, x_t[:, None], h0=h, return_state=True)
        return h, y[:, 0]

    return RecurrentModel(init, apply, initial_state=initial_state, step=step, n_in=vocab, n_hidden=n_hidden,
                          n_out=vocab, unroll=unroll)


def count_baselines(train_ids: np.ndarray, x: np.ndarray, y: np.ndarray, vocab_size: int) -> dict:
    r"""Perplexities of two count models fitted on ``train_ids`` and scored on the targets ``y``:

    - unigram, add-one: :math:`P(w) = (c(w) + 1) / (N + V)`;
    - bigram, add-one: :math:`P(w \mid v) = (c(v, w) + 1) / (c(v) + V)`, the context
      :math:`v` being ``x`` (the word before each target).

    ``x``, ``y``: the held-out inputs and targets, any shape, the same positions the
    network is scored on (:func:`nnlect.data.text.streams`).
    """
    v = _checks.positive_int("vocab_size", vocab_size)
    train_ids, x, y = (np.asarray(a, np.int64).reshape(-1) for a in (train_ids, x, y))
    if len(train_ids) < 2 or x.shape != y.shape or not y.size:
        raise ValueError(f"train_ids, x, y: expected >= 2 training ids and x, y of one non-empty shape, "
                         f"got {len(train_ids)}, {x.shape}, {y.shape}")
    unigram = np.bincount(train_ids, minlength=v).astype(np.float64)
    nll_unigram = -np.log((unigram[y] + 1.0) / (unigram.sum() + v))
    pairs = _counts(train_ids[:-1] * v + train_ids[1:])
    context = np.bincount(train_ids[:-1], minlength=v).astype(np.float64)
    nll_bigram = -np.log((np.array([pairs.get(int(k), 0) for k in x * v + y]) + 1.0) / (context[x] + v))
    return {"unigram_perplexity": float(math.exp(nll_unigram.mean())),
            "bigram_add_one_perplexity": float(math.exp(nll_bigram.mean())), "targets": int(y.size)}


def _counts(keys: np.ndarray) -> dict:
    """``{key: count}`` of an int array (``np.unique``, no Python loop over the corpus)."""
    unique, counts = np.unique(keys, return_counts=True)
    return dict(zip(unique.tolist(), counts.tolist()))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    data = parser.add_argument_group("data")
    data.add_argument("--text", type=Path, default=None,
                      help="train on this UTF-8 text file instead of the stdlib's docstrings and comments")
    data.add_argument("--max-words", type=int, default=600_000, help="size cap of the stdlib corpus, in tokens")
    data.add_argument("--held-out", type=float, default=0.1, help="fraction of the tokens at the end held out")
    data.add_argument("--vocab", type=int, default=5000, help="K: the K most frequent training words, plus <unk>")
    model = parser.add_argument_group("model and training")
    model.add_argument("--cell", choices=tuple(CELLS), default="elman", help="the recurrent cell (elman: the lecture's)")
    model.add_argument("--embed", type=int, default=128, help="embedding width D")
    model.add_argument("--hidden", type=int, default=256, help="hidden units H")
    model.add_argument("--dropout", type=float, default=0.0, help="drop probability on h_t before the readout")
    model.add_argument("--unroll", type=int, default=4, help="time steps per lax.scan iteration")
    model.add_argument("--batch-size", type=int, default=32, help="B parallel streams of text")
    model.add_argument("--seq-len", type=int, default=35, help="T, words per window (BPTT truncation length)")
    model.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate")
    model.add_argument("--clip", type=float, default=1.0, help="clip the gradient's global norm to this")
    model.add_argument("--windows-per-call", type=int, default=10, help="windows (optimizer steps) fused into one XLA call")
    model.add_argument("--steps", type=int, default=None, help="total optimizer steps (windows); default: --epochs passes")
    model.add_argument("--time-budget", type=float, default=None, help="stop training after this many seconds")
    sample = parser.add_argument_group("sample")
    sample.add_argument("--prompt", default=DEFAULT_PROMPT, help="words to start the sample from")
    sample.add_argument("--sample-length", type=int, default=60, help="words to sample")
    sample.add_argument("--temperature", type=float, default=0.8, help="sampling temperature")


def load_checkpoint(path) -> tuple[RecurrentModel, dict, words.WordVocabulary, dict]:
    """``(model, params, vocab, meta)`` from a ``nnlect train wordlm`` checkpoint (what
    ``nnlect sample`` reads)."""
    meta = checkpoint.load_meta(path)
    needed = {"words", "cell", "embed_dim", "n_hidden", "dropout", "batch_size", "learning_rate", "clip_norm"}
    if meta.get("recipe") != NAME or needed - set(meta):
        raise checkpoint.CheckpointError(f"checkpoint {path}: not a wordlm checkpoint (meta lacks {sorted(needed - set(meta))})")
    vocab = words.WordVocabulary.from_words(meta["words"])
    model = word_rnn(vocab.size, meta["embed_dim"], meta["n_hidden"], cell=meta["cell"], dropout=meta["dropout"])
    target = {"state": init_state(model.init(jax.random.key(0)), lm.lm_optimizer(meta["learning_rate"], meta["clip_norm"])),
              "h": model.initial_state(meta["batch_size"])}
    tree, meta = checkpoint.restore(path, target)
    return model, tree["state"].params, vocab, meta


def _corpus(args: argparse.Namespace) -> tuple[str, dict]:
    if args.text is not None:
        return text_data.text_file(args.text)
    return words.stdlib_english(args.max_words)


def run(args: argparse.Namespace) -> dict:
    t0 = time.perf_counter()
    _checks.positive("--temperature", args.temperature)
    _checks.positive_int("--sample-length", args.sample_length)
    for flag in ("vocab", "embed", "max_words"):
        _checks.positive_int(f"--{flag.replace('_', '-')}", getattr(args, flag))
    if not words.tokenize(args.prompt):
        raise ValueError(f"--prompt: expected at least one word, got {args.prompt!r}")
    mesh = parallel.setup(args.data_parallel)
    text, info = _corpus(args)
    tokens = words.tokenize(text)
    fraction = _checks.rate("--held-out", args.held_out)
    cut = len(tokens) - int(round(len(tokens) * fraction))
    if fraction == 0 or cut < 2 or len(tokens) - cut < 2:
        raise ValueError(f"--held-out: {args.held_out} of {len(tokens)} words leaves fewer than 2 on a side")
    vocab = words.WordVocabulary.from_tokens(tokens[:cut], args.vocab)  # the held-out words stay unseen
    train_ids, held_ids = vocab.encode(tokens[:cut]), vocab.encode(tokens[cut:])
    xs, ys = text_data.bptt_windows(train_ids, args.batch_size, args.seq_len)
    total_steps = args.steps if args.steps is not None else args.epochs * xs.shape[0]
    total_steps = _checks.positive_int("--steps", total_steps)

    model = word_rnn(vocab.size, args.embed, args.hidden, cell=args.cell, dropout=args.dropout, unroll=args.unroll)
    optimizer = lm.lm_optimizer(args.lr, args.clip)
    init_key, run_key = jax.random.split(jax.random.key(args.seed))
    state, h = init_state(model.init(init_key), optimizer), model.initial_state(args.batch_size)
    settings = {"recipe": NAME, "corpus_sha256_16": info["sha256_16"], "words": list(vocab.words), "cell": args.cell,
                "embed_dim": args.embed, "n_hidden": args.hidden, "dropout": args.dropout,
                "batch_size": args.batch_size, "seq_len": args.seq_len, "learning_rate": args.lr,
                "clip_norm": args.clip, "seed": args.seed}
    path = checkpoint.run_file(args.out, resume=args.resume)
    history: list[dict] = []
    if args.resume:
        restored, _, history = checkpoint.resume(path, {"state": state, "h": h}, meta=settings)
        state, h = restored["state"], restored["h"]
    xs, ys = jnp.asarray(xs), jnp.asarray(ys)
    if mesh is not None:
        state, h, xs, ys = lm.shard_for_mesh(mesh, state, h, xs, ys)
    evaluate = lm.make_evaluate_lm(model, batch_size=args.batch_size, seq_len=args.seq_len)
    load_seconds = time.perf_counter() - t0
    print(f"wordlm: {len(train_ids)} train / {len(held_ids)} held-out words, vocab {vocab.size - 1} + <unk> "
          f"(<unk> is {100 * np.mean(held_ids == 0):.1f}% of held-out words), {args.cell} cell, "
          f"{xs.shape[0]} windows of {args.batch_size}x{args.seq_len} per pass, {total_steps} steps", flush=True)

    def callback(row: dict, state, h) -> None:
        result = evaluate(state.params, held_ids)
        row["held_out_perplexity"] = math.exp(result["nats_per_char"])
        history.append(row)
        checkpoint.save(path, {"state": state, "h": h}, meta={**settings, "epoch": row["epoch"], "history": history})
        print(f"epoch {row['epoch']:.3f} step {row['step']}: train perplexity {math.exp(row['train_loss']):.1f}, "
              f"held-out {row['held_out_perplexity']:.1f} ({row['seconds']:.1f} s"
              f"{run_eta(tic, first_step, row['step'], total_steps, args.time_budget)})", flush=True)

    tic, first_step = time.perf_counter(), int(state.step)
    run_windows = lm.make_lm_train_scan(model, optimizer, mesh=mesh)
    state, h, _ = lm.train_lm(run_windows, state, h, xs, ys, key=run_key, total_steps=total_steps,
                              windows_per_call=args.windows_per_call, time_budget=args.time_budget, callback=callback)
    train_seconds = time.perf_counter() - tic
    params = jax.device_get(state.params)
    final = evaluate(params, held_ids)
    x_held, y_held = text_data.streams(held_ids, min(args.batch_size, len(held_ids) - 1))  # what evaluate scored
    baselines = count_baselines(train_ids, x_held, y_held, vocab.size)
    perplexity = math.exp(final["nats_per_char"])
    sample = lm.sample_text(model, params, vocab, args.prompt, args.sample_length, seed=args.seed,
                            temperature=args.temperature)
    print(f"held-out perplexity {perplexity:.1f}: unigram {baselines['unigram_perplexity']:.1f}, "
          f"add-one bigram {baselines['bigram_add_one_perplexity']:.1f} ({final['chars']} words)")
    print(f"sample: {vocab.decode(vocab.encode(args.prompt))} {sample}", flush=True)
    return {
        "recipe": NAME, "corpus": info, "vocab_size": vocab.size, "train_words": len(train_ids),
        "held_out_words": len(held_ids), "held_out_unk_fraction": float(np.mean(held_ids == 0)),
        "model": {"cell": args.cell, "embed_dim": args.embed, "n_hidden": args.hidden, "dropout": args.dropout,
                  "params": count_params(params)},
        "training": {"batch_size": args.batch_size, "seq_len": args.seq_len, "learning_rate": args.lr,
                     "clip_norm": args.clip, "seed": args.seed, "steps": int(state.step),
                     "epochs": round(int(state.step) / xs.shape[0], 4)},
        "held_out": {"perplexity": perplexity, "targets": final["chars"], **baselines,
                     "beats_unigram": perplexity < baselines["unigram_perplexity"],
                     "beats_bigram": perplexity < baselines["bigram_add_one_perplexity"]},
        "sample": {"prompt": args.prompt, "temperature": args.temperature, "seed": args.seed, "text": sample},
        "wall_seconds": {"load": load_seconds, "train_including_compile_and_evaluation": train_seconds,
                         "total": time.perf_counter() - t0},
        "history": history, "checkpoint": str(path),
    }
