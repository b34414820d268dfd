"""Issue 12's bad-input table, Python API half: every case raises the documented exception
type with a message that names the argument (cases_api.py holds the table)."""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from cases_api import CASES

import nnlect as nl


@pytest.mark.parametrize("call, exception, pattern", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_raises_a_clear_error(call, exception, pattern, tmp_path):
    with pytest.raises(exception) as info:
        call(tmp_path)
    assert re.search(pattern, str(info.value)), f"unclear message: {info.value}"


def test_the_table_has_unique_ids():
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids))


def test_one_hot_targets_with_minus_inf_in_a_zero_class_give_a_finite_loss_and_gradient():
    logits = jnp.array([[0.0, -jnp.inf, 1.0], [2.0, 0.5, -jnp.inf]])
    targets = jnp.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    value, grad = jax.value_and_grad(nl.softmax_cross_entropy)(logits, targets)
    log_p = jax.nn.log_softmax(jnp.array([[0.0, 1.0], [2.0, 0.5]]))
    assert np.isfinite(value) and float(value) == pytest.approx(-float(log_p[0, 1] + log_p[1, 0]) / 2, rel=1e-6)
    assert np.isfinite(np.asarray(grad)).all()
    # A -inf logit where the target is not 0 is an infinite loss, as it should be.
    assert float(nl.softmax_cross_entropy(logits, jnp.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]))) == np.inf
