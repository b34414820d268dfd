"""nnlect.layers: networks nobody wrote for us, composed from the lecture's modules with nl.serial."""

import importlib

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings, strategies as st

import nnlect as nl

L = nl.layers


def test_a_convnet_is_one_line_and_trains_with_fit():
    model = nl.build(nl.serial(L.conv(8, (3, 3)), L.activation("relu"), L.max_pool((2, 2)), L.flatten(), L.dense(10)), (8, 8, 1))
    x = jax.random.normal(jax.random.key(0), (64, 8, 8, 1))
    y = jnp.asarray(np.arange(64) % 10, jnp.int32)
    params = model.init(jax.random.key(1))
    state, history = nl.train.fit(model, params, nl.softmax_cross_entropy, optax.adam(1e-2), x, y,
                                  key=jax.random.key(2), epochs=5, batch_size=16)
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert jax.tree.map(jnp.shape, state.params) == {"conv": {"w": (3, 3, 1, 8), "b": (8,)}, "dense": {"w": (72, 10), "b": (10,)}}


def test_lenet5_in_twelve_lines_of_layers_is_nl_lenet5():
    """The factory is nothing but this composition: same params, same outputs."""
    act, pool = L.activation("tanh"), L.avg_pool((2, 2))
    net = nl.serial(
        L.named("conv_0", L.conv(6, (5, 5), padding=2, init="glorot")), act, pool,   # C1 on the 32x32 field, S2
        L.named("conv_1", L.conv(16, (5, 5), init="glorot")), act, pool,             # C3, S4
        L.flatten(), L.named("dense_0", L.dense(120, init="glorot")), act,            # C5
        L.named("dense_1", L.dense(84, init="glorot")), act,                          # F6
        L.named("dense_2", L.dense(10)))                                              # output
    ours = nl.build(net, (28, 28, 1))
    params = nl.lenet5().init(jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (3, 28, 28, 1))
    np.testing.assert_allclose(ours.apply(params, x), nl.lenet5().apply(params, x), rtol=1e-6, atol=1e-6)
    assert jax.tree.map(jnp.shape, ours.init(jax.random.key(0))) == jax.tree.map(jnp.shape, params)


# --- random stacks: shapes, transformations, keys, compiles ---------------------------------

@st.composite
def stacks(draw):
    """A per-example (H, W, C) shape and a random list of conv / pool / activation / dropout layers."""
    in_shape = (draw(st.integers(4, 9)), draw(st.integers(4, 9)), draw(st.integers(1, 3)))
    layers = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["conv", "pool", "activation", "dropout"]))
        if kind == "conv":
            kernel = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
            layers.append(L.conv(draw(st.integers(1, 4)), kernel, stride=draw(st.integers(1, 2)),
                                 padding=draw(st.sampled_from(["SAME", "VALID"]))))
        elif kind == "pool":
            layers.append(draw(st.sampled_from([L.max_pool, L.avg_pool]))((1, 2), padding="SAME"))
        elif kind == "activation":
            layers.append(L.activation(draw(st.sampled_from(["relu", "tanh", "sigmoid", "elu", "softplus", "leaky_relu"]))))
        else:
            layers.append(L.dropout(draw(st.sampled_from([0.1, 0.5]))))
    return in_shape, layers


@settings(max_examples=4, deadline=None)
@given(stacks(), st.integers(0, 2**16))
def test_random_stacks_init_apply_jit_grad_vmap_agree(case, seed):
    in_shape, body = case
    net = nl.serial(*body, L.flatten(), L.dense(3))
    out_shape, params = net.init(jax.random.key(seed), in_shape)
    model = nl.build(net, in_shape)
    x = jax.random.normal(jax.random.key(seed + 1), (4, *in_shape))
    key = jax.random.key(seed + 2)
    y = model.apply(params, x, key=key, train=True)
    assert y.shape == (4, *out_shape) == (4, 3)
    # the same key gives the same numbers; jit changes nothing
    np.testing.assert_array_equal(y, model.apply(params, x, key=key, train=True))
    step = jax.jit(lambda p, x, k: jax.value_and_grad(lambda p: jnp.sum(model.apply(p, x, key=k, train=True) ** 2))(p))
    loss, grads = step(params, x, key)
    np.testing.assert_allclose(loss, jnp.sum(y ** 2), rtol=2e-5)
    assert jax.tree.structure(grads) == jax.tree.structure(params)
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves(grads))
    # per-example, under vmap, without a batch axis: the same outputs in evaluation
    np.testing.assert_allclose(jax.vmap(model.apply, in_axes=(None, 0))(params, x), model.apply(params, x), rtol=1e-5, atol=1e-6)
    # no recompiles after the first step
    step(params, x + 1.0, jax.random.key(seed + 3))
    assert step._cache_size() == 1


def test_each_dropout_layer_draws_from_its_own_stream():
    """Two dropout layers of the same rate on the same values drop different units, and
    appending a layer leaves the masks before it as they were."""
    x = jnp.ones((1, 200))
    key = jax.random.key(0)
    two = nl.serial(L.dropout(0.5), L.activation("identity"), L.dropout(0.5))
    first = L.dropout(0.5).apply({}, x, key=L.layer_key(key, 0), train=True)
    after_both = two.apply({}, x, key=key, train=True)
    np.testing.assert_array_equal(nl.serial(L.dropout(0.5)).apply({}, x, key=key, train=True), first)
    second = L.dropout(0.5).apply({}, jnp.ones((1, 200)), key=L.layer_key(key, 2), train=True)
    np.testing.assert_array_equal(after_both, first * second)  # layer 2 used fold_in(key, 2), not layer 0's mask
    assert not np.array_equal(np.asarray(first == 0), np.asarray(second == 0))


def test_apply_takes_any_leading_axes_and_vmap_gives_per_example_gradients():
    model = nl.mlp([5, 7, 3], "tanh")
    params = model.init(jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (4, 6, 5))
    y = jnp.asarray(np.arange(24).reshape(4, 6) % 3, jnp.int32)
    np.testing.assert_allclose(model.apply(params, x), model.apply(params, x.reshape(24, 5)).reshape(4, 6, 3), rtol=1e-6)

    def loss(p, xi, yi):
        return nl.softmax_cross_entropy(model.apply(p, xi[None]), yi[None])

    per_example = jax.vmap(jax.grad(loss), in_axes=(None, 0, 0))(params, x[0], y[0])
    assert per_example["dense_0"]["w"].shape == (6, 5, 7)
    mean = jax.grad(lambda p: nl.softmax_cross_entropy(model.apply(p, x[0]), y[0]))(params)
    np.testing.assert_allclose(per_example["dense_0"]["w"].mean(0), mean["dense_0"]["w"], rtol=1e-5, atol=1e-7)


def test_an_ensemble_is_vmap_of_init():
    model = nl.mlp([3, 4, 2])
    ensemble = jax.vmap(model.init)(jax.random.split(jax.random.key(0), 5))
    assert ensemble["dense_0"]["w"].shape == (5, 3, 4)
    outs = jax.vmap(model.apply, in_axes=(0, None))(ensemble, jnp.ones((7, 3)))
    assert outs.shape == (5, 7, 2) and not np.allclose(outs[0], outs[1])


# --- convolutions and pooling in 1-D, 2-D and 3-D -------------------------------------------

def _naive_conv_1d(x, w, stride, dilation):
    n, length, _ = x.shape
    k, _, c_out = w.shape
    span = dilation * (k - 1) + 1
    out = np.zeros((n, (length - span) // stride + 1, c_out))
    for r in range(out.shape[1]):
        taps = x[:, r * stride:r * stride + span:dilation, :]
        out[:, r] = np.einsum("bpm,pmj->bj", taps, w)
    return out


@pytest.mark.parametrize("stride,dilation", [(1, 1), (2, 1), (1, 2), (3, 2)])
def test_a_1d_conv_is_the_lecture_sum_with_stride_and_dilation(stride, dilation):
    rng = np.random.default_rng(0)
    x, w, b = rng.normal(size=(2, 17, 3)), rng.normal(size=(4, 3, 5)), rng.normal(size=(5,))
    layer = L.conv(5, (4,), stride=stride, dilation=dilation)
    out_shape, _ = layer.init(jax.random.key(0), (17, 3))
    got = layer.apply({"w": jnp.asarray(w, jnp.float32), "b": jnp.asarray(b, jnp.float32)}, jnp.asarray(x, jnp.float32))
    assert got.shape == (2, *out_shape)
    np.testing.assert_allclose(got, _naive_conv_1d(x, w, stride, dilation) + b, rtol=1e-4, atol=1e-4)


def test_row_kernels_strides_and_3d_convolutions_follow_the_shapes_init_predicts():
    for kernel, in_shape, stride, padding in [((1, 5), (1, 20, 2), (1, 2), "VALID"), ((3, 3), (9, 7, 1), 2, "SAME"),
                                              ((2, 2, 2), (4, 5, 6, 2), 1, "VALID"), ((3,), (10, 1), 1, ((2, 0),))]:
        layer = L.conv(4, kernel, stride=stride, padding=padding)
        out_shape, params = layer.init(jax.random.key(0), in_shape)
        x = jnp.ones((2, 3, *in_shape))  # two leading axes
        assert layer.apply(params, x).shape == (2, 3, *out_shape), kernel


def test_pooling_never_returns_an_empty_array():
    with pytest.raises(ValueError, match=r"in_shape: max_pool .* \(1, 5, 3\) gives an empty output \(0, 2\)"):
        L.max_pool((2, 2)).init(None, (1, 5, 3))
    with pytest.raises(ValueError, match=r"gives an empty output"):
        L.avg_pool((2, 2)).apply({}, jnp.ones((4, 1, 5, 3)))
    with pytest.raises(ValueError, match=r"layer 2 \(max_pool\): in_shape: max_pool"):
        nl.build(nl.serial(L.conv(2, (1, 3)), L.activation("relu"), L.max_pool((2, 2))), (1, 8, 1))
    assert L.max_pool((1, 2)).apply({}, jnp.ones((4, 1, 5, 3))).shape == (4, 1, 2, 3)


def test_1d_pooling_takes_the_max_and_mean_of_each_window():
    x = jnp.asarray([[[1.0], [4.0], [2.0], [3.0], [9.0]]])
    np.testing.assert_array_equal(L.max_pool((2,)).apply({}, x)[0, :, 0], [4, 3])
    np.testing.assert_array_equal(L.avg_pool((2,), stride=1).apply({}, x)[0, :, 0], [2.5, 3, 2.5, 6])


# --- recurrent layers -------------------------------------------------------------------------

def _jaxpr_dot_shapes(fn, *args):
    """The output shapes of every dot_general in fn's jaxpr, sub-jaxprs included."""
    shapes = []

    def walk(jaxpr):
        for eqn in jaxpr.eqns:
            if eqn.primitive.name == "dot_general":
                shapes.append(tuple(eqn.outvars[0].aval.shape))
            for sub in _subjaxprs(eqn):
                walk(sub)

    walk(jax.make_jaxpr(fn)(*args).jaxpr)
    return shapes


def _subjaxprs(eqn):
    for value in eqn.params.values():
        for v in value if isinstance(value, (tuple, list)) else (value,):
            if hasattr(v, "jaxpr") and hasattr(v.jaxpr, "eqns"):
                yield v.jaxpr
            elif hasattr(v, "eqns"):
                yield v


@pytest.mark.parametrize("output", ["last", "state"])
def test_last_and_state_run_the_readout_once_per_sequence(output):
    model = nl.build(nl.serial(L.recurrent(L.lstm(6), output=output), L.dense(4)), (12, 3))
    params = model.init(jax.random.key(0))
    x = jnp.ones((5, 12, 3))
    readout = [s for s in _jaxpr_dot_shapes(model.apply, params, x) if s[-1] == 4]
    assert readout == [(5, 4)]
    every_step = nl.build(nl.serial(L.recurrent(L.lstm(6)), L.dense(4)), (12, 3))
    steps_params = every_step.init(jax.random.key(0))
    assert [s for s in _jaxpr_dot_shapes(every_step.apply, steps_params, x) if s[-1] == 4] == [(5, 12, 4)]
    assert model.apply(params, x).shape == (5, 4)


@pytest.mark.parametrize("cell", [L.gru, L.lstm])
def test_gru_and_lstm_gradients_pass_check_grads(cell):
    from jax.test_util import check_grads

    with jax.enable_x64(True):
        layer = L.recurrent(cell(3, param_dtype=jnp.float64), output="sequence")
        _, params = layer.init(jax.random.key(0), (4, 2))
        x = jax.random.normal(jax.random.key(1), (2, 4, 2), jnp.float64)
        h0 = 0.3 * jax.random.normal(jax.random.key(2), (2, cell(3).state_size), jnp.float64)
        check_grads(lambda p, x, h0: layer.apply(p, x, h0=h0), (params, x, h0), order=1, modes=("rev", "fwd"))


def test_elman_bptt_equals_autodiff_and_autodiff_allows_forward_mode():
    with jax.enable_x64(True):
        rng = np.random.default_rng(0)
        x = jnp.asarray(rng.normal(size=(3, 11, 4)))
        fast = L.recurrent(L.elman(6, param_dtype=jnp.float64), output="last")
        plain = L.recurrent(L.elman(6, backward="autodiff", param_dtype=jnp.float64), output="last")
        _, params = fast.init(jax.random.key(0), (11, 4))
        loss = lambda layer: lambda p: jnp.sum(jnp.sin(layer.apply(p, x)))
        for g, e in zip(jax.tree.leaves(jax.grad(loss(fast))(params)), jax.tree.leaves(jax.grad(loss(plain))(params))):
            np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12)
        tangent = jax.tree.map(jnp.ones_like, params)
        _, jvp = jax.jvp(loss(plain), (params,), (tangent,))
        assert np.isfinite(float(jvp))
        with pytest.raises(TypeError, match="custom_vjp"):
            jax.jvp(loss(fast), (params,), (tangent,))


def test_token_ids_one_hot_codes_and_the_vocab_cell_are_the_same_network():
    ids = jnp.asarray(np.random.default_rng(0).integers(0, 7, (2, 9)), jnp.int32)
    cell = L.recurrent(L.elman(5, vocab=7))
    _, params = cell.init(jax.random.key(0), (None,))
    via_codes = nl.serial(L.one_hot(7), L.recurrent(L.elman(5)))
    np.testing.assert_allclose(cell.apply(params, ids), via_codes.apply({"recurrent": params}, ids), rtol=1e-6, atol=1e-6)
    assert np.isnan(np.asarray(L.one_hot(7).apply({}, jnp.asarray([3, 7])))[1]).all()
    table = L.embed(7, 3).init(jax.random.key(0), ())[1]
    rows = np.asarray(L.embed(7, 3).apply(table, jnp.asarray([-1, 7, 2])))
    assert np.isnan(rows[:2]).all() and np.isfinite(rows[2]).all()
    assert np.isnan(np.asarray(cell.apply(params, jnp.asarray([[1, -1]])))[0, 1]).all()
    with pytest.raises(ValueError, match=r"vocab=V, or put one_hot\(V\) or embed\(V, dim\)"):
        L.recurrent(L.gru(4)).init(jax.random.key(0), (10,))


def test_a_sequence_classifier_conv_then_rnn_and_a_head_on_every_step():
    conv_rnn = nl.build(nl.serial(L.conv(4, (3,), padding="SAME"), L.activation("relu"), L.max_pool((2,)),
                                  L.recurrent(L.gru(8), output="last"), L.dense(3)), (40, 1))
    params = conv_rnn.init(jax.random.key(0))
    assert conv_rnn.apply(params, jnp.ones((2, 40, 1))).shape == (2, 3)
    per_step = nl.build(nl.serial(L.embed(50, 8), L.recurrent(L.lstm(16)), L.dense(50)), (None,))
    params = per_step.init(jax.random.key(0))
    assert per_step.apply(params, jnp.zeros((2, 13), jnp.int32)).shape == (2, 13, 50)


# --- errors name the layer, its index, the argument, what was expected and what came -------

@pytest.mark.parametrize("net, in_shape, x, kwargs, error, match", [
    (nl.serial(L.dense(4), L.activation("relu"), L.dense(2)), (3,), jnp.ones((2, 4)), {}, ValueError,
     r"x: expected shape \(\.\.\., 3\), got \(2, 4\)"),
    (nl.serial(L.dense(4), L.activation("relu"), L.dense(2)), (3,), jnp.ones((2, 3), jnp.int32), {}, TypeError,
     r"layer 0 \(dense_0\): x: expected a floating dtype"),
    (nl.serial(L.dense(4), L.dropout(0.5), L.dense(2)), (3,), jnp.ones((2, 3)), {"train": True}, ValueError,
     r"layer 1 \(dropout\): apply\(train=True\) with dropout\(rate=0.5\) needs a PRNG key"),
    (nl.serial(L.dense(4), L.activation("noisy_relu")), (3,), jnp.ones((2, 3)), {"train": True}, ValueError,
     r"layer 1 \(noisy_relu\): apply\(train=True\) with noisy_relu needs a PRNG key"),
    (nl.serial(L.conv(2, (3, 3)), L.flatten()), (5, 5, 2), jnp.ones((5, 5, 5, 3)), {}, ValueError,
     r"x: expected shape \(\.\.\., 5, 5, 2\), got \(5, 5, 5, 3\)"),
])
def test_bad_inputs_name_the_layer_and_its_index(net, in_shape, x, kwargs, error, match):
    model = nl.build(net, in_shape)
    params = model.init(jax.random.key(0))
    with pytest.raises(error, match=match):
        model.apply(params, x, **kwargs)
    with pytest.raises(error, match=match):  # the same at trace time under jit: no host syncs
        jax.jit(lambda p, x: model.apply(p, x, **kwargs))(params, x)


@pytest.mark.parametrize("make, match", [
    (lambda: nl.build(nl.serial(L.conv(4, (5, 5)), L.flatten()), (3, 3, 1)), r"layer 0 \(conv\): in_shape: conv .* gives an empty output"),
    (lambda: nl.build(nl.serial(L.dense(4), L.conv(4, (3, 3))), (6,)), r"layer 1 \(conv\): in_shape: conv with kernel \(3, 3\) expects 2 spatial axes"),
    (lambda: nl.build(nl.serial(L.recurrent(L.elman(3)), L.flatten()), (None, 2)), r"layer 1 \(flatten\): in_shape: flatten needs every axis known"),
    (lambda: nl.build(nl.serial(L.dense(6), L.activation("maxout", pieces=4)), (2,)), r"layer 1 \(maxout\): in_shape: maxout with pieces=4"),
    (lambda: L.conv(4, 3), r"kernel: expected a tuple"),
    (lambda: L.max_pool(2), r"window: expected a tuple"),
    (lambda: L.conv(4, (3, 3), stride=(1, 2, 3)), r"stride: expected an int or 2 ints"),
    (lambda: L.conv(4, (3, 3), padding="FULL"), r"padding: expected 'SAME', 'VALID'"),
    (lambda: L.dropout(1.0), r"rate: expected a float in \[0, 1\)"),
    (lambda: L.recurrent(L.elman(3), output="all"), r"output: expected one of \['sequence', 'last', 'state'\]"),
    (lambda: L.elman(3, backward="numeric"), r"backward: expected one of"),
    (lambda: L.activation("gelu"), r"activation: expected one of"),
    (lambda: nl.serial(L.dense(3), lambda x: x), r"layers\[1\]: expected an nnlect.layers.Layer"),
    (lambda: nl.serial(L.named("a", L.dense(3)), L.named("a", L.dense(3)), L.named("a_0", L.dense(3))), r"collide"),
    (lambda: nl.build(L.dense(3), 5), r"input_shape: expected a tuple"),
])
def test_impossible_networks_fail_when_built(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_params_that_do_not_fit_are_named():
    model = nl.build(nl.serial(L.named("c1", L.conv(4, (3, 3))), L.flatten(), L.dense(2)), (6, 6, 1))
    params = model.init(jax.random.key(0))
    with pytest.raises(ValueError, match=r"params: unexpected keys \['c2'\]; this serial's layers are \['c1', 'flatten', 'dense'\]"):
        model.apply({**params, "c2": params["c1"]}, jnp.ones((1, 6, 6, 1)))
    with pytest.raises(ValueError, match=r"layer 0 \(c1\): params: expected keys \['b', 'w'\], got \[\]"):
        model.apply({"dense": params["dense"]}, jnp.ones((1, 6, 6, 1)))


def test_module_names_are_never_shadowed_by_functions():
    for name in ["nnlect.models.cnn", "nnlect.models.mlp", "nnlect.models.rnn", "nnlect.models.perceptron",
                 "nnlect.regularization", "nnlect.layers.convolution", "nnlect.layers.rnn", "nnlect.layers.cells", "nnlect.layers.feedforward"]:
        module = importlib.import_module(name)
        parent, _, child = name.rpartition(".")
        assert getattr(importlib.import_module(parent), child) is module, name
    import nnlect.models.cnn as cnn_module
    assert callable(cnn_module.lenet5) and callable(nl.dropout) and callable(nl.lenet5)
