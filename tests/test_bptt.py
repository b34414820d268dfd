"""Backprop through time by hand (NumPy, no autodiff) equals jax.grad of the same loss."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

from nnlect.losses import softmax_cross_entropy
from nnlect.models.rnn import elman_rnn
from nnlect.reference import numpy_bptt


def problem(seed, batch, seq_len, n_in, n_hidden, n_out, integer_inputs):
    model = elman_rnn(n_in, n_hidden, n_out, dtype=jnp.float64)
    rng = np.random.default_rng(seed)
    # drawn in NumPy (model.init would compile its ops anew for every size); biases are
    # nonzero so their gradients are tested at a general point, not at 0
    shapes = {"cell": {"w_xh": (n_in, n_hidden), "w_hh": (n_hidden, n_hidden), "b_h": (n_hidden,)},
              "readout": {"w": (n_hidden, n_out), "b": (n_out,)}}
    params = {layer: {k: rng.normal(size=shape) / np.sqrt(shape[0] if len(shape) == 2 else 10.0)
                      for k, shape in leaves.items()} for layer, leaves in shapes.items()}
    x = rng.integers(0, n_in, (batch, seq_len)) if integer_inputs else rng.normal(size=(batch, seq_len, n_in))
    targets = rng.integers(0, n_out, (batch, seq_len))
    h0 = 0.5 * rng.normal(size=(batch, n_hidden))
    return model, params, x, targets, h0


def jax_loss_grads_and_state(model, params, x, targets, h0):
    """jax.grad of the same loss, jitted whole (one compile per shape), with h_T as aux."""

    def loss_and_state(p, x, targets, h0):
        logits, h_last = model.apply(p, x, h0=h0, return_state=True)
        return softmax_cross_entropy(logits, targets), h_last

    (loss, h_last), grads = jax.jit(jax.value_and_grad(loss_and_state, has_aux=True))(
        params, jnp.asarray(x), jnp.asarray(targets), jnp.asarray(h0))
    return float(loss), grads, np.asarray(h_last)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**16), batch=st.integers(1, 4), seq_len=st.integers(1, 50), n_in=st.integers(1, 7),
       n_hidden=st.integers(1, 9), n_out=st.integers(2, 7), integer_inputs=st.booleans())
@example(seed=0, batch=1, seq_len=1, n_in=1, n_hidden=1, n_out=2, integer_inputs=True)
@example(seed=1, batch=3, seq_len=50, n_in=5, n_hidden=8, n_out=6, integer_inputs=False)
def test_handwritten_bptt_matches_jax_grad(seed, batch, seq_len, n_in, n_hidden, n_out, integer_inputs):
    with jax.enable_x64(True):
        model, params, x, targets, h0 = problem(seed, batch, seq_len, n_in, n_hidden, n_out, integer_inputs)
        loss, grads, jax_h_last = jax_loss_grads_and_state(model, params, x, targets, h0)
    hand_loss, hand_grads, h_last = numpy_bptt.loss_and_gradients(params, x, targets, h0)
    np.testing.assert_allclose(hand_loss, loss, rtol=1e-10)
    np.testing.assert_allclose(h_last, jax_h_last, rtol=1e-10, atol=1e-12)
    assert jax.tree.structure(hand_grads) == jax.tree.structure(grads)
    for (path, expected), got in zip(jax.tree_util.tree_flatten_with_path(grads)[0], jax.tree.leaves(hand_grads)):
        assert got.dtype == np.float64 and expected.dtype == np.float64
        # atol only absorbs float64 round-off on entries that are zero up to cancellation
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-14, err_msg=jax.tree_util.keystr(path))


def test_gradient_flows_back_through_all_time_steps():
    """The first input influences the last loss only through W_hh: BPTT must carry it back."""
    with jax.enable_x64(True):
        model, params, x, targets, h0 = problem(0, 2, 30, 4, 6, 3, integer_inputs=False)
        hand = numpy_bptt.gradients(params, x, targets, h0)
        x_first_only = np.zeros_like(x)
        x_first_only[:, 0] = x[:, 0]
        _, grads_first, _ = jax_loss_grads_and_state(model, params, x_first_only, targets, h0)
    np.testing.assert_allclose(numpy_bptt.gradients(params, x_first_only, targets, h0)["cell"]["w_xh"],
                               grads_first["cell"]["w_xh"], rtol=1e-6, atol=1e-14)
    assert np.abs(hand["cell"]["w_hh"]).max() > 0


def test_sgd_step_descends_the_loss_and_returns_the_state_to_carry():
    with jax.enable_x64(True):
        model, params, x, targets, h0 = problem(1, 3, 20, 5, 8, 5, integer_inputs=True)
    loss, grads, h_last = numpy_bptt.loss_and_gradients(params, x, targets, h0)
    new, h_carried, loss_before = numpy_bptt.sgd_step(params, x, targets, h0, eta=0.1)
    assert loss_before == loss
    np.testing.assert_array_equal(h_carried, h_last)
    np.testing.assert_allclose(new["cell"]["w_hh"], params["cell"]["w_hh"] - 0.1 * grads["cell"]["w_hh"])
    assert numpy_bptt.loss_and_gradients(new, x, targets, h0)[0] < loss


@pytest.mark.parametrize("x, targets, match", [
    (np.zeros((2, 3), np.int64) + 9, np.zeros((2, 3), np.int64), "token ids"),
    (np.zeros((2, 3, 4)), np.zeros((2, 3), np.int64), "floats of shape"),
    (np.zeros((2, 3), np.int64), np.zeros((2, 4), np.int64), "targets"),
    (np.zeros((2, 3), np.int64), np.zeros((2, 3)), "targets"),
])
def test_bad_inputs_are_named(x, targets, match):
    with jax.enable_x64(True):
        model, params, *_ = problem(0, 2, 3, 5, 4, 3, integer_inputs=True)
    with pytest.raises(ValueError, match=match):
        numpy_bptt.gradients(params, x, targets, np.zeros((2, 4)))
