"""Write the notebooks of this folder from the cells below, and execute them.

    python examples/build_notebooks.py            # write and execute, outputs saved (moderate settings)
    python examples/build_notebooks.py --no-run   # write the cells only

One notebook per lecture topic. Each opens in Colab, installs nnlect when it is
missing, and reads ``NNLECT_SMALL=1`` (set by tests/test_notebooks.py in CI) to
use small settings; the code is the same either way.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
REPO = "OWNER/nnlect"  # the GitHub repository (owner/name) the Colab badges and installs point at

SETUP = f'''# Colab (or any fresh runtime): install nnlect from its repository; skipped when it is installed.
REPO_URL = "https://github.com/{REPO}"
import importlib.util, subprocess, sys
if importlib.util.find_spec("nnlect") is None:
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", f"nnlect[notebooks] @ git+{{REPO_URL}}"])'''

IMPORTS = '''%matplotlib inline
import os
import jax, numpy as np
import nnlect as nl

SMALL = os.environ.get("NNLECT_SMALL") == "1"  # CI sets this: same code, fewer steps
print(f"nnlect {nl.__version__}, jax {jax.__version__} on {jax.devices()[0].platform}" + (", small settings" if SMALL else ""))'''


def header(name: str, title: str, text: str) -> list:
    badge = (f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
             f"(https://colab.research.google.com/github/{REPO}/blob/main/examples/{name}.ipynb)")
    return [new_markdown_cell(f"# {title}\n\n{badge}\n\n{text}"), new_code_cell(SETUP), new_code_cell(IMPORTS)]


NOTEBOOKS = {
    "01_perceptron_and_xor": ("Perceptron and XOR", """Slides *Perceptron Model*, *Training Perceptron*, *Properties of Perceptron*, *Hidden Layers*.

Rosenblatt's rule, one example at a time, labels $y \\in \\{+1, -1\\}$:
$w_i \\leftarrow w_i + \\eta (y - \\hat y) x_i$. On linearly separable data it stops making mistakes after at most
$(R/\\gamma)^2$ updates (Novikoff); on XOR it never can. One hidden layer fixes that.""", [
        ("md", "## Rosenblatt's rule on separable data and on XOR"),
        ("code", '''from nnlect.experiments import perceptron, xor_mlp

r = perceptron.separable_vs_xor(epochs=20)
print("mistakes per epoch, separable:", r["mistakes_separable"])
print("mistakes per epoch, XOR:      ", r["mistakes_xor"])
print(f"updates on the separable set: {r['total_updates_separable']} <= Novikoff bound {r['novikoff_bound']:.0f}")
perceptron.plot(r)'''),
        ("md", "## A 2-4-1 MLP learns XOR\n\nThe hidden layer maps the four points to where one line separates them (right panel)."),
        ("code", '''x = xor_mlp.mlp_solves_xor(n_hidden=4)
print("outputs for (0,0) (0,1) (1,0) (1,1):", np.round(x["outputs"], 3), "accuracy", x["accuracy"])
xor_mlp.plot(x)'''),
        ("md", "## Two hidden units are enough in principle, yet gradient descent can get stuck\n\n"
               "*Difficulty of Training Deep Nets*: \"easy to get into a (bad) local minimum\". Count the seeds that solve XOR."),
        ("code", '''for n_hidden in (2, 4):
    solved = [xor_mlp.mlp_solves_xor(seed=s, n_hidden=n_hidden)["accuracy"] == 1.0 for s in range(3 if SMALL else 8)]
    print(f"2-{n_hidden}-1: solved XOR for {sum(solved)} of {len(solved)} seeds")'''),
    ]),
    "02_backprop_by_hand": ("Backprop by hand vs jax.grad", """Slides *Learning NN by Back-Propagation* and *An example for Backprop*.

The delta rule, in the lecture's sign convention: for an output unit $\\delta_k = (d_k - y_k) f'(net_k)$, for a hidden unit
$\\delta_j = f'(net_j) \\sum_k w_{kj} \\delta_k$, and $\\Delta w_{ji} = \\eta\\, \\delta_j\\, h_i$ (so $\\partial E / \\partial w_{ji} = -\\delta_j\\, h_i$).
`nnlect.reference.numpy_backprop` writes exactly this in NumPy; `jax.grad` derives it from the forward pass.""", [
        ("code", '''import jax.numpy as jnp
from nnlect.reference import numpy_backprop

model = nl.mlp([2, 2, 1], "sigmoid", output_activation="sigmoid")   # a 2-2-1 sigmoid net (the lecture's worked example is 2-3-2)
params = model.init(jax.random.key(0))
x = np.array([[0.35, 0.9]], np.float32); d = np.array([[0.5]], np.float32)

by_hand = numpy_backprop.gradients(numpy_backprop.to_numpy(params), x, d, activation="sigmoid", output_activation="sigmoid")
by_jax = jax.grad(lambda p: nl.half_squared_error(model.apply(p, jnp.asarray(x)), jnp.asarray(d)))(params)
for layer in by_hand:
    for name in ("w", "b"):
        print(f"{layer}.{name}  by hand {np.ravel(by_hand[layer][name]).round(6)}  jax.grad {np.ravel(by_jax[layer][name]).round(6)}")'''),
        ("md", "## One step of gradient descent, by hand: $w \\leftarrow w - \\eta\\, \\partial E/\\partial w$"),
        ("code", '''p = numpy_backprop.to_numpy(params)
for step in range(4):
    y = numpy_backprop.forward(p, x, activation="sigmoid", output_activation="sigmoid")[-1]
    print(f"step {step}: output {float(np.ravel(y)[0]):.4f}, E = {0.5 * float(np.sum((y - d) ** 2)):.6f}")
    p = numpy_backprop.sgd_step(p, x, d, eta=1.0, activation="sigmoid", output_activation="sigmoid")'''),
        ("md", "## Every activation and both losses, in float64: the two agree to rounding"),
        ("code", '''from nnlect.experiments import backprop_check

claim = backprop_check.run()
print("\\n".join(claim.summary))
claim.figure()'''),
    ]),
    "03_activations_and_vanishing_gradients": ("Activation functions and vanishing gradients", """Slides *Non-linear Activation Functions*, *Activation functions*, *Difficulty of Training Deep Nets*.

Sigmoid: $f' = f(1-f) \\le 1/4$; tanh: $f' = 1 - f^2 \\le 1$; ReLU: $f' = 1$ for $x > 0$. Backprop multiplies by
$f'(net)$ once per layer, so through ten sigmoid layers the gradient that reaches the first layer is tiny.""", [
        ("code", '''from nnlect.experiments import activations, vanishing_gradients

claim = activations.run()
print("\\n".join(claim.summary))
claim.figure()'''),
        ("md", "## Gradient norm per layer in a 10-layer net, and what it does to training"),
        ("code", '''claim = vanishing_gradients.run(small=SMALL)
print("\\n".join(claim.summary))
claim.figure()'''),
    ]),
    "04_universal_approximation": ("Universal approximation", """Slides *Universal Approximation Theorem* and *Universal Approximation*.

A network with one hidden layer of enough units approximates any continuous function on a compact set.
Here a $1 \\to \\text{width} \\to 1$ ReLU network fits $\\sin x$ on $[-\\pi, \\pi]$, and the error falls as it widens.""", [
        ("code", '''from nnlect.experiments import approximation

widths = (2, 8, 32) if SMALL else (1, 2, 4, 8, 16, 32, 64)
r = approximation.error_vs_width(widths, steps=1500 if SMALL else 3000)
for w, mse in zip(r["widths"], r["mse"]):
    print(f"width {w:3d}: mean squared error {mse:.2e}")
approximation.plot(r)'''),
        ("md", "## Another function, another activation\n\n$e^{-x^2}\\cos 3x$ on $[-2, 2]$ with tanh units."),
        ("code", '''r = approximation.error_vs_width((2, 8) if SMALL else (2, 4, 8, 16), function="bump", activation="tanh",
                                 steps=1500 if SMALL else 3000)
approximation.plot(r)'''),
    ]),
    "05_dropout": ("Dropout", """Slide *Dropout*: randomly drop units on each training step; it prevents overfitting.

`nl.dropout(x, rate, key=...)`: `rate` is the probability of **dropping** a unit; survivors are scaled by
$1/(1-\\text{rate})$, so the expected output equals the input and evaluation needs no change.""", [
        ("code", '''x = np.ones((1, 100_000), np.float32)
y = nl.dropout(x, 0.5, key=jax.random.key(0))
print(f"fraction dropped {float((y == 0).mean()):.3f}, survivors scaled to {float(y.max()):.1f}, mean {float(y.mean()):.3f}")'''),
        ("md", "## A big net on 100 noisy points, without and with dropout"),
        ("code", '''from nnlect.experiments import dropout

claim = dropout.run(small=SMALL)
print("\\n".join(claim.summary))
claim.figure()'''),
    ]),
    "06_lenet5_mnist": ("LeNet-5 on handwritten digits", """Slides *Convolutional Neural Network* and *Use Case: Digits Recognition*:
LeNet-5 made 82 errors on MNIST's 10,000 test digits. Here: its confusion matrix and every digit it gets wrong.

Data: the MNIST IDX files when found (`$NNLECT_DATA_DIR`), else MNIST through tensorflow-datasets on Colab
(downloads ~11 MB), else scikit-learn's bundled 8x8 digits. `nnlect train lenet5 --data mnist` is the full recipe.""", [
        ("code", '''from nnlect.data import mnist
from nnlect.experiments import lenet5

if SMALL:
    source, settings = "digits", dict(epochs=4)
elif mnist.find_idx_dir() is not None:
    source, settings = "idx", dict(epochs=2)
elif "google.colab" in sys.modules:
    source, settings = "tfds", dict(epochs=2, download=True)
else:
    source, settings = "digits", dict(epochs=15)
r = lenet5.train_and_inspect(source=source, **settings)
for row in r["history"]:
    print(f"epoch {row['epoch']}: train loss {row['train_loss']:.4f}, test error {1 - row['eval_metric']:.2%}")
print(f"{r['source']}: {r['errors']} errors on {r['test_examples']} test images ({r['test_error']:.2%})")'''),
        ("code", "lenet5.plot(r, max_shown=48)"),
    ]),
    "07_char_rnn": ("A character-level RNN language model", """Slides *Recurrent Neural Network* and *Use Case: Language Model*.

An Elman RNN, $h_t = \\tanh(W_{xh} x_t + W_{hh} h_{t-1} + b)$, reads Python's standard library one character at a
time and predicts the next, trained by truncated backprop through time. The unigram entropy is the best any model can
do without context; the RNN must beat it.""", [
        ("code", '''from nnlect.experiments import charlm

r = charlm.train_and_sample(steps=100 if SMALL else 1500, every=50 if SMALL else 100)
print(f"held-out: {r['held_out_bits'][-1]:.2f} bits/char; unigram entropy {r['unigram_bits']:.2f}")
for step, text in r["samples"].items():
    print(f"--- after {step} steps:\\n{r['prompt'] + text}\\n")'''),
        ("code", "charlm.plot(r)"),
        ("md", "`nnlect train charlm` trains longer (and on tiny_shakespeare with `--corpus tiny_shakespeare`); "
               "`nnlect sample` writes from a saved checkpoint."),
    ]),
    "08_benchmarks": ("Benchmarks: nnlect vs handwritten NumPy and jnp", """How fast are the lecture's models as pure JAX functions?
The suite in `nnlect.bench` first checks that every implementation computes the same training step, then times it.
Speeds are ratios measured side by side in one run; on a shared CPU they move with the load (shown in the table).
`nnlect bench run` runs the full suite; see `benchmarks/`.""", [
        ("code", '''from IPython.display import Image, Markdown, display
from nnlect.bench import report, run

result = run.run_suite(mode="tiny" if SMALL else "quick", names=["xor", "mlp"],
                       impls=("nnlect", "nnlect_fused", "numpy_ref", "jnp_ref"), log=lambda s: None)
display(Markdown(report.markdown([result])))'''),
        ("code", '''path = report.chart([result], "benchmark.png")
display(Image(path))'''),
    ]),
    "09_build_your_own_network": ("Build your own network from layers", """Slide *What is Deep Learning?*: "composing simple but non-linear modules".

`nnlect.layers` gives the lecture's modules as pairs of pure functions, `init(key, in_shape) -> (out_shape, params)` and
`apply(params, x, *, key=None, train=False)`. `nl.serial` composes them and `nl.build` turns the result into a `Model` that
`nl.train.fit` trains. Below are five networks that no factory of nnlect provides, on a task of our own: tell noisy sinusoids of
three close frequencies apart from 64 noisy samples. See `docs/layers.md` for every layer.""", [
        ("md", "## The data: three frequencies, random phase, noise\n\n"
               "Each example is a `(64, 1)` series: one channel over 64 time steps. The class is the frequency (3, 4 or 5 cycles), "
               "under noise as large as the signal."),
        ("code", '''import jax.numpy as jnp, optax
import matplotlib.pyplot as plt
L = nl.layers

def series(key, n, length=64):
    k_class, k_phase, k_noise = jax.random.split(key, 3)
    y = jax.random.randint(k_class, (n,), 0, 3)
    t = jnp.arange(length) / length
    phase = jax.random.uniform(k_phase, (n, 1), maxval=2 * jnp.pi)
    x = jnp.sin(2 * jnp.pi * jnp.asarray([3.0, 4.0, 5.0])[y][:, None] * t + phase) + jax.random.normal(k_noise, (n, length))
    return x[..., None], y

x_train, y_train = series(jax.random.key(0), 256 if SMALL else 2048)
x_test, y_test = series(jax.random.key(1), 256 if SMALL else 512)
print(x_train.shape, y_train.shape)'''),
        ("md", "## 1. A 1-D CNN: a kernel tuple of one int makes `conv` 1-D\n\n"
               "The length of the `kernel` tuple (and of the pooling `window`) sets the number of spatial axes."),
        ("code", '''def train(model, epochs=2 if SMALL else 10):
    params = model.init(jax.random.key(2))
    state, history = nl.train.fit(model, params, nl.softmax_cross_entropy, optax.adam(3e-3), x_train, y_train,
                                  key=jax.random.key(3), epochs=epochs, batch_size=64, eval_data=(x_test, y_test))
    return state.params, history[-1]["eval_metric"]

cnn1d = nl.build(nl.serial(L.conv(8, (5,)), L.activation("relu"), L.max_pool((2,)),
                           L.conv(16, (5,)), L.activation("relu"), L.max_pool((2,)), L.flatten(), L.dense(3)), (64, 1))
cnn_params, acc = train(cnn1d)
results = {"1-D CNN": acc}
print(f"1-D CNN test accuracy: {acc:.3f}")'''),
        ("md", "## 2. An RNN that classifies a whole sequence: `output=\"last\"`\n\n"
               "The readout after it runs once per sequence, not once per time step."),
        ("code", '''rnn_clf = nl.build(nl.serial(L.recurrent(L.gru(32), output="last"), L.dense(3)), (64, 1))
_, results["GRU, last step"] = train(rnn_clf)
print(f"GRU test accuracy: {results['GRU, last step']:.3f}")'''),
        ("md", "## 3. Convolutions, then a recurrence over the shortened sequence"),
        ("code", '''conv_rnn = nl.build(nl.serial(L.conv(8, (5,), padding="SAME"), L.activation("relu"), L.max_pool((4,)),
                              L.recurrent(L.lstm(32), output="last"), L.dense(3)), (64, 1))
_, results["conv -> LSTM"] = train(conv_rnn)
print(f"conv -> LSTM test accuracy: {results['conv -> LSTM']:.3f}")'''),
        ("md", "## 4. Per-example gradients: `vmap` over `grad`\n\n"
               "`apply` takes any number of leading axes, zero included. So the loss of ONE example is a function that `vmap` can map."),
        ("code", '''def loss(params, x, y):
    return nl.softmax_cross_entropy(cnn1d.apply(params, x[None]), y[None])

grads = jax.vmap(jax.grad(loss), in_axes=(None, 0, 0))(cnn_params, x_test[:256], y_test[:256])
norms = jnp.sqrt(sum(jnp.sum(g.reshape(g.shape[0], -1) ** 2, axis=1) for g in jax.tree.leaves(grads)))
print("per-example gradient of the first conv's w:", grads["conv_0"]["w"].shape, " median norm", float(jnp.median(norms)))'''),
        ("md", "## 5. An ensemble: `vmap` over `init`, then over `apply`\n\n"
               "Left: the three networks' test accuracy. Right: the per-example gradient norms of the 1-D CNN spread over "
               "orders of magnitude (note the log scale), so a minority of examples dominates the mean gradient."),
        ("code", '''members = jax.vmap(cnn1d.init)(jax.random.split(jax.random.key(4), 5))
outputs = jax.vmap(cnn1d.apply, in_axes=(0, None))(members, x_test)
print("ensemble params:", members["dense"]["w"].shape, " outputs:", outputs.shape)

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5), constrained_layout=True)
ax1.bar(list(results), list(results.values()), color="tab:blue")
ax1.axhline(1 / 3, color="gray", ls="--", label="chance")
ax1.set(ylabel="test accuracy", ylim=(0, 1), title="Three networks built from layers")
ax1.legend(loc="lower right")
ax2.hist(np.log10(np.asarray(norms)), bins=30, color="tab:orange")
ax2.set(xlabel="log10 of the per-example gradient norm", ylabel="examples", title="1-D CNN, 256 test series")
plt.show()'''),
        ("md", "**Try next**: swap `L.gru` for `L.elman` (the lecture's cell) or `L.lstm`. Add `L.dropout(0.3)` before the "
               "last dense layer and pass `key=` in training. Name a layer with `L.named(\"c1\", L.conv(...))` and look at "
               "the keys of `cnn1d.init(key)`."),
    ]),
}


def build(name: str) -> nbformat.NotebookNode:
    title, text, cells = NOTEBOOKS[name]
    nb = new_notebook(cells=header(name, title, text) + [
        new_markdown_cell(src) if kind == "md" else new_code_cell(src) for kind, src in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["colab"] = {"provenance": []}
    return nb


def execute(nb: nbformat.NotebookNode, *, cwd: str | os.PathLike, timeout: int = 900) -> None:
    """Run every cell in a fresh ``python3`` kernel started in ``cwd``; outputs are stored in ``nb``."""
    from nbclient import NotebookClient

    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}).execute()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"notebooks to build (default all): {', '.join(NOTEBOOKS)}")
    parser.add_argument("--no-run", action="store_true", help="write the cells without executing them")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(NOTEBOOKS))
    if unknown:
        parser.error(f"unknown notebooks {unknown}; expected some of {list(NOTEBOOKS)}")
    for name in args.names or NOTEBOOKS:
        nb = build(name)
        if not args.no_run:
            tic = time.perf_counter()
            with tempfile.TemporaryDirectory() as scratch:  # files a notebook writes land here
                execute(nb, cwd=scratch)
            print(f"{name}: executed in {time.perf_counter() - tic:.0f} s", file=sys.stderr)
        nbformat.write(nb, HERE / f"{name}.ipynb")
    return 0


if __name__ == "__main__":
    sys.exit(main())
