"""RMSNormalization and SpectralNormalization compute and train as Keras does on the same weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnkit.errors import ConfigError
from nnkit.layers import (
    LAYERS,
    Conv2D,
    Dense,
    Dropout,
    Input,
    RMSNormalization,
    SpectralNormalization,
)
from nnkit.models import Model, Sequential, load_model
from tests.helpers import assert_close
from tests.layers.spatial_helpers import clear_error


def _random_weights(keras_layer, rng: np.random.Generator) -> list[np.ndarray]:
    weights = [rng.normal(size=w.shape).astype("float32") for w in keras_layer.get_weights()]
    keras_layer.set_weights(weights)
    return weights


def _twins(keras, make, sample_shape, rng, **kwargs):
    """A built Keras layer and a one-layer nnkit model from the same ``make(module_of_layers)``, same weights."""
    k_layer = make(keras.layers, **kwargs)
    k_layer.build((None, *sample_shape))
    weights = _random_weights(k_layer, rng)
    import nnkit.layers

    n_layer = make(nnkit.layers, **kwargs)
    model = Sequential([Input(shape=sample_shape), n_layer])
    model.build()
    n_layer.set_weights(weights)
    return k_layer, model, n_layer


def _keras_call(keras, layer, x, training=False):
    return keras.ops.convert_to_numpy(layer(x, training=training))


def _ours(model, x, training=False):
    with torch.no_grad():
        return model(x, training=training).cpu().numpy()


# -- RMSNormalization ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("shape", "axis", "epsilon"), [((6,), -1, 1e-6), ((3, 5), -1, 0.1), ((3, 5), [1, 2], 1e-6),
                                                        ((2, 3, 4), [-2, -1], 1e-3)], ids=str)
def test_rms_normalization_matches_keras(keras, rng, shape, axis, epsilon):
    k_layer, model, layer = _twins(keras, lambda m, **kw: m.RMSNormalization(**kw), shape, rng, axis=axis,
                                   epsilon=epsilon)
    x = rng.normal(size=(4, *shape)).astype("float32")
    assert_close(model.predict(x, verbose=0), _keras_call(keras, k_layer, x), rtol=1e-5, atol=1e-6)
    assert [w.shape for w in layer.get_weights()] == [tuple(w.shape) for w in k_layer.weights]
    assert layer.count_params() == k_layer.count_params()


def test_rms_normalization_over_a_leading_axis_follows_the_formula(rng):
    """axis=1 of (batch, steps, features): Keras on torch cannot; nnkit normalizes over the steps."""
    x = rng.normal(size=(2, 3, 4)).astype("float32")
    layer = RMSNormalization(axis=1, epsilon=0.01)
    model = Sequential([Input(shape=(3, 4)), layer])
    model.build()
    scale = rng.normal(size=(3,)).astype("float32")
    layer.set_weights([scale])
    expected = x / np.sqrt((x**2).mean(axis=1, keepdims=True) + 0.01) * scale[None, :, None]
    assert_close(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)


def test_rms_normalization_defaults_config_and_errors():
    layer = RMSNormalization()
    assert layer.get_config()["axis"] == -1 and layer.get_config()["epsilon"] == 1e-6
    assert LAYERS.get("RMSNormalization") is RMSNormalization
    assert RMSNormalization.from_config(RMSNormalization(axis=[1, 2], name="n").get_config()).axis == [1, 2]
    with clear_error(ConfigError, "epsilon", "-1"):
        RMSNormalization(epsilon=-1)
    with clear_error(ConfigError, "axis=3", "(None, 4, 5)"):
        Sequential([Input(shape=(4, 5)), RMSNormalization(axis=3)]).build()


# -- SpectralNormalization -------------------------------------------------------------------------------
WRAPPED = [
    ((4,), lambda m: m.Dense(3)),
    ((5, 3), lambda m: m.Dense(6, use_bias=False)),
    ((6, 6, 2), lambda m: m.Conv2D(3, 3, padding="same")),
    ((2, 6, 5), lambda m: m.Conv2D(4, (2, 3), strides=2, data_format="channels_first")),
    ((5, 3), lambda m: m.Conv1DTranspose(2, 3, strides=2)),
]


@pytest.mark.parametrize(("shape", "inner"), WRAPPED, ids=lambda v: str(v) if isinstance(v, tuple) else "")
def test_spectral_normalization_matches_keras_in_training_and_inference(keras, rng, shape, inner):
    k_layer, model, layer = _twins(keras, lambda m, power_iterations: m.SpectralNormalization(
        inner(m), power_iterations=power_iterations), shape, rng, power_iterations=2)
    x = rng.normal(size=(3, *shape)).astype("float32")
    # Inference leaves the kernel alone; two training calls each normalize it and move u.
    assert_close(_ours(model, x), _keras_call(keras, k_layer, x), rtol=1e-5, atol=1e-5)
    for _ in range(2):
        assert_close(_ours(model, x, training=True), _keras_call(keras, k_layer, x, training=True),
                     rtol=1e-4, atol=1e-5)
    for ours, theirs in zip(layer.get_weights(), k_layer.get_weights(), strict=True):
        assert_close(ours, theirs, rtol=1e-4, atol=1e-6)
    assert_close(_ours(model, x), _keras_call(keras, k_layer, x), rtol=1e-4, atol=1e-5)
    # After normalizing, the kernel's largest singular value is close to 1.
    kernel = layer.get_weights()[0]
    assert abs(np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]), compute_uv=False)[0] - 1) < 0.3


def test_spectral_normalization_of_an_embedding_matches_keras(keras, rng):
    k_layer = keras.layers.SpectralNormalization(keras.layers.Embedding(7, 3))
    k_layer.build((None, 4))
    weights = _random_weights(k_layer, rng)
    import nnkit.layers

    layer = nnkit.layers.SpectralNormalization(nnkit.layers.Embedding(7, 3))
    model = Sequential([Input(shape=(4,), dtype="int64"), layer])
    model.build()
    layer.set_weights(weights)
    ids = rng.integers(0, 7, size=(2, 4))
    with torch.no_grad():
        ours = model(torch.as_tensor(ids), training=True).numpy()
    k_layer(ids, training=True)  # Keras casts the output to the ids' integer dtype, so compare the weights
    for a, b in zip(layer.get_weights(), k_layer.get_weights(), strict=True):
        assert_close(a, b, rtol=1e-4, atol=1e-6)
    assert_close(ours, k_layer.get_weights()[0][ids], rtol=1e-6, atol=1e-7)


def test_spectral_normalization_trains_like_keras(keras, rng):
    """One SGD step of fit: the kernel is normalized, then the gradient (taken at the normalized kernel) applied."""
    x, y = rng.normal(size=(8, 4)).astype("float32"), rng.normal(size=(8, 2)).astype("float32")
    k_model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.SpectralNormalization(keras.layers.Dense(3)),
                                keras.layers.Dense(2)])
    weights = [rng.normal(size=w.shape).astype("float32") for w in k_model.get_weights()]
    k_model.set_weights(weights)
    model = Sequential([Input(shape=(4,)), SpectralNormalization(Dense(3)), Dense(2)])
    model.build()
    model.set_weights(weights)
    for m, optimizer in ((k_model, keras.optimizers.SGD(0.1)), (model, "sgd")):
        m.compile(optimizer=optimizer, loss="mse")
    model.optimizer.learning_rate = 0.1
    k_model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
    for ours, theirs in zip(model.get_weights(), k_model.get_weights(), strict=True):
        assert_close(ours, theirs, rtol=1e-4, atol=1e-5)


def test_spectral_normalization_in_a_functional_model_round_trips(tmp_path, rng):
    inputs = Input(shape=(6, 6, 2))
    hidden = SpectralNormalization(Conv2D(3, 3, kernel_regularizer="l2"), power_iterations=3)(inputs)
    model = Model(inputs, Dense(1)(Dropout(0.1)(hidden)))
    model.compile(optimizer="adam", loss="mse")
    x, y = rng.normal(size=(4, 6, 6, 2)).astype("float32"), rng.normal(size=(4, 4, 4, 1)).astype("float32")
    model.fit(x, y, epochs=1, batch_size=2, verbose=0)
    wrapper = model.layers[1]
    assert [w.shape for w in wrapper.get_weights()] == [(3, 3, 2, 3), (1, 3), (3,)]
    assert len(wrapper.trainable_weights) == 2 and wrapper.count_params() == 54 + 3 + 3
    config = wrapper.get_config()
    assert config["power_iterations"] == 3 and config["layer"]["class_name"] == "Conv2D"
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    for a, b in zip(loaded.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_spectral_normalization_errors():
    with clear_error(ConfigError, "SpectralNormalization", "Dense", "RMSNormalization"):
        SpectralNormalization(RMSNormalization())
    with clear_error(ConfigError, "power_iterations", "0"):
        SpectralNormalization(Dense(2), power_iterations=0)
    layer = SpectralNormalization(Dense(2))
    Sequential([Input(shape=(3,)), layer]).build()
    with clear_error(ConfigError, "3 weight arrays", "received 2"):
        layer.set_weights([np.zeros((3, 2)), np.zeros(2)])
