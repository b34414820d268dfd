"""The cells of notebooks 09-10 (networks of your own, accelerators), for build_notebooks.py.

``NOTEBOOKS[name] = (title, header markdown, [("md" | "code", source), ...])``; see
cells_foundations.py.
"""

NOTEBOOKS = {
    "09_build_your_own_network": ("Build your own network from layers", """Slide *What is Deep Learning?*: "composing simple but non-linear modules".

`nnlect.layers` gives the lecture's modules as pairs of pure functions, `init(key, in_shape) -> (out_shape, params)` and
`apply(params, x, *, key=None, train=False)`. `nl.serial` composes them and `nl.build` turns the result into a `Model` that
`nl.train.fit` trains. Below are five networks that no factory of nnlect provides, on a task of our own: tell noisy sinusoids of
three close frequencies apart from 64 noisy samples. See `docs/layers.md` for every layer.""", [
        ("md", "## The data: three frequencies, random phase, noise\n\n"
               "Each example is a `(64, 1)` series: one channel over 64 time steps. The class is the frequency (3, 4 or 5 cycles), "
               "under noise as large as the signal. The cell draws the training and test sets; nothing is downloaded."),
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
print("training set", x_train.shape, y_train.shape, " test set", x_test.shape, y_test.shape)'''),
        ("md", "**Look at**: the shapes are `(examples, time steps, channels)` for `x` and `(examples,)` for the class "
               "index `y`, the layout every layer below expects.\n\n"
               "## 1. A 1-D CNN: a kernel tuple of one int makes `conv` 1-D\n\n"
               "The slide *Convolutional Neural Network* shows 2-D images; the same layer slides along one axis when its "
               "`kernel` tuple (and the pooling `window`) has one entry. `train` below fits any `Model` with Adam (a few "
               "seconds on a CPU) and returns the final params and the test accuracy."),
        ("code", '''def train(model, epochs=2 if SMALL else 10):
    params = model.init(jax.random.key(2))
    state, history = nl.train.fit(model, params, nl.softmax_cross_entropy, optax.adam(3e-3), x_train, y_train,
                                  key=jax.random.key(3), epochs=epochs, batch_size=64, eval_data=(x_test, y_test))
    return state.params, history[-1].get("eval_accuracy", history[-1].get("eval_metric"))  # nnlect 0.2 / 0.1 key

cnn1d = nl.build(nl.serial(L.conv(8, (5,)), L.activation("relu"), L.max_pool((2,)),
                           L.conv(16, (5,)), L.activation("relu"), L.max_pool((2,)), L.flatten(), L.dense(3)), (64, 1))
cnn_params, acc = train(cnn1d)
results = {"1-D CNN": acc}
print(f"1-D CNN test accuracy: {acc:.3f}")'''),
        ("md", "**Look at**: chance is 1/3; a few epochs take the CNN well above it, since a filter of 5 steps sees "
               "enough of one period to tell the frequencies apart.\n\n"
               "## 2. An RNN that classifies a whole sequence: `output=\"last\"`\n\n"
               "Slide *Recurrent Neural Network*: RNNs model sequential data such as time series. Here a GRU reads the 64 "
               "steps and only its last hidden state goes to the readout, which runs once per sequence, not once per time "
               "step."),
        ("code", '''rnn_clf = nl.build(nl.serial(L.recurrent(L.gru(32), output="last"), L.dense(3)), (64, 1))
_, results["GRU, last step"] = train(rnn_clf)
print(f"GRU test accuracy: {results['GRU, last step']:.3f}")'''),
        ("md", "**Look at**: compare with the CNN. The CNN looks at 5 steps at a time and pools; the GRU reads all 64 steps "
               "in order and carries what it has seen in its state. Which does better depends on sizes and epochs: change "
               "them and see.\n\n"
               "## 3. Convolutions, then a recurrence over the shortened sequence\n\n"
               "Stacking the two: a convolution and a pooling of window 4 turn 64 steps into 16, and an LSTM reads those."),
        ("code", '''conv_rnn = nl.build(nl.serial(L.conv(8, (5,), padding="SAME"), L.activation("relu"), L.max_pool((4,)),
                              L.recurrent(L.lstm(32), output="last"), L.dense(3)), (64, 1))
_, results["conv -> LSTM"] = train(conv_rnn)
print(f"conv -> LSTM test accuracy: {results['conv -> LSTM']:.3f}")'''),
        ("md", "**Look at**: the three accuracies side by side; they are drawn as bars at the end.\n\n"
               "## 4. Per-example gradients: `vmap` over `grad`\n\n"
               "`apply` takes any number of leading axes, zero included. So the loss of ONE example is a function that `vmap` can map."),
        ("code", '''def loss(params, x, y):
    return nl.softmax_cross_entropy(cnn1d.apply(params, x[None]), y[None])

grads = jax.vmap(jax.grad(loss), in_axes=(None, 0, 0))(cnn_params, x_test[:256], y_test[:256])
norms = jnp.sqrt(sum(jnp.sum(g.reshape(g.shape[0], -1) ** 2, axis=1) for g in jax.tree.leaves(grads)))
print("per-example gradient of the first conv's w:", grads["conv_0"]["w"].shape, " median norm", float(jnp.median(norms)))'''),
        ("md", "**Look at**: the gradient has one extra leading axis of 256, one slice per example: the batch gradient "
               "backprop computes is the mean of these.\n\n"
               "## 5. An ensemble: `vmap` over `init`, then over `apply`\n\n"
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
               "the keys of `cnn1d.init(key)`. Average the ensemble's `outputs` over its first axis and compare its accuracy "
               "with one member's."),
    ]),
    "10_accelerator": ("Run nnlect on a GPU or TPU", """Slide *Difficulty of Training Deep Nets*: "lack of computational resources: now we have GPUs and HPCs".

nnlect is plain JAX, so the same code runs on a CPU, a GPU or a TPU: JAX compiles it for whatever device it finds.
This notebook checks which device that is, then runs the benchmark suite of `nnlect bench` on it.

**On Colab, pick the accelerator first**: *Runtime > Change runtime type > Hardware accelerator*, choose a GPU (T4 is
free) or a TPU, *Save*, then *Runtime > Run all*. Changing the runtime starts a fresh machine, so the first cell installs
nnlect again.""", [
        ("md", "## Which device does JAX see?\n\n"
               "`jax.default_backend()` is `cpu`, `gpu` or `tpu`; `jax.devices()` lists the chips (a Colab TPU shows 8 "
               "cores, a GPU one device). Arrays are created on the first device unless you say otherwise."),
        ("code", '''import jax.numpy as jnp

print("backend:", jax.default_backend())
for device in jax.devices():
    print(f"  {device}  kind: {device.device_kind}")
print("a new array lives on", jnp.ones(3).devices())
if jax.default_backend() == "cpu":
    print("No GPU or TPU here. On Colab: Runtime > Change runtime type > GPU or TPU, then Run all. "
          "The benchmark below runs on the CPU meanwhile.")'''),
        ("md", "**Look at**: the backend line. If you picked a GPU runtime and still see `cpu`, the installed `jaxlib` "
               "has no CUDA support (pip may have replaced Colab's build): run "
               "`!pip install -U \"jax[cuda12]\"`, then *Runtime > Restart session* and run all cells again.\n\n"
               "## The benchmark suite on this device\n\n"
               "This is what `nnlect bench run --quick --workloads mlp lenet5 rnn --impls nnlect nnlect_fused numpy_ref "
               "flax torch` runs from a terminal: for each workload (a 784-512-512-10 MLP at batch 256 and a batch sweep, "
               "LeNet-5, an Elman RNN) it first checks that every implementation computes the same training step, then "
               "times it. On a GPU or TPU every JAX row (nnlect, Flax) runs there; the handwritten NumPy reference stays "
               "on the host CPU, and PyTorch uses CUDA when it sees a GPU. Each line printed is a stage of the run; "
               "expect a few minutes. The results are saved as JSON in `nnlect-bench/`. (Under CI, `SMALL`: toy sizes, "
               "one workload, on the CPU.)"),
        ("code", '''from IPython.display import Image, Markdown, display
from nnlect.bench import report, run

if SMALL:
    mode, workloads, impls = "tiny", ["xor"], ("nnlect", "numpy_ref")
else:
    mode, workloads, impls = "quick", ["mlp", "lenet5", "rnn"], ("nnlect", "nnlect_fused", "numpy_ref", "flax", "torch")
result = run.run_suite(mode=mode, names=workloads, impls=impls, log=print)
print("saved", run.write(result, "nnlect-bench"))'''),
        ("md", "## The table\n\n"
               "One row per workload and implementation: *examples/s* (median over repeats, min-max beside it), *x NumPy* "
               "(speed over the NumPy reference in this run), *% peak* (achieved over this device's measured matrix-"
               "multiply peak, at the row's own precision)."),
        ("code", '''display(Markdown(report.markdown([result])))
display(Image(report.chart([result], "nnlect-bench/ratios.png")))'''),
        ("md", "**Look at**: *x NumPy* of the MLP and LeNet-5 rows: large matrix products and convolutions are what "
               "accelerators are built for. Expect the RNN, whose 100 time steps run one after another with small "
               "products each, to gain least. The *precision* column says whether the GPU used TF32 or the TPU bf16 passes for float32 "
               "matrix products.\n\n"
               "**Try next**: `run.run_suite(mode=\"quick\", names=[\"mlp\"], dtype=\"bfloat16\")` adds mixed-precision "
               "rows; download the JSON from `nnlect-bench/` (Colab's file panel) and merge runs of several machines with "
               "`nnlect bench report FILES...`; `benchmarks/README.md` explains every column."),
    ]),
}
