"""The lecture's claim, measured: LeNet-5 reaches <= 0.95% MNIST test error (slide
"Use Case: Digits Recognition"), for each of three seeds.

Slow (about 2 minutes per seed on a quiet 2-core CPU), so excluded from the default run:

    NNLECT_DATA_DIR=/path/to/mnist pytest -m slow tests/test_mnist_accuracy.py

Needs the four MNIST IDX files; skips without them.
"""

import json

import pytest

from nnlect import cli
from nnlect.recipes import lenet5 as recipe


@pytest.mark.slow
@pytest.mark.data
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lenet5_reaches_the_lectures_095_percent_test_error(mnist_dir, tmp_path, seed):
    code = cli.main(["train", "lenet5", "--data-dir", str(mnist_dir), "--seed", str(seed), "--out", str(tmp_path)])
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["data"]["source"] == "mnist" and result["test_size"] == 10000 and result["target_met"] is True
    assert result["epochs"] == recipe.DEFAULT_EPOCHS
    assert result["test_error"] <= recipe.TARGET_ERROR, f"seed {seed}: {100 * result['test_error']:.2f}% test error"
    assert code == 0
