r"""Slides "Recurrent Neural Network (RNN)" and "Use Case: Language Model": an Elman
RNN, trained by backprop through time, predicts the next character and then writes.

:math:`h_t = \tanh(W_{xh} x_t + W_{hh} h_{t-1} + b_h)`, :math:`y_t = \mathrm{softmax}(W_{hy} h_t + b_y)`,
trained on the installed Python standard library's source (no download). The claim:
on held-out text its loss falls below the unigram entropy, the best any model can do
that ignores the preceding characters; and its samples look like Python.
"""

from __future__ import annotations

import textwrap

import jax
import numpy as np

from nnlect import lm
from nnlect.data import text as text_data
from nnlect.experiments._common import Claim, new_figure
from nnlect.models.rnn import elman_rnn
from nnlect.train import init_state


def train_and_sample(*, steps: int = 400, every: int = 50, n_hidden: int = 128, batch_size: int = 32,
                     seq_len: int = 50, max_chars: int = 200_000, learning_rate: float = 3e-3, seed: int = 0,
                     prompt: str = "def ", sample_length: int = 200, temperature: float = 0.7,
                     callback=None) -> dict:
    """Train with truncated BPTT (:func:`nnlect.lm.train_lm`), measuring as it goes.

    ``callback(row)``, if given, is called at every measurement point with ``row`` =
    ``{"step", "train_bits", "held_out_bits"}`` (progress).

    Returns:
        ``steps`` (measurement points), ``train_bits`` and ``held_out_bits`` (bits/char) at
        each, ``unigram_bits`` (entropy of the held-out text's character frequencies),
        ``samples``: ``{step: text}`` at the start, midway and the end, and ``info`` on the corpus.
    """
    text, info = text_data.stdlib_corpus(max_chars)
    train_text, held_text = text_data.split_held_out(text, 0.1)
    vocab = text_data.Vocabulary.from_text(text)
    train_ids, held_ids = vocab.encode(train_text), vocab.encode(held_text)
    xs, ys = text_data.bptt_windows(train_ids, batch_size, seq_len)
    model = elman_rnn(vocab.size, n_hidden, vocab.size)
    optimizer = lm.lm_optimizer(learning_rate)
    init_key, run_key = jax.random.split(jax.random.key(seed))
    state, h = init_state(model.init(init_key), optimizer), model.initial_state(batch_size)
    run_windows = lm.make_lm_train_scan(model, optimizer)
    evaluate = lm.make_evaluate_lm(model, batch_size=batch_size, seq_len=seq_len)

    def sample(params):
        return lm.sample_text(model, params, vocab, prompt, sample_length, seed=seed, temperature=temperature)

    out = {"steps": [], "train_bits": [], "held_out_bits": [], "samples": {0: sample(state.params)},
           "unigram_bits": text_data.unigram_entropy_bits(held_ids, vocab.size), "info": info,
           "vocab_size": vocab.size, "n_hidden": n_hidden, "prompt": prompt}
    for target in range(every, steps + 1, every):
        state, h, rows = lm.train_lm(run_windows, state, h, xs, ys, key=run_key, total_steps=target)
        out["steps"].append(target)
        out["train_bits"].append(float(np.mean([r["train_loss"] for r in rows])) * text_data.BITS_PER_NAT)
        out["held_out_bits"].append(evaluate(state.params, held_ids)["bits_per_char"])
        if callback is not None:
            callback({"step": target, "train_bits": out["train_bits"][-1], "held_out_bits": out["held_out_bits"][-1]})
        if target == (steps // every // 2) * every:
            out["samples"][target] = sample(state.params)
    out["samples"][steps] = sample(state.params)
    return out


def run(*, seed: int = 0, small: bool = False) -> Claim:
    """The tour's entry: a 128-unit Elman RNN on 200k characters of Python."""
    r = train_and_sample(seed=seed, steps=100 if small else 600)
    last = r["steps"][-1]
    summary = [
        f"Elman RNN, {r['n_hidden']} hidden units, {r['vocab_size']} characters, {last} BPTT windows of 32x50: "
        f"held-out {r['held_out_bits'][-1]:.2f} bits/char vs unigram entropy {r['unigram_bits']:.2f}",
        "sample: " + repr(r["prompt"] + r["samples"][last][:100]),
    ]
    return Claim("charlm", "A char-RNN learns to predict (and write) text",
                 r["held_out_bits"][-1] < r["unigram_bits"], summary, r, plot)


def plot(r: dict):
    """Loss curves (bits/char) and the samples as training goes on."""
    fig, (ax_l, ax_s) = new_figure(2, width=5.2, height=3.8)
    ax_l.plot(r["steps"], r["train_bits"], "o-", label="training windows")
    ax_l.plot(r["steps"], r["held_out_bits"], "s-", label="held-out text")
    ax_l.axhline(r["unigram_bits"], color="grey", ls="--", label="unigram entropy (no context)")
    ax_l.set(xlabel="optimizer step (BPTT window)", ylabel="bits per character", title="char-RNN on Python source")
    ax_l.legend(fontsize=8)
    ax_s.axis("off")
    y = 1.0
    for step, sample in sorted(r["samples"].items()):
        lines = [piece for line in (r["prompt"] + sample).splitlines()
                 for piece in textwrap.wrap(line, 56, drop_whitespace=False) or [""]][:7]
        ax_s.text(0, y, f"after {step} steps:", fontsize=8, weight="bold", va="top", transform=ax_s.transAxes, parse_math=False)
        ax_s.text(0, y - 0.05, "\n".join(lines), fontsize=6.5, family="monospace",
                  va="top", transform=ax_s.transAxes, parse_math=False)
        y -= 0.34
    return fig
