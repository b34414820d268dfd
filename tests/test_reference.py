"""The lecture's delta rule, written by hand in NumPy and in jitted jnp, equals jax.grad."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings, strategies as st

import nnlect as nl
from nnlect.reference import jax_backprop, numpy_backprop

nets = st.fixed_dictionaries({
    "sizes": st.lists(st.integers(1, 9), min_size=2, max_size=5),  # depth 1-4 weight layers
    "batch": st.integers(1, 6),
    "activation": st.sampled_from(["sigmoid", "tanh", "relu"]),
    "loss": st.sampled_from(["half_squared_error", "softmax_cross_entropy"]),
    "seed": st.integers(0, 2**16),
})


def _problem(net):
    sizes, loss = net["sizes"], net["loss"]
    output = "sigmoid" if loss == "half_squared_error" else "identity"
    model = nl.mlp(sizes, net["activation"], output_activation=output, dtype=jnp.float64)
    params = model.init(jax.random.key(net["seed"]))
    rng = np.random.default_rng(net["seed"])
    x = rng.normal(size=(net["batch"], sizes[0]))
    if loss == "half_squared_error":
        d, loss_fn = rng.uniform(size=(net["batch"], sizes[-1])), nl.half_squared_error
    else:
        d, loss_fn = rng.integers(0, sizes[-1], size=net["batch"]), nl.softmax_cross_entropy
    kwargs = dict(activation=net["activation"], output_activation=output, loss=loss)
    objective = lambda p: loss_fn(model.apply(p, jnp.asarray(x)), jnp.asarray(d))
    return params, x, d, objective, kwargs


def _numpy_gradients(params, x, d, kwargs):
    hand = numpy_backprop.gradients(numpy_backprop.to_numpy(params), x, d, **kwargs)
    for leaf in jax.tree_util.tree_leaves(hand):
        assert isinstance(leaf, np.ndarray)  # computed in NumPy, not jnp
    return hand


def _jnp_gradients(params, x, d, kwargs):
    return jax_backprop.gradients(params, jnp.asarray(x), jnp.asarray(d), **kwargs)


def _agrees_with_jax_grad(net, handwritten):
    with jax.enable_x64(True):
        params, x, d, objective, kwargs = _problem(net)
        auto = jax.jit(jax.grad(objective))(params)
        hand = handwritten(params, x, d, kwargs)
        jax.tree.map(lambda a, h: np.testing.assert_allclose(h, a, rtol=1e-6, atol=1e-12), auto, hand)


@settings(max_examples=20, deadline=None)
@given(net=nets)
def test_handwritten_numpy_backprop_matches_jax_grad(net):
    _agrees_with_jax_grad(net, _numpy_gradients)


@settings(max_examples=8, deadline=None)  # each example compiles the jitted reference once
@given(net=nets)
def test_handwritten_jnp_backprop_matches_jax_grad(net):
    _agrees_with_jax_grad(net, _jnp_gradients)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_one_sgd_step_of_each_gives_the_same_params(activation):
    net = {"sizes": [4, 6, 5, 3], "batch": 7, "activation": activation, "loss": "half_squared_error", "seed": 3}
    eta = 0.5
    with jax.enable_x64(True):
        params, x, d, objective, kwargs = _problem(net)
        opt = optax.sgd(eta)
        updates, _ = opt.update(jax.grad(objective)(params), opt.init(params))
        expected = optax.apply_updates(params, updates)
        by_numpy = numpy_backprop.sgd_step(numpy_backprop.to_numpy(params), x, d, eta=eta, **kwargs)
        by_jnp = jax_backprop.sgd_step(jax.tree.map(jnp.array, params), jnp.asarray(x), jnp.asarray(d), eta=eta, **kwargs)
        jax.tree.map(lambda e, a, b: (np.testing.assert_allclose(a, e, rtol=1e-10),
                                      np.testing.assert_allclose(b, e, rtol=1e-10)), expected, by_numpy, by_jnp)


def test_lecture_worked_example_output_delta():
    # delta_alpha = out (1 - out) (target - out) for a sigmoid output and E = 1/2 (y - d)^2
    params = {"dense_0": {"w": np.array([[0.3], [-0.2]]), "b": np.array([0.1])}}
    x, d = np.array([[1.0, 2.0]]), np.array([[1.0]])
    _, deltas = numpy_backprop.deltas(params, x, d, activation=[], output_activation="sigmoid")
    out = 1 / (1 + np.exp(-(0.3 - 0.4 + 0.1)))
    np.testing.assert_allclose(deltas[0], [[out * (1 - out) * (1.0 - out)]])


def test_reference_rejects_activations_it_has_no_hand_derivative_for():
    params = nl.mlp([2, 3, 1]).init(jax.random.key(0))
    with pytest.raises(ValueError, match="activation: the handwritten reference supports"):
        numpy_backprop.gradients(numpy_backprop.to_numpy(params), np.ones((1, 2)), np.ones((1, 1)), activation="maxout")
