"""The Elman network: h_t = tanh(W_xh x_t + W_hh h_{t-1} + b_h), y_t = W_hy h_t + b_y, scanned over time."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import nnlect as nl
from nnlect.models.rnn import elman_rnn, make_sampler

V, H = 6, 5


@pytest.fixture(scope="module")
def model_and_params():
    model = elman_rnn(V, H, V)
    params = model.init(jax.random.key(0))
    # make the recurrence matter: larger weights and a bias, so a wrong h_{t-1} shows
    params = jax.tree.map(lambda a: 1.5 * a + 0.1, params)
    return model, params


def tokens(shape, seed=0):
    return jnp.asarray(np.random.default_rng(seed).integers(0, V, shape), jnp.int32)


def test_factory_returns_a_model_with_an_initial_state():
    model = elman_rnn(V, H, 3)
    assert isinstance(model, nl.Model) and len(model) == 2
    init, apply = model
    params = init(jax.random.key(1))
    assert jax.tree.map(jnp.shape, params) == {
        "cell": {"w_xh": (V, H), "w_hh": (H, H), "b_h": (H,)},
        "readout": {"w": (H, 3), "b": (3,)},
    }
    assert nl.count_params(params) == V * H + H * H + H + H * 3 + 3
    np.testing.assert_array_equal(model.initial_state(4), np.zeros((4, H), np.float32))
    # W_hh starts orthogonal: it neither blows up nor shrinks h_{t-1}
    w_hh = np.asarray(params["cell"]["w_hh"])
    np.testing.assert_allclose(w_hh @ w_hh.T, np.eye(H), atol=1e-5)


def test_scan_computes_the_elman_recurrence_step_by_step(model_and_params):
    model, params = model_and_params
    x = tokens((3, 7))
    h0 = jnp.asarray(np.random.default_rng(1).normal(size=(3, H)), jnp.float32)
    logits, h_last = model.apply(params, x, h0=h0, return_state=True)
    p = jax.tree.map(np.asarray, params)
    h = np.asarray(h0)
    one_hot = np.eye(V, dtype=np.float32)[np.asarray(x)]
    for t in range(7):
        h = np.tanh(one_hot[:, t] @ p["cell"]["w_xh"] + h @ p["cell"]["w_hh"] + p["cell"]["b_h"])
        y = h @ p["readout"]["w"] + p["readout"]["b"]
        np.testing.assert_allclose(logits[:, t], y, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(h_last, h, rtol=1e-5, atol=1e-5)


def test_integer_inputs_are_an_embedding_lookup_of_one_hot_codes(model_and_params):
    model, params = model_and_params
    x = tokens((2, 9))
    one_hot = jax.nn.one_hot(x, V, dtype=jnp.float32)
    np.testing.assert_allclose(model.apply(params, x), model.apply(params, one_hot), rtol=1e-5, atol=1e-6)


def test_carrying_the_state_splits_a_sequence_exactly(model_and_params):
    """The premise of truncated BPTT: windows with h carried = one long sequence."""
    model, params = model_and_params
    x = tokens((2, 12), seed=3)
    whole = model.apply(params, x)
    first, h = model.apply(params, x[:, :5], return_state=True)
    second = model.apply(params, x[:, 5:], h0=h)
    np.testing.assert_allclose(jnp.concatenate([first, second], axis=1), whole, rtol=1e-5, atol=1e-6)
    # and forgetting the state changes the prediction
    assert not np.allclose(model.apply(params, x[:, 5:]), second, atol=1e-3)


@pytest.mark.parametrize("unroll", [4, 16])
def test_unroll_changes_speed_not_results(model_and_params, unroll):
    model, params = model_and_params
    x = tokens((2, 11))
    np.testing.assert_allclose(elman_rnn(V, H, V, unroll=unroll).apply(params, x), model.apply(params, x),
                               rtol=1e-5, atol=1e-6)


def test_step_is_one_time_step_of_apply(model_and_params):
    model, params = model_and_params
    x = tokens((3, 2))
    logits, h2 = model.apply(params, x, return_state=True)
    h1, y1 = model.step(params, model.initial_state(3), x[:, 0])
    h2_step, y2 = model.step(params, h1, x[:, 1])
    np.testing.assert_allclose(y1, logits[:, 0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(y2, logits[:, 1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h2_step, h2, rtol=1e-5, atol=1e-6)


def test_dropout_needs_a_key_and_never_touches_the_carried_state():
    model = elman_rnn(V, H, V, dropout=0.5)
    params = model.init(jax.random.key(0))
    x = tokens((4, 6))
    with pytest.raises(ValueError, match="key"):
        model.apply(params, x, train=True)
    y_train, h_train = model.apply(params, x, key=jax.random.key(2), train=True, return_state=True)
    y_eval, h_eval = model.apply(params, x, return_state=True)
    assert not np.allclose(y_train, y_eval)
    np.testing.assert_allclose(h_train, h_eval, rtol=1e-6)


def test_apply_compiles_once_per_shape(model_and_params):
    model, params = model_and_params
    traces = []

    @jax.jit
    def run(params, x):
        traces.append(1)
        return model.apply(params, x)

    run(params, tokens((2, 5)))
    run(params, tokens((2, 5), seed=1))
    assert len(traces) == 1


@pytest.mark.parametrize("x, h0, match", [
    (jnp.zeros((2, 4, V + 1)), None, r"layer 0 \(cell\): x: expected 6 input features"),
    (jnp.zeros((2, 4)), None, "expected 6 input features, got shape"),
    (jnp.zeros(3, jnp.int32).reshape(1, 3)[:, :0], None, "at least one time step"),
    (jnp.zeros((2, 4), jnp.int32), jnp.zeros((3, H)), r"h0: expected shape \(2, 5\)"),
    (jnp.zeros((2, 4), jnp.uint8) > 0, None, "x: expected a floating dtype"),
])
def test_bad_inputs_are_named(model_and_params, x, h0, match):
    model, params = model_and_params
    with pytest.raises((ValueError, TypeError), match=match):
        model.apply(params, x, h0=h0)


def test_out_of_range_ids_under_jit_give_nan_not_a_clamped_row(model_and_params):
    model, params = model_and_params
    y = jax.jit(model.apply)(params, jnp.full((1, 3), V + 2, jnp.int32))
    assert np.isnan(np.asarray(y)).all()


def test_wrong_params_are_named(model_and_params):
    model, params = model_and_params
    bad = {**params, "cell": {**params["cell"], "w_hh": jnp.zeros((H, H + 1))}}
    with pytest.raises(ValueError, match="w_hh"):
        model.apply(bad, tokens((1, 2)))


def test_sampling_is_reproducible_and_reads_the_prompt(model_and_params):
    model, params = model_and_params
    sample = make_sampler(model, 15)
    prompt = tokens((2, 4))
    a = sample(params, prompt, jax.random.key(0), 1.0)
    assert a.shape == (2, 15) and a.dtype == prompt.dtype and 0 <= int(a.min()) and int(a.max()) < V
    np.testing.assert_array_equal(a, sample(params, prompt, jax.random.key(0), 1.0))
    assert not np.array_equal(a, sample(params, prompt, jax.random.key(1), 1.0))
    other = sample(params, (prompt + 1) % V, jax.random.key(0), 1.0)
    assert not np.array_equal(a, other)  # same draws, other prompt: another text


def test_low_temperature_sampling_is_the_greedy_path(model_and_params):
    model, params = model_and_params
    prompt = tokens((1, 3))
    drawn = make_sampler(model, 8)(params, prompt, jax.random.key(0), 1e-4)
    logits, h = model.apply(params, prompt, return_state=True)
    y, greedy = logits[:, -1], []
    for _ in range(8):
        token = jnp.argmax(y, axis=-1).astype(jnp.int32)
        greedy.append(int(token[0]))
        h, y = model.step(params, h, token)
    assert np.asarray(drawn)[0].tolist() == greedy
    with pytest.raises(ValueError, match="temperature"):
        make_sampler(model, 8)(params, prompt, jax.random.key(0), 0.0)


# --- the hand-written backward pass of the recurrence (jax.custom_vjp) ----------------------

from nnlect.layers.cells import _elman_forward as _forward_scan, elman_bptt as _recurrence  # noqa: E402


def _random_recurrence_inputs(seed):
    rng = np.random.default_rng(seed)
    steps, batch, hidden = int(rng.integers(1, 21)), int(rng.integers(1, 6)), int(rng.integers(1, 9))
    w_hh = rng.normal(size=(hidden, hidden)) * 1.2 / np.sqrt(hidden)
    a = rng.normal(size=(steps, batch, hidden))
    h0 = rng.normal(size=(batch, hidden)) * 0.8  # nonzero: d h0 and the t = 1 term of dW_hh matter
    c_out, c_last = rng.normal(size=(steps, batch, hidden)), rng.normal(size=(batch, hidden))
    return [jnp.asarray(v, jnp.float64) for v in (w_hh, a, h0, c_out, c_last)]


@pytest.mark.parametrize("unroll", [1, 3])
@pytest.mark.parametrize("seed", range(8))
def test_handwritten_bptt_equals_autodiff_of_the_scan(seed, unroll):
    """The custom backward (reverse scan over deltas, dW_hh as one matmul) = jax.grad of the plain scan,
    for a loss of both the outputs h_1..h_T and the final state h_T."""
    with jax.enable_x64(True):
        w_hh, a, h0, c_out, c_last = _random_recurrence_inputs(seed)

        def loss(recurrence):
            def f(w_hh, a, h0):
                hs = recurrence(w_hh, a, h0, unroll)
                return jnp.sum(jnp.sin(hs) * c_out) + jnp.sum(hs[-1] ** 2 * c_last)
            return f

        np.testing.assert_allclose(_recurrence(w_hh, a, h0, unroll), _forward_scan(w_hh, a, h0, unroll), rtol=1e-14)
        got = jax.jit(jax.grad(loss(_recurrence), argnums=(0, 1, 2)))(w_hh, a, h0)
        expected = jax.grad(loss(_forward_scan), argnums=(0, 1, 2))(w_hh, a, h0)
        for name, g, e in zip(("w_hh", "a", "h0"), got, expected):
            assert g.dtype == np.float64 and g.shape == e.shape, name
            np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-13, err_msg=name)


@pytest.mark.parametrize("float_inputs", [False, True])
@pytest.mark.parametrize("seed", range(3))
def test_model_gradients_equal_autodiff_of_a_plain_elman_scan(seed, float_inputs):
    """Through apply (embedding lookup, readout, return_state): the gradients of every parameter and
    of h0, for a loss of the logits and of h_T, equal autodiff of a plain lax.scan Elman network."""
    with jax.enable_x64(True):
        rng = np.random.default_rng(100 + seed)
        steps, batch, n_in, hidden, n_out = (int(rng.integers(lo, hi)) for lo, hi in
                                             ((1, 21), (1, 6), (2, 7), (1, 9), (1, 5)))
        model = elman_rnn(n_in, hidden, n_out, dtype=jnp.float64, unroll=int(rng.integers(1, 4)))
        params = jax.tree.map(lambda p: p + 0.1, model.init(jax.random.key(seed)))
        ids = jnp.asarray(rng.integers(0, n_in, (batch, steps)), jnp.int32)
        x = jax.nn.one_hot(ids, n_in, dtype=jnp.float64) if float_inputs else ids
        h0 = jnp.asarray(rng.normal(size=(batch, hidden)), jnp.float64)
        c_y, c_h = jnp.asarray(rng.normal(size=(batch, steps, n_out))), jnp.asarray(rng.normal(size=(batch, hidden)))

        def plain_apply(params, h0):
            cell, out = params["cell"], params["readout"]
            xw = jax.nn.one_hot(ids, n_in, dtype=jnp.float64) @ cell["w_xh"] + cell["b_h"][None, None, :]

            def step(h, xw_t):
                h = jnp.tanh(xw_t + h @ cell["w_hh"])
                return h, h

            h_last, hs = jax.lax.scan(step, h0, jnp.swapaxes(xw, 0, 1))
            return jnp.swapaxes(hs, 0, 1) @ out["w"] + out["b"][None, None, :], h_last

        def loss(apply):
            def f(params, h0):
                logits, h_last = apply(params, h0)
                return jnp.sum(jnp.tanh(logits) * c_y) + jnp.sum(jnp.cos(h_last) * c_h)
            return f

        got = jax.grad(loss(lambda p, h: model.apply(p, x, h0=h, return_state=True)), argnums=(0, 1))(params, h0)
        expected = jax.grad(loss(plain_apply), argnums=(0, 1))(params, h0)
        assert jax.tree.structure(got) == jax.tree.structure(expected)
        for (path, g), e in zip(jax.tree_util.tree_leaves_with_path(got), jax.tree.leaves(expected)):
            assert g.dtype == np.float64, path
            np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-13, err_msg=jax.tree_util.keystr(path))


def test_truncated_bptt_stops_at_the_window_boundary_with_the_custom_backward(model_and_params):
    """Two windows: the second starts from the first's h_T. Carried as data (stop_gradient,
    what nnlect.lm does), the second window's gradient is that of the window alone from that
    state; carried through, it also reaches back into the first window, and differs. The
    custom backward still gives h0 its gradient when the caller asks for it."""
    model, params = model_and_params
    x1, x2 = tokens((2, 6), seed=4), tokens((2, 6), seed=6)

    def second_window_loss(p, carry):
        _, h_t = model.apply(p, x1, return_state=True)
        logits, h_last = model.apply(p, x2, h0=carry(h_t), return_state=True)
        return jnp.sum(logits ** 2) + jnp.sum(h_last)

    truncated = jax.jit(jax.grad(lambda p: second_window_loss(p, jax.lax.stop_gradient)))(params)
    through = jax.grad(lambda p: second_window_loss(p, lambda h: h))(params)
    h_t = model.apply(params, x1, return_state=True)[1]
    alone = jax.grad(lambda p: second_window_loss(p, lambda _: h_t))(params)
    np.testing.assert_allclose(truncated["cell"]["w_hh"], alone["cell"]["w_hh"], rtol=1e-5, atol=1e-6)
    assert np.abs(np.asarray(through["cell"]["w_hh"] - truncated["cell"]["w_hh"])).max() > 1e-3
    d_h0 = jax.grad(lambda h: jnp.sum(model.apply(params, x2, h0=h, return_state=True)[1]))(h_t)
    assert np.all(np.asarray(d_h0) != 0)
    g_last = jax.grad(lambda p: jnp.sum(model.apply(p, x2, h0=h_t, return_state=True)[1]))(params)
    assert np.abs(np.asarray(g_last["cell"]["w_hh"])).max() > 0
    assert np.abs(np.asarray(g_last["readout"]["w"])).max() == 0  # h_T does not pass the readout
