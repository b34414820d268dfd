"""MNIST loading (IDX, tensorflow-datasets, sklearn digits) and the ``nnlect train lenet5`` smoke test."""

import gzip
import json
import shutil

import numpy as np
import pytest

from nnlect import cli
from nnlect.data import mnist


def _write_idx(path, array, magic_dims=None):
    array = np.asarray(array, np.uint8)
    header = bytes([0, 0, 8, magic_dims or array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    data = header + array.tobytes()
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


@pytest.mark.parametrize("name", ["x-idx3-ubyte", "x-idx3-ubyte.gz"])
def test_read_idx_round_trips_gzip_and_plain_files(tmp_path, name):
    images = np.random.default_rng(0).integers(0, 256, (5, 4, 3), dtype=np.uint8)
    np.testing.assert_array_equal(mnist.read_idx(_write_idx(tmp_path / name, images)), images)


def test_read_idx_names_the_file_when_truncated_corrupt_or_not_idx(tmp_path):
    path = _write_idx(tmp_path / "a-idx1-ubyte", np.arange(10))
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(mnist.MnistFileError, match=r"a-idx1-ubyte: truncated: 17 bytes, .* needs exactly 18"):
        mnist.read_idx(path)
    path.write_bytes(path.read_bytes() + b"\0\0")
    with pytest.raises(mnist.MnistFileError, match="trailing bytes"):
        mnist.read_idx(path)
    gz = _write_idx(tmp_path / "b-idx1-ubyte.gz", np.arange(1000) % 10)
    gz.write_bytes(gz.read_bytes()[:20])
    with pytest.raises(mnist.MnistFileError, match=r"b-idx1-ubyte.gz: cannot be decompressed"):
        mnist.read_idx(gz)
    text = tmp_path / "c-idx1-ubyte"
    text.write_text("<html>404 not found</html>")
    with pytest.raises(mnist.MnistFileError, match="c-idx1-ubyte: not a uint8 IDX file"):
        mnist.read_idx(text)


def _copy_of_mnist(mnist_dir, tmp_path):
    for name in mnist.FILES:
        shutil.copy(mnist_dir / f"{name}.gz", tmp_path / f"{name}.gz")
    return tmp_path


@pytest.mark.data
def test_the_official_files_give_60000_train_and_10000_test_digits(mnist_dir):
    splits = mnist.load("mnist", data_dir=mnist_dir, normalize=False)
    (x, y), (x_test, y_test) = splits.train, splits.test
    assert (x.shape, x.dtype, y.shape, y.dtype) == ((60000, 28, 28, 1), np.uint8, (60000,), np.int32)
    assert (x_test.shape, y_test.shape, splits.source, splits.image_shape) == ((10000, 28, 28, 1), (10000,), "mnist", (28, 28, 1))
    # The published class counts (shared/data/README.md).
    assert np.bincount(y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert np.bincount(y).tolist()[:3] == [5923, 6742, 5958]


@pytest.mark.data
def test_normalization_gives_the_training_pixels_mean_0_and_std_1(mnist_dir):
    splits = mnist.load("mnist", data_dir=mnist_dir)
    x = splits.train[0]
    assert x.dtype == np.float32
    assert splits.pixel_mean == pytest.approx(0.1307, abs=1e-4) and splits.pixel_std == pytest.approx(0.3081, abs=1e-4)
    assert abs(float(x.mean())) < 1e-4 and float(x.std()) == pytest.approx(1.0, abs=1e-4)


@pytest.mark.data
def test_a_wrong_gz_file_fails_its_md5_naming_the_file(mnist_dir, tmp_path):
    folder = _copy_of_mnist(mnist_dir, tmp_path)
    shutil.copy(mnist_dir / "train-labels-idx1-ubyte.gz", folder / "t10k-labels-idx1-ubyte.gz")  # mislabeled
    with pytest.raises(mnist.MnistFileError, match=r"t10k-labels-idx1-ubyte.gz: md5 d53e.* is not the published ec29"):
        mnist.load("mnist", data_dir=folder)


@pytest.mark.data
def test_uncompressed_files_are_checked_for_structure(mnist_dir, tmp_path, monkeypatch):
    folder = _copy_of_mnist(mnist_dir, tmp_path)
    for name in ("t10k-labels-idx1-ubyte", "t10k-images-idx3-ubyte"):
        (folder / name).write_bytes(gzip.decompress((folder / f"{name}.gz").read_bytes()))
        (folder / f"{name}.gz").unlink()
    monkeypatch.setenv(mnist.ENV_VAR, str(folder))  # found through the environment variable
    plain = mnist.load("auto", normalize=False)
    assert plain.source == "mnist"
    np.testing.assert_array_equal(plain.test[0], mnist.load("mnist", data_dir=mnist_dir, normalize=False).test[0])

    labels = folder / "t10k-labels-idx1-ubyte"
    good = labels.read_bytes()
    _write_idx(labels, np.full(10000, 10))
    with pytest.raises(mnist.MnistFileError, match=r"t10k-labels-idx1-ubyte: labels must be in 0..9, found 10"):
        mnist.load("mnist")
    _write_idx(labels, np.zeros(60000))  # the training labels under the test name
    with pytest.raises(mnist.MnistFileError, match=r"t10k-labels-idx1-ubyte: expected labels of shape \(10000,\)"):
        mnist.load("mnist")
    labels.write_bytes(good[:5000])
    with pytest.raises(mnist.MnistFileError, match="t10k-labels-idx1-ubyte: truncated"):
        mnist.load("mnist")


def test_missing_files_are_an_error_for_idx_and_fall_back_to_digits_for_auto(tmp_path, monkeypatch):
    monkeypatch.delenv(mnist.ENV_VAR, raising=False)
    with pytest.raises(FileNotFoundError, match=r"train-images-idx3-ubyte.gz.* are not all in"):
        mnist.load("mnist", data_dir=tmp_path)
    assert mnist.load("auto", data_dir=tmp_path).source == "digits"
    with pytest.raises(ValueError, match="source: expected one of"):
        mnist.load("emnist")


def test_digits_have_a_fixed_test_set_and_a_seeded_disjoint_validation_split():
    raw = mnist.load("digits", normalize=False)
    assert raw.train[0].shape == (1500, 8, 8, 1) and raw.test[0].shape == (297, 8, 8, 1)
    assert raw.train[0].dtype == np.uint8 and raw.train[0].max() == 255 and raw.image_shape == (8, 8, 1)
    a = mnist.load("digits", validation_size=300, seed=1)
    b = mnist.load("digits", validation_size=300, seed=1)
    c = mnist.load("digits", validation_size=300, seed=2)
    np.testing.assert_array_equal(a.validation[0], b.validation[0])
    assert not np.array_equal(a.validation[1], c.validation[1])
    np.testing.assert_array_equal(a.test[1], c.test[1])  # the test set never moves
    assert len(a.train[1]) == 1200 and len(a.validation[1]) == 300
    # Disjoint: every training image appears exactly once across train and validation.
    rows = {r.tobytes() for r in np.concatenate([a.train[0], a.validation[0]])}
    assert len(rows) == len({r.tobytes() for r in mnist.load("digits").train[0]})
    with pytest.raises(ValueError, match="validation_size"):
        mnist.load("digits", validation_size=1500)


def test_tfds_source_reads_mocked_mnist():
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=12):
        splits = mnist.load("tfds")
    assert splits.source == "tfds" and splits.train[0].shape == (12, 28, 28, 1) and splits.test[1].shape == (12,)
    assert splits.train[0].dtype == np.float32 and splits.train[1].dtype == np.int32


def test_tfds_without_prepared_data_or_network_fails_fast_with_advice(tmp_path, monkeypatch):
    pytest.importorskip("tensorflow_datasets")
    with pytest.raises(FileNotFoundError, match=r"not prepared.*pass --download \(download=True\)"):
        mnist.load("tfds", data_dir=tmp_path)
    from nnlect.data import _tfds

    monkeypatch.setattr(_tfds, "online", lambda *a, **k: False)
    with pytest.raises(ConnectionError, match="no network"):
        mnist.load("tfds", data_dir=tmp_path, download=True)


def test_nnlect_train_lenet5_smoke_on_digits(tmp_path, capsys):
    code = cli.main(["train", "lenet5", "--data", "digits", "--epochs", "3", "--lr", "1e-2", "--out", str(tmp_path)])
    result = json.loads((tmp_path / "result.json").read_text())
    out = capsys.readouterr().out
    assert code == 0 and "epoch 3/3" in out and "test error" in out
    assert result["params"] == 61706 and result["test_size"] == 297 and result["target_met"] is None
    assert "no target on digits data" in out and result["exit_code"] == 0
    assert result["data"]["source"] == "digits" and len(result["data"]["sha256_16"]) == 16
    losses = [row["train_loss"] for row in result["history"]]
    assert losses[-1] < 0.5 * losses[0]
    assert result["test_error"] < 0.5  # chance is 0.9
    assert set(result["wall_seconds"]) >= {"data", "compile", "train"} and result["device_kind"]


def test_a_run_resumed_after_a_crash_ends_where_an_uninterrupted_run_ends(tmp_path, monkeypatch, capsys):
    from nnlect import checkpoint
    from nnlect.recipes import lenet5 as recipe

    flags = ["--data", "digits", "--train-size", "256", "--batch-size", "64", "--epochs", "2", "--lr", "1e-2"]
    assert cli.main(["train", "lenet5", *flags, "--out", str(tmp_path / "straight")]) == 0
    straight = json.loads((tmp_path / "straight" / "result.json").read_text())

    real_saver = checkpoint.epoch_saver

    def crashing_saver(path, **kwargs):
        save = real_saver(path, **kwargs)

        def callback(row, state):
            save(row, state)
            raise KeyboardInterrupt  # the process dies right after the first checkpoint

        callback.history = save.history
        return callback

    monkeypatch.setattr(recipe.checkpoint, "epoch_saver", crashing_saver)
    assert cli.main(["train", "lenet5", *flags, "--out", str(tmp_path / "resumed")]) == 130
    monkeypatch.setattr(recipe.checkpoint, "epoch_saver", real_saver)
    assert cli.main(["train", "lenet5", *flags, "--resume", "--out", str(tmp_path / "resumed")]) == 0
    resumed = json.loads((tmp_path / "resumed" / "result.json").read_text())
    assert resumed["epochs_run_now"] == 1
    assert [r["train_loss"] for r in resumed["history"]] == [r["train_loss"] for r in straight["history"]]
    assert resumed["test_error"] == straight["test_error"] and resumed["test_loss"] == straight["test_loss"]
    # Resuming with other settings would not continue the same run: usage error naming the setting.
    assert cli.main(["train", "lenet5", *flags[:-1], "3e-3", "--resume", "--out", str(tmp_path / "resumed")]) == 2
    assert "was written with lr=0.01, this run has lr=0.003" in capsys.readouterr().err


def _idx_dataset(folder, *, prefix="", gz=True, n_train=120, n_test=40, seed=0):
    """A tiny 10-class dataset in MNIST's IDX layout (8x8 images), as Fashion-MNIST ships."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    ext = ".gz" if gz else ""
    for split, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n) % 10
        images = (rng.integers(0, 64, (n, 8, 8)) + 19 * labels[:, None, None]).astype(np.uint8)
        _write_idx(folder / f"{prefix}{split}-images-idx3-ubyte{ext}", images)
        _write_idx(folder / f"{prefix}{split}-labels-idx1-ubyte{ext}", labels)
    return folder


def test_any_dataset_in_the_idx_layout_loads_without_md5_and_records_its_hash(tmp_path):
    gz = mnist.load("idx", data_dir=_idx_dataset(tmp_path / "gz", prefix="fashion-"))
    raw = mnist.load("idx", data_dir=_idx_dataset(tmp_path / "raw", gz=False))
    other = mnist.load("idx", data_dir=_idx_dataset(tmp_path / "other", seed=1))
    assert gz.source == "idx" and gz.train[0].shape == (120, 8, 8, 1) and gz.test[1].shape == (40,)
    assert gz.data_dir == str(tmp_path / "gz") and gz.record()["dir"] == str(tmp_path / "gz")
    assert gz.sha256_16 == raw.sha256_16 != other.sha256_16  # the content, not the compression
    with pytest.raises(FileNotFoundError, match="source='mnist': the four MNIST IDX files"):
        mnist.load("mnist", data_dir=tmp_path / "gz")  # MNIST's names and md5 are for MNIST only


def test_nnlect_train_mlp_on_an_idx_dataset_writes_where_its_data_came_from(tmp_path, capsys):
    folder = _idx_dataset(tmp_path / "fashion")
    out = tmp_path / "run"
    assert cli.main(["train", "mlp", "--data", "idx", "--data-dir", str(folder), "--epochs", "1", "--hidden", "16",
                     "--batch-size", "20", "--quiet", "--out", str(out)]) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["data"] == {**mnist.load("idx", data_dir=folder).record()}
    assert result["data"]["source"] == "idx" and result["data"]["dir"] == str(folder)
    assert (result["train_size"], result["test_size"]) == (120, 40) and 0 <= result["test_errors"] <= 40
    assert "--data idx: pass --data-dir" in _cli_error(["train", "mlp", "--data", "idx", "--out", str(tmp_path / "x")], capsys)


def _cli_error(argv, capsys):
    assert cli.main(argv) == 2
    return capsys.readouterr().err
