"""The precision policy: param_dtype stores, compute_dtype multiplies, losses and softmax stay float32."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import nnlect as nl

L = nl.layers
BF16 = jnp.bfloat16


def _problem(name):
    rng = np.random.default_rng(0)
    if name == "mlp":
        x, y = rng.normal(size=(64, 20)), rng.integers(0, 4, 64)
        return (lambda **p: nl.mlp([20, 32, 4], "relu", **p)), x.astype(np.float32), y.astype(np.int32)
    if name == "lenet5":
        x, y = rng.normal(size=(32, 12, 12, 1)), rng.integers(0, 10, 32)
        return (lambda **p: nl.lenet5(input_shape=(12, 12, 1), activation="relu", pooling="max", **p)), x.astype(np.float32), y.astype(np.int32)
    ids = rng.integers(0, 11, (16, 13))
    return (lambda **p: nl.elman_rnn(11, 24, 11, **p)), ids[:, :-1].astype(np.int32), ids[:, 1:].astype(np.int32)


def _losses(model, x, y, steps=50):
    params = model.init(jax.random.key(0))
    opt = optax.adam(3e-3)
    state = nl.train.init_state(params, opt)
    step = nl.train.make_train_step(model, nl.softmax_cross_entropy, opt)
    losses = []
    for _ in range(steps):
        state, loss = step(state, jnp.asarray(x), jnp.asarray(y), jax.random.key(1))
        losses.append(float(loss))
    return np.asarray(losses), state


@pytest.mark.parametrize("name", ["mlp", "lenet5", "elman_rnn"])
def test_bf16_compute_tracks_f32_over_50_steps_with_float32_loss_and_master_weights(name):
    """Mixed precision (float32 master weights, bfloat16 products) follows the float32 run:
    at every step the losses agree within 5% plus 2% of the initial loss (the absolute part
    matters once a run memorizes its batch and the loss nears 0). The network's output is
    bfloat16; the loss, the gradients and the params stay float32."""
    make, x, y = _problem(name)
    f32, _ = _losses(make(), x, y)
    model = make(compute_dtype=BF16)
    bf16, state = _losses(model, x, y)
    assert f32[-1] < 0.8 * f32[0]  # it trained
    np.testing.assert_allclose(bf16, f32, rtol=0.05, atol=0.02 * f32[0])
    assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(state.params))
    out, loss = jax.jit(lambda p: (model.apply(p, x), nl.softmax_cross_entropy(model.apply(p, x), y)))(state.params)
    assert out.dtype == BF16 and loss.dtype == jnp.float32


@pytest.mark.parametrize("name", ["mlp", "lenet5", "elman_rnn"])
def test_bf16_params_init_and_compute_in_bf16(name):
    """bfloat16 storage works (the Elman's orthogonal init runs its QR in float32, then casts),
    and bfloat16 params with float32 inputs compute in bfloat16, not silently in float32."""
    make, x, _ = _problem(name)
    model = make(dtype=BF16)
    params = model.init(jax.random.key(0))
    assert all(p.dtype == BF16 for p in jax.tree.leaves(params))
    assert model.apply(params, jnp.asarray(x)).dtype == BF16


def test_losses_and_softmax_are_float32_for_bf16_inputs():
    logits = jnp.asarray([[1.0, 2.0, 3.0]], BF16)
    assert nl.softmax_cross_entropy(logits, jnp.asarray([2])).dtype == jnp.float32
    assert nl.half_squared_error(logits, jnp.zeros((1, 3), BF16)).dtype == jnp.float32
    assert L.activation("softmax").apply({}, logits).dtype == jnp.float32


def test_initializers_draw_in_float32_then_cast():
    layer = L.dense(64, param_dtype=BF16)
    _, params = layer.init(jax.random.key(0), (128,))
    _, reference = L.dense(64).init(jax.random.key(0), (128,))
    np.testing.assert_array_equal(params["w"], reference["w"].astype(BF16))


def test_the_carried_state_keeps_its_dtype_under_bf16_compute():
    """Truncated BPTT carries h in a lax.scan: h_T comes back in h0's dtype."""
    model = nl.elman_rnn(5, 8, 5, compute_dtype=BF16)
    params = model.init(jax.random.key(0))
    logits, h = model.apply(params, jnp.zeros((2, 3), jnp.int32), h0=model.initial_state(2), return_state=True)
    assert logits.dtype == BF16 and h.dtype == jnp.float32
