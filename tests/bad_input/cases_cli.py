"""The command-line half of the bad-input table: ``(id, argv, exit code, fragment, modules hidden)``.

``argv`` gets ``--out <tmp>/run`` appended for ``train`` (unless it has its own); the
test asserts the exit code, that stderr holds ``fragment`` (the flag's name and what was
wrong) and no traceback, and that nothing was written to ``--out``. ``{tmp}`` in an
argument is the test's temp folder, ``{file}`` an existing empty file in it.
"""

from __future__ import annotations

NAN_FLAGS = ("nan", "inf", "-inf")

_RECIPE_FLAGS = {
    # recipe: (cheap data flags, [(flags, fragment)])
    "mlp": (["--data", "digits"], [
        *[(["--lr", v], "--lr: expected a positive") for v in ("-1", "0", "nan", "inf")],
        *[(["--target-error", v], "--target-error: expected a fraction in [0, 1]") for v in ("nan", "3", "-0.1")],
        *[(["--batch-size", v], "--batch-size: expected a positive int") for v in ("0", "-5")],
        (["--batch-size", "100000"], "--batch-size: expected at most the 1500 training examples"),
        *[(["--hidden", *v], "--hidden: expected positive layer widths") for v in (["0"], ["-1"], ["32", "0"])],
        *[(["--dropout", v], "--dropout: expected a float in [0, 1)") for v in ("1.5", "-0.1", "1", "nan")],
        *[(["--epochs", v], "--epochs: expected a positive int") for v in ("0", "-1")],
        (["--activation", "gelu"], "activation: expected one of"),
        (["--data", "mnist", "--data-dir", "{tmp}/none"], "are not all in {tmp}/none"),
        (["--data", "idx"], "--data idx: pass --data-dir"),
        (["--data", "idx", "--data-dir", "{tmp}/none"], "source='idx': no folder {tmp}/none"),
        (["--data", "idx", "--data-dir", "{tmp}"], "lacks *train-images-idx3-ubyte[.gz]"),
        (["--data", "tfds", "--data-dir", "{tmp}"], "not prepared in {tmp}"),
        (["--resume"], "--resume: no checkpoint at"),
        (["--out", "{file}"], "--out: expected a folder, got an existing file"),
        (["--out", "{file}/sub"], "--out: cannot write in"),
        (["--out", "/proc/nnlect-run"], "--out: cannot write in /proc/nnlect-run"),
    ]),
    "lenet5": (["--data", "digits"], [
        *[(["--lr", v], "--lr: expected a positive") for v in ("-1", "0", "nan")],
        *[(["--target-error", v], "--target-error: expected a fraction in [0, 1]") for v in ("nan", "3")],
        *[(["--batch-size", v], "--batch-size: expected a positive int") for v in ("0", "-1")],
        (["--batch-size", "100000"], "--batch-size: expected at most the 1500 training images"),
        (["--shift", "-1"], "--shift: expected an int >= 0"),
        (["--train-size", "0"], "--train-size: expected a positive int"),
        (["--validation-size", "-1"], "--validation-size: expected an int >= 0"),
        (["--validation-size", "1500"], "validation_size: expected fewer than the 1500 training examples"),
        (["--dropout", "1"], "--dropout: expected a float in [0, 1)"),
        (["--epochs", "0"], "--epochs: expected a positive int"),
        (["--activation", "maxout"], "activation: 'maxout' is not supported here"),
        (["--data", "mnist", "--data-dir", "{tmp}/none"], "are not all in {tmp}/none"),
        (["--data", "idx", "--data-dir", "{tmp}"], "lacks *train-images-idx3-ubyte[.gz]"),
        (["--data", "tfds", "--data-dir", "{tmp}"], "not prepared in {tmp}"),
        (["--resume"], "--resume: no checkpoint at"),
        (["--out", "{file}"], "--out: expected a folder, got an existing file"),
        (["--out", "/proc/nnlect-run"], "--out: cannot write in /proc/nnlect-run"),
    ]),
    "charlm": (["--max-chars", "20000"], [
        *[(["--time-budget", v], "--time-budget: expected a positive") for v in ("-1", "0", "nan")],
        *[(["--hidden", v], "--hidden: expected positive layer widths") for v in ("0", "-3")],
        *[(["--lr", v], "--lr: expected a positive") for v in ("-1", "0", "nan")],
        (["--batch-size", "0"], "--batch-size: expected a positive int"),
        (["--seq-len", "0"], "--seq-len: expected a positive int"),
        (["--windows-per-call", "0"], "--windows-per-call: expected a positive int"),
        (["--steps", "0"], "--steps: expected a positive int"),
        (["--unroll", "0"], "--unroll: expected a positive int"),
        (["--max-chars", "0"], "--max-chars: expected a positive int"),
        (["--clip", "0"], "--clip: expected a positive"),
        (["--temperature", "0"], "--temperature: expected a positive"),
        (["--sample-length", "0"], "--sample-length: expected a positive int"),
        (["--held-out", "1.5"], "--held-out: expected a float in [0, 1)"),
        (["--dropout", "1"], "--dropout: expected a float in [0, 1)"),
        (["--epochs", "0"], "--epochs: expected a positive int"),
        (["--text", "{tmp}/none.txt"], "--text: no file at {tmp}/none.txt"),
        (["--text", "{file}"], "--text: {file} is empty"),
        (["--corpus", "tiny_shakespeare", "--data-dir", "{tmp}"], "--corpus tiny_shakespeare: tiny_shakespeare is not prepared"),
        (["--prompt", "\u2603"], "text: characters '\u2603' are not in the vocabulary"),
        (["--seq-len", "100000"], "seq_len: 32 streams of"),
        (["--resume"], "--resume: no checkpoint at"),
        (["--out", "{file}"], "--out: expected a folder, got an existing file"),
        (["--out", "/proc/nnlect-run"], "--out: cannot write in /proc/nnlect-run"),
    ]),
}

CASES = [
    (f"{recipe}{''.join(flags).replace('{', '').replace('}', '').replace('/', '_')}",
     ["train", recipe, *data, *flags], 2, fragment, ())
    for recipe, (data, cases) in _RECIPE_FLAGS.items() for flags, fragment in cases
]

CASES += [
    # argparse: rc 2 before anything runs
    ("argparse-unknown-flag", ["train", "mlp", "--frobnicate"], 2, "unrecognized arguments: --frobnicate", ()),
    ("argparse-epochs-word", ["train", "mlp", "--epochs", "many"], 2, "invalid int value: 'many'", ()),
    ("argparse-lr-word", ["train", "mlp", "--lr", "fast"], 2, "invalid float value: 'fast'", ()),
    ("argparse-hidden-float", ["train", "mlp", "--hidden", "1.5"], 2, "invalid int value: '1.5'", ()),
    ("argparse-data-choice", ["train", "mlp", "--data", "cifar"], 2, "invalid choice: 'cifar'", ()),
    ("argparse-arch-choice", ["train", "lenet5", "--arch", "resnet"], 2, "invalid choice: 'resnet'", ()),
    ("argparse-corpus-choice", ["train", "charlm", "--corpus", "wiki"], 2, "invalid choice: 'wiki'", ()),
    ("argparse-recipe", ["train", "gpt"], 2, "invalid choice: 'gpt'", ()),
    ("argparse-no-command", [], 2, "required", ()),
    ("argparse-tour-only", ["tour", "--only", "nothing"], 2, "invalid choice: 'nothing'", ()),
    # a missing optional dependency: rc 2 and the pip line
    ("missing-sklearn", ["train", "mlp", "--data", "digits"], 2, 'pip install "scikit-learn>=1.4"', ("sklearn",)),
    ("missing-sklearn-lenet5", ["train", "lenet5", "--data", "digits"], 2, 'pip install "scikit-learn>=1.4"', ("sklearn",)),
    ("missing-tfds-mlp", ["train", "mlp", "--data", "tfds"], 2, 'pip install "nnlect[tfds]"', ("tensorflow_datasets",)),
    ("missing-tfds-lenet5", ["train", "lenet5", "--data", "tfds"], 2, 'pip install "nnlect[tfds]"', ("tensorflow_datasets",)),
    ("missing-tfds-charlm", ["train", "charlm", "--corpus", "tiny_shakespeare"], 2, 'pip install "nnlect[tfds]"', ("tensorflow_datasets",)),
    ("missing-matplotlib-bench-report", ["bench", "report", "benchmarks/results/cpu-quick.json", "--out-md",
                                         "{tmp}/run/results.md", "--out-png", "{tmp}/run/ratios.png"],
     2, 'pip install "nnlect[plots]"', ("matplotlib",)),
    # other commands
    ("tour-out-file", ["tour", "--only", "activations", "--out", "{file}", "--quiet"], 2, "--out: expected a folder", ()),
    ("sample-no-checkpoint", ["sample", "--checkpoint", "{tmp}/none.msgpack"], 2, "checkpoint: no file at", ()),
    ("sample-not-a-checkpoint", ["sample", "--checkpoint", "{file}"], 2, "not an nnlect checkpoint", ()),
    ("bench-report-missing-file", ["bench", "report", "{tmp}/none.json", "--out-md", "{tmp}/run/r.md"], 2, "none.json", ()),
]
