"""Each hand derivative of the lecture equals what jax.grad derives (float64, away from kinks)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nnlect import activations

ELEMENTWISE = ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "identity", "step"]


def _points():
    z = np.linspace(-6.0, 6.0, 241)
    return z[np.abs(z) > 1e-3]  # away from the kink at 0


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_hand_derivative_matches_jax_grad(name):
    act = activations.get(name)
    with jax.enable_x64(True):
        z = jnp.asarray(_points(), jnp.float64)
        auto = jax.vmap(jax.grad(act.fn))(z)
        np.testing.assert_allclose(act.derivative(z), auto, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_numpy_and_jax_compute_the_same_formula(name):
    act = activations.get(name)
    z = _points()
    np_out, np_der = act.fn(z), act.derivative(z)
    assert isinstance(np_out, np.ndarray) and isinstance(np_der, np.ndarray)  # NumPy in, NumPy out
    with jax.enable_x64(True):
        np.testing.assert_allclose(np_out, act.fn(jnp.asarray(z)), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(np_der, act.derivative(jnp.asarray(z)), rtol=1e-12, atol=1e-15)


def test_lecture_formulas():
    z = np.array([-2.0, -0.5, 0.5, 2.0])
    s = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(activations.sigmoid(z), s)
    np.testing.assert_allclose(activations.sigmoid_derivative(z), s * (1 - s))
    t = (1 - np.exp(-2 * z)) / (1 + np.exp(-2 * z))
    np.testing.assert_allclose(activations.tanh(z), t)
    np.testing.assert_allclose(activations.tanh_derivative(z), 1 - t ** 2)
    np.testing.assert_allclose(activations.relu(z), [0, 0, 0.5, 2.0])
    np.testing.assert_allclose(activations.relu_derivative(z), [0, 0, 1, 1])
    np.testing.assert_allclose(activations.softplus(z), np.log(1 + np.exp(z)))
    np.testing.assert_allclose(activations.step(np.array([-1.0, 0.0, 1.0])), [-1, 1, 1])
    np.testing.assert_allclose(activations.elu(z), np.where(z > 0, z, np.exp(z) - 1))
    np.testing.assert_allclose(activations.leaky_relu(z), np.where(z > 0, z, 0.01 * z))


def test_activations_stay_finite_at_extremes():
    z = jnp.array([-1e4, -80.0, 80.0, 1e4], jnp.float32)
    for name in ELEMENTWISE:
        act = activations.get(name)
        assert np.all(np.isfinite(act.fn(z))), name
        assert np.all(np.isfinite(act.derivative(z))), name


def test_maxout_takes_the_max_piece_and_its_derivative_matches_jax_grad():
    rng = np.random.default_rng(0)
    with jax.enable_x64(True):
        z = jnp.asarray(rng.normal(size=(5, 12)))
        h = activations.maxout(z, 3)
        np.testing.assert_allclose(h, np.asarray(z).reshape(5, 4, 3).max(-1))
        auto = jax.grad(lambda v: activations.maxout(v, 3).sum())(z)
        np.testing.assert_allclose(activations.maxout_derivative(z, 3), auto)
    with pytest.raises(ValueError, match="pieces"):
        activations.maxout(jnp.ones((2, 5)), 2)


def test_noisy_relu_needs_a_key_and_its_derivative_matches_jax_grad():
    z = jnp.linspace(-3, 3, 101)
    with pytest.raises(ValueError, match="key"):
        activations.noisy_relu(z, key=None)
    key = jax.random.key(1)
    out = activations.noisy_relu(z, key=key, stddev=0.5)
    assert out.shape == z.shape and bool(jnp.all(out >= 0))
    assert not np.allclose(out, activations.relu(z))  # noise was added
    np.testing.assert_array_equal(out, activations.noisy_relu(z, key=key, stddev=0.5))  # same key, same numbers
    auto = jax.grad(lambda v: activations.noisy_relu(v, key=key, stddev=0.5).sum())(z)
    np.testing.assert_array_equal(activations.noisy_relu_derivative(z, key=key, stddev=0.5), auto)


def test_unknown_activation_names_the_argument():
    with pytest.raises(ValueError, match=r"activation: expected one of .* got 'swish'"):
        activations.get("swish")


def test_nan_is_never_swallowed():
    z = jnp.array([jnp.nan, -1.0, 1.0])
    for name in ELEMENTWISE:
        if name != "step":  # a threshold unit has no NaN output by definition
            assert np.isnan(activations.get(name).fn(z)[0]), name
            assert np.isnan(jax.jit(activations.get(name).fn)(z)[0]), name  # XLA may not simplify it away
