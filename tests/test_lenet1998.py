"""LeNet-5 as published in 1998: the paper's parameter counts, Table I, the RBF codes, and
gradients of the new layers against finite differences."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import nnlect as nl
from nnlect.layers import lenet1998 as L98
from nnlect.models.lenet1998 import PAPER_PARAMS

L = nl.layers


def test_lenet5_1998_has_the_papers_parameter_counts_layer_by_layer():
    model = nl.lenet5_1998()
    params = model.init(jax.random.key(0))
    assert {name: nl.count_params(p) for name, p in params.items()} == PAPER_PARAMS
    assert PAPER_PARAMS == {"c1": 156, "s2": 12, "c3": 1516, "s4": 32, "c5": 48120, "f6": 10164}
    assert nl.count_params(params) == 60_000


@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 1), (8, 8, 1)])
def test_lenet5_1998_maps_images_to_ten_scores(shape):
    model = nl.lenet5_1998(input_shape=shape)
    params = model.init(jax.random.key(1))
    x = jax.random.normal(jax.random.key(2), (3, *shape))
    out = model.apply(params, x)
    assert out.shape == (3, 10)
    assert bool(jnp.all(out <= 0))  # minus squared distances


def test_c3_table_is_table_one_with_sixty_connections():
    table = L98.C3_TABLE
    assert len(table) == 16 and sum(len(row) for row in table) == 60
    assert [len(row) for row in table] == [3] * 6 + [4] * 9 + [6]
    # the first six maps take three contiguous S2 maps (cyclically), the last takes all six
    assert all(sorted(row) == sorted({(j + k) % 6 for k in range(3)}) for j, row in enumerate(table[:6]))
    assert table[-1] == (0, 1, 2, 3, 4, 5)
    assert len(set(map(frozenset, table))) == 16


def test_partial_conv_ignores_unconnected_input_maps():
    layer = L98.partial_conv(((0,), (0, 1)), (3, 3))
    _, params = layer.init(jax.random.key(0), (6, 6, 2))
    assert params["w"].shape == (3, 3, 3)
    x = jax.random.normal(jax.random.key(1), (2, 6, 6, 2))
    changed = x.at[..., 1].add(5.0)  # only output map 1 reads input map 1
    y, y2 = layer.apply(params, x), layer.apply(params, changed)
    np.testing.assert_allclose(y[..., 0], y2[..., 0], rtol=1e-6, atol=1e-6)
    assert float(jnp.max(jnp.abs(y[..., 1] - y2[..., 1]))) > 1e-2


def test_partial_conv_equals_a_full_conv_with_the_missing_weights_zero():
    table = ((0, 2), (1,), (0, 1, 2))
    layer = L98.partial_conv(table, (2, 2))
    _, params = layer.init(jax.random.key(0), (5, 5, 3))
    full = np.zeros((2, 2, 3, 3), np.float32)
    c = 0
    for j, row in enumerate(table):
        for m in row:
            full[:, :, m, j] = np.asarray(params["w"][:, :, c])
            c += 1
    x = jax.random.normal(jax.random.key(1), (2, 5, 5, 3))
    expected = L.conv(3, (2, 2)).apply({"w": jnp.asarray(full), "b": params["b"]}, x)
    np.testing.assert_allclose(layer.apply(params, x), expected, rtol=1e-5, atol=1e-5)


def test_subsample_is_mean_times_coefficient_plus_bias():
    layer = L98.subsample((2, 2))
    out, params = layer.init(jax.random.key(0), (4, 4, 2))
    assert out == (2, 2, 2)
    params = {"coef": jnp.array([2.0, -1.0]), "b": jnp.array([0.5, 0.0])}
    x = jnp.arange(32.0).reshape(1, 4, 4, 2)
    y = layer.apply(params, x)
    mean00 = x[0, :2, :2, :].mean(axis=(0, 1))
    np.testing.assert_allclose(y[0, 0, 0], mean00 * params["coef"] + params["b"], rtol=1e-6)


def test_scaled_tanh_maps_plus_minus_one_to_plus_minus_one():
    np.testing.assert_allclose(L98.scaled_tanh(jnp.array([-1.0, 0.0, 1.0])), [-1.0, 0.0, 1.0], atol=2e-4)
    assert abs(float(L98.scaled_tanh(jnp.array(50.0))) - 1.7159) < 1e-6


def test_digit_codes_are_plus_minus_one_bitmaps_far_apart():
    codes = L98.DIGIT_CODES
    assert codes.shape == (10, 84) and set(np.unique(codes)) == {-1.0, 1.0}
    hamming = (codes[:, None, :] != codes[None, :, :]).sum(-1)
    assert hamming[~np.eye(10, dtype=bool)].min() >= 10
    assert np.all(codes.reshape(10, 12, 7)[:, 10:] == -1)  # the bottom two rows are blank


def test_rbf_is_the_squared_distance_to_each_code():
    codes = np.array([[1.0, -1.0], [0.0, 2.0], [3.0, 3.0]], np.float32)
    layer = L98.rbf(codes)
    assert layer.init(None, (2,)) == ((3,), {})
    x = jnp.array([[0.5, 0.5], [1.0, -1.0]])
    expected = ((np.asarray(x)[:, None, :] - codes[None]) ** 2).sum(-1)
    np.testing.assert_allclose(layer.apply({}, x), expected, rtol=1e-5, atol=1e-5)


def test_map_loss_is_cross_entropy_with_a_rubbish_class():
    d = jnp.array([[0.5, 3.0, 9.0], [4.0, 0.1, 2.0]])
    labels = jnp.array([0, 2])
    j = 2.0
    by_hand = np.mean([float(d[p, labels[p]]) + np.log(np.exp(-j) + np.exp(-np.asarray(d[p])).sum()) for p in range(2)])
    np.testing.assert_allclose(L98.map_loss(d, labels, j=j), by_hand, rtol=1e-6)
    # j -> infinity: plain softmax cross-entropy over -y
    np.testing.assert_allclose(L98.map_loss(d, labels, j=1e4), nl.softmax_cross_entropy(-d, labels), rtol=1e-6)


@pytest.mark.long
def test_gradient_of_the_1998_network_agrees_with_finite_differences():
    jax.config.update("jax_enable_x64", True)
    try:
        model = nl.lenet5_1998(input_shape=(8, 8, 1), dtype=jnp.float64)
        params = model.init(jax.random.key(3))
        x = jax.random.normal(jax.random.key(4), (4, 8, 8, 1), jnp.float64)
        y = jnp.array([0, 3, 7, 9])
        loss = lambda p: nl.softmax_cross_entropy(model.apply(p, x), y)
        grads = jax.grad(loss)(params)
        eps = 1e-6
        for name, leaf, index in [("c1", "w", (2, 3, 0, 4)), ("s2", "coef", (1,)), ("s2", "b", (5,)),
                                  ("c3", "w", (1, 4, 37)), ("c3", "b", (15,)), ("s4", "coef", (11,)),
                                  ("c5", "w", (7, 100)), ("f6", "b", (20,))]:
            def shifted(delta):
                p = jax.tree.map(lambda a: a, params)
                p[name] = dict(p[name])
                p[name][leaf] = p[name][leaf].at[index].add(delta)
                return float(loss(p))
            numeric = (shifted(eps) - shifted(-eps)) / (2 * eps)
            np.testing.assert_allclose(float(grads[name][leaf][index]), numeric, rtol=1e-5, atol=1e-8,
                                       err_msg=f"{name}.{leaf}{index}")
    finally:
        jax.config.update("jax_enable_x64", False)


def test_bad_input_is_refused_with_the_argument_named():
    with pytest.raises(ValueError, match="input_shape"):
        nl.lenet5_1998(input_shape=(36, 36, 1))
    with pytest.raises(ValueError, match="input_shape"):
        nl.lenet5_1998(input_shape=(28, 28, 3))
    with pytest.raises(ValueError, match="table"):
        L98.partial_conv(((0, 0), (1,)))
    with pytest.raises(ValueError, match="table"):
        L98.partial_conv("abc")
    with pytest.raises(ValueError, match="in_shape"):
        L98.partial_conv(L98.C3_TABLE).init(jax.random.key(0), (14, 14, 4))
    with pytest.raises(ValueError, match="codes"):
        L98.rbf(np.zeros((10,)))
    with pytest.raises(ValueError, match="in_shape"):
        L98.rbf().init(None, (83,))
    with pytest.raises(ValueError, match="params"):
        L98.subsample().apply({"coef": jnp.ones(3), "b": jnp.zeros(3)}, jnp.zeros((1, 4, 4, 2)))
    with pytest.raises(ValueError, match="labels"):
        L98.map_loss(jnp.zeros((2, 10)), jnp.zeros((3,), jnp.int32))
    with pytest.raises(ValueError, match="j"):
        L98.map_loss(jnp.zeros((2, 10)), jnp.zeros((2,), jnp.int32), j=0.0)
    model = nl.lenet5_1998()
    with pytest.raises(ValueError, match="x"):
        model.apply(model.init(jax.random.key(0)), jnp.zeros((2, 32, 32, 1)))
