"""nl.train.fit as the one loop: every way of cutting an epoch into calls gives the same
numbers, data can come from arrays, pre-batched windows or an iterable, a second fit
compiles nothing, and hooks, named metrics, stops and resumes behave as documented."""

import jax
import numpy as np
import optax
import pytest

import nnlect as nl

LOSS = nl.softmax_cross_entropy


def _data(n=96, d=6, seed=0):
    x = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return x, (x[:, 0] + x[:, 1] > 0).astype(np.int32)


def _leaves_equal(a, b):
    return all(np.array_equal(np.asarray(u), np.asarray(v)) for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


@pytest.fixture(scope="module")
def setup():
    model = nl.mlp([6, 16, 2], dropout=0.1)
    return model, model.init(jax.random.key(0)), optax.adam(1e-2), *_data()


def test_every_fused_choice_trains_on_the_same_minibatches(setup):
    model, params, opt, x, y = setup
    kw = dict(key=jax.random.key(3), epochs=3, batch_size=16)
    runs = {f: nl.train.fit(model, params, LOSS, opt, x, y, fused=f, **kw) for f in (True, False, 4, "auto")}
    ref_state, ref_hist = runs[True]
    for f, (state, hist) in runs.items():
        np.testing.assert_allclose([r["train_loss"] for r in hist], [r["train_loss"] for r in ref_hist], rtol=1e-6)
        for u, v in zip(jax.tree.leaves(state.params), jax.tree.leaves(ref_state.params)):
            np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-6, err_msg=f"fused={f}")
        assert [r["step"] for r in hist] == [6, 12, 18]


@pytest.mark.parametrize("fused", [True, False])
def test_a_second_fit_with_the_same_objects_compiles_nothing(setup, fused):
    model, params, opt, x, y = setup
    kw = dict(key=jax.random.key(1), epochs=2, batch_size=16, eval_data=(x, y), fused=fused)
    nl.train.fit(model, params, LOSS, opt, x, y, **kw)
    _, history = nl.train.fit(model, params, LOSS, opt, x, y, **kw)
    assert [r["compiles"] for r in history] == [0, 0]
    assert [r["compile_seconds"] for r in history] == [0.0, 0.0]


def test_compile_time_is_reported_apart_for_a_new_model():
    model = nl.mlp([6, 7, 2])
    x, y = _data()
    _, history = nl.train.fit(model, model.init(jax.random.key(0)), LOSS, optax.sgd(0.1), x, y,
                              key=jax.random.key(0), epochs=2, batch_size=32)
    assert history[0]["compiles"] >= 1 and 0 < history[0]["compile_seconds"] <= history[0]["seconds"]
    assert history[1]["compiles"] == 0


def test_a_run_stopped_mid_epoch_resumes_bit_identically(setup, tmp_path):
    model, params, opt, x, y = setup
    kw = dict(key=jax.random.key(5), batch_size=16, fused=False)
    whole, _ = nl.train.fit(model, params, LOSS, opt, x, y, epochs=3, **kw)
    half, hist = nl.train.fit(model, params, LOSS, opt, x, y, epochs=3, max_steps=8, **kw)
    assert hist[-1]["stopped"] == "max_steps" and hist[-1]["epoch"] == pytest.approx(8 / 6, abs=1e-4) and int(half.step) == 8
    path = tmp_path / "ckpt.msgpack"
    nl.checkpoint.save(path, half)
    restored, _ = nl.checkpoint.restore(path, nl.train.init_state(params, opt))
    rest, hist = nl.train.fit(model, None, LOSS, opt, x, y, epochs=2, state=restored, **{**kw, "fused": True})
    assert [r["epoch"] for r in hist] == [2, 3] and int(rest.step) == 18
    assert _leaves_equal(whole.params, rest.params)


def test_an_iterable_source_trains_like_the_arrays(setup):
    model, params, opt, x, y = setup
    key = jax.random.key(7)
    arrays, h1 = nl.train.fit(model, params, LOSS, opt, x, y, key=key, epochs=2, batch_size=16, fused=False)
    source, h2 = nl.train.fit(model, params, LOSS, opt, key=key, epochs=2,
                              data=lambda e: nl.data.batches(x, y, batch_size=16, key=key, epoch=e))
    stacked, _ = nl.train.fit(model, params, LOSS, opt, key=key, epochs=2, fused=3,
                              data=lambda e: nl.data.batches(x, y, batch_size=16, key=key, epoch=e))
    assert _leaves_equal(arrays.params, source.params)
    np.testing.assert_allclose([r["train_loss"] for r in h1], [r["train_loss"] for r in h2], rtol=1e-6)
    for u, v in zip(jax.tree.leaves(arrays.params), jax.tree.leaves(stacked.params)):
        np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-6)


def test_batches_reads_records_and_shards(setup):
    _, _, _, x, y = setup
    records = [{"image": x[i], "label": y[i]} for i in range(len(x))]
    key = jax.random.key(2)
    from_records = list(nl.data.batches(records, batch_size=16, key=key, epoch=1))
    from_arrays = list(nl.data.batches(x, y, batch_size=16, key=key, epoch=1))
    assert len(from_records) == 6
    for (a, b), (c, d) in zip(from_records, from_arrays):
        np.testing.assert_array_equal(a, c) and np.testing.assert_array_equal(b, d)
    halves = [list(nl.data.batches(x, y, batch_size=16, key=key, epoch=1, shard=(i, 2))) for i in range(2)]
    np.testing.assert_array_equal(np.concatenate([halves[0][0][0], halves[1][0][0]]), from_arrays[0][0])
    with pytest.raises(ValueError, match="shard: expected"):
        list(nl.data.batches(x, y, batch_size=16, key=key, epoch=0, shard=(0, 3)))
    with pytest.raises(ValueError, match="epoch: expected"):
        list(nl.data.batches(x, y, batch_size=16, key=key, epoch=-1))


def test_a_grain_dataloader_is_a_data_source(setup):
    grain = pytest.importorskip("grain")
    model, params, opt, x, y = setup
    dataset = grain.MapDataset.source(list(zip(x, y))).batch(16, drop_remainder=True,
                                                              batch_fn=lambda items: tuple(map(np.stack, zip(*items))))
    state, history = nl.train.fit(model, params, LOSS, opt, key=jax.random.key(0), epochs=2, data=dataset)
    assert [r["step"] for r in history] == [6, 12] and int(state.step) == 12


def test_on_step_hook_and_named_metrics(setup):
    model, params, opt, x, y = setup
    seen = []
    _, history = nl.train.fit(model, params, LOSS, opt, x, y, key=jax.random.key(0), epochs=2, batch_size=16,
                              fused=True, eval_data=(x, y), on_step=lambda row, state: seen.append(row["step"]),
                              log_every=4, metrics={"acc": nl.accuracy, "err": lambda out, y: 1 - nl.accuracy(out, y)})
    assert seen == [4, 8, 12]
    assert history[-1]["eval_acc"] == pytest.approx(1 - history[-1]["eval_err"])
    assert "eval_loss" in history[-1] and "eval_accuracy" not in history[-1]


def test_time_budget_stops_after_the_call_that_passes_it(setup):
    model, params, opt, x, y = setup
    state, history = nl.train.fit(model, params, LOSS, opt, x, y, key=jax.random.key(0), epochs=1000,
                                  batch_size=16, fused=False, time_budget=1e-9)
    assert int(state.step) == 1 and history[-1]["stopped"] == "time_budget" and len(history) == 1


def test_a_carried_state_flows_between_windows_and_resets_each_epoch():
    model = nl.elman_rnn(5, 8, 5)
    ids = np.random.default_rng(0).integers(0, 5, size=(4, 3, 7)).astype(np.int32)  # (S, B, T)
    xs, ys = ids, np.roll(ids, -1, axis=-1)
    params, opt = model.init(jax.random.key(0)), optax.sgd(0.1)
    h0 = model.initial_state(3)
    seen = []
    state, history = nl.train.fit(model, params, LOSS, opt, xs, ys, key=jax.random.key(0), epochs=2,
                                  batch_size=None, carry=h0, fused=2, callback=lambda r, s, h: seen.append(h))
    assert len(seen) == 2 and seen[0].shape == (3, 8) and int(state.step) == 8

    # By hand: window k starts from the state window k-1 ended with; a pass starts from zeros.
    def by_hand():
        p, o, h = params, opt.init(params), h0
        for step in range(8):
            if step % 4 == 0:
                h = np.zeros_like(h0)

            def objective(p, h):
                out, h_next = model.apply(p, xs[step % 4], h0=h, return_state=True)
                return LOSS(out, ys[step % 4]), h_next

            (_, h), g = jax.value_and_grad(objective, has_aux=True)(p, h)
            updates, o = opt.update(g, o, p)
            p = optax.apply_updates(p, updates)
        return p

    for u, v in zip(jax.tree.leaves(by_hand()), jax.tree.leaves(state.params)):
        np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-6)


def test_bad_data_and_state_are_named(setup):
    model, params, opt, x, y = setup
    kw = dict(key=jax.random.key(0), epochs=1)
    with pytest.raises(TypeError, match="x: expected an array"):
        nl.train.fit(model, params, LOSS, opt, x.tolist(), y, batch_size=8, **kw)
    with pytest.raises(ValueError, match=r"y: expected class indices in \[0, 2\).*got values from 0 to 7"):
        nl.train.fit(model, params, LOSS, opt, x, y * 7, batch_size=8, **kw)
    with pytest.raises(ValueError, match="state: its optimizer state does not match"):
        nl.train.fit(model, params, LOSS, opt, x, y, batch_size=8,
                     state=nl.train.init_state(params, optax.sgd(0.1)), **kw)
    with pytest.raises(ValueError, match="x, data: expected either"):
        nl.train.fit(model, params, LOSS, opt, batch_size=8, **kw)
    with pytest.raises(ValueError, match="fused: expected"):
        nl.train.fit(model, params, LOSS, opt, x, y, batch_size=8, fused="fast", **kw)
    with pytest.raises(ValueError, match="carry: expected pre-batched"):
        nl.train.fit(model, params, LOSS, opt, x, y, batch_size=8, carry=np.zeros((8, 3), np.float32), **kw)
    with pytest.raises(ValueError, match="start_epoch: the state is at step 0"):
        nl.train.fit(model, params, LOSS, opt, x, y, batch_size=8, start_epoch=2,
                     state=nl.train.init_state(params, opt), **kw)


def test_non_finite_params_stop_before_anything_is_saved(setup):
    model, params, _, x, y = setup
    saved = []
    with pytest.raises(FloatingPointError, match="diverged"):
        nl.train.fit(model, params, LOSS, optax.sgd(1e39), x, y, key=jax.random.key(0), epochs=2, batch_size=16,
                     eval_data=(x, y), callback=lambda row, state: saved.append(row))
    assert saved == []


def test_fit_leaves_the_callers_params_usable():
    """fit donates its state's buffers to the steps, so it must start from a copy: the
    params passed in stay alive and unchanged (a second fit from them is the same run)."""
    model = nl.mlp([4, 8, 2])
    params = model.init(jax.random.key(0))
    before = jax.tree.map(np.asarray, params)
    x = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32)
    run = dict(key=jax.random.key(1), epochs=2, batch_size=16, metrics=None)
    first, _ = nl.train.fit(model, params, nl.softmax_cross_entropy, optax.sgd(0.1), x, y, **run)
    assert not any(leaf.is_deleted() for leaf in jax.tree.leaves(params))
    jax.tree.map(np.testing.assert_array_equal, jax.tree.map(np.asarray, params), before)
    second, _ = nl.train.fit(model, params, nl.softmax_cross_entropy, optax.sgd(0.1), x, y, **run)
    jax.tree.map(np.testing.assert_array_equal, jax.tree.map(np.asarray, first.params),
                 jax.tree.map(np.asarray, second.params))
