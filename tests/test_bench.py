"""The benchmark harness: every implementation computes the same training step, results
files follow the schema, and runs from several machines merge into one report.

Nothing here reads a clock's value: timings are only checked to exist and be positive.
"""

import copy
import json
import re
import sys

import numpy as np
import pytest

from nnlect import cli
from nnlect.bench import report, run, workloads


def _impls_available():
    impls = list(run.IMPLS)
    try:
        import torch  # noqa: F401
    except ImportError:
        impls.remove("torch")
    return impls


def _check_agreement(family, impls):
    (w,) = workloads.by_name([family], "tiny")
    params, data = workloads.initial_params(w), workloads.batch(w)
    ran = {impl: run.check_loss(impl, w, params, data, steps=2) for impl in impls
           if run.skip_reason(impl, w) is None}
    anchor = ran["nnlect"]
    assert anchor["loss_after_check"] < anchor["loss_initial"]  # the steps did train
    for impl, got in ran.items():
        np.testing.assert_allclose(got["loss_initial"], anchor["loss_initial"], rtol=1e-5, err_msg=impl)
        np.testing.assert_allclose(got["loss_after_check"], anchor["loss_after_check"], rtol=run.RTOL, err_msg=impl)
    return ran


@pytest.mark.parametrize("family", ["xor", "mlp", "rnn"])
def test_autodiff_handwritten_flax_and_torch_train_to_the_same_loss(family):
    """Same initial params, same batch, same optimizer: after two steps every implementation
    (autodiff, the handwritten delta rule / BPTT in NumPy and jnp, Flax, PyTorch) has nnlect's loss."""
    ran = _check_agreement(family, _impls_available())
    assert {"nnlect", "nnlect_fused", "numpy_ref", "jnp_ref", "flax"} <= set(ran)


def test_lenet5_agrees_with_torch_despite_nchw_and_oihw_layouts():
    if "torch" not in _impls_available():
        pytest.skip("PyTorch is not installed: without it this would compare nnlect with itself")
    ran = _check_agreement("lenet5", [i for i in _impls_available() if i != "flax"])
    assert {"nnlect", "nnlect_fused", "torch"} <= set(ran)
    assert "numpy_ref" not in ran  # no handwritten reference for convolutions: skipped with a note


@pytest.mark.slow
def test_lenet5_agrees_with_flax():  # slow only because nnx.jit traces LeNet for ~10 s on 2 loaded cores
    _check_agreement("lenet5", ["nnlect", "flax"])


def test_a_disagreeing_implementation_is_marked_and_not_compared():
    rows = [
        {"workload": "mlp", "impl": "nnlect", "status": "ok", "note": "", "loss_after_check": 2.0,
         "step_s": {"median": 1.0}},
        {"workload": "mlp", "impl": "torch", "status": "ok", "note": "", "loss_after_check": 2.1,
         "step_s": {"median": 2.0}},
        {"workload": "mlp", "impl": "flax", "status": "ok", "note": "", "loss_after_check": 2.0,
         "step_s": {"median": 4.0}},
    ]
    run.compare(rows)
    assert rows[1]["status"] == "disagrees" and "not timed" in rows[1]["note"]
    assert rows[0]["speedup"] == {"flax": 4.0}
    assert rows[2]["speedup"] == {"nnlect": 0.25}


def test_mlp_flops_are_three_matmuls_per_layer_but_no_delta_below_the_first():
    (w,) = [w for w in workloads.suite("full") if w.name == "mlp"]
    forward = 2 * 256 * (784 * 512 + 512 * 512 + 512 * 10)
    assert w.flops_per_step == 3 * forward - 2 * 256 * 784 * 512
    assert w.examples_per_step == 256


def test_rnn_counts_characters_as_examples():
    (w,) = [w for w in workloads.suite("full") if w.name == "rnn"]
    assert w.examples_per_step == 32 * 100
    assert w.flops_per_step == 3 * 2 * 32 * 100 * (256 * 256 + 256 * 65)


def test_torch_rows_are_skipped_with_a_note_when_torch_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    (w,) = workloads.by_name(["xor"], "tiny")
    assert "not importable" in run.skip_reason("torch", w)


def test_unknown_workload_or_impl_is_refused_by_name():
    with pytest.raises(ValueError, match="workloads: unknown"):
        workloads.by_name(["resnet"], "quick")
    with pytest.raises(ValueError, match="impls: unknown"):
        run.run_suite(mode="tiny", impls=("tensorflow",))


@pytest.fixture(scope="module")
def tiny_result():
    return run.run_suite(mode="tiny", names=["xor", "mlp"], impls=("nnlect", "nnlect_fused", "numpy_ref"),
                         log=lambda _: None)


def test_results_file_follows_the_schema(tiny_result, tmp_path):
    path = run.write(tiny_result, str(tmp_path))
    assert path.endswith(run.file_name(tiny_result))
    assert re.fullmatch(r"cpu-[a-z0-9._]+-tiny-\d{8}T\d{6}Z\.json", run.file_name(tiny_result))
    (loaded,) = report.load([path])
    env = loaded["env"]
    for key in ("versions", "backend", "device_kind", "device_count", "cpu_model", "blas", "env_vars",
                "uptime_start", "load_average_1_5_15"):
        assert key in env
    assert "OPENBLAS_CORETYPE" in env["env_vars"]
    assert loaded["peak"]["float32_machine"]["gflops"] > 0
    ok = [r for r in loaded["rows"] if r["status"] == "ok"]
    assert {(r["workload"], r["impl"]) for r in ok} == {(w, i) for w in ("xor", "mlp")
                                                       for i in ("nnlect", "nnlect_fused", "numpy_ref")}
    for r in ok:
        assert r["precision"] == "f32"  # on a CPU; "f32 (tf32)" for XLA on a GPU, "bf16" for bf16 rows
        assert r["step_s"]["min"] <= r["step_s"]["median"] <= r["step_s"]["max"]
        assert r["examples_per_s"]["median"] > 0 and r["fraction_of_peak"] > 0
        assert set(r["speedup"]) == {"nnlect", "nnlect_fused", "numpy_ref"} - {r["impl"]}
    fused = next(r for r in ok if r["workload"] == "xor" and r["impl"] == "nnlect_fused")
    assert fused["steps_per_call"] == loaded["workloads"]["xor"]["fused_steps"]


def test_report_merges_runs_from_several_machines_with_unique_labels(tiny_result, tmp_path, capsys):
    """Two GPU hosts and two CPU runs of one host: four files, four columns, nothing overwritten."""
    runs = [copy.deepcopy(tiny_result) for _ in range(4)]
    runs[1]["created"] = "2026-11-29T05:00:00+00:00"  # the same host again, later
    for r, host in zip(runs[2:], ("node-a", "node-b")):
        r["backend"], r["env"]["device_kind"], r["env"]["host"] = "gpu", "NVIDIA H200", host
    paths = [run.write(r, str(tmp_path)) for r in runs]
    assert len(set(paths)) == 4 and all((tmp_path / p).exists() for p in paths)
    assert [report.labels(runs)[i].split()[:2] for i in range(4)] == [["cpu", "tiny"]] * 2 + [["gpu", "tiny"]] * 2
    assert len(set(report.labels(runs))) == 4
    md, png = tmp_path / "results.md", tmp_path / "ratios.png"
    assert cli.main(["bench", "report", *paths, "--out-md", str(md), "--out-png", str(png)]) == 0
    printed = capsys.readouterr().out
    assert "÷ numpy_ref" in printed and "| mlp | nnlect_fused | f32 |" in printed  # the ratios are printed
    text = md.read_text()
    header = next(line for line in text.splitlines() if line.startswith("| workload | impl |"))
    assert "gpu tiny node-a examples/s" in header and "gpu tiny node-b examples/s" in header  # the host tells them apart
    assert "| xor | nnlect_fused |" in text and "| mlp | numpy_ref |" in text
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_ratios_span_the_slowest_and_fastest_repeats(tiny_result):
    rows = report.ratio_rows(tiny_result)
    assert {(r["workload"], r["impl"], r["peer"]) for r in rows} >= {("mlp", "nnlect", "numpy_ref")}
    for r in rows:
        assert 0 < r["min"] <= r["median"] <= r["max"]


def test_the_agreement_check_runs_at_true_float32():
    import jax

    with run.true_float32():
        assert jax.config.jax_default_matmul_precision == "highest"
    assert run.precision_label("nnlect", "gpu") == "f32 (tf32)" and run.precision_label("nnlect_bf16", "gpu") == "bf16"
    assert run.precision_label("numpy_ref", "gpu") == "f32" and run.precision_label("flax", "tpu") == "f32 (bf16 passes)"


def test_report_rejects_a_file_that_is_not_a_results_file(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"schema": "something-else"}))
    assert cli.main(["bench", "report", str(bad), "--out-md", str(tmp_path / "x.md")]) == 2
    assert "bad.json" in capsys.readouterr().err
    assert cli.main(["bench", "report", str(tmp_path / "missing.json"), "--out-md", str(tmp_path / "x.md")]) == 2


def test_fit_overhead_rows_time_three_loops_side_by_side():
    result = run.run_suite(mode="tiny", names=["fit_overhead"], log=lambda s: None)
    assert result["rows"] == []  # only the fit_overhead rows were asked for
    rows = {r["loop"]: r for r in result["fit_overhead"]["rows"]}
    assert set(rows) == {"hand", "fit_step_loop", "fit_fused"}
    assert rows["hand"]["over_hand"]["median"] == 1.0
    for r in rows.values():
        assert np.isfinite(r["ms_per_step"]["median"]) and r["ms_per_step"]["min"] > 0
    assert "## fit overhead" in report.markdown([result])
