"""Convolution, pooling and LeNet-5 (slides "Convolutional Neural Network", "Use Case: Digits Recognition")."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import nnlect as nl
from nnlect.layers.convolution import output_size
from nnlect.models import count_params
from nnlect.models.cnn import cnn, lenet5

L = nl.layers


def conv2d(x, w, b=None, *, stride=1, padding="VALID"):
    """The conv layer applied with given weights (what 0.1's ``conv2d`` was)."""
    layer = L.conv(w.shape[-1], w.shape[:2], stride=stride, padding=padding)
    return layer.apply({"w": w, "b": jnp.zeros(w.shape[-1], w.dtype) if b is None else b}, x)


def max_pool(x, window=2, stride=None):
    return L.max_pool((window, window), stride).apply({}, x)


def avg_pool(x, window=2, stride=None):
    return L.avg_pool((window, window), stride).apply({}, x)


def _naive_conv(x, w, stride):
    """The lecture's formula, loop by loop: net_j(r, s) = sum_{p,q,m} w[p,q,m,j] x[r*stride+p, s*stride+q, m]."""
    b, h, wd, _ = x.shape
    kh, kw, _, co = w.shape
    oh, ow = (h - kh) // stride + 1, (wd - kw) // stride + 1
    out = np.zeros((b, oh, ow, co))
    for r in range(oh):
        for s in range(ow):
            patch = x[:, r * stride:r * stride + kh, s * stride:s * stride + kw, :]
            out[:, r, s, :] = np.einsum("bpqm,pqmj->bj", patch, w)
    return out


@pytest.mark.parametrize("stride", [1, 2])
def test_conv2d_is_the_weight_sharing_sum_over_receptive_fields(stride):
    rng = np.random.default_rng(0)
    x, w, b = rng.normal(size=(2, 9, 8, 3)), rng.normal(size=(3, 2, 3, 4)), rng.normal(size=(4,))
    got = conv2d(jnp.asarray(x, jnp.float32), jnp.asarray(w, jnp.float32), jnp.asarray(b, jnp.float32), stride=stride)
    np.testing.assert_allclose(got, _naive_conv(x, w, stride) + b, rtol=1e-4, atol=1e-4)


def test_same_padding_keeps_the_size_and_output_size_predicts_every_shape():
    x = jnp.ones((1, 7, 6, 2))
    w = jnp.ones((3, 3, 2, 5))
    for stride in (1, 2):
        for padding in ("SAME", "VALID", ((1, 2), (0, 1))):
            out = conv2d(x, w, stride=stride, padding=padding)
            assert out.shape == (1, output_size(7, 3, stride, padding, 0), output_size(6, 3, stride, padding, 1), 5)
    assert conv2d(x, w, padding="SAME").shape == (1, 7, 6, 5)


def test_pooling_takes_the_mean_and_the_max_of_each_patch():
    x = jnp.arange(16.0).reshape(1, 4, 4, 1)
    np.testing.assert_allclose(avg_pool(x)[0, :, :, 0], [[2.5, 4.5], [10.5, 12.5]])
    np.testing.assert_allclose(max_pool(x)[0, :, :, 0], [[5, 7], [13, 15]])
    assert max_pool(jnp.ones((2, 7, 7, 3)), 3, 2).shape == (2, 3, 3, 3)
    assert L.flatten().apply({}, jnp.ones((2, 3, 4, 5))).shape == (2, 60)


def test_pooling_is_differentiable_and_max_pool_routes_the_gradient_to_the_winner():
    x = jnp.asarray([[1.0, 3.0], [2.0, 0.0]]).reshape(1, 2, 2, 1)
    g_max = jax.grad(lambda v: jnp.sum(max_pool(v)))(x)
    g_avg = jax.grad(lambda v: jnp.sum(avg_pool(v)))(x)
    np.testing.assert_allclose(g_max.reshape(2, 2), [[0, 1], [0, 0]])
    np.testing.assert_allclose(g_avg.reshape(2, 2), np.full((2, 2), 0.25))


def test_classic_lenet5_has_61706_parameters_in_the_documented_shapes():
    model = lenet5()
    params = model.init(jax.random.key(0))
    assert count_params(params) == 61_706  # 156 + 2,416 + 48,120 + 10,164 + 850
    shapes = {k: {n: v.shape for n, v in layer.items()} for k, layer in params.items()}
    assert shapes == {
        "conv_0": {"w": (5, 5, 1, 6), "b": (6,)},       # C1
        "conv_1": {"w": (5, 5, 6, 16), "b": (16,)},     # C3
        "dense_0": {"w": (400, 120), "b": (120,)},      # C5 on S4's 5x5x16
        "dense_1": {"w": (120, 84), "b": (84,)},        # F6
        "dense_2": {"w": (84, 10), "b": (10,)},         # output
    }


@pytest.mark.parametrize("input_shape,activation,pooling", [
    ((28, 28, 1), "tanh", "avg"), ((32, 32, 1), "relu", "max"), ((8, 8, 1), "relu", "avg"), ((27, 30, 3), "tanh", "max"),
])
def test_shapes_init_works_out_agree_with_what_apply_produces(input_shape, activation, pooling):
    model = lenet5(input_shape=input_shape, activation=activation, pooling=pooling, n_classes=7)
    params = model.init(jax.random.key(1))
    out = model.apply(params, jnp.ones((3, *input_shape)))
    assert out.shape == (3, 7)
    assert bool(jnp.all(jnp.isfinite(out)))


def test_dropout_needs_a_key_in_training_and_changes_nothing_in_evaluation():
    model = lenet5(dropout=0.5)
    params = model.init(jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (4, 28, 28, 1))
    with pytest.raises(ValueError, match="needs a PRNG key"):
        model.apply(params, x, train=True)
    a = model.apply(params, x, key=jax.random.key(2), train=True)
    b = model.apply(params, x, key=jax.random.key(3), train=True)
    assert not np.allclose(a, b)
    np.testing.assert_array_equal(model.apply(params, x), nl.lenet5(dropout=0.0).apply(params, x))


def test_bad_inputs_are_named_before_tracing():
    model = lenet5()
    params = model.init(jax.random.key(0))
    with pytest.raises(ValueError, match=r"x: expected shape \(\.\.\., 28, 28, 1\), got \(2, 32, 32, 1\)"):
        model.apply(params, jnp.ones((2, 32, 32, 1)))
    with pytest.raises(TypeError, match="x: expected a floating dtype"):
        model.apply(params, jnp.ones((2, 28, 28, 1), jnp.uint8))
    with pytest.raises(ValueError, match="input_shape"):
        lenet5(input_shape=(64, 64, 1))
    with pytest.raises(ValueError, match="pooling"):
        lenet5(pooling="median")
    with pytest.raises(ValueError, match=r"x: expected shape \(\.\.\., n, n, 2\) for kernel \(3, 3\), got \(1, 5, 5, 3\)"):
        conv2d(jnp.ones((1, 5, 5, 3)), jnp.ones((3, 3, 2, 4)))
    with pytest.raises(ValueError, match="padding"):
        conv2d(jnp.ones((1, 5, 5, 2)), jnp.ones((3, 3, 2, 4)), padding="FULL")
    with pytest.raises(ValueError, match=r"layer 3 \(conv_1\): in_shape: conv .* on an input of shape \(2, 2, 4\) gives an empty"):
        cnn([(4, 5, 2), (4, 5, 2)], [10], input_shape=(8, 8, 1))
    with pytest.raises(ValueError, match=r"layer 0 \(conv_0\): params: expected w \(5, 5, C_in, 6\)"):
        model.apply({**params, "conv_0": {"w": jnp.ones((3, 3, 1, 6)), "b": jnp.ones(6)}}, jnp.ones((1, 28, 28, 1)))


def test_apply_compiles_once_per_input_shape():
    model = lenet5()
    params = model.init(jax.random.key(0))
    apply = jax.jit(model.apply)
    apply(params, jnp.ones((2, 28, 28, 1)))
    apply(params, jnp.zeros((2, 28, 28, 1)))
    assert apply._cache_size() == 1
    apply(params, jnp.zeros((5, 28, 28, 1)))
    assert apply._cache_size() == 2


def test_the_fast_paths_compute_the_same_convolution_and_max_pooling():
    """C1's im2col matmul and the reshape max pool agree with lax's direct versions, gradients included."""
    from jax import lax

    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(3, 12, 12, 1)), jnp.float32)
    w = jnp.asarray(rng.normal(size=(5, 5, 1, 4)), jnp.float32)
    for stride, padding in [(1, ((2, 2), (2, 2))), (2, "SAME"), (1, "VALID")]:
        direct = lax.conv_general_dilated(x, w, (stride, stride), padding, dimension_numbers=("NHWC", "HWIO", "NHWC"))
        np.testing.assert_allclose(conv2d(x, w, stride=stride, padding=padding), direct, rtol=1e-5, atol=1e-5)
    m = jnp.asarray(rng.normal(size=(2, 8, 6, 3)), jnp.float32)
    window = lax.reduce_window(m, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
    np.testing.assert_array_equal(max_pool(m), window)
    g_fast = jax.grad(lambda v: jnp.sum(max_pool(v) ** 2))(m)
    g_rw = jax.grad(lambda v: jnp.sum(lax.reduce_window(v, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID") ** 2))(m)
    np.testing.assert_allclose(g_fast, g_rw, rtol=1e-6)
