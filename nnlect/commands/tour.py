"""``nnlect tour``: the lecture's story on generated data, in about a minute on a CPU."""

from __future__ import annotations

import argparse
import time

NAME = "tour"
HELP = "run the lecture's experiments on embedded data and print a short report"
DESCRIPTION = (
    "Runs the lecture's claims as experiments on generated data (no download): the perceptron "
    "converges on separable data but not on XOR, an MLP learns XOR, one hidden layer fits sin "
    "better as it widens, and the handwritten backprop equals jax.grad."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=0, help="PRNG seed for every experiment")


def run(args: argparse.Namespace) -> int:
    from nnlect.experiments import approximation, backprop_check, perceptron, xor_mlp

    start = time.perf_counter()
    ok = True
    print("nnlect tour: the lecture's claims, rerun\n")

    p = perceptron.separable_vs_xor(seed=args.seed)
    print("1. Perceptron (Rosenblatt's rule)")
    print(f"   separable data: mistakes per epoch {p['mistakes_separable'][:8]}..., "
          f"accuracy {p['accuracy_separable']:.0%}; updates {p['total_updates_separable']} "
          f"<= Novikoff bound {p['novikoff_bound']:.0f}")
    print(f"   XOR:            mistakes per epoch {p['mistakes_xor'][:8]}..., accuracy {p['accuracy_xor']:.0%} "
          "(never 100%: not linearly separable)")
    ok &= p["accuracy_separable"] == 1.0 and p["accuracy_xor"] < 1.0

    x = xor_mlp.mlp_solves_xor(seed=args.seed)
    print("2. MLP 2-4-1 (tanh, sigmoid output) on XOR")
    print(f"   outputs {[round(v, 3) for v in x['outputs']]} for (0,0) (0,1) (1,0) (1,1): accuracy {x['accuracy']:.0%}")
    ok &= x["accuracy"] == 1.0

    a = approximation.error_vs_width((2, 8, 32), seed=args.seed)
    print("3. Universal approximation: 1 -> width -> 1 ReLU net fitting sin on [-pi, pi]")
    for w, mse in zip(a["widths"], a["mse"]):
        print(f"   width {w:3d}: mean squared error {mse:.2e}")
    ok &= a["mse"][0] > a["mse"][-1]

    b = backprop_check.all_activations()
    print("4. Handwritten backprop (delta rule, NumPy) vs jax.grad, float64, 5-7-6-3 net")
    for name, diff in b.items():
        print(f"   {name:10s} max |difference| {diff:.1e}")
    ok &= max(b.values()) < 1e-10

    print(f"\n{'all claims hold' if ok else 'SOME CLAIMS FAILED'} ({time.perf_counter() - start:.1f} s)")
    return 0 if ok else 1
