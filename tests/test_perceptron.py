"""Rosenblatt's perceptron: converges on separable data within Novikoff's bound,
and never gets all four XOR points right."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import nnlect as nl
from nnlect.data import toy


def test_perceptron_converges_on_separable_data_within_novikoff_bound():
    margin = 0.1
    x, y, u = toy.linearly_separable(300, margin=margin, seed=3)
    xa = np.concatenate([x, np.ones((len(x), 1))], axis=1)
    assert np.min(y * (xa @ u)) >= margin  # the construction's margin holds
    radius = np.max(np.linalg.norm(xa, axis=1))
    model = nl.perceptron(2)
    params, mistakes = model.fit(model.init(jax.random.key(0)), jnp.asarray(x), jnp.asarray(y), epochs=60)
    mistakes = np.asarray(mistakes)
    assert mistakes[-1] == 0
    assert mistakes.sum() <= (radius / margin) ** 2
    np.testing.assert_array_equal(model.apply(params, jnp.asarray(x)), y)


def test_rosenblatt_rule_is_the_lecture_update():
    model = nl.perceptron(2)
    params = {"w": jnp.array([0.5, -1.0]), "b": jnp.array(0.0)}
    x = jnp.array([[1.0, 1.0]])  # net = -0.5 -> y_hat = -1
    new, mistakes = model.fit(params, x, jnp.array([1.0]), eta=0.25, epochs=1)
    # w_i += eta (y - y_hat) x_i = 0.25 * 2 * 1; b += 0.25 * 2
    np.testing.assert_allclose(new["w"], [1.0, -0.5])
    np.testing.assert_allclose(new["b"], 0.5)
    assert int(mistakes[0]) == 1


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), epochs=st.integers(1, 50), init=st.sampled_from(["zeros", "normal"]),
       eta=st.floats(0.01, 2.0))
def test_perceptron_cannot_learn_xor(seed, epochs, init, eta):
    x, y = toy.xor("sign")
    model = nl.perceptron(2, init=init)
    key = jax.random.key(seed)
    params, mistakes = model.fit(model.init(key), jnp.asarray(x), jnp.asarray(y), epochs=epochs, eta=eta, key=key)
    assert np.all(np.asarray(mistakes) > 0)  # every epoch still makes a mistake
    assert np.sum(np.asarray(model.apply(params, jnp.asarray(x))) == y) <= 3


def test_perceptron_rejects_labels_outside_plus_minus_one():
    model = nl.perceptron(2)
    x, _ = toy.xor("binary")
    with pytest.raises(ValueError, match=r"y: expected labels in \{\+1, -1\}, got \[0.0\]"):
        model.fit(model.init(jax.random.key(0)), jnp.asarray(x), jnp.array([0.0, 1.0, 1.0, 0.0]))


def test_perceptron_rejects_bad_eta_epochs_and_shapes():
    model = nl.perceptron(2)
    x, y = toy.xor("sign")
    p = model.init(jax.random.key(0))
    with pytest.raises(ValueError, match="eta: expected a positive"):
        model.fit(p, jnp.asarray(x), jnp.asarray(y), eta=0.0)
    with pytest.raises(ValueError, match="epochs: expected a positive int"):
        model.fit(p, jnp.asarray(x), jnp.asarray(y), epochs=0)
    with pytest.raises(ValueError, match=r"x: expected shape \(batch, 2\), got \(4, 3\)"):
        model.apply(p, jnp.ones((4, 3)))
    with pytest.raises(ValueError, match=r"y: expected shape \(4,\)"):
        model.fit(p, jnp.asarray(x), jnp.asarray(y[:3]))
    with pytest.raises(TypeError, match="x: expected a floating dtype"):
        model.apply(p, jnp.ones((4, 2), jnp.int32))
