"""Training: jit over value_and_grad with Optax; compiled once; fused epochs give the
same numbers as a Python loop of steps; an MLP learns what the perceptron cannot."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import nnlect as nl
from nnlect.data import toy


def _counting(loss):
    traces = []

    def counted(y, d):
        traces.append(1)  # runs only while tracing, i.e. once per compilation
        return loss(y, d)

    return counted, traces


def test_a_second_call_of_the_step_does_not_compile_again():
    model = nl.mlp([4, 8, 3], "relu", dropout=0.2)
    loss, traces = _counting(nl.softmax_cross_entropy)
    optimizer = optax.adam(1e-2)
    step = nl.train.make_train_step(model, loss, optimizer)
    state = nl.train.init_state(model.init(jax.random.key(0)), optimizer)
    x, y = jnp.ones((16, 4)), jnp.arange(16) % 3
    for _ in range(3):
        state, value = step(state, x, y, jax.random.key(1))
    assert len(traces) == 1
    assert int(state.step) == 3


def test_dropout_key_changes_every_step():
    model = nl.mlp([4, 64, 1], "relu", dropout=0.5)
    opt = optax.sgd(0.0)  # params never change, so losses differ only through the masks
    step = nl.train.make_train_step(model, nl.half_squared_error, opt)
    state = nl.train.init_state(model.init(jax.random.key(0)), opt)
    x, y = jnp.ones((8, 4)), jnp.zeros((8, 1))
    losses = []
    for _ in range(3):
        state, value = step(state, x, y, jax.random.key(5))
        losses.append(float(value))
    assert len(set(losses)) == 3


def test_fused_epoch_gives_the_same_params_as_a_python_loop_of_steps():
    x = np.random.default_rng(0).normal(size=(100, 5)).astype(np.float32)
    y = (x.sum(axis=1) > 0).astype(np.int32)
    model = nl.mlp([5, 16, 2], "tanh", dropout=0.1)
    params = model.init(jax.random.key(0))
    kw = dict(key=jax.random.key(1), epochs=3, batch_size=16)
    fused, h1 = nl.train.fit(model, params, nl.softmax_cross_entropy, optax.adam(1e-2), x, y, fused=True, **kw)
    loop, h2 = nl.train.fit(model, params, nl.softmax_cross_entropy, optax.adam(1e-2), x, y, fused=False, **kw)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), fused.params, loop.params)
    assert int(fused.step) == int(loop.step) == 3 * (100 // 16)
    np.testing.assert_allclose([r["train_loss"] for r in h1], [r["train_loss"] for r in h2], rtol=1e-5)


def test_mlp_learns_xor_that_the_perceptron_cannot():
    x, d = toy.xor("binary")
    model = nl.mlp([2, 4, 1], "tanh", output_activation="sigmoid", init="glorot")
    optimizer = optax.adam(0.1)
    state = nl.train.init_state(model.init(jax.random.key(0)), optimizer)
    run = nl.train.make_train_scan(model, nl.half_squared_error, optimizer, repeat=500)
    state, losses = run(state, jnp.asarray(x), jnp.asarray(d), jax.random.key(0))
    assert float(losses[-1]) < 0.01 < float(losses[0])
    np.testing.assert_array_equal(np.asarray(model.apply(state.params, jnp.asarray(x))) > 0.5, d > 0.5)


def test_train_scan_over_stacked_batches_equals_repeated_steps():
    model = nl.mlp([3, 5, 1], "sigmoid")
    opt = optax.sgd(0.1)
    params = model.init(jax.random.key(0))
    xs = jax.random.normal(jax.random.key(1), (4, 8, 3))
    ys = jax.random.normal(jax.random.key(2), (4, 8, 1))
    scan = nl.train.make_train_scan(model, nl.half_squared_error, opt, donate=False)
    s1, l1 = scan(nl.train.init_state(params, opt), xs, ys, jax.random.key(0))
    step = nl.train.make_train_step(model, nl.half_squared_error, opt, donate=False)
    s2 = nl.train.init_state(params, opt)
    for i in range(4):
        s2, _ = step(s2, xs[i], ys[i], jax.random.key(0))
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), s1.params, s2.params)


def test_fit_reports_history_and_evaluates():
    x = np.random.default_rng(0).normal(size=(64, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32)
    model = nl.mlp([3, 8, 2])
    state, history = nl.train.fit(model, model.init(jax.random.key(0)), nl.softmax_cross_entropy, optax.adam(0.05),
                                  x, y, key=jax.random.key(0), epochs=5, batch_size=16, eval_data=(x, y))
    assert [r["epoch"] for r in history] == [1, 2, 3, 4, 5]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert history[-1]["eval_accuracy"] > 0.9


def test_fit_rejects_bad_arguments_and_divergence():
    model = nl.mlp([3, 4, 1])
    p = model.init(jax.random.key(0))
    x, y = np.ones((10, 3), np.float32), np.ones((10, 1), np.float32)
    with pytest.raises(ValueError, match=r"batch_size: expected at most the number of examples \(10\), got 11"):
        nl.train.fit(model, p, nl.half_squared_error, optax.sgd(0.1), x, y, key=jax.random.key(0), epochs=1, batch_size=11)
    with pytest.raises(ValueError, match="epochs: expected a positive int, got 0"):
        nl.train.fit(model, p, nl.half_squared_error, optax.sgd(0.1), x, y, key=jax.random.key(0), epochs=0, batch_size=5)
    with pytest.raises(ValueError, match=r"x and y: expected the same number of examples, got 10 and 9"):
        nl.train.fit(model, p, nl.half_squared_error, optax.sgd(0.1), x, y[:9], key=jax.random.key(0), epochs=1, batch_size=5)
    with pytest.raises(FloatingPointError, match="diverged in epoch 1"):
        nl.train.fit(model, p, nl.half_squared_error, optax.sgd(0.1), x * np.nan, y, key=jax.random.key(0),
                     epochs=1, batch_size=5)


@pytest.mark.parametrize("fused", [True, False])
def test_a_second_fit_with_the_same_configuration_compiles_nothing(fused):
    """fit caches its jitted functions on (model, loss, optimizer, settings): calling it again,
    e.g. for another run or to resume, reuses JAX's compilations."""
    model, optimizer = nl.mlp([6, 8, 3], "tanh", dropout=0.2), optax.adam(1e-2)
    x = jax.random.normal(jax.random.key(0), (96, 6))
    y = jnp.arange(96) % 3
    kw = dict(key=jax.random.key(1), epochs=2, batch_size=32, fused=fused, eval_data=(x[:40], y[:40]))
    params = model.init(jax.random.key(2))
    first, _ = nl.train.fit(model, params, nl.softmax_cross_entropy, optimizer, x, y, **kw)
    compiles = []
    listener = lambda event, duration, **_: compiles.append(event) if event == "/jax/core/compile/backend_compile_duration" else None
    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        second, history = nl.train.fit(model, params, nl.softmax_cross_entropy, optimizer, x, y, **kw)
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
    assert compiles == []
    assert len(history) == 2 and "eval_loss" in history[-1]
    for a, b in zip(jax.tree.leaves(first.params), jax.tree.leaves(second.params)):
        np.testing.assert_array_equal(a, b)  # and the same run gives the same numbers
