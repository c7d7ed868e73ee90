"""Activation layers with arguments give Keras's outputs on the same weights."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nnkit
from nnkit.layers import ELU, Dense, Input, LeakyReLU, PReLU, ReLU, Softmax
from nnkit.models import Sequential
from tests.helpers import assert_close
from tests.layers.parity import keras_built, keras_output, nnkit_model, nnkit_output, random_weights

# Points on both sides of the thresholds and caps the tests use, plus random values.
_X = np.concatenate([np.linspace(-8, 8, 33), np.random.default_rng(0).normal(0, 4, 31)]).reshape(8, 8)


@pytest.mark.parametrize("kwargs", [{}, {"max_value": 6.0}, {"max_value": 2.5}, {"negative_slope": 0.1},
                                    {"threshold": 1.5}, {"max_value": 3.0, "negative_slope": 0.2, "threshold": 1.0}])
def test_relu_matches_keras(keras, kwargs):
    model = nnkit_model(ReLU(**kwargs), (8,))
    assert_close(nnkit_output(model, _X), keras_output(keras, keras.layers.ReLU(**kwargs), _X), rtol=1e-6)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(max_value=st.one_of(st.none(), st.floats(0, 10)), negative_slope=st.floats(0, 2), threshold=st.floats(0, 5))
def test_relu_matches_keras_for_any_arguments(keras, max_value, negative_slope, threshold):
    kwargs = {"max_value": max_value, "negative_slope": negative_slope, "threshold": threshold}
    model = nnkit_model(ReLU(**kwargs), (8,))
    assert_close(nnkit_output(model, _X), keras_output(keras, keras.layers.ReLU(**kwargs), _X), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kwargs", [{}, {"negative_slope": 0.05}])
def test_leaky_relu_matches_keras_including_the_layer_default_slope(keras, kwargs):
    model = nnkit_model(LeakyReLU(**kwargs), (8,))
    assert_close(nnkit_output(model, _X), keras_output(keras, keras.layers.LeakyReLU(**kwargs), _X), rtol=1e-6)
    assert LeakyReLU().negative_slope == 0.3


def test_leaky_relu_accepts_the_keras_2_alpha_spelling():
    layer = LeakyReLU(alpha=0.1)
    assert layer.negative_slope == 0.1 and layer.get_config()["negative_slope"] == 0.1


@pytest.mark.parametrize(("shape", "shared_axes"), [((8,), None), ((4, 4, 3), None), ((4, 4, 3), [1, 2]),
                                                    ((5, 6), 1)])
def test_prelu_matches_keras_and_counts_one_slope_per_unshared_position(keras, rng, shape, shared_axes):
    k_layer = keras_built(keras, keras.layers.PReLU(shared_axes=shared_axes), shape)
    weights = random_weights(keras, k_layer, rng)
    model = nnkit_model(PReLU(shared_axes=shared_axes), shape, weights)
    x = rng.normal(size=(3, *shape))
    assert_close(nnkit_output(model, x), keras_output(keras, k_layer, x), rtol=1e-6)
    assert model.count_params() == k_layer.count_params()
    assert [w.shape for w in model.get_weights()] == [w.shape for w in k_layer.get_weights()]


@pytest.mark.parametrize("constraint", [None, "non_neg"])
def test_prelu_learns_its_slopes_within_a_constraint(rng, constraint):
    layer = PReLU(alpha_initializer=nnkit.initializers.Constant(-0.5), alpha_constraint=constraint,
                  alpha_regularizer="l2")
    model = Sequential([Input(shape=(4,)), Dense(4), layer, Dense(1)])
    model.compile(optimizer=nnkit.optimizers.SGD(learning_rate=0.01), loss="mse")
    x = rng.normal(size=(64, 4))
    model.fit(x, -np.abs(x).sum(axis=1, keepdims=True), epochs=2, verbose=0)
    alpha = layer.get_weights()[0]
    assert np.isfinite(alpha).all() and not np.allclose(alpha, -0.5)
    assert (alpha >= 0).all() == (constraint is not None)


@pytest.mark.parametrize("alpha", [1.0, 0.5])
def test_elu_matches_keras(keras, alpha):
    model = nnkit_model(ELU(alpha=alpha), (8,))
    assert_close(nnkit_output(model, _X), keras_output(keras, keras.layers.ELU(alpha=alpha), _X), rtol=1e-6,
                 atol=1e-7)


@pytest.mark.parametrize(("shape", "axis"), [((8,), -1), ((4, 5), 1), ((4, 5), -1), ((4, 5), [1, 2])])
def test_softmax_matches_keras(keras, rng, shape, axis):
    model = nnkit_model(Softmax(axis=axis), shape)
    x = rng.normal(0, 3, size=(3, *shape))
    assert_close(nnkit_output(model, x), keras_output(keras, keras.layers.Softmax(axis=axis), x), rtol=1e-5,
                 atol=1e-7)


@pytest.mark.parametrize("axis", [-1, 0])
def test_softmax_of_a_one_dimensional_array_runs_over_it_like_keras(keras, axis):
    x = np.array([1.0, 2.0, 1.0, -3.0])
    theirs = keras.ops.convert_to_numpy(keras.layers.Softmax(axis=axis)(x))
    assert_close(Softmax(axis=axis)(x).numpy(), theirs, rtol=1e-6, atol=1e-7)
    assert_close(theirs.sum(), 1.0, rtol=1e-6)


def test_softmax_layer_before_cross_entropy_trains_like_keras(keras, rng):
    x, y = rng.normal(size=(48, 6)).astype("float32"), rng.integers(4, size=48)
    k_model = keras.Sequential([keras.Input(shape=(6,)), keras.layers.Dense(4), keras.layers.Softmax()])
    n_model = Sequential([Input(shape=(6,)), Dense(4), Softmax()])
    n_model.set_weights(k_model.get_weights())
    for model in (k_model, n_model):
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    kwargs = {"epochs": 2, "batch_size": 16, "shuffle": False, "verbose": 0}
    n_hist, k_hist = n_model.fit(x, y, **kwargs).history, k_model.fit(x, y, **kwargs).history
    assert_close(n_hist["loss"], k_hist["loss"], rtol=1e-4)
    assert_close(n_model.predict(x, verbose=0), k_model.predict(x, verbose=0), rtol=1e-4, atol=1e-6)


def test_activation_layers_work_on_images_without_axis_moves():
    model = Sequential([Input(shape=(4, 4, 3)), nnkit.layers.BatchNormalization(), ReLU(), LeakyReLU(), ELU(),
                        nnkit.layers.BatchNormalization()])
    assert [type(m).__name__ for m in model.module].count("MoveChannels") == 2


@pytest.mark.parametrize(("make", "message"), [
    (lambda: ReLU(max_value=-1), r"ReLU expects `max_value` to be a number >= 0. Received: max_value=-1"),
    (lambda: ReLU(negative_slope=None), r"`negative_slope` to be a number >= 0"),
    (lambda: LeakyReLU(negative_slope=-0.1), r"LeakyReLU expects `negative_slope` to be a number >= 0"),
    (lambda: PReLU(shared_axes=[0]), r"`shared_axes` to be positive axes .* Received: shared_axes=\[0\]"),
    (lambda: ELU(alpha="one"), r"ELU expects `alpha` to be a number"),
    (lambda: PReLU(alpha_initializer="zeroes"), r"Unknown initializer 'zeroes'"),
])
def test_bad_arguments_fail_at_construction(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_bad_axes_fail_at_build_with_the_input_shape():
    with pytest.raises(ValueError, match=r"PReLU layer 'p' got shared_axes=\[3\] but its inputs \(None, 4, 5\)"):
        nnkit_model(PReLU(shared_axes=[3], name="p"), (4, 5))
    with pytest.raises(ValueError, match=r"Softmax layer 'softmax' got axis=2, but its inputs of shape \(None, 5\)"):
        nnkit_model(Softmax(axis=2), (5,))


def test_layers_resolve_from_keras_class_names():
    for name in ("ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax"):
        assert nnkit.layers.LAYERS.get(name).__name__ == name
