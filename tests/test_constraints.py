"""Weight constraints: Keras's functions on the same arrays, projected after every optimizer step."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nnkit
from nnkit import constraints
from nnkit.constraints import MaxNorm, MinMaxNorm, NonNeg, UnitNorm
from nnkit.layers import Dense, Input
from nnkit.models import Sequential
from tests.helpers import assert_close

CASES = [
    (lambda: MaxNorm(), lambda k: k.constraints.MaxNorm()),
    (lambda: MaxNorm(0.5, axis=1), lambda k: k.constraints.MaxNorm(0.5, axis=1)),
    (lambda: MaxNorm(1.0, axis=[0, 1, 2]), lambda k: k.constraints.MaxNorm(1.0, axis=[0, 1, 2])),
    (lambda: NonNeg(), lambda k: k.constraints.NonNeg()),
    (lambda: UnitNorm(), lambda k: k.constraints.UnitNorm()),
    (lambda: UnitNorm(axis=-1), lambda k: k.constraints.UnitNorm(axis=-1)),
    (lambda: MinMaxNorm(), lambda k: k.constraints.MinMaxNorm()),
    (lambda: MinMaxNorm(0.5, 1.5, rate=0.3, axis=1), lambda k: k.constraints.MinMaxNorm(0.5, 1.5, rate=0.3, axis=1)),
]


@pytest.mark.parametrize(("ours", "theirs"), CASES)
def test_constraints_match_keras_on_the_same_arrays(keras, rng, ours, theirs):
    shape = (3, 3, 4, 5) if ours().get_config().get("axis") == (0, 1, 2) else (6, 5)  # a Conv2D kernel
    w = rng.normal(0, 1.5, size=shape).astype("float32")
    expected = keras.ops.convert_to_numpy(theirs(keras)(w))
    assert_close(ours()(torch.as_tensor(w)), expected, rtol=1e-5, atol=1e-6)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(w=hnp.arrays(np.float32, (4, 3), elements=st.floats(-10, 10, width=32)),
       low=st.floats(0, 2), span=st.floats(0, 2), rate=st.floats(0, 1), axis=st.sampled_from([0, 1]))
def test_min_max_norm_matches_keras_for_any_bounds(keras, w, low, span, rate, axis):
    ours = MinMaxNorm(low, low + span, rate=rate, axis=axis)(torch.as_tensor(w))
    theirs = keras.constraints.MinMaxNorm(low, low + span, rate=rate, axis=axis)(w)
    assert_close(ours, keras.ops.convert_to_numpy(theirs), rtol=1e-5, atol=1e-5)


def test_get_by_keras_name_class_name_dict_or_callable():
    assert isinstance(constraints.get("max_norm"), MaxNorm)
    assert isinstance(constraints.get("NonNeg"), NonNeg)
    assert isinstance(constraints.get("unit_norm"), UnitNorm)
    assert isinstance(constraints.get("min_max_norm"), MinMaxNorm)
    assert constraints.get(None) is None
    rebuilt = constraints.get({"class_name": "MaxNorm", "config": MaxNorm(3, axis=1).get_config()})
    assert rebuilt.max_value == 3 and rebuilt.axis == 1
    assert constraints.max_norm is MaxNorm and nnkit.constraints.non_neg is NonNeg
    clip = constraints.get(lambda w: w.clamp(-1, 1))
    assert_close(clip(torch.tensor([-3.0, 0.5, 2.0])), [-1.0, 0.5, 1.0])
    assert repr(MaxNorm(3)) == "MaxNorm(max_value=3.0, axis=0)"


def test_errors_name_the_argument_and_suggest_fixes():
    with pytest.raises(ValueError, match=r"Unknown constraint 'max_nrom'. Did you mean 'max_norm'\?"):
        constraints.get("max_nrom")
    with pytest.raises(ValueError, match=r"MaxNorm expects `max_value` to be a number >= 0. Received: max_value=-1"):
        MaxNorm(-1)
    with pytest.raises(ValueError, match=r"min_value <= max_value"):
        MinMaxNorm(2.0, 1.0)
    with pytest.raises(ValueError, match=r"UnitNorm expects `axis` to be an int or a list of ints"):
        UnitNorm(axis="rows")
    with pytest.raises(ValueError, match=r"Expected a constraint name such as 'max_norm'"):
        constraints.get(3)
    with pytest.raises(ValueError, match=r"Unknown constraint 'unit'"):
        Dense(3, kernel_constraint="unit")


def _fit(rng, model, epochs=3, lr=0.5):
    model.compile(optimizer=nnkit.optimizers.SGD(learning_rate=lr), loss="mse")
    x = rng.normal(size=(64, 6))
    model.fit(x, 10 * x[:, :2] @ np.ones((2, 3)), epochs=epochs, batch_size=16, verbose=0)


def test_max_norm_bounds_every_dense_unit_after_fit(rng):
    free = Sequential([Input(shape=(6,)), Dense(3)])
    _fit(rng, free)
    assert np.linalg.norm(free.layers[0].get_weights()[0], axis=0).max() > 1.5  # the data pulls norms up
    dense = Dense(3, kernel_constraint=MaxNorm(1.5))
    _fit(rng, Sequential([Input(shape=(6,)), dense]))
    kernel = dense.get_weights()[0]  # Keras layout (inputs, units): axis 0 is each unit's incoming weights
    assert kernel.shape == (6, 3)
    assert np.linalg.norm(kernel, axis=0).max() <= 1.5 + 1e-5


def test_non_neg_and_bias_constraints_apply_after_every_step(rng):
    dense = Dense(3, kernel_constraint="non_neg", bias_constraint=NonNeg())
    model = Sequential([Input(shape=(6,)), dense])
    _fit(rng, model, epochs=1, lr=0.1)
    kernel, bias = dense.get_weights()
    assert (kernel >= 0).all() and (bias >= 0).all() and (kernel > 0).any()


def test_constrained_training_matches_keras(keras, rng):
    x = rng.normal(size=(48, 6)).astype("float32")
    y = (10 * x[:, :3]).astype("float32")
    k_model = keras.Sequential([keras.Input(shape=(6,)), keras.layers.Dense(4, kernel_constraint="unit_norm"),
                                keras.layers.Dense(3, kernel_constraint=keras.constraints.MaxNorm(1.0, axis=1),
                                                   bias_constraint="non_neg")])
    n_model = Sequential([Input(shape=(6,)), Dense(4, kernel_constraint="unit_norm"),
                          Dense(3, kernel_constraint=MaxNorm(1.0, axis=1), bias_constraint="non_neg")])
    n_model.set_weights(k_model.get_weights())
    for model in (k_model, n_model):
        model.compile(optimizer="sgd", loss="mse")
    kwargs = {"epochs": 2, "batch_size": 16, "shuffle": False, "verbose": 0}
    assert_close(n_model.fit(x, y, **kwargs).history["loss"], k_model.fit(x, y, **kwargs).history["loss"], rtol=1e-4)
    for ours, theirs in zip(n_model.get_weights(), k_model.get_weights()):
        assert_close(ours, theirs, rtol=1e-4, atol=1e-6)


def test_permuted_hands_torch_weights_over_in_keras_layout(rng):
    seen = []
    conv_weight = torch.as_tensor(rng.normal(size=(8, 3, 5, 5)), dtype=torch.float32)  # torch (out, in, h, w)
    projected = constraints.permuted(lambda w: seen.append(tuple(w.shape)) or w * 2, (2, 3, 1, 0))(conv_weight)
    assert seen == [(5, 5, 3, 8)]  # Keras (h, w, in, out)
    assert_close(projected, conv_weight * 2)
    assert constraints.permuted(None, (1, 0)) is None


def test_dense_config_round_trips_its_constraints():
    layer = Dense(3, kernel_constraint=MaxNorm(2.5), bias_constraint="non_neg")
    clone = Dense.from_config(layer.get_config())
    assert clone.kernel_constraint.max_value == 2.5 and isinstance(clone.bias_constraint, NonNeg)
