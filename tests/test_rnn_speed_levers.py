"""The small-RNN speed levers (issue 11, item 5): the XLA:CPU small-while-loop option that
the ``nnlect`` program sets, and the Elman backward that reads ``W_hh`` as stored. Speed is
measured by the benchmark (benchmarks/results/rnn-small/), never asserted here."""

import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nnlect import _xla_flags
from nnlect.layers import cells
from nnlect.losses import softmax_cross_entropy
from nnlect.models.rnn import elman_rnn
from nnlect.reference import numpy_bptt

OPTION = f"--xla_backend_extra_options={_xla_flags.SMALL_LOOP_OPTION}={_xla_flags.SMALL_LOOP_BYTES}"


@pytest.mark.parametrize("flags, expected", [
    ("", OPTION),
    ("--xla_force_host_platform_device_count=2", f"--xla_force_host_platform_device_count=2 {OPTION}"),
    # other backend extra options are kept: the threshold joins their comma-separated list
    ("--xla_backend_extra_options=xla_cpu_fold_all_constants=true --xla_dump_to=/tmp/d",
     f"--xla_backend_extra_options=xla_cpu_fold_all_constants=true,{_xla_flags.SMALL_LOOP_OPTION}="
     f"{_xla_flags.SMALL_LOOP_BYTES} --xla_dump_to=/tmp/d"),
    # the user's own threshold wins, 0 (the pass off) included
    (f"--xla_backend_extra_options={_xla_flags.SMALL_LOOP_OPTION}=0",
     f"--xla_backend_extra_options={_xla_flags.SMALL_LOOP_OPTION}=0"),
])
def test_the_option_is_added_once_and_never_overrides_the_user(flags, expected):
    assert _xla_flags.with_small_loop_option(flags) == expected
    assert _xla_flags.with_small_loop_option(expected) == expected


@pytest.mark.parametrize("threshold", [-1, 1.5, True, "1000"])
def test_a_bad_threshold_is_named(threshold):
    with pytest.raises(ValueError, match="threshold: expected a byte count"):
        _xla_flags.with_small_loop_option("", threshold)


def test_after_the_backend_started_it_changes_nothing_and_says_why(monkeypatch):
    jax.devices()  # the backend has read XLA_FLAGS: a change now would have no effect
    monkeypatch.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=1")
    note = _xla_flags.enable_small_loop_kernels()
    assert note is not None and "already started" in note and _xla_flags.SMALL_LOOP_OPTION in note
    assert os.environ["XLA_FLAGS"] == "--xla_force_host_platform_device_count=1"
    monkeypatch.setenv("XLA_FLAGS", OPTION)  # already set: nothing to do, nothing to say
    assert _xla_flags.enable_small_loop_kernels() is None


_CHILD = textwrap.dedent("""
    import os, sys
    from nnlect import _xla_flags
    import jax, jax.numpy as jnp
    if sys.argv[1] == "on":
        assert _xla_flags.enable_small_loop_kernels() is None
    from nnlect.layers.cells import elman_bptt
    def loss(w_hh, a):
        return elman_bptt(w_hh, a, jnp.zeros((1, 100)), 1).sum()
    text = jax.jit(jax.grad(loss)).lower(jnp.zeros((100, 100)), jnp.zeros((25, 1, 100))).compile().as_text()
    print(text.count('xla_cpu_small_call="true"'), os.environ.get("XLA_FLAGS", ""))
""")


@pytest.mark.parametrize("mode", ["on", "off"])
def test_set_before_the_first_computation_it_compiles_the_time_loops_as_kernels(mode):
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env["JAX_PLATFORMS"] = "cpu"
    out = subprocess.run([sys.executable, "-c", _CHILD, mode], env=env, capture_output=True, text=True,
                         timeout=120, check=True).stdout.split(maxsplit=1)
    calls, flags = int(out[0]), (out[1].strip() if len(out) > 1 else "")
    if mode == "on":
        assert flags == OPTION
        assert calls == 2  # the forward and the backward (BPTT) loop, each one kernel
    else:
        assert flags == ""
        assert calls == 0


def _transposes(jaxpr) -> list:
    found = []
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "transpose":
            found.append(eqn.outvars[0].aval.shape)
        for param in eqn.params.values():  # scan, custom_vjp, closed_call bodies
            inner = getattr(param, "jaxpr", None)
            if inner is not None and hasattr(inner, "eqns"):
                found += _transposes(inner)
    return found


def test_the_bptt_backward_reads_w_hh_as_stored():
    def loss(w_hh, a, h0):
        return jnp.sum(cells.elman_bptt(w_hh, a, h0, 1))

    jaxpr = jax.make_jaxpr(jax.grad(loss))(jnp.zeros((7, 7)), jnp.zeros((5, 2, 7)), jnp.zeros((2, 7)))
    # h_prev^T delta after the loop transposes (T N, H) activations; no (H, H) matrix is transposed
    assert (7, 7) not in _transposes(jaxpr.jaxpr)


def test_rnn_small_gradients_equal_the_numpy_bptt_reference():
    """The bench's rnn_small sizes (H 100, T 25, vocab 65, batch 1), float64."""
    with jax.enable_x64(True):
        model = elman_rnn(65, 100, 65, dtype=jnp.float64)
        params = model.init(jax.random.key(3))
        rng = np.random.default_rng(3)
        params = jax.tree.map(lambda p: p + 0.1 * rng.normal(size=p.shape), params)  # nonzero biases
        text = rng.integers(0, 65, (1, 26))
        x, y = text[:, :-1], text[:, 1:]
        loss, grads = jax.jit(jax.value_and_grad(lambda p: softmax_cross_entropy(model.apply(p, x), y)))(params)
    np_params = jax.tree.map(np.asarray, params)
    hand_loss, hand_grads, _ = numpy_bptt.loss_and_gradients(np_params, x, y, np.zeros((1, 100)))
    np.testing.assert_allclose(hand_loss, float(loss), rtol=1e-12)
    for (path, expected), got in zip(jax.tree_util.tree_flatten_with_path(grads)[0], jax.tree.leaves(hand_grads)):
        np.testing.assert_allclose(got, expected, rtol=1e-8, atol=1e-14, err_msg=jax.tree_util.keystr(path))
