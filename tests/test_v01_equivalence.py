"""0.2's layer-built factories compute what 0.1's hand-written ones did, given the same params.

The oracle below is 0.1.0's apply code (nnlect/models/{mlp,cnn,rnn}.py at commit 94a6499),
copied down to the lines that compute, written against lax and jnp only.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

import nnlect as nl
from nnlect import activations, checkpoint


def _dense(layer, h):
    b = layer["b"]
    return h @ layer["w"] + b.reshape((1,) * (h.ndim - 1) + b.shape)


def v01_mlp(params, x, acts, output_activation, pieces=2):
    h = x
    for l, act in enumerate(acts):
        net = _dense(params[f"dense_{l}"], h)
        h = activations.maxout(net, pieces) if act == "maxout" else activations.relu(net) if act == "noisy_relu" else activations.get(act).fn(net)
    net = _dense(params[f"dense_{len(acts)}"], h)
    if output_activation == "softmax":
        return jax.nn.softmax(net, axis=-1)
    return net if output_activation == "identity" else activations.get(output_activation).fn(net)


def v01_cnn(params, x, plan, n_dense, act, pooling):
    out = x
    for i, (padding, pool) in enumerate(plan):
        layer = params[f"conv_{i}"]
        kh, kw, c_in, c_out = layer["w"].shape
        if c_in == 1:  # 0.1's im2col path for one input channel
            patches = lax.conv_general_dilated_patches(out, (kh, kw), (1, 1), padding, dimension_numbers=("NHWC", "HWIO", "NHWC"))
            out = patches @ layer["w"].reshape(kh * kw, c_out)
        else:
            out = lax.conv_general_dilated(out, layer["w"], (1, 1), padding, dimension_numbers=("NHWC", "HWIO", "NHWC"))
        out = act(out + layer["b"].reshape(1, 1, 1, -1))
        if pool > 1:
            if pooling == "avg":
                out = lax.reduce_window(out, 0.0, lax.add, (1, pool, pool, 1), (1, pool, pool, 1), "VALID") / (pool * pool)
            elif out.shape[1] % pool == 0 and out.shape[2] % pool == 0:  # 0.1's reshape max pool
                b, h, w, c = out.shape
                out = out.reshape(b, h // pool, pool, w // pool, pool, c).max(axis=(2, 4))
            else:
                out = lax.reduce_window(out, -jnp.inf, lax.max, (1, pool, pool, 1), (1, pool, pool, 1), "VALID")
    out = out.reshape(out.shape[0], -1)
    for j in range(n_dense):
        out = _dense(params[f"dense_{j}"], out)
        if j < n_dense - 1:
            out = act(out)
    return out


def v01_elman(params, x, h0):
    cell, out = params["cell"], params["readout"]
    if jnp.issubdtype(x.dtype, jnp.integer):
        xw = jnp.take(cell["w_xh"], x, axis=0)
    else:
        xw = x @ cell["w_xh"]
    xw = xw + cell["b_h"][None, None, :]

    def step(h, a_t):
        h = jnp.tanh(a_t + h @ cell["w_hh"])
        return h, h

    h_last, hs = lax.scan(step, h0, jnp.swapaxes(xw, 0, 1))
    return jnp.swapaxes(hs, 0, 1) @ out["w_hy"] + out["b_y"][None, None, :], h_last


def _random_params(model, seed):
    """The model's init plus noise: nonzero biases, so nothing hides in the init, at the init's scale."""
    params = model.init(jax.random.key(seed))
    leaves, tree = jax.tree.flatten(params)
    keys = jax.random.split(jax.random.key(seed + 100), len(leaves))
    return jax.tree.unflatten(tree, [p + 0.1 * jax.random.normal(k, p.shape, p.dtype) for k, p in zip(keys, leaves)])


@pytest.mark.parametrize("sizes, acts, output", [
    ([4, 8, 3], ["relu"], "identity"), ([5, 6, 7, 2], ["tanh", "sigmoid"], "sigmoid"),
    ([3, 4, 4, 3], ["maxout", "elu"], "softmax"), ([2, 5, 1], ["noisy_relu"], "tanh"),
    ([6, 3], [], "identity"), ([4, 9, 9, 9, 2], ["leaky_relu", "softplus", "step"], "identity"),
])
def test_mlp_equals_v01(sizes, acts, output):
    model = nl.mlp(sizes, acts or "relu", output_activation=output, dropout=0.3 if acts else 0.0)
    params = _random_params(model, len(sizes))
    x = jax.random.normal(jax.random.key(7), (11, sizes[0]))
    np.testing.assert_allclose(model.apply(params, x), v01_mlp(params, x, acts, output), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("input_shape, activation, pooling", [
    ((28, 28, 1), "tanh", "avg"), ((28, 28, 1), "relu", "max"), ((8, 8, 1), "relu", "avg"), ((27, 30, 3), "tanh", "max"),
])
def test_lenet5_equals_v01(input_shape, activation, pooling):
    model = nl.lenet5(input_shape=input_shape, activation=activation, pooling=pooling, dropout=0.2)
    params = _random_params(model, 1)
    h, w = input_shape[:2]
    pad = ((32 - h) // 2, 32 - h - (32 - h) // 2), ((32 - w) // 2, 32 - w - (32 - w) // 2)
    x = jax.random.normal(jax.random.key(3), (5, *input_shape))
    act = activations.get(activation).fn
    expected = v01_cnn(params, x, [(pad, 2), ("VALID", 2)], 3, act, pooling)
    np.testing.assert_allclose(model.apply(params, x), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.long  # 13 s; LeNet-5 (test_lenet5_equals_v01) stays in the default run
def test_cnn_equals_v01():
    model = nl.cnn([(5, 3, 2), (7, 3, 1), (4, 2, 2)], [16, 6], input_shape=(14, 12, 2), first_padding="SAME",
                   activation="elu", pooling="max")
    params = _random_params(model, 2)
    x = jax.random.normal(jax.random.key(4), (3, 14, 12, 2))
    expected = v01_cnn(params, x, [("SAME", 2), ("VALID", 1), ("VALID", 2)], 2, activations.elu, "max")
    np.testing.assert_allclose(model.apply(params, x), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("float_inputs", [False, True])
def test_elman_rnn_equals_v01_with_the_readout_renamed(float_inputs):
    model = nl.elman_rnn(7, 6, 5, unroll=2, dropout=0.1)
    params = _random_params(model, 3)
    ids = jnp.asarray(np.random.default_rng(0).integers(0, 7, (4, 9)), jnp.int32)
    x = jax.nn.one_hot(ids, 7) if float_inputs else ids
    h0 = jax.random.normal(jax.random.key(5), (4, 6))
    old = {"cell": params["cell"], "readout": {"w_hy": params["readout"]["w"], "b_y": params["readout"]["b"]}}
    logits, h_last = model.apply(params, x, h0=h0, return_state=True)
    want_logits, want_h = v01_elman(old, x, h0)
    np.testing.assert_allclose(logits, want_logits, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(h_last, want_h, rtol=1e-6, atol=1e-6)


def test_a_v01_charlm_checkpoint_restores_with_the_readout_renamed(tmp_path):
    """A 0.1.0 file (readout {w_hy, b_y}, in the params and in Adam's moments) restores into 0.2's structure."""
    model = nl.elman_rnn(7, 6, 7)
    optimizer = nl.lm.lm_optimizer()
    state = nl.train.init_state(_random_params(model, 4), optimizer)

    from flax import serialization
    old_tree = serialization.to_state_dict({"state": state, "h": model.initial_state(3)})
    old_tree["state"]["params"]["readout"] = {"w_hy": old_tree["state"]["params"]["readout"]["w"],
                                              "b_y": old_tree["state"]["params"]["readout"]["b"]}
    for moment in ("mu", "nu"):
        node = old_tree["state"]["opt_state"]["1"]["0"][moment]["readout"]
        old_tree["state"]["opt_state"]["1"]["0"][moment]["readout"] = {"w_hy": node["w"], "b_y": node["b"]}
    path = checkpoint.save(tmp_path / "v01.msgpack", old_tree, meta={"written_by": "0.1.0"})
    target = {"state": nl.train.init_state(model.init(jax.random.key(0)), optimizer), "h": model.initial_state(3)}
    restored, meta = checkpoint.restore(path, target)
    np.testing.assert_array_equal(restored["state"].params["readout"]["w"], state.params["readout"]["w"])
    np.testing.assert_array_equal(restored["state"].opt_state[1][0].nu["readout"]["b"], state.opt_state[1][0].nu["readout"]["b"])
    other = {"state": nl.train.init_state(nl.elman_rnn(7, 5, 7).init(jax.random.key(0)), optimizer), "h": model.initial_state(3)}
    with pytest.raises(checkpoint.CheckpointError, match=r"renames since 0.1.0 already applied|leaf .* has shape"):
        checkpoint.restore(path, other)
