"""benchmarks/accelerator.sh, dry-run on the CPU: the script a GPU or TPU machine runs once."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "accelerator.sh"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("nnlect") is None, reason="the nnlect command is not installed")
def test_the_accelerator_script_runs_end_to_end_on_a_cpu(tmp_path):
    env = {**os.environ, "NNLECT_DRY_RUN": "1"}
    env.pop("NNLECT_DATA_DIR", None)
    done = subprocess.run(["bash", str(SCRIPT), str(tmp_path)], env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    runs = sorted((tmp_path / "bench").glob("*.json"))
    assert len(runs) == 2 and any("-bf16-" in p.name for p in runs)  # two files, no overwrite
    bf16 = json.loads(next(p for p in runs if "-bf16-" in p.name).read_text())
    assert {r["precision"] for r in bf16["rows"] if r["impl"].endswith("_bf16")} == {"bf16"}
    assert all(r["status"] in ("ok", "skipped") for run in runs for r in json.loads(run.read_text())["rows"])
    assert (tmp_path / "ratios.png").read_bytes()[:4] == b"\x89PNG"
    assert "÷ numpy_ref" in (tmp_path / "results.md").read_text()
    assert json.loads((tmp_path / "lenet5" / "result.json").read_text())
