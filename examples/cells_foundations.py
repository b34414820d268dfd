"""The cells of notebooks 01-04 (perceptron to universal approximation), for build_notebooks.py.

``NOTEBOOKS[name] = (title, header markdown, [("md" | "code", source), ...])``. Each code cell
sits between a markdown cell that says what the slide claims and what the cell does, and
one that says what to look at in its output and what to try next.
"""

NOTEBOOKS = {
    "01_perceptron_and_xor": ("Perceptron and XOR", """Slides *Perceptron Model*, *Training Perceptron*, *Properties of Perceptron*, *Hidden Layers*.

Rosenblatt's rule, one example at a time, labels $y \\in \\{+1, -1\\}$:
$w_i \\leftarrow w_i + \\eta (y - \\hat y) x_i$. On linearly separable data it stops making mistakes after at most
$(R/\\gamma)^2$ updates (Novikoff); on XOR it never can. One hidden layer fixes that.""", [
        ("md", "## Rosenblatt's rule on separable data and on XOR\n\n"
               "The slide *Training Perceptron* reads the rule as: if the output is correct, do nothing; if it is too high, "
               "lower the weights on active inputs; if too low, raise them. *Properties of Perceptron*: Rosenblatt proved it "
               "converges when the two classes are linearly separable, and Minsky and Papert showed it cannot compute XOR.\n\n"
               "The cell runs the rule for 20 epochs on 200 separable points and on the four XOR points, and counts the "
               "mistakes (= updates) in each epoch."),
        ("code", '''from nnlect.experiments import perceptron, xor_mlp

r = perceptron.separable_vs_xor(epochs=20)
print("mistakes per epoch, separable:", r["mistakes_separable"])
print("mistakes per epoch, XOR:      ", r["mistakes_xor"])
print(f"updates on the separable set: {r['total_updates_separable']} <= Novikoff bound {r['novikoff_bound']:.0f}")
perceptron.plot(r)'''),
        ("md", "**Look at**: the separable run reaches 0 mistakes within a few epochs and stays there, and its total number "
               "of updates is below the Novikoff bound. The XOR run never reaches 0: every line through the plane puts at "
               "least one of the four points on the wrong side (right panel).\n\n"
               "## A 2-4-1 MLP learns XOR\n\n"
               "Slide *Hidden Layers and Backpropagation*: \"adding hidden layer(s) allows to learn a mapping that is not "
               "constrained by linearly separable\". The cell trains a 2-4-1 network (tanh hidden units, sigmoid output) on "
               "the lecture's $E(W) = \\frac12 \\sum_k (y_k - d_k)^2$ and draws it three ways."),
        ("code", '''x = xor_mlp.mlp_solves_xor(n_hidden=4)
print("outputs for (0,0) (0,1) (1,0) (1,1):", np.round(x["outputs"], 3), "accuracy", x["accuracy"])
xor_mlp.plot(x)'''),
        ("md", "**Look at**: the outputs are near 0, 1, 1, 0. Left: the 0.5 contour of the output bends around the two "
               "XOR = 1 corners, which no single line could do. Middle: each hidden unit's output $h_j$ for the four inputs. "
               "Right: in hidden space the four points are linearly separable: the output unit only has to draw the vertical "
               "line $net = 0$.\n\n"
               "## Two hidden units are enough in principle, yet gradient descent can get stuck\n\n"
               "*Difficulty of Training Deep Nets*: \"easy to get into a (bad) local minimum\". A 2-2-1 network can represent "
               "XOR, but whether gradient descent finds those weights depends on where it starts. The cell counts the random "
               "initializations (seeds) that solve XOR."),
        ("code", '''for n_hidden in (2, 4):
    solved = [xor_mlp.mlp_solves_xor(seed=s, n_hidden=n_hidden)["accuracy"] == 1.0 for s in range(3 if SMALL else 8)]
    print(f"2-{n_hidden}-1: solved XOR for {sum(solved)} of {len(solved)} seeds")'''),
        ("md", "**Look at**: with more hidden units more seeds succeed: extra units give gradient descent more ways out of "
               "a bad start.\n\n"
               "**Try next**: `xor_mlp.mlp_solves_xor(seed=s, n_hidden=2, steps=5000)` to see whether longer training rescues "
               "the stuck seeds, or a smaller `learning_rate`; `perceptron.separable_vs_xor(epochs=100)` to see XOR's "
               "mistakes never settle."),
    ]),
    "02_backprop_by_hand": ("Backprop by hand vs jax.grad", """Slides *Learning NN by Back-Propagation* and *An example for Backprop*.

The delta rule, in the lecture's sign convention: for an output unit $\\delta_k = (d_k - y_k) f'(net_k)$, for a hidden unit
$\\delta_j = f'(net_j) \\sum_k w_{kj} \\delta_k$, and $\\Delta w_{ji} = \\eta\\, \\delta_j\\, h_i$ (so $\\partial E / \\partial w_{ji} = -\\delta_j\\, h_i$).
`nnlect.reference.numpy_backprop` writes exactly this in NumPy; `jax.grad` derives it from the forward pass.""", [
        ("md", "## The delta rule, written out, against `jax.grad`\n\n"
               "The slide derives $\\Delta w^{(1)}_{j,m} = \\eta \\sum_k (d_k - y_k) f'(net_k) w_{k,j} x_m f'(net_j) = "
               "\\eta\\, \\delta_j x_m$ by the chain rule. The cell builds a 2-2-1 sigmoid net, computes the gradient of "
               "$E = \\frac12 (y - d)^2$ once with the handwritten NumPy formulas and once with `jax.grad`, and prints both "
               "for every weight $w$ and bias $b$."),
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
        ("md", "**Look at**: the two columns agree to the printed six digits, layer by layer. `dense_0` is the hidden layer "
               "(its gradient carries $\\delta_j$), `dense_1` the output layer ($\\delta_k$).\n\n"
               "## One step of gradient descent, by hand: $w \\leftarrow w - \\eta\\, \\partial E/\\partial w$\n\n"
               "The cell repeats forward pass, error, backward pass and update four times with $\\eta = 1$, all in NumPy."),
        ("code", '''p = numpy_backprop.to_numpy(params)
for step in range(4):
    y = numpy_backprop.forward(p, x, activation="sigmoid", output_activation="sigmoid")[-1]
    print(f"step {step}: output {float(np.ravel(y)[0]):.4f}, E = {0.5 * float(np.sum((y - d) ** 2)):.6f}")
    p = numpy_backprop.sgd_step(p, x, d, eta=1.0, activation="sigmoid", output_activation="sigmoid")'''),
        ("md", "**Look at**: the output moves toward the target $d = 0.5$ and $E$ falls at every step.\n\n"
               "## Every activation and both losses, in float64: the two agree to rounding\n\n"
               "The cell repeats the comparison on a deeper 5-7-6-3 net for seven activations and both losses (half squared "
               "error, softmax cross-entropy), in float64 so that only rounding separates the two."),
        ("code", '''from nnlect.experiments import backprop_check

claim = backprop_check.run()
print("\\n".join(claim.summary))
claim.figure()'''),
        ("md", "**Look at**: the largest difference is around $10^{-16}$, float64 rounding; a wrong sign or a missing "
               "$f'(net)$ factor in the formulas would show up as differences of the size of the gradients themselves.\n\n"
               "**Try next**: change `x`, `d` or the layer sizes in the first cell (`nl.mlp([2, 3, 2], ...)` is the slide's "
               "2-3-2 example, with `d` of shape `(1, 2)`); set `eta=5.0` in the descent loop and watch $E$ overshoot."),
    ]),
    "03_activations_and_vanishing_gradients": ("Activation functions and vanishing gradients", """Slides *Non-linear Activation Functions*, *Activation functions*, *Difficulty of Training Deep Nets*.

Sigmoid: $f' = f(1-f) \\le 1/4$; tanh: $f' = 1 - f^2 \\le 1$; ReLU: $f' = 1$ for $x > 0$. Backprop multiplies by
$f'(net)$ once per layer, so through ten sigmoid layers the gradient that reaches the first layer is tiny.""", [
        ("md", "## The three activations and their derivatives\n\n"
               "The slides: sigmoid's output range is $[0, 1]$ and \"saturated neurons make gradients vanish\"; tanh's range "
               "is $[-1, 1]$; ReLU's \"gradient doesn't vanish as we increase x\". The cell checks each derivative formula "
               "against `jax.grad` and plots $f$ and $f'$."),
        ("code", '''from nnlect.experiments import activations, vanishing_gradients

claim = activations.run()
print("\\n".join(claim.summary))
claim.figure()'''),
        ("md", "**Look at**: sigmoid's derivative peaks at $1/4$ and both saturating functions have $f' \\approx 0$ for "
               "$|x| > 4$; ReLU's is exactly 1 for every positive input.\n\n"
               "## Gradient norm per layer in a 10-layer net, and what it does to training\n\n"
               "*Difficulty of Training Deep Nets* lists \"gradient vanishing: now we use ReLU\". The cell builds the same "
               "10-layer network with each activation, measures $\\|\\partial E / \\partial W\\|$ of every layer at "
               "initialization, then trains each one."),
        ("code", '''claim = vanishing_gradients.run(small=SMALL)
print("\\n".join(claim.summary))
claim.figure()'''),
        ("md", "**Look at**: on the left, note the log scale: the sigmoid net's gradient shrinks by about a factor of 4 or "
               "more per layer toward the input, while tanh and ReLU stay within about one order of magnitude. On the right, the "
               "sigmoid net's loss barely moves while ReLU trains.\n\n"
               "**Try next**: `vanishing_gradients.run(small=True)` runs fewer steps; read "
               "`nnlect/experiments/vanishing_gradients.py` and change the depth or the initialization to see when sigmoid "
               "recovers."),
    ]),
    "04_universal_approximation": ("Universal approximation", """Slides *Universal Approximation Theorem* and *Universal Approximation*.

A network with one hidden layer of enough units approximates any continuous function on a compact set.
Here a $1 \\to \\text{width} \\to 1$ ReLU network fits $\\sin x$ on $[-\\pi, \\pi]$, and the error falls as it widens.""", [
        ("md", "## Error against width for $\\sin x$\n\n"
               "The slide: a feed-forward network with a single hidden layer containing a finite number of neurons can "
               "approximate continuous functions on compact subsets of $\\mathbb{R}^n$, under mild assumptions on the activation "
               "(sigmoid, tanh, ReLU). The theorem says enough units exist; it does not say how many, nor that training finds "
               "them. The cell trains one network per width and prints its mean squared error on the interval."),
        ("code", '''from nnlect.experiments import approximation

widths = (2, 8, 32) if SMALL else (1, 2, 4, 8, 16, 32, 64)
r = approximation.error_vs_width(widths, steps=1500 if SMALL else 3000)
for w, mse in zip(r["widths"], r["mse"]):
    print(f"width {w:3d}: mean squared error {mse:.2e}")
approximation.plot(r)'''),
        ("md", "**Look at**: the error falls by orders of magnitude as the width grows (log scale). A ReLU network is "
               "piecewise linear, so with few units you can count the kinks in its curve.\n\n"
               "## Another function, another activation\n\n"
               "The theorem is not about $\\sin$ or ReLU in particular: the cell fits $e^{-x^2}\\cos 3x$ on $[-2, 2]$ "
               "with tanh units, whose fits are smooth instead of piecewise linear."),
        ("code", '''r = approximation.error_vs_width((2, 8) if SMALL else (2, 4, 8, 16), function="bump", activation="tanh",
                                 steps=1500 if SMALL else 3000)
approximation.plot(r)'''),
        ("md", "**Look at**: the 2-unit network misses the side lobes of the bump; the wider ones follow them. The error need "
               "not fall at every width: each width is one training run from one random start, and a run can end worse "
               "than a narrower one.\n\n"
               "**Try next**: `activation=\"sigmoid\"`; fewer `steps` (does the wide net still win when training is short?); "
               "read `approximation.error_vs_width`'s docstring for the other functions it knows."),
    ]),
}
