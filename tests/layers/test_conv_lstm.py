"""ConvLSTM1D/2D/3D compute, mask and train like Keras on the same weights, in both data formats."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nnkit
from nnkit import layers as L
from nnkit.errors import ConfigError, DataError
from nnkit.models import Model, Sequential, load_model
from tests.helpers import assert_close
from tests.layers.sequence_twins import twins
from tests.layers.spatial_helpers import clear_error


def _pair(keras, rng, name, shape, *args, **kwargs):
    make = lambda m: getattr(m, name)(*args, **kwargs)  # noqa: E731
    return twins(keras, [make(keras.layers)], [make(L)], shape, rng, scale=0.3)


@pytest.mark.parametrize(("name", "shape", "args", "kwargs"), [
    ("ConvLSTM2D", (3, 6, 5, 2), (4, 3), {}),
    ("ConvLSTM2D", (3, 6, 5, 2), (4, 3), {"padding": "same", "return_sequences": True}),
    ("ConvLSTM2D", (3, 7, 6, 2), (4, (2, 3)), {"strides": 2, "padding": "same", "go_backwards": True}),
    ("ConvLSTM2D", (3, 2, 7, 6), (4, 2), {"padding": "same", "data_format": "channels_first",
                                          "return_sequences": True}),
    ("ConvLSTM2D", (3, 7, 6, 2), (3, 3), {"dilation_rate": 2, "padding": "same", "use_bias": False,
                                          "activation": "relu", "recurrent_activation": "hard_sigmoid"}),
    ("ConvLSTM1D", (4, 8, 2), (3, 3), {"padding": "same", "return_sequences": True}),
    ("ConvLSTM3D", (2, 4, 5, 4, 2), (2, 2), {"padding": "same"}),
], ids=lambda v: str(v) if not isinstance(v, tuple) else "x".join(map(str, v)))
def test_conv_lstm_matches_keras(keras, rng, name, shape, args, kwargs):
    n_model, k_model = _pair(keras, rng, name, shape, *args, **kwargs)
    assert n_model.output_shape == tuple(k_model.output_shape)
    assert n_model.count_params() == k_model.count_params()
    assert [w.shape for w in n_model.get_weights()] == [tuple(w.shape) for w in k_model.weights]
    x = rng.normal(size=(2, *shape)).astype("float32")
    assert_close(n_model.predict(x, verbose=0), k_model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("options", [{}, {"return_sequences": True, "go_backwards": True}], ids=str)
def test_masked_steps_keep_the_states_like_keras(keras, rng, options):
    k_layer, n_layer = keras.layers.ConvLSTM2D(3, 3, padding="same", **options), L.ConvLSTM2D(
        3, 3, padding="same", **options)
    x = rng.normal(size=(3, 5, 4, 4, 2)).astype("float32")
    mask = np.array([[1, 1, 1, 0, 0], [0, 0, 1, 1, 1], [1, 0, 1, 0, 1]], dtype=bool)
    k_layer(x)
    n_layer(x)
    weights = [rng.normal(scale=0.3, size=w.shape).astype("float32") for w in k_layer.get_weights()]
    k_layer.set_weights(weights)
    n_layer.set_weights(weights)
    expected = keras.ops.convert_to_numpy(k_layer(x, mask=mask))
    assert_close(n_layer(x, mask=mask), expected, rtol=1e-5, atol=1e-5)


def test_return_state_in_a_functional_model_matches_keras(keras, rng):
    def build(m, model_class):
        inputs = m.Input((3, 5, 5, 2))
        return model_class(inputs, m.ConvLSTM2D(2, 3, padding="same", return_state=True)(inputs))

    k_model, n_model = build(keras.layers, keras.Model), build(L, Model)
    weights = [rng.normal(scale=0.3, size=w.shape).astype("float32") for w in k_model.get_weights()]
    k_model.set_weights(weights)
    n_model.set_weights(weights)
    x = rng.normal(size=(2, 3, 5, 5, 2)).astype("float32")
    ours, theirs = n_model.predict(x, verbose=0), k_model.predict(x, verbose=0)
    assert len(ours) == len(theirs) == 3
    for a, b in zip(ours, theirs, strict=True):
        assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_training_matches_keras(keras, rng):
    """Two SGD steps of fit on the same weights leave the same weights."""
    x = rng.normal(size=(4, 3, 5, 5, 2)).astype("float32")
    y = rng.normal(size=(4, 2)).astype("float32")
    make = lambda m: [m.ConvLSTM2D(3, 3, padding="same"), m.GlobalAveragePooling2D(), m.Dense(2)]  # noqa: E731
    n_model, k_model = twins(keras, make(keras.layers), make(L), (3, 5, 5, 2), rng, scale=0.3)
    k_model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    n_model.compile(optimizer=nnkit.optimizers.SGD(0.1), loss="mse")
    k_model.fit(x, y, batch_size=2, epochs=1, shuffle=False, verbose=0)
    n_model.fit(x, y, batch_size=2, epochs=1, shuffle=False, verbose=0)
    for ours, theirs in zip(n_model.get_weights(), k_model.get_weights(), strict=True):
        assert_close(ours, theirs, rtol=1e-4, atol=1e-5)


def test_keras_default_initializers(keras):
    layer = L.ConvLSTM2D(3, 2)
    Sequential([L.Input((2, 4, 4, 2)), layer]).build()
    kernel, recurrent, bias = layer.get_weights()
    assert kernel.shape == (2, 2, 2, 12) and recurrent.shape == (2, 2, 3, 12)
    np.testing.assert_array_equal(bias, np.r_[np.zeros(3), np.ones(3), np.zeros(6)])
    assert np.abs(kernel).max() <= np.sqrt(6 / (2 * 4 + 12 * 4)) + 1e-6
    flat = recurrent.reshape(-1, 12)
    np.testing.assert_allclose(flat.T @ flat, np.eye(12), atol=1e-5)  # Keras's orthogonal on (2*2*3, 12)
    theirs = keras.layers.ConvLSTM2D(3, 2).get_config()
    ours = layer.get_config()
    for key in ("strides", "padding", "dropout", "recurrent_dropout", "unit_forget_bias", "use_bias"):
        assert np.all(np.asarray(ours[key]) == np.asarray(theirs[key])), key


def test_dropout_is_random_in_training_only(rng):
    model = Sequential([L.Input((3, 4, 4, 2)), L.ConvLSTM2D(2, 3, padding="same", dropout=0.3,
                                                          recurrent_dropout=0.3)])
    x = rng.normal(size=(2, 3, 4, 4, 2)).astype("float32")
    with torch.no_grad():
        a, b = model(x, training=True).numpy(), model(x, training=True).numpy()
    assert not np.allclose(a, b)
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))


def test_fit_save_and_load_round_trip(tmp_path, rng):
    model = Sequential([L.Input((3, 6, 6, 1)),
                        L.ConvLSTM2D(2, 3, padding="same", return_sequences=True, kernel_regularizer="l2",
                                     recurrent_constraint="max_norm", dropout=0.1),
                        L.ConvLSTM2D(2, 3, go_backwards=True),
                        L.Flatten(), L.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    x = rng.normal(size=(4, 3, 6, 6, 1)).astype("float32")
    history = model.fit(x, rng.normal(size=(4, 1)).astype("float32"), epochs=2, batch_size=2, verbose=0).history
    assert np.isfinite(history["loss"]).all()
    assert len(model.regularization_terms()) == 1
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert loaded.layers[0].get_config() == model.layers[0].get_config()


def test_bad_arguments_and_inputs_raise_clear_errors():
    with clear_error(ConfigError, "strides", "dilation_rate"):
        L.ConvLSTM2D(2, 3, strides=2, dilation_rate=2)
    with clear_error(ConfigError, "stateful"):
        L.ConvLSTM2D(2, 3, stateful=True)
    with clear_error(ConfigError, "padding"):
        L.ConvLSTM1D(2, 3, padding="causal")
    with clear_error(DataError, "ConvLSTM2D", "(None, 3, 5, 2)"):
        Sequential([L.Input((3, 5, 2)), L.ConvLSTM2D(2, 3)]).build()
