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
    with pytest.raises(ValueError, match="sizes: expected"):
        nl.mlp(sizes)


def test_unknown_names():
    with pytest.raises(ValueError, match=r"activation: expected one of .* got 'gelu'"):
        nl.mlp([2, 3, 1], "gelu")
    with pytest.raises(ValueError, match=r"output_activation: expected one of .* got 'relu'"):
        nl.mlp([2, 3, 1], output_activation="relu")
    with pytest.raises(ValueError, match=r"init: expected one of .* got 'xavier'"):
        nl.mlp([2, 3, 1], init="xavier")
