"""Image preprocessing and augmentation layers inside models: fit augments, evaluate and predict do not,
Sequential and functional models alike; Pipeline chains layers; saved models keep the layers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nnkit
from nnkit.layers import (
    Conv2D,
    Dense,
    Flatten,
    GlobalAveragePooling2D,
    Input,
    Pipeline,
    RandomBrightness,
    RandomContrast,
    RandomFlip,
    RandomRotation,
    Rescaling,
    Resizing,
)
from nnkit.models import Model, Sequential
from tests.helpers import assert_close


def _data(rng, n=32):
    x = rng.uniform(0, 1, size=(n, 10, 10, 3)).astype("float32")
    y = (x[:, :, :5].mean(axis=(1, 2, 3)) > x[:, :, 5:].mean(axis=(1, 2, 3))).astype("float32")
    return x, y[:, None]


def _convnet(augment: list) -> Sequential:
    return Sequential([Input((10, 10, 3)), *augment, Conv2D(4, 3, activation="relu"), GlobalAveragePooling2D(),
                       Dense(1, activation="sigmoid")])


def test_a_convnet_with_flip_and_rotation_trains_and_predicts_deterministically(rng):
    x, y = _data(rng)
    model = _convnet([RandomFlip("horizontal"), RandomRotation(0.1)])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()
    assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights()))
    first, second = model.predict(x, verbose=0), model.predict(x, verbose=0)
    assert np.array_equal(first, second)
    plain = _convnet([])  # the same network without augmentation predicts the same
    plain.set_weights(model.get_weights())
    assert_close(plain.predict(x, verbose=0), first, atol=1e-6)
    assert_close(model(x, training=False), first, atol=1e-6)


def test_fit_sees_augmented_images_and_evaluate_the_originals(rng):
    """With a fixed brightness shift and a frozen model, fit's loss is that of the shifted inputs."""
    x = rng.uniform(0, 0.5, size=(16, 4, 4, 1)).astype("float32")
    y = np.zeros((16, 1), dtype="float32")
    model = Sequential([Input((4, 4, 1)), RandomBrightness((0.25, 0.25), value_range=(0, 1)), Flatten(),
                        Dense(1, kernel_initializer="ones", use_bias=False)])
    model.compile(optimizer=nnkit.optimizers.SGD(learning_rate=0.0), loss="mse")
    fit_loss = model.fit(x, y, batch_size=16, epochs=1, verbose=0).history["loss"][0]
    assert_close(fit_loss, np.mean((x + 0.25).sum(axis=(1, 2, 3)) ** 2), rtol=1e-5)
    assert_close(model.evaluate(x, y, verbose=0), np.mean(x.sum(axis=(1, 2, 3)) ** 2), rtol=1e-5)


def test_functional_model_with_augmentation_trains_and_infers(rng):
    x, y = _data(rng)
    inputs = Input((10, 10, 3))
    h = RandomContrast(0.3, value_range=(0, 1))(RandomFlip()(inputs))
    h = GlobalAveragePooling2D()(Conv2D(4, 3, activation="relu")(h))
    model = Model(inputs, Dense(1, activation="sigmoid")(h))
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert np.array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))
    assert not torch.allclose(model(x, training=True), model(x, training=True))


def test_unseeded_training_is_reproducible_with_set_random_seed(rng):
    x, y = _data(rng)
    weights = []
    for _ in range(2):
        nnkit.utils.set_random_seed(11)
        model = _convnet([RandomFlip(), RandomRotation(0.2)])
        model.compile(optimizer="adam", loss="binary_crossentropy")
        model.fit(x, y, epochs=1, batch_size=8, verbose=0)
        weights.append(model.get_weights())
    for a, b in zip(*weights):
        assert np.array_equal(a, b)


def test_pipeline_applies_its_layers_in_order(keras, rng):
    x = rng.uniform(0, 255, size=(3, 12, 8, 3)).astype("float32")
    pipeline = Pipeline([Resizing(6, 6, crop_to_aspect_ratio=True), Rescaling(1 / 255), RandomFlip()])
    theirs = keras.layers.Pipeline([keras.layers.Resizing(6, 6, crop_to_aspect_ratio=True),
                                    keras.layers.Rescaling(1 / 255)])
    expected = keras.ops.convert_to_numpy(theirs(x))
    model = Sequential([Input((12, 8, 3)), pipeline])
    assert model.output_shape == (None, 6, 6, 3)
    assert_close(model.predict(x, verbose=0), expected, atol=1e-6)
    assert_close(pipeline(x[0], training=False), expected[0], atol=1e-6)  # a single image
    trained = pipeline(x, training=True).numpy()
    flipped = np.all(trained == expected[:, ::-1, ::-1], axis=(1, 2, 3))
    assert np.all(flipped | np.all(trained == expected, axis=(1, 2, 3)))
    assert [type(layer).__name__ for layer in pipeline.layers] == ["Resizing", "Rescaling", "RandomFlip"]


def test_pipeline_config_round_trips(rng):
    pipeline = Pipeline([Resizing(4, 4), RandomRotation(0.1, seed=2)], name="augment")
    config = pipeline.get_config()
    assert config["name"] == "augment" and [e["class_name"] for e in config["layers"]] == ["Resizing", "RandomRotation"]
    clone = Pipeline.from_config({**config, "name": "copy"})
    x = rng.uniform(size=(2, 8, 8, 1)).astype("float32")
    assert_close(clone(x, training=True), pipeline(x, training=True))


@pytest.mark.parametrize("path", ["augmented.keras"])
def test_a_saved_model_keeps_its_augmentation_layers(tmp_path, rng, path):
    x, y = _data(rng, 8)
    model = _convnet([Pipeline([RandomFlip(seed=1), RandomRotation(0.1, fill_mode="constant")]),
                      Resizing(8, 8)])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / path)
    loaded = nnkit.models.load_model(tmp_path / path)
    assert [type(layer).__name__ for layer in loaded.layers][:2] == ["Pipeline", "Resizing"]
    assert_close(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
