"""The MLP follows the model contract: pure init/apply, any depth and lecture activation,
dropout with an explicit key, jit/grad/vmap compatible."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import nnlect as nl
from nnlect import activations


def test_mlp_params_are_a_plain_dict_with_documented_shapes():
    model = nl.mlp([784, 512, 512, 10], activation="relu", dropout=0.5)
    params = model.init(jax.random.key(0))
    assert isinstance(params, dict) and sorted(params) == ["dense_0", "dense_1", "dense_2"]
    assert params["dense_0"]["w"].shape == (784, 512) and params["dense_2"]["b"].shape == (10,)
    assert nl.count_params(params) == 784 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10


def test_mlp_forward_is_the_lecture_formula():
    model = nl.mlp([3, 4, 2], "sigmoid", output_activation="sigmoid")
    p = model.init(jax.random.key(1))
    x = jax.random.normal(jax.random.key(2), (5, 3))
    h = activations.sigmoid(x @ p["dense_0"]["w"] + p["dense_0"]["b"][None, :])
    y = activations.sigmoid(h @ p["dense_1"]["w"] + p["dense_1"]["b"][None, :])
    np.testing.assert_allclose(model.apply(p, x), y, rtol=1e-6)


@pytest.mark.parametrize("act", sorted(activations.ACTIVATIONS))
def test_every_lecture_activation_trains_in_an_mlp(act):
    """Twenty Adam steps with dropout lower the training loss, whatever the hidden activation."""
    model = nl.mlp([4, 6, 6, 3], act, dropout=0.1)
    params = model.init(jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (8, 4))
    labels = jnp.arange(8) % 3
    opt = optax.adam(0.05)
    step = nl.train.make_train_step(model, nl.softmax_cross_entropy, opt)
    state = nl.train.init_state(params, opt)
    before = float(nl.softmax_cross_entropy(model.apply(params, x), labels))
    for _ in range(20):
        state, value = step(state, x, labels, jax.random.key(2))
        assert np.isfinite(float(value))
    assert jax.tree.structure(state.params) == jax.tree.structure(params)
    if act != "step":  # the step function's derivative is 0: only the output layer learns
        assert float(nl.softmax_cross_entropy(model.apply(state.params, x), labels)) < before


def test_apply_is_deterministic_in_eval_and_keyed_in_train():
    model = nl.mlp([5, 16, 2], "relu", dropout=0.5)
    p = model.init(jax.random.key(0))
    x = jnp.ones((4, 5))
    np.testing.assert_array_equal(model.apply(p, x), model.apply(p, x))
    a = model.apply(p, x, key=jax.random.key(1), train=True)
    b = model.apply(p, x, key=jax.random.key(1), train=True)
    c = model.apply(p, x, key=jax.random.key(2), train=True)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_train_mode_without_a_key_says_how_to_fix_the_call():
    model = nl.mlp([5, 16, 2], "relu", dropout=0.5)
    p = model.init(jax.random.key(0))
    with pytest.raises(ValueError, match=r"needs a PRNG key: call apply\(params, x, key=jax.random.key"):
        model.apply(p, jnp.ones((4, 5)), train=True)
    # without dropout or noise, train mode needs no key
    plain = nl.mlp([5, 16, 2])
    plain.apply(plain.init(jax.random.key(0)), jnp.ones((4, 5)), train=True)


def test_maxout_mlp_has_pieces_times_the_units():
    model = nl.mlp([3, 4, 2], "maxout", maxout_pieces=3)
    p = model.init(jax.random.key(0))
    assert p["dense_0"]["w"].shape == (3, 12) and p["dense_1"]["w"].shape == (4, 2)
    assert model.apply(p, jnp.ones((2, 3))).shape == (2, 2)


def test_mlp_vmaps_over_parameter_ensembles():
    model = nl.mlp([2, 8, 1], "tanh")
    params = jax.vmap(model.init)(jax.random.split(jax.random.key(0), 4))
    out = jax.vmap(model.apply, in_axes=(0, None))(params, jnp.ones((3, 2)))
    assert out.shape == (4, 3, 1)


def test_output_activations():
    x = jnp.ones((2, 3))
    for out_act, check in [("softmax", lambda y: np.allclose(y.sum(-1), 1)),
                           ("sigmoid", lambda y: np.all((y > 0) & (y < 1))),
                           ("tanh", lambda y: np.all(np.abs(y) < 1))]:
        model = nl.mlp([3, 4, 5], output_activation=out_act)
        assert check(np.asarray(model.apply(model.init(jax.random.key(0)), x))), out_act


def test_per_layer_activations_and_rates():
    """Layer 1 is tanh without dropout, layer 2 relu with dropout 0.5: the forward pass is
    exactly that, and only the second hidden layer's units are dropped."""
    model = nl.mlp([3, 4, 5, 2], ["tanh", "relu"], dropout=[0.0, 0.5])
    p = model.init(jax.random.key(0))
    x = jax.random.normal(jax.random.key(3), (2, 3))
    h1 = jnp.tanh(x @ p["dense_0"]["w"] + p["dense_0"]["b"][None])
    h2 = jax.nn.relu(h1 @ p["dense_1"]["w"] + p["dense_1"]["b"][None])
    np.testing.assert_allclose(model.apply(p, x), h2 @ p["dense_2"]["w"] + p["dense_2"]["b"][None], rtol=1e-6)
    out = model.apply(p, x, key=jax.random.key(1), train=True)
    # the dropout layer sits at index 4 of the serial: dense_0, tanh, dense_1, relu, dropout, dense_2
    kept = nl.layers.dropout(0.5).apply({}, h2, key=nl.layers.layer_key(jax.random.key(1), 4), train=True)
    np.testing.assert_allclose(out, kept @ p["dense_2"]["w"] + p["dense_2"]["b"][None], rtol=1e-6)
    with pytest.raises(ValueError, match=r"activation: expected one value per hidden layer \(2\), got 3"):
        nl.mlp([3, 4, 5, 2], ["tanh", "relu", "relu"])
