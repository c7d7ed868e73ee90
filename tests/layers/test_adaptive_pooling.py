"""Adaptive poolings compute what Keras computes (overlapping, uneven windows included), in both data formats."""

from __future__ import annotations

import numpy as np
import pytest

import nnkit
from nnkit.errors import ConfigError, DataError
from nnkit.layers import (
    LAYERS,
    AdaptiveAveragePooling1D,
    AdaptiveAveragePooling2D,
    AdaptiveMaxPooling1D,
    AdaptiveMaxPooling2D,
    Dense,
    Flatten,
    Input,
)
from nnkit.models import Model, Sequential
from tests.helpers import assert_close
from tests.layers.spatial_helpers import check_layer, clear_error

CHANNELS_LAST, CHANNELS_FIRST = "channels_last", "channels_first"


def _image(data_format: str, spatial: tuple[int, ...], channels: int) -> tuple[int, ...]:
    return (*spatial, channels) if data_format == CHANNELS_LAST else (channels, *spatial)


# Sizes that divide evenly, unevenly (overlapping windows of different sizes) and grow the input.
@pytest.mark.parametrize("data_format", [CHANNELS_LAST, CHANNELS_FIRST])
@pytest.mark.parametrize("kind", ["Average", "Max"])
@pytest.mark.parametrize(("spatial", "output_size"), [
    ((8,), 4), ((7,), 3), ((5,), (7,)),
    ((8, 6), 2), ((7, 9), (3, 4)), ((5, 4), (5, 6)),
    ((4, 5, 6), 2), ((5, 3, 7), (2, 3, 4)),
], ids=str)
def test_adaptive_pooling_matches_keras(keras, kind, data_format, spatial, output_size):
    name = f"Adaptive{kind}Pooling{len(spatial)}D"
    check_layer(keras, name, _image(data_format, spatial, 3), output_size, data_format=data_format)


def test_uneven_windows_overlap_as_in_the_formula():
    """Output i of a length-n axis pooled to m reads inputs [floor(i n / m), ceil((i + 1) n / m))."""
    x = np.arange(7, dtype="float32").reshape(1, 7, 1) ** 2
    model = Sequential([Input(shape=(7, 1)), AdaptiveAveragePooling1D(3)])
    windows = [x[0, (i * 7) // 3: -(-(i + 1) * 7 // 3), 0] for i in range(3)]
    assert_close(model.predict(x, verbose=0)[0, :, 0], [w.mean() for w in windows])
    maxed = Sequential([Input(shape=(7, 1)), AdaptiveMaxPooling1D(3)]).predict(-x, verbose=0)
    assert_close(maxed[0, :, 0], [(-w).max() for w in windows])


def test_registered_under_keras_names():
    assert LAYERS.get("AdaptiveAveragePooling2D") is AdaptiveAveragePooling2D
    assert LAYERS.get("adaptive_max_pooling1d") is AdaptiveMaxPooling1D
    assert AdaptiveMaxPooling2D(3).name == "adaptive_max_pooling2d"


def test_config_round_trip_and_global_data_format():
    layer = AdaptiveMaxPooling2D((3, 2), data_format=CHANNELS_FIRST, name="pool")
    config = layer.get_config()
    assert config["output_size"] == [3, 2] and config["data_format"] == CHANNELS_FIRST
    clone = AdaptiveMaxPooling2D.from_config(config)
    assert clone.output_size == (3, 2) and clone.name == "pool"
    nnkit.config.set_image_data_format(CHANNELS_FIRST)
    try:
        assert AdaptiveAveragePooling2D(2).get_config()["data_format"] == CHANNELS_FIRST
    finally:
        nnkit.config.set_image_data_format(CHANNELS_LAST)


def test_functional_model_fits_and_varies_with_input_size(rng):
    inputs = Input(shape=(9, 7, 2))
    outputs = Dense(1)(Flatten()(AdaptiveAveragePooling2D((2, 3))(inputs)))
    model = Model(inputs, outputs)
    assert model.output_shape == (None, 1)
    model.compile(optimizer="sgd", loss="mse")
    x, y = rng.normal(size=(8, 9, 7, 2)).astype("float32"), rng.normal(size=(8, 1)).astype("float32")
    history = model.fit(x, y, epochs=2, batch_size=4, verbose=0).history
    assert np.isfinite(history["loss"]).all()
    # The same layer pools another image size to the same output (torch's module is size-agnostic).
    pool = AdaptiveMaxPooling2D(2)
    assert tuple(pool(rng.normal(size=(1, 6, 10, 2)).astype("float32")).shape) == (1, 2, 2, 2)


def test_bad_arguments_raise_clear_errors():
    with clear_error(ConfigError, "output_size", "(3, 3, 3)"):
        AdaptiveAveragePooling2D((3, 3, 3))
    with clear_error(ConfigError, "output_size", "0"):
        AdaptiveMaxPooling1D(0)
    with clear_error(ConfigError, "data_format"):
        AdaptiveMaxPooling1D(2, data_format="nhwc")
    with clear_error(DataError, "AdaptiveAveragePooling2D", "(None, 8, 3)"):
        Sequential([Input(shape=(8, 3)), AdaptiveAveragePooling2D(2)]).build()
