"""Bad input gets an error that names the argument, what was expected and what came,
before anything is traced into XLA."""

import jax
import jax.numpy as jnp
import pytest

import nnlect as nl


@pytest.fixture
def mlp():
    model = nl.mlp([4, 8, 3])
    return model, model.init(jax.random.key(0))


def test_x_of_the_wrong_width_rank_or_dtype(mlp):
    model, params = mlp
    with pytest.raises(ValueError, match=r"x: expected shape \(\.\.\., 4\), got \(2, 5\)"):
        model.apply(params, jnp.ones((2, 5)))
    with pytest.raises(ValueError, match=r"x: expected shape \(\.\.\., 4\), got \(\)"):
        model.apply(params, jnp.ones(()))
    with pytest.raises(TypeError, match=r"layer 0 \(dense_0\): x: expected a floating dtype .* got int32"):
        model.apply(params, jnp.ones((2, 4), jnp.int32))


def test_params_of_another_model(mlp):
    model, _ = mlp
    other = nl.mlp([4, 9, 3]).init(jax.random.key(0))
    with pytest.raises(ValueError, match=r"layer 0 \(dense_0\): params: expected w \(n_in, 8\) and b \(8,\), got w \(4, 9\)"):
        model.apply(other, jnp.ones((2, 4)))
    deeper = nl.mlp([4, 8, 8, 3]).init(jax.random.key(0))
    with pytest.raises(ValueError, match=r"params: unexpected keys \['dense_2'\]; this serial's layers are \['dense_0', "):
        model.apply(deeper, jnp.ones((2, 4)))


def test_errors_fire_before_tracing_under_jit(mlp):
    model, params = mlp
    with pytest.raises(ValueError, match=r"x: expected shape \(\.\.\., 4\)"):
        jax.jit(model.apply)(params, jnp.ones((2, 5)))


@pytest.mark.parametrize("sizes", [[3], [], 5, [3, 0, 1], [3, -2]])
def test_sizes_need_two_positive_entries(sizes):
    with pytest.raises(ValueError, match=r"sizes(\[\d\] \((input|hidden layer \d|output) width\))?: expected"):
        nl.mlp(sizes)


def test_unknown_names():
    with pytest.raises(ValueError, match=r"activation: expected one of .* got 'gelu'"):
        nl.mlp([2, 3, 1], "gelu")
    with pytest.raises(ValueError, match=r"output_activation: expected one of .* got 'relu'"):
        nl.mlp([2, 3, 1], output_activation="relu")
    with pytest.raises(ValueError, match=r"init: expected one of .* got 'xavier'"):
        nl.mlp([2, 3, 1], init="xavier")


@pytest.mark.parametrize("recipe", ["mlp", "lenet5"])
@pytest.mark.parametrize("flags, flag", [
    (["--lr", "-1"], "--lr"), (["--lr", "0"], "--lr"), (["--lr", "nan"], "--lr"),
    (["--target-error", "nan"], "--target-error"), (["--target-error", "3"], "--target-error"),
])
def test_training_flags_that_cannot_work_are_refused_before_any_work(recipe, flags, flag, tmp_path, capsys):
    from nnlect import cli

    out = tmp_path / "run"
    rc = cli.main(["train", recipe, "--data", "digits", "--epochs", "1", "--out", str(out), *flags])
    assert rc == 2
    assert flag in capsys.readouterr().err
    assert not out.exists() or not any(out.iterdir())  # nothing was written


def test_version_flag(capsys):
    from nnlect import cli

    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0 and capsys.readouterr().out.strip() == f"nnlect {nl.__version__}"


def test_checkpoint_meta_that_is_not_json_names_meta(tmp_path):
    with pytest.raises(TypeError, match=r"meta: expected a JSON-serializable dict"):
        nl.checkpoint.save(tmp_path / "c.msgpack", {"w": jnp.ones(2)}, meta={"when": object()})
    assert not (tmp_path / "c.msgpack").exists()


def test_empty_sets_are_refused_not_nan(mlp):
    model, params = mlp
    evaluate = nl.train.make_evaluate(model, nl.softmax_cross_entropy)
    with pytest.raises(ValueError, match=r"x: expected at least one example to evaluate, got shape \(0, 4\)"):
        evaluate(params, jnp.ones((0, 4)), jnp.zeros((0,), jnp.int32))
    with pytest.raises(ValueError, match=r"logits: expected at least one example, got shape \(0, 3\)"):
        nl.softmax_cross_entropy(jnp.ones((0, 3)), jnp.zeros((0,), jnp.int32))
