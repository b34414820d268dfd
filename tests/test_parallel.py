"""Data parallelism: splitting each minibatch over D devices is the same SGD as one device.

The lecture's minibatch gradient is a mean over examples, so summing per-device partial
gradients (the all-reduce) gives the single-device gradient up to float32 rounding.
Several devices on CPU need ``--xla_force_host_platform_device_count`` set before JAX
starts, and this test process already has one device, so the multi-device checks run
in subprocesses: this file executed as a script (``python tests/test_parallel.py 8dev``)
is the worker, and prints one JSON line of results.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

STEPS = 20
TOL = 1e-5  # float32: the all-reduce sums B/D-example partial gradients in another order


def _run_worker(*args: str, devices: int, timeout: float = 240) -> list[dict]:
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}", JAX_PLATFORMS="cpu")
    done = subprocess.run([sys.executable, __file__, *args], env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


@pytest.fixture(scope="module")
def eight():
    """Results of the single- vs 8-device comparisons, run once in a subprocess."""
    (result,) = _run_worker("8dev", devices=8)
    return result


@pytest.mark.long
def test_the_worker_sees_eight_devices(eight):
    assert eight["devices"] == 8


@pytest.mark.long
@pytest.mark.parametrize("run", ["fit_fused", "fit_loop", "scan_stacked", "scan_repeat", "eval"])
def test_mlp_with_dropout_on_8_devices_equals_one_device(eight, run):
    r = eight[run]
    assert r["max_abs_param_diff"] < TOL, r
    assert abs(r["loss_1"] - r["loss_8"]) < TOL, r
    assert r["params_replicated"] and r["steps"] >= {"scan_stacked": STEPS // 2, "eval": 0}.get(run, STEPS)


@pytest.mark.long
def test_a_long_fused_epoch_runs_its_collectives_in_one_call(eight):
    # 200 all-reduces inside one lax.scan: the CPU rendezvous pitfall needs separate dispatches.
    r = eight["long_epoch"]
    assert r["steps"] == 200 and r["max_abs_param_diff"] < TOL, r


@pytest.mark.long
def test_the_batch_really_is_split(eight):
    assert eight["hlo"] == {"all_reduce": True, "per_device_batch_shape": True}


@pytest.mark.long
@pytest.mark.parametrize("which", ["fit", "shard_batch"])
def test_a_batch_that_does_not_divide_names_both_numbers(eight, which):
    message = eight["errors"][which]
    assert "8 devices" in message and "60" in message and "60 % 8 = 4" in message, message


@pytest.mark.long
@pytest.mark.parametrize("name", ["lenet5", "elman_rnn"])
def test_other_models_on_8_devices_equal_one_device(eight, name):
    r = eight["models"].get(name)
    assert r is not None, f"the 8-device worker did not run {name}"
    assert "error" not in r, r.get("error")
    assert r["max_abs_param_diff"] < TOL and abs(r["loss_1"] - r["loss_8"]) < TOL, r


@pytest.mark.long
def test_two_processes_train_like_one_device():
    """Multi-host on one machine: 2 processes x 4 CPU devices, jax.distributed + gloo."""
    with socket.socket() as s:
        s.bind(("localhost", 0))
        port = str(s.getsockname()[1])
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    procs = [subprocess.Popen([sys.executable, __file__, "host", str(i), port], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    outs = [p.communicate(timeout=240) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    rows = [json.loads(line) for out, _ in outs for line in out.splitlines() if line.startswith("{")]
    assert len(rows) == 2 and all(r["devices"] == 8 and r["local_devices"] == 4 for r in rows)
    (single,) = _run_worker("host_reference", devices=1)
    for r in rows:
        assert r["host_local_batch"] == [[64, 20], ["data", None]]
        assert abs(r["loss"] - single["loss"]) < TOL and abs(r["w_sum"] - single["w_sum"]) < 1e-3, (r, single)


@pytest.mark.slow
def test_the_cli_runs_multi_host_from_environment_variables(tmp_path):
    """The docs/scaling.md recipe: NNLECT_COORDINATOR & co. + ``--data-parallel`` on each host."""
    with socket.socket() as s:
        s.bind(("localhost", 0))
        port = str(s.getsockname()[1])
    code = ("import sys; from nnlect import parallel; parallel.maybe_initialize(); "
            "from nnlect.cli import main; sys.exit(main(sys.argv[1:]))")
    base = dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS="--xla_force_host_platform_device_count=4")
    args = ["train", "mlp", "--epochs", "2", "--quiet"]
    procs = [subprocess.Popen([sys.executable, "-c", code, *args, "--data-parallel", "--out", str(tmp_path / f"host{i}")],
                              env=dict(base, NNLECT_COORDINATOR=f"localhost:{port}", NNLECT_NUM_PROCESSES="2",
                                       NNLECT_PROCESS_ID=str(i)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-3000:]
    single = subprocess.run([sys.executable, "-c", code, *args, "--out", str(tmp_path / "single")], env=base,
                            capture_output=True, text=True, timeout=600)
    assert single.returncode == 0, single.stderr[-3000:]
    results = [json.loads((tmp_path / d / "result.json").read_text()) for d in ("host0", "host1", "single")]
    losses = [[row["train_loss"] for row in r["history"]] for r in results]
    assert losses[0] == losses[1] and max(abs(a - b) for a, b in zip(losses[0], losses[2])) < TOL, losses
    assert results[0]["test_error"] == results[2]["test_error"]


@pytest.mark.long  # 9 s: subprocesses with 1 and more devices
def test_scaling_rows_have_the_documented_schema():
    from nnlect.bench import scaling

    rows = scaling.scaling_rows([1, 2], per_device_batch=8, steps=2, repeats=1, min_repeat_s=0.0)
    assert [r.get("error") for r in rows] == [None, None]
    for r, d in zip(rows, (1, 2)):
        assert r["devices"] == d and r["global_batch"] == 8 * d and r["simulated"] == (d > 1)
        assert r["efficiency"] == pytest.approx(r["speedup"] / d) and np.isfinite(r["loss"])  # not NaN, not inf
        assert r["examples_per_s"] == pytest.approx(r["global_batch"] / r["step_s"]["median"])
    assert rows[0]["speedup"] == 1.0
    assert "| mlp | 2 | 16 |" in scaling.table(rows)


def test_one_device_mesh_changes_nothing():
    import jax
    import numpy as np
    import optax

    import nnlect as nl
    from nnlect import parallel, train
    from nnlect.losses import softmax_cross_entropy

    x, y = _toy(np, 128)
    model = nl.mlp([20, 16, 5])
    params = model.init(jax.random.key(0))
    runs = [train.fit(model, params, softmax_cross_entropy, optax.sgd(0.1), x, y, key=jax.random.key(1),
                      epochs=1, batch_size=32, mesh=mesh) for mesh in (None, parallel.setup(True))]
    diff = _max_diff(jax, np, runs[0][0].params, runs[1][0].params)
    assert diff == 0.0 and runs[0][1][0]["train_loss"] == runs[1][1][0]["train_loss"]


# ---------------------------------------------------------------- the subprocess side


def _toy(np, n, d=20, k=5):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, d)).astype(np.float32), rng.integers(0, k, n).astype(np.int32)


def _max_diff(jax, np, a, b):
    return max(float(np.max(np.abs(np.asarray(u) - np.asarray(v)))) for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def _compare(jax, np, run, params, *data):
    """``run(mesh, params, *data) -> (state, loss)`` once on one device, once on 8."""
    from nnlect import parallel

    s1, l1 = run(None, params, *data)
    s8, l8 = run(parallel.setup(True), params, *data)
    leaves = jax.tree.leaves(s8.params)
    return {"max_abs_param_diff": _max_diff(jax, np, s1.params, s8.params), "loss_1": float(l1), "loss_8": float(l8),
            "steps": int(s8.step), "params_replicated": all(x.sharding.is_fully_replicated and len(x.sharding.device_set) == 8
                                                            for x in leaves)}


def _guarded(compare):
    """A model another module owns may be mid-edit: report its error instead of losing every result."""
    try:
        return compare()
    except Exception as e:  # noqa: BLE001 - reported to the test, which fails on it
        return {"error": f"{type(e).__name__}: {e}"[:2000]}


def _worker_8dev():
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax

    import nnlect as nl
    from nnlect import parallel, train
    from nnlect.losses import softmax_cross_entropy as xent

    jax.config.update("jax_numpy_rank_promotion", "raise")
    opt = optax.sgd(0.1, momentum=0.9)
    key = jax.random.key(1)
    x, y = _toy(np, 640)  # 10 minibatches of 64 per epoch, 2 epochs = 20 steps
    model = nl.mlp([20, 64, 5], dropout=0.2)
    params = model.init(jax.random.key(0))
    out = {"devices": jax.device_count()}

    def fit(fused):
        def run(mesh, p, x, y):
            state, hist = train.fit(model, p, xent, opt, x, y, key=key, epochs=2, batch_size=64, fused=fused, mesh=mesh)
            return state, hist[-1]["train_loss"]
        return run

    out["fit_fused"] = _compare(jax, np, fit(True), params, x, y)
    out["fit_loop"] = _compare(jax, np, fit(False), params, x, y)

    def scan(repeat, model=model):
        def run(mesh, p, xs, ys):
            f = train.make_train_scan(model, xent, opt, repeat=repeat, mesh=mesh)
            state, losses = f(train.init_state(jax.tree.map(jnp.copy, p), opt), xs, ys, key)
            return state, losses[-1]
        return run

    out["scan_stacked"] = _compare(jax, np, scan(None), params, x.reshape(STEPS // 2, 64, 20),
                                   y.reshape(STEPS // 2, 64))
    out["scan_repeat"] = _compare(jax, np, scan(STEPS), params, x[:64], y[:64])

    def evaluate(mesh, p, x, y):  # 600 = 512 split + 88 replicated, the short last batch
        state = train.init_state(p if mesh is None else parallel.replicate(mesh, p), opt)
        return state, train.make_evaluate(model, xent, batch_size=512, mesh=mesh)(p, x[:600], y[:600])["loss"]

    out["eval"] = _compare(jax, np, evaluate, params, x, y)

    xl, yl = _toy(np, 3200)
    def long_epoch(mesh, p, x, y):
        state, hist = train.fit(model, p, xent, opt, x, y, key=key, epochs=1, batch_size=16, mesh=mesh)
        return state, hist[-1]["train_loss"]

    out["long_epoch"] = _compare(jax, np, long_epoch, params, xl, yl)

    mesh = parallel.setup(True)
    jitted = jax.jit(train._no_carry(train._update(model, xent, opt, mesh)), out_shardings=parallel.replicated(mesh))
    state = parallel.replicate(mesh, train.init_state(params, opt))
    hlo = jitted.lower(state, parallel.shard_batch(mesh, x[:64]), parallel.shard_batch(mesh, y[:64]), key).compile().as_text()
    out["hlo"] = {"all_reduce": "all-reduce" in hlo, "per_device_batch_shape": "f32[8,20]" in hlo}

    out["errors"] = {}
    for which, call in [("fit", lambda: train.fit(model, params, xent, opt, x, y, key=key, epochs=1, batch_size=60, mesh=mesh)),
                        ("shard_batch", lambda: parallel.shard_batch(mesh, x[:60]))]:
        try:
            call()
            out["errors"][which] = "no error"
        except ValueError as e:
            out["errors"][which] = str(e)

    out["models"] = {}
    try:
        from nnlect.models.cnn import lenet5
    except ImportError:
        lenet5 = None
    if lenet5 is not None:
        cnn = lenet5(input_shape=(8, 8, 1), dropout=0.1)
        xi = np.random.default_rng(2).normal(size=(64, 8, 8, 1)).astype(np.float32)
        yi = np.random.default_rng(3).integers(0, 10, 64).astype(np.int32)
        out["models"]["lenet5"] = _guarded(lambda: _compare(jax, np, scan(STEPS, cnn), cnn.init(jax.random.key(0)), xi, yi))
    try:
        from nnlect.models.rnn import elman_rnn
    except ImportError:
        elman_rnn = None
    if elman_rnn is not None:
        rnn = elman_rnn(12, 32, 12, dropout=0.1)
        tokens = np.random.default_rng(4).integers(0, 12, (32, 17)).astype(np.int32)
        out["models"]["elman_rnn"] = _guarded(lambda: _compare(jax, np, scan(STEPS, rnn), rnn.init(jax.random.key(0)),
                                                               tokens[:, :-1], tokens[:, 1:]))
    print(json.dumps(out))


def _worker_host(process_id: str | None, port: str | None):
    """One of two processes of a multi-host run (or, without a port, the 1-device reference)."""
    import jax
    import numpy as np
    import optax

    from nnlect import parallel

    if port is not None:
        parallel.initialize(f"localhost:{port}", 2, int(process_id), cpu=True)
    import nnlect as nl
    from nnlect import train
    from nnlect.losses import softmax_cross_entropy as xent

    x, y = _toy(np, 640)
    model = nl.mlp([20, 64, 5], dropout=0.2)
    mesh = parallel.setup(port is not None)
    state, hist = train.fit(model, model.init(jax.random.key(0)), xent, optax.sgd(0.1, momentum=0.9), x, y,
                            key=jax.random.key(1), epochs=2, batch_size=64, mesh=mesh, eval_data=(x[:100], y[:100]))
    w = state.params["dense_0"]["w"]
    row = {"devices": jax.device_count(), "local_devices": jax.local_device_count(), "loss": hist[-1]["train_loss"],
           "w_sum": float(np.asarray(w.addressable_data(0)).sum())}
    if mesh is not None:
        rank = jax.process_index()
        batch = parallel.host_local_batch(mesh, x[rank * 32:(rank + 1) * 32])  # each host loads its half
        row["host_local_batch"] = [list(batch.shape), list(batch.sharding.spec)]
    print(json.dumps(row))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    if sys.argv[1] == "8dev":
        _worker_8dev()
    elif sys.argv[1] == "host":
        _worker_host(sys.argv[2], sys.argv[3])
    else:
        _worker_host(None, None)
