"""``conv(impl=...)``: every lowering is the same function as ``lax.conv_general_dilated``,
values and gradients (input, kernel, bias), in 1-D, 2-D and 3-D, with strides, padding,
dilation, several channel counts and leading batch axes; bfloat16 compute too."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

import nnlect as nl
from nnlect import layers as L
from nnlect.layers import convolution

# (kernel, stride, padding, dilation, C_in, C_out, per-example spatial shape)
CASES = [
    ((5, 5), 1, ((2, 2), (2, 2)), 1, 1, 6, (12, 12)),           # LeNet-5's C1, padded field
    ((5, 5), 1, "VALID", 1, 6, 16, (9, 9)),                     # C3
    ((3, 2), (2, 1), ((1, 3), (0, 2)), (2, 1), 3, 4, (11, 8)),  # strided, dilated, uneven padding
    ((3, 3), 2, "SAME", 1, 2, 5, (8, 7)),                       # SAME with an asymmetric pad
    ((1, 1), 1, "VALID", 1, 4, 3, (5, 6)),                      # pointwise
    ((4,), 3, ((5, 1),), 2, 2, 3, (13,)),                       # 1-D
    ((3,), 1, "SAME", 1, 1, 2, (10,)),                          # 1-D, one channel
    ((2, 3, 2), (1, 2, 2), ((1, 1), (0, 1), (2, 0)), (1, 1, 2), 2, 3, (5, 7, 6)),  # 3-D
]


def _reference(x, params, kernel, stride, padding, dilation):
    n = len(kernel)
    lead = x.shape[:x.ndim - n - 1]
    xb = x.reshape((-1, *x.shape[x.ndim - n - 1:]))
    spatial = "DHW"[-n:]
    stride = (stride,) * n if isinstance(stride, int) else stride
    dilation = (dilation,) * n if isinstance(dilation, int) else dilation
    out = lax.conv_general_dilated(xb, params["w"], stride, padding, rhs_dilation=dilation,
                                   dimension_numbers=(f"N{spatial}C", f"{spatial}IO", f"N{spatial}C"),
                                   precision=lax.Precision.HIGHEST)
    out = out + params["b"].reshape((1,) * (out.ndim - 1) + (-1,))
    return out.reshape((*lead, *out.shape[1:]))


def _value_and_grads(f, params, x, cotangent):
    return jax.value_and_grad(lambda p, v: jnp.sum(f(p, v) * cotangent), argnums=(0, 1))(params, x)


LEADS = [(3,), (), (2, 2)]  # leading batch axes: a batch, one example, two axes (cycled over the cases)


@pytest.mark.parametrize("impl", ["xla", "im2col"])
@pytest.mark.parametrize("index", range(len(CASES)), ids=lambda i: f"{len(CASES[i][0])}d-k{CASES[i][0]}-c{CASES[i][4]}to{CASES[i][5]}")
def test_every_impl_is_lax_conv_in_values_and_gradients(impl, index):
    kernel, stride, padding, dilation, c_in, c_out, spatial = CASES[index]
    lead = LEADS[index % len(LEADS)]
    layer = L.conv(c_out, kernel, stride=stride, padding=padding, dilation=dilation, impl=impl)
    _, params = layer.init(jax.random.key(0), (*spatial, c_in))
    params = {**params, "b": jnp.linspace(-1.0, 1.0, c_out)}
    rng = np.random.default_rng(len(lead))
    x = jnp.asarray(rng.normal(size=(*lead, *spatial, c_in)), jnp.float32)
    want = _reference(x, params, kernel, stride, padding, dilation)
    got = jax.jit(layer.apply)(params, x)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    cotangent = jnp.asarray(rng.normal(size=want.shape), jnp.float32)
    ref = lambda p, v: _reference(v, p, kernel, stride, padding, dilation)
    (_, (gp_want, gx_want)) = _value_and_grads(jax.jit(ref), params, x, cotangent)
    (_, (gp_got, gx_got)) = _value_and_grads(jax.jit(layer.apply), params, x, cotangent)
    np.testing.assert_allclose(gx_got, gx_want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(gp_got["w"], gp_want["w"], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(gp_got["b"], gp_want["b"], rtol=1e-5, atol=1e-4)


def test_im2col_and_xla_agree_in_bfloat16_compute():
    layers = {impl: L.conv(16, (5, 5), compute_dtype=jnp.bfloat16, impl=impl) for impl in ("xla", "im2col")}
    _, params = layers["xla"].init(jax.random.key(1), (10, 10, 6))
    x = jax.random.normal(jax.random.key(2), (4, 10, 10, 6))
    outs = {impl: jax.jit(layer.apply)(params, x) for impl, layer in layers.items()}
    grads = {impl: jax.jit(jax.grad(lambda p, v, f=layer.apply: jnp.sum(f(p, v).astype(jnp.float32) ** 2),
                                    argnums=(0, 1)))(params, x)
             for impl, layer in layers.items()}
    assert outs["im2col"].dtype == outs["xla"].dtype == jnp.bfloat16
    np.testing.assert_allclose(outs["im2col"].astype(np.float32), outs["xla"].astype(np.float32), rtol=0.05, atol=0.05)
    # float32 master weights get float32 gradients; bf16 products round differently, so compare coarsely.
    for got, want in zip(jax.tree.leaves(grads["im2col"]), jax.tree.leaves(grads["xla"])):
        assert got.dtype == want.dtype
        scale = float(jnp.max(jnp.abs(want)))
        np.testing.assert_allclose(got.astype(np.float32), want.astype(np.float32), atol=0.03 * scale)


def test_an_empty_batch_gives_empty_outputs_and_gradients():
    layer = L.conv(3, (3, 3), padding="SAME", impl="im2col")
    _, params = layer.init(jax.random.key(0), (6, 6, 2))
    x = jnp.zeros((0, 6, 6, 2))
    assert jax.jit(layer.apply)(params, x).shape == (0, 6, 6, 3)
    gw = jax.jit(jax.grad(lambda p: jnp.sum(layer.apply(p, x))))(params)["w"]
    np.testing.assert_array_equal(gw, np.zeros((3, 3, 2, 3)))


def test_auto_picks_im2col_on_cpu():
    """What apply traces under "auto": a dot, not a convolution, on the CPU backend."""
    assert jax.default_backend() == "cpu"
    layer = L.conv(4, (3, 3), impl="auto")
    _, params = layer.init(jax.random.key(0), (6, 6, 2))
    for impl, has_conv in (("auto", False), ("im2col", False), ("xla", True)):
        text = str(jax.make_jaxpr(L.conv(4, (3, 3), impl=impl).apply)(params, jnp.ones((1, 6, 6, 2))))
        assert ("conv_general_dilated" in text) == has_conv, impl


@pytest.mark.slow
def test_a_lenet5_training_loss_is_the_same_with_either_lowering():
    model = nl.lenet5(input_shape=(8, 8, 1))
    params = model.init(jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (5, 8, 8, 1))
    y = jnp.arange(5) % 10

    def loss(p):
        return nl.losses.softmax_cross_entropy(model.apply(p, x), y)

    got = jax.jit(jax.value_and_grad(loss))(params)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(convolution, "_pick", lambda impl: "xla")
        want = jax.jit(jax.value_and_grad(loss))(params)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-6)
    for g, w in zip(jax.tree.leaves(got[1]), jax.tree.leaves(want[1])):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-6)


def test_im2col_has_no_forward_mode_derivative_and_xla_has():
    """The hand-written backward pass is a custom_vjp: jax.jvp needs impl="xla"."""
    x = jnp.ones((1, 5, 5, 1))
    for impl in ("xla", "im2col"):
        layer = L.conv(2, (3, 3), impl=impl)
        _, params = layer.init(jax.random.key(0), (5, 5, 1))
        f = lambda v, layer=layer, params=params: layer.apply(params, v)
        if impl == "xla":
            _, tangent = jax.jvp(f, (x,), (x,))
            assert tangent.shape == (1, 3, 3, 2)
        else:
            with pytest.raises(TypeError, match=r"impl: .*no forward-mode derivative.*impl='xla'"):
                jax.jvp(f, (x,), (x,))


@pytest.mark.parametrize("impl", ["fast", "XLA", None, 1])
def test_an_unknown_impl_is_refused_naming_impl(impl):
    with pytest.raises(ValueError, match=r"impl: expected one of 'auto', 'xla', 'im2col', got"):
        L.conv(4, (3, 3), impl=impl)


@pytest.mark.parametrize("factory", ["lenet5", "cnn"])
def test_model_factories_pass_conv_impl_through(factory):
    """nl.lenet5 / nl.cnn(conv_impl=...) reach every conv: "xla" keeps XLA's convolution op
    (and forward mode), "im2col" has none; both compute the same logits; a bad name is named."""
    build = {"lenet5": lambda impl: nl.lenet5(input_shape=(8, 8, 1), conv_impl=impl),
             "cnn": lambda impl: nl.cnn([(4, 3, 2), (8, 3, 1)], [10], input_shape=(8, 8, 1), conv_impl=impl)}[factory]
    x = jax.random.normal(jax.random.key(1), (2, 8, 8, 1))
    models = {impl: build(impl) for impl in ("xla", "im2col")}
    params = models["xla"].init(jax.random.key(0))
    jaxprs = {impl: str(jax.make_jaxpr(m.apply)(params, x)) for impl, m in models.items()}
    assert "conv_general_dilated" in jaxprs["xla"] and "conv_general_dilated" not in jaxprs["im2col"]
    if factory == "lenet5":  # the numbers (the cnn's convs are the same layer, checked above)
        logits = {impl: jax.jit(m.apply)(params, x) for impl, m in models.items()}
        np.testing.assert_allclose(logits["im2col"], logits["xla"], rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="impl: expected one of"):
        build("fast")
