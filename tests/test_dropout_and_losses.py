"""Dropout: rate is the DROP probability, inverted scaling, identity in eval, loud without a key.
Losses: the lecture's E(W) and softmax cross-entropy, with no silent broadcasting."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import nnlect as nl


def test_dropout_drops_rate_of_units_and_keeps_the_mean():
    x = jnp.ones((200, 500))
    y = nl.dropout(x, 0.3, key=jax.random.key(0))
    dropped = float(jnp.mean(y == 0))
    assert abs(dropped - 0.3) < 0.01
    np.testing.assert_allclose(np.unique(np.asarray(y)), [0.0, 1 / 0.7], rtol=1e-6)
    assert abs(float(y.mean()) - 1.0) < 0.01


def test_dropout_is_identity_in_eval_and_at_rate_zero():
    x = jax.random.normal(jax.random.key(0), (3, 4))
    assert nl.dropout(x, 0.5, key=None, train=False) is x
    assert nl.dropout(x, 0.0, key=None) is x


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5, float("nan")])
def test_dropout_rate_outside_unit_interval_is_rejected(rate):
    with pytest.raises(ValueError, match=r"rate: expected a float in \[0, 1\)"):
        nl.dropout(jnp.ones(3), rate, key=jax.random.key(0))
    with pytest.raises(ValueError, match=r"dropout: expected a float in \[0, 1\)"):
        nl.mlp([2, 3, 1], dropout=rate)


def test_dropout_without_key_in_train_mode_says_how_to_fix():
    with pytest.raises(ValueError, match=r"needs a PRNG key; call with key=jax.random.key\(seed\)"):
        nl.dropout(jnp.ones(3), 0.5, key=None)


def test_half_squared_error_is_the_lecture_formula():
    y = jnp.array([[0.2, 0.8], [1.0, 0.0]])
    d = jnp.array([[0.0, 1.0], [1.0, 1.0]])
    expected = np.mean([0.5 * (0.04 + 0.04), 0.5 * 1.0])
    np.testing.assert_allclose(nl.half_squared_error(y, d), expected, rtol=1e-6)


def test_losses_refuse_to_broadcast():
    with pytest.raises(ValueError, match=r"y and d: expected the same shape, got \(4, 1\) and \(4,\)"):
        nl.half_squared_error(jnp.ones((4, 1)), jnp.ones(4))
    with pytest.raises(ValueError, match=r"labels: expected integer shape \(4,\)"):
        nl.softmax_cross_entropy(jnp.ones((4, 3)), jnp.ones((4, 1), jnp.int32))
    with pytest.raises(TypeError, match="y: expected a floating dtype"):
        nl.half_squared_error(jnp.ones((4, 1), jnp.int32), jnp.ones((4, 1)))


def test_softmax_cross_entropy_integer_and_one_hot_agree():
    logits = jax.random.normal(jax.random.key(0), (6, 4))
    labels = jnp.array([0, 1, 2, 3, 0, 1])
    a = nl.softmax_cross_entropy(logits, labels)
    b = nl.softmax_cross_entropy(logits, jax.nn.one_hot(labels, 4))
    ref = -np.mean(np.asarray(jax.nn.log_softmax(logits))[np.arange(6), np.asarray(labels)])
    np.testing.assert_allclose([a, b], [ref, ref], rtol=1e-6)
    assert float(nl.accuracy(jax.nn.one_hot(labels, 4), labels)) == 1.0


def test_labels_outside_the_classes_are_refused_or_nan_under_jit():
    logits = jnp.zeros((2, 3))
    for bad in ([0, -1], [0, 3]):
        labels = jnp.array(bad)
        with pytest.raises(ValueError, match=r"labels: expected classes in \[0, 3\)"):
            nl.softmax_cross_entropy(logits, labels)
        with pytest.raises(ValueError, match=r"labels: expected classes in \[0, 3\)"):
            nl.accuracy(logits, labels)
        assert np.isnan(jax.jit(nl.softmax_cross_entropy)(logits, labels))  # never wraps around silently
        assert np.isnan(jax.jit(nl.accuracy)(logits, labels))


def test_accuracy_refuses_a_single_output_column():
    with pytest.raises(ValueError, match="accuracy needs K >= 2"):
        nl.accuracy(jnp.array([[0.1], [0.9]]), jnp.array([[1.0], [0.0]]))
