"""The same model with the same weights behaves as under Keras 3 (torch backend)."""

from __future__ import annotations

import pytest

import nnkit
from nnkit.layers import Dense, Input
from nnkit.models import Sequential
from tests.helpers import assert_close


def _pair(keras, layers_spec, input_dim, compile_kwargs):
    """An nnkit model and a Keras model with identical weights and compile settings."""
    k_model = keras.Sequential([keras.Input(shape=(input_dim,)),
                                *(keras.layers.Dense(u, activation=a) for u, a in layers_spec)])
    n_model = Sequential([Input(shape=(input_dim,)), *(Dense(u, activation=a) for u, a in layers_spec)])
    n_model.set_weights(k_model.get_weights())
    k_model.compile(**compile_kwargs)
    n_model.compile(**compile_kwargs)
    return n_model, k_model


def _data(rng, n=240, features=20, classes=10):
    x = rng.random((n, features))
    labels = rng.integers(classes, size=n)
    return x, labels, nnkit.utils.to_categorical(labels, classes)


def test_predictions_match_keras_on_same_weights(keras, rng):
    x, _, _ = _data(rng)
    n_model, k_model = _pair(keras, [(64, "relu"), (10, "softmax")], 20, {"loss": "mse"})
    assert_close(n_model.predict(x, verbose=0), k_model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "rmsprop"])
def test_fit_history_and_weights_match_keras(keras, rng, optimizer):
    x, _, y = _data(rng)
    compile_kwargs = {"loss": "categorical_crossentropy", "optimizer": optimizer, "metrics": ["accuracy"]}
    n_model, k_model = _pair(keras, [(16, "relu"), (10, "softmax")], 20, compile_kwargs)
    fit_kwargs = {"epochs": 3, "batch_size": 32, "shuffle": False, "validation_split": 0.25, "verbose": 0}
    n_hist = n_model.fit(x, y, **fit_kwargs).history
    k_hist = k_model.fit(x, y, **fit_kwargs).history
    assert list(n_hist) == list(k_hist) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    for key in k_hist:
        assert_close(n_hist[key], k_hist[key], rtol=2e-4, atol=1e-5)
    for ours, theirs in zip(n_model.get_weights(), k_model.get_weights()):
        assert_close(ours, theirs, rtol=1e-3, atol=2e-5)


def test_evaluate_matches_keras_list_and_dict(keras, rng):
    x, _labels, y = _data(rng)
    n_model, k_model = _pair(keras, [(8, "tanh"), (10, "softmax")], 20,
                             {"loss": "categorical_crossentropy", "optimizer": "sgd", "metrics": ["accuracy"]})
    ours, theirs = n_model.evaluate(x, y, verbose=0), k_model.evaluate(x, y, verbose=0)
    assert isinstance(ours, list) and len(ours) == 2
    assert_close(ours, theirs, rtol=1e-5)
    assert n_model.evaluate(x, y, verbose=0, return_dict=True).keys() == {"loss", "accuracy"}


def test_sparse_labels_and_binary_outputs_match_keras(keras, rng):
    x, labels, _ = _data(rng)
    n_model, k_model = _pair(keras, [(8, "relu"), (10, "softmax")], 20,
                             {"loss": "sparse_categorical_crossentropy", "optimizer": "adam", "metrics": ["acc"]})
    assert_close(n_model.evaluate(x, labels, verbose=0), k_model.evaluate(x, labels, verbose=0), rtol=1e-5)

    binary = (x[:, 0] > 0.5).astype("int64")
    n_model, k_model = _pair(keras, [(8, "relu"), (1, "sigmoid")], 20,
                             {"loss": "binary_crossentropy", "optimizer": "sgd", "metrics": ["accuracy"]})
    assert_close(n_model.evaluate(x, binary, verbose=0), k_model.evaluate(x, binary, verbose=0), rtol=1e-5)
    n_hist = n_model.fit(x, binary, epochs=2, shuffle=False, verbose=0).history
    k_hist = k_model.fit(x, binary, epochs=2, shuffle=False, verbose=0).history
    assert_close(n_hist["loss"], k_hist["loss"], rtol=1e-4)
    assert_close(n_hist["accuracy"], k_hist["accuracy"])


def test_mse_with_accuracy_uses_categorical_accuracy_like_keras(keras, rng):
    x, _, y = _data(rng)
    n_model, k_model = _pair(keras, [(10, "softmax")], 20,
                             {"loss": "mean_squared_error", "optimizer": "adam", "metrics": ["accuracy"]})
    assert_close(n_model.evaluate(x, y, verbose=0), k_model.evaluate(x, y, verbose=0), rtol=1e-5)


def test_sample_and_class_weights_match_keras(keras, rng):
    x, _labels, y = _data(rng, classes=3)
    compile_kwargs = {"loss": "categorical_crossentropy", "optimizer": "sgd", "weighted_metrics": ["accuracy"]}
    n_model, k_model = _pair(keras, [(3, "softmax")], 20, compile_kwargs)
    weights = rng.random(len(x))
    assert_close(n_model.evaluate(x, y, sample_weight=weights, verbose=0),
                 k_model.evaluate(x, y, sample_weight=weights, verbose=0), rtol=1e-5)
    class_weight = {0: 1.0, 1: 2.0, 2: 0.5}
    n_hist = n_model.fit(x, y, class_weight=class_weight, shuffle=False, epochs=2, verbose=0).history
    k_hist = k_model.fit(x, y, class_weight=class_weight, shuffle=False, epochs=2, verbose=0).history
    assert_close(n_hist["loss"], k_hist["loss"], rtol=1e-4)


def test_kernel_regularizer_adds_the_keras_penalty(keras, rng):
    x, _, y = _data(rng, classes=4)
    k_model = keras.Sequential([keras.Input(shape=(20,)),
                                keras.layers.Dense(4, activation="softmax",
                                                   kernel_regularizer=keras.regularizers.L2(0.1))])
    n_model = Sequential([Input(shape=(20,)),
                          Dense(4, activation="softmax", kernel_regularizer=nnkit.regularizers.L2(0.1))])
    n_model.set_weights(k_model.get_weights())
    for model in (n_model, k_model):
        model.compile(loss="categorical_crossentropy", optimizer="sgd")
    assert_close(n_model.evaluate(x, y, verbose=0), k_model.evaluate(x, y, verbose=0), rtol=1e-5)
    assert_close(n_model.fit(x, y, epochs=2, shuffle=False, verbose=0).history["loss"],
                 k_model.fit(x, y, epochs=2, shuffle=False, verbose=0).history["loss"], rtol=1e-4)


def test_parameter_counts_and_layer_names_match_keras(keras):
    k_model = keras.Sequential([keras.Input(shape=(20,)), keras.layers.Dense(64, activation="relu"),
                                keras.layers.Dense(10, activation="softmax")])
    n_model = Sequential([Dense(64, activation="relu", input_dim=20), Dense(10, activation="softmax")])
    assert n_model.count_params() == k_model.count_params() == 1994
    assert [layer.name for layer in n_model.layers] == ["dense", "dense_1"]
    assert [w.shape for w in n_model.get_weights()] == [w.shape for w in k_model.get_weights()]


def test_activity_regularizer_matches_keras(keras, rng):
    x, y = rng.random((50, 4)), rng.random((50, 2))
    k_model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(
        3, activation="relu", activity_regularizer=keras.regularizers.L2(0.1)), keras.layers.Dense(2)])
    n_model = Sequential([Input((4,)), Dense(3, activation="relu", activity_regularizer=nnkit.regularizers.L2(0.1)),
                          Dense(2)])
    n_model.set_weights(k_model.get_weights())
    for model in (n_model, k_model):
        model.compile(optimizer="sgd", loss="mse")
    assert_close(n_model.evaluate(x, y, verbose=0), k_model.evaluate(x, y, verbose=0), rtol=1e-5)
    assert_close(n_model.fit(x, y, epochs=2, shuffle=False, verbose=0).history["loss"],
                 k_model.fit(x, y, epochs=2, shuffle=False, verbose=0).history["loss"], rtol=1e-5)


@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
def test_flatten_feature_order_matches_keras_in_both_global_formats(keras, rng, data_format):
    x = rng.random((4, 3, 2, 5)).astype("float32")
    previous = keras.config.image_data_format()
    keras.config.set_image_data_format(data_format)
    nnkit.config.set_image_data_format(data_format)
    try:
        k_model = keras.Sequential([keras.Input((3, 2, 5)), keras.layers.Flatten(), keras.layers.Dense(4)])
        n_model = Sequential([Input((3, 2, 5)), nnkit.layers.Flatten(), Dense(4)])
        n_model.set_weights(k_model.get_weights())
        assert_close(n_model.predict(x, verbose=0), k_model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    finally:
        keras.config.set_image_data_format(previous)
        nnkit.config.set_image_data_format("channels_last")
