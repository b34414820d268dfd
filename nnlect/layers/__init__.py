r"""Layers: the lecture's modules as pairs of pure functions, composed with :func:`serial`.

"Deep learning is composing simple but non-linear modules": a layer is
``init(key, in_shape) -> (out_shape, params)`` and ``apply(params, x, *, key=None,
train=False) -> y`` (a :class:`Layer`, as in stax), :func:`serial` composes layers into a
layer, and :func:`nnlect.build` turns one into a :class:`~nnlect.models.base.Model`.

>>> import jax, jax.numpy as jnp, nnlect as nl
>>> L = nl.layers
>>> model = nl.build(nl.serial(L.conv(8, (3, 3)), L.activation("relu"), L.max_pool((2, 2)),
...                            L.flatten(), L.dense(10)), (28, 28, 1))
>>> params = model.init(jax.random.key(0))
>>> model.apply(params, jnp.zeros((2, 28, 28, 1))).shape
(2, 10)

==================  ===========================================================
module              layers
==================  ===========================================================
``_core``           :class:`Layer`, :func:`serial`, :func:`named`
``feedforward``     :func:`dense`, :func:`activation`, :func:`dropout`,
                    :func:`flatten`, :func:`one_hot`, :func:`embed`
``convolution``     :func:`conv`, :func:`max_pool`, :func:`avg_pool` (1-D, 2-D, N-D)
``cells``, ``rnn``  :func:`recurrent` over a :class:`Cell`: :func:`elman`,
                    :func:`gru`, :func:`lstm`
``lenet1998``       the 1998 LeNet-5's own: :func:`scaled_tanh`, :func:`subsample`,
                    :func:`partial_conv`, :func:`rbf`
==================  ===========================================================
"""

from nnlect.layers._core import Layer, layer_key, named, serial
from nnlect.layers.cells import Cell, elman, gru, lstm
from nnlect.layers.convolution import avg_pool, conv, max_pool
from nnlect.layers.feedforward import activation, dense, dropout, embed, flatten, one_hot
from nnlect.layers.lenet1998 import partial_conv, rbf, scaled_tanh, subsample
from nnlect.layers.rnn import recurrent

__all__ = [
    "Cell", "Layer", "activation", "avg_pool", "conv", "dense", "dropout", "elman", "embed", "flatten", "gru",
    "layer_key", "lstm", "max_pool", "named", "one_hot", "partial_conv", "rbf", "recurrent", "scaled_tanh", "serial",
    "subsample",
]
