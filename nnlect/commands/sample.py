"""``nnlect sample``: draw text from a character language model checkpoint."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "sample"
HELP = "sample text from a trained charlm or wordlm checkpoint (nnlect train charlm / wordlm)"
DESCRIPTION = (
    "Reads OUT/checkpoint.msgpack written by `nnlect train charlm` (params, vocabulary and settings), "
    "reads the prompt with the RNN, then draws --length characters one at a time from "
    "softmax(y_t / temperature), feeding each back in (a jitted lax.scan)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", type=Path, required=True, help="checkpoint.msgpack of `nnlect train charlm`")
    parser.add_argument("--prompt", default="\n", help="text to start from (its characters must be in the vocabulary)")
    parser.add_argument("--length", type=int, default=300, help="characters to draw after the prompt")
    parser.add_argument("--temperature", type=float, default=0.8, help="> 0; lower is more conservative")
    parser.add_argument("--seed", type=int, default=0, help="PRNG seed of the draws")


def run(args: argparse.Namespace) -> int:
    from nnlect import checkpoint, lm

    if checkpoint.load_meta(args.checkpoint).get("recipe") == "wordlm":  # words: --length words, joined by spaces
        from nnlect.recipes import wordlm

        model, params, vocab, _ = wordlm.load_checkpoint(args.checkpoint)
        prompt = args.prompt if args.prompt.strip() else wordlm.DEFAULT_PROMPT
        text = lm.sample_text(model, params, vocab, prompt, args.length, seed=args.seed, temperature=args.temperature)
        print(vocab.decode(vocab.encode(prompt)) + " " + text)
        return 0
    model, params, vocab, _ = lm.load_checkpoint(args.checkpoint)
    text = lm.sample_text(model, params, vocab, args.prompt, args.length, seed=args.seed, temperature=args.temperature)
    print(args.prompt + text)
    return 0
