"""The cells of notebooks 05-10 (dropout to accelerators), for build_notebooks.py.

``NOTEBOOKS[name] = (title, header markdown, [("md" | "code", source), ...])``; see
cells_foundations.py. Long cells show progress: one printed line per epoch or measurement, from the
experiment's ``callback`` (plain lines read the same in Colab, Jupyter and the saved file).
"""

HELD_OUT = ("**Look at**: both curves fall below the unigram entropy (dashed), so the RNN does use the characters "
            "before the one it predicts. Then they part: the training curve keeps falling while the held-out curve "
            "flattens after a few hundred steps.\n\n"
            "**Why**: the network memorizes its training text. The corpus is small: `stdlib_corpus` takes whole files and "
            "stops before the one that would pass 200,000 characters; on Python 3.11 that leaves 12 files, about 99,000 "
            "characters (the first cell prints the size on your machine). The 90% used for training, about 89,000 "
            "characters, is only 55 windows of 32 x 50, so 1,500 steps read it about 27 times over. The training curve is "
            "measured on those windows; the held-out curve on about 10,000 characters the network never trains on. A "
            "check with this notebook's settings on Python 3.11 measured, after 100 / 400 / 1,500 steps, 3.65 / 2.77 / "
            "2.10 bits per character on the last 10,000 training characters and 3.50 / 3.01 / 3.05 on the held-out text. "
            "So the flat curve is overfitting, not the noise of a small evaluation set: the held-out number is steady, "
            "and the same network scores far better on text it has read.\n\n"
            "**Try next**: `steps=400` stops near the held-out minimum (early stopping); `max_chars=1_000_000` gives it "
            "more text to learn from before it can memorize; `n_hidden=64` memorizes less. In a terminal, "
            "`nnlect train charlm --corpus tiny_shakespeare` trains on 1 MB of Shakespeare (downloaded through "
            "tensorflow-datasets).")

NOTEBOOKS = {
    "05_dropout": ("Dropout", """Slide *Dropout*: randomly drop units on each training step; it prevents overfitting.

`nl.dropout(x, rate, key=...)`: `rate` is the probability of **dropping** a unit; survivors are scaled by
$1/(1-\\text{rate})$, so the expected output equals the input and evaluation needs no change.""", [
        ("md", "## What dropout does to one input\n\n"
               "The slide: dropout randomly 'drops' units from a layer on each training step, sampling a smaller network "
               "inside the larger one. The cell drops half of 100,000 ones and looks at what is left."),
        ("code", '''x = np.ones((1, 100_000), np.float32)
y = nl.dropout(x, 0.5, key=jax.random.key(0))
print(f"fraction dropped {float((y == 0).mean()):.3f}, survivors scaled to {float(y.max()):.1f}, mean {float(y.mean()):.3f}")'''),
        ("md", "**Look at**: about half the units are 0, the others are 2.0, and the mean stays 1: the next layer sees the "
               "same input on average, so at test time dropout is simply switched off.\n\n"
               "## A big net on 100 noisy points, without and with dropout\n\n"
               "The slide's claim is that dropout prevents overfitting. The cell makes overfitting easy: 100 training points "
               "labelled by the sign of $x_1 x_2$, with 20% of the labels flipped, and a 2-256-256-2 ReLU network (66k "
               "weights). It trains the network twice, with dropout rate 0 and 0.5, and measures the error on 4,000 fresh "
               "test points every 100 Adam steps."),
        ("code", '''from nnlect.experiments import dropout

claim = dropout.run(small=SMALL)
print("\\n".join(claim.summary))
claim.figure()'''),
        ("md", "**Look at**: without dropout the training error goes to 0: the network has learnt the flipped labels too, "
               "and its test error rises. With dropout the training error falls slowly and stays well above 0 (the network "
               "cannot fit every flipped label), and the test error ends lower, closer to the 20% that is the best possible. In the two right panels (training points drawn, class 1 red, class 0 blue), the boundary "
               "without dropout wraps islands around single mislabelled points.\n\n"
               "**Try next**: `dropout.train_and_test(0.2)` or `dropout.train_and_test(0.8)` (a list of errors per 100 "
               "steps); more training points (`n_train=1000`): does dropout still help when the data are not so few?"),
    ]),
    "06_lenet5_mnist": ("LeNet-5 on handwritten digits", """Slides *Convolutional Neural Network* and *Use Case: Digits Recognition*:
LeNet-5 made 82 errors on MNIST's 10,000 test digits. Here: its confusion matrix and every digit it gets wrong.

Data: the MNIST IDX files when found (`$NNLECT_DATA_DIR`), else MNIST through tensorflow-datasets on Colab
(downloads ~11 MB), else scikit-learn's bundled 8x8 digits. `nnlect train lenet5 --data mnist` is the full recipe.""", [
        ("md", "## Train LeNet-5\n\n"
               "The slide: MNIST has 60k training and 10k test examples, and LeNet-5's test error was 0.95% (82 errors "
               "for its best version). LeNet-5 stacks two convolution + pooling stages and three dense layers. The cell "
               "picks the data it can reach, trains with Adam and prints one line per epoch as it goes, with the time left. On "
               "a CPU, two epochs of full MNIST take about two minutes."),
        ("code", '''import sys
from nnlect.data import mnist
from nnlect.experiments import lenet5

if SMALL:
    source, settings = "digits", dict(epochs=4)
elif mnist.find_idx_dir() is not None:
    source, settings = "idx", dict(epochs=2)
elif "google.colab" in sys.modules:
    source, settings = "tfds", dict(epochs=2, download=True)
else:
    source, settings = "digits", dict(epochs=15)

seconds = []
def progress(row, state):  # nl.train.fit calls this after every epoch
    seconds.append(row["seconds"])
    left = (settings["epochs"] - len(seconds)) * sum(seconds) / len(seconds)
    accuracy = row.get("eval_accuracy", row.get("eval_metric"))  # the key's name in nnlect 0.2 and 0.1
    print(f"epoch {len(seconds)}/{settings['epochs']}: train loss {row['train_loss']:.4f}, "
          f"test error {1 - accuracy:.2%} ({row['seconds']:.0f} s; about {left:.0f} s to go)", flush=True)

print(f"LeNet-5 on {source}: {settings['epochs']} epochs")
r = lenet5.train_and_inspect(source=source, callback=progress, **settings)
print(f"{r['source']}: {r['errors']} errors on {r['test_examples']} test images ({r['test_error']:.2%})")'''),
        ("md", "**Look at**: the training loss falls epoch after epoch; the test error falls too, but not at every epoch. On "
               "the 8x8 digits each of the 297 test images is worth 0.34%, so a handful of images decide the ups and downs; "
               "expect 5-10%. On MNIST, two epochs give around 1-2%: the lecture's 0.95% took many more.\n\n"
               "## Where it goes wrong\n\n"
               "Like the slide's picture of LeNet-5's 82 errors (\"correct answer left, machine answer right\"), the cell "
               "draws the confusion matrix and the misclassified test digits, labelled `true -> predicted`."),
        ("code", "lenet5.plot(r, max_shown=48)"),
        ("md", "**Look at**: the diagonal of the matrix holds the correct answers; the largest numbers off it tell which "
               "digits it confuses (4 and 9, 3 and 5 are common). Many wrong digits are ones a person would hesitate on too.\n\n"
               "**Try next**: more epochs (`settings[\"epochs\"] = 5`); `max_train=6000` to train on a tenth of the data; in a "
               "terminal, `nnlect train lenet5 --data mnist --epochs 20` runs the full recipe with checkpoints."),
    ]),
    "07_char_rnn": ("A character-level RNN language model", """Slides *Recurrent Neural Network* and *Use Case: Language Model*.

An Elman RNN, $h_t = \\tanh(W_{xh} x_t + W_{hh} h_{t-1} + b)$, reads Python's standard library one character at a
time and predicts the next, trained by truncated backprop through time. The unigram entropy is the best any model can
do without context; the RNN must beat it.""", [
        ("md", "## Train, measure, sample\n\n"
               "The slides: an RNN models sequential data such as text and is trained by back-propagation through time "
               "(BPTT); a character-level language model predicts the next character from the previous ones. The cell "
               "reads whole files of the installed standard library's source in sorted order, up to 200,000 characters, "
               "holds out the last 10% (never trained on), and trains a 128-unit Elman RNN on windows of 32 streams x 50 "
               "characters, carrying the hidden state from one window to the next (truncated BPTT). Every 100 steps it measures the loss, in bits per character, on the training windows and on "
               "the held-out text, and prints both as it goes; it writes samples at the start, midway and the end."),
        ("code", '''from nnlect.experiments import charlm

steps, every = (100, 50) if SMALL else (1500, 100)
def progress(row):  # called at every measurement point, as training goes
    print(f"step {row['step']}/{steps}: training windows {row['train_bits']:.2f}, "
          f"held-out text {row['held_out_bits']:.2f} bits/char", flush=True)

r = charlm.train_and_sample(steps=steps, every=every, callback=progress)
info, train_chars = r["info"], int(r["info"]["chars"] * 0.9)
print(f"corpus: {info['files']} files of Python {info['python']}'s standard library ({info['first_file']} .. "
      f"{info['last_file']}), {info['chars']:,} characters, {train_chars:,} of them for training")
print(f"{steps} steps x 32 streams x 50 characters = {steps * 32 * 50 / train_chars:.1f} passes over the training text")
print(f"held-out: {r['held_out_bits'][-1]:.2f} bits/char; unigram entropy {r['unigram_bits']:.2f}")
for step, text in r["samples"].items():
    print(f"--- after {step} steps:\\n{r['prompt'] + text}\\n")'''),
        ("md", "**Look at**: the samples go from random characters to something shaped like Python: indentation, "
               "`self.`, quotes, `return`. They are not valid code: 128 units and a few minutes of CPU are far from a "
               "model that knows Python.\n\n"
               "## Why the held-out loss stops falling while the training loss keeps going\n\n"
               "The cell draws both curves (bits per character; lower is better) next to the unigram entropy."),
        ("code", "charlm.plot(r)"),
        ("md", HELD_OUT),
        ("md", "## Beyond text: a time series\n\n"
               "The slides name two uses of RNNs: text, and *time series*. The same Elman cell, as a layer "
               "(`nl.layers.recurrent(nl.layers.elman(32), output=\"last\")`), reads a noisy sinusoid of 32 steps whose "
               "first 10 steps sit at a level of -1, 0 or +1, and answers two questions: which frequency, and which "
               "starting level. Beside it, an MLP and a 1-D CNN (`nl.layers.conv` with a 1-D kernel) see only the last "
               "16 steps, a fixed window, as such models must. All three are built from `nl.layers` "
               "(`nnlect.experiments.time_series`, the tour's tenth claim). The cell trains each model on both "
               "questions and prints test accuracy; chance is 33%."),
        ("code", '''from nnlect.experiments import time_series as ts

size = dict(n_train=400, n_test=200, steps=80) if SMALL else dict(n_train=2000, n_test=1000, steps=250)
ts_result = ts.compare(seed=0, **size)
for task, accuracies in ts_result["accuracy"].items():
    print(f"{task:10s}" + "  ".join(f"{name} {acc:.1%}" for name, acc in accuracies.items()))
ts.plot(ts_result)'''),
        ("md", "**Look at**: every model tells the frequency, which shows in any 16 steps. Only the RNN tells the "
               "starting level: it is 22 or more steps back, outside the window the MLP and the CNN read, and the "
               "recurrence carries it forward in $h_t$. That is the lecture's claim that RNNs model sequential data, "
               "and where a fixed window is not enough.\n\n"
               "**Try next**: `nl.layers.lstm(32, forget_bias=3.0)` in place of the Elman cell (see `ts.models()`); "
               "a longer MLP window (`ts.WINDOW`); more noise (`ts.generate(..., noise=0.6)`)."),
    ]),
    "08_benchmarks": ("Benchmarks: nnlect vs handwritten NumPy and jnp", """How fast are the lecture's models as pure JAX functions?
The suite in `nnlect.bench` first checks that every implementation computes the same training step, then times it.
Speeds are ratios measured side by side in one run; on a shared CPU they move with the load (shown in the table).
`nnlect bench run` runs the full suite; see `benchmarks/`.""", [
        ("md", "## Two workloads in four implementations\n\n"
               "The lecture's *Difficulty of Training Deep Nets* names the \"lack of computational resources\" that GPUs "
               "fixed. This notebook measures what the same backprop costs written four ways: `nnlect` (one jitted "
               "training step per Python call), `nnlect_fused` (many steps in one XLA call), the lecture's delta rule in "
               "NumPy (`numpy_ref`) and the same formulas under `jax.jit` (`jnp_ref`). The workloads are the XOR net and a "
               "784-512-512-10 MLP. Each line printed is a stage of the run."),
        ("code", '''from IPython.display import Image, Markdown, display
from nnlect.bench import report, run

result = run.run_suite(mode="tiny" if SMALL else "quick", names=["xor", "mlp"],
                       impls=("nnlect", "nnlect_fused", "numpy_ref", "jnp_ref"), log=print)
display(Markdown(report.markdown([result])))'''),
        ("md", "**Look at**: *examples/s* (median over repeats, min-max beside it) and *x NumPy*, the speed over the "
               "handwritten NumPy reference measured in the same run. The XOR net is so small that every implementation "
               "is bound by the cost of a call, not by arithmetic; the MLP's matrix products are large enough for the "
               "arithmetic to count.\n\n"
               "## The ratios as a chart\n\n"
               "The cell draws nnlect's speed over each other implementation, on a log scale (1 = as fast)."),
        ("code", '''path = report.chart([result], "benchmark.png")
display(Image(path))'''),
        ("md", "**Look at**: bars above 1 are where nnlect is faster; the error bars span nnlect's slowest repeat over "
               "the other's fastest, and the reverse.\n\n"
               "**Try next**: add `\"lenet5\"` and `\"rnn\"` to `names`, or `\"flax\"` and `\"torch\"` to `impls`; on a GPU "
               "or TPU, notebook 10 runs the suite there."),
    ]),
}
