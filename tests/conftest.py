"""Test settings: silent broadcasting is an error, and the MNIST files are optional."""

import os
from pathlib import Path

import jax
import pytest

jax.config.update("jax_numpy_rank_promotion", "raise")

_CANDIDATES = [os.environ.get("NNLECT_DATA_DIR"), Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"]


def _mnist_dir():
    for c in _CANDIDATES:
        if c and any((Path(c) / name).exists() for name in ("t10k-labels-idx1-ubyte.gz", "t10k-labels-idx1-ubyte")):
            return Path(c)
    return None


@pytest.fixture
def mnist_dir():
    """The folder with the four MNIST IDX files, or skip the test."""
    found = _mnist_dir()
    if found is None:
        pytest.skip("MNIST IDX files not found (set NNLECT_DATA_DIR or provide ../shared/data/mnist)")
    return found
