"""RandomRotation, RandomZoom and RandomTranslation: Keras's values for fixed transforms (a factor pair
(f, f) draws f), every fill mode and interpolation, both data formats, and the documented draw ranges."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nnkit.errors import ConfigError
from nnkit.layers import RandomRotation, RandomTranslation, RandomZoom
from tests.helpers import assert_close
from tests.layers.parity import keras_output, nnkit_model, nnkit_output

FIXED = [
    ("RandomRotation", RandomRotation, {"factor": (0.1, 0.1)}),
    ("RandomRotation", RandomRotation, {"factor": (-0.3, -0.3)}),
    ("RandomZoom", RandomZoom, {"height_factor": (0.3, 0.3), "width_factor": (-0.2, -0.2)}),
    ("RandomZoom", RandomZoom, {"height_factor": (0.45, 0.45)}),
    ("RandomTranslation", RandomTranslation, {"height_factor": (0.3, 0.3), "width_factor": (-0.45, -0.45)}),
]


@pytest.mark.parametrize(("name", "cls", "factors"), FIXED)
@pytest.mark.parametrize("fill_mode", ["reflect", "wrap", "constant", "nearest"])
def test_fixed_transforms_match_keras_bilinear(keras, rng, name, cls, factors, fill_mode):
    x = rng.normal(size=(2, 7, 9, 3)).astype("float32")
    options = {"fill_mode": fill_mode, "fill_value": 0.5, **factors}
    expected = keras_output(keras, getattr(keras.layers, name)(**options), x, training=True)
    model = nnkit_model(cls(**options), (7, 9, 3))
    assert_close(nnkit_output(model, x, training=True), expected, atol=1e-4)
    assert_close(model.predict(x, verbose=0), x, rtol=0, atol=0)


@pytest.mark.parametrize(("name", "cls", "factors"), [FIXED[0], FIXED[2], FIXED[4]])
@pytest.mark.parametrize("fill_mode", ["reflect", "constant"])
def test_fixed_transforms_match_keras_nearest_in_channels_first(keras, rng, name, cls, factors, fill_mode):
    x = rng.normal(size=(2, 2, 7, 9)).astype("float32")
    options = {"fill_mode": fill_mode, "interpolation": "nearest", "data_format": "channels_first", **factors}
    expected = keras_output(keras, getattr(keras.layers, name)(**options), x, training=True)
    assert_close(cls(**options)(x, training=True), expected, atol=1e-5)


def test_a_single_image_is_transformed_like_a_batch_of_one(rng):
    x = rng.normal(size=(1, 6, 6, 2)).astype("float32")
    layer = RandomRotation((0.25, 0.25), fill_mode="constant")
    single = layer(x[0], training=True)
    assert tuple(single.shape) == (6, 6, 2)
    assert_close(single, layer(x, training=True)[0])
    assert_close(single.numpy()[..., 0], np.rot90(x[0, ..., 0]), atol=1e-5)  # a quarter turn, counter-clockwise


def _impulse_positions(out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Intensity-weighted (row, column) of each image of ``out`` (batch, height, width, 1)."""
    weights = np.clip(out[..., 0], 0, None)
    rows, cols = np.indices(weights.shape[1:])
    total = weights.sum(axis=(1, 2))
    return (weights * rows).sum(axis=(1, 2)) / total, (weights * cols).sum(axis=(1, 2)) / total


def _impulses(n: int, size: int, row: int, col: int) -> np.ndarray:
    x = np.zeros((n, size, size, 1), dtype="float32")
    x[:, row, col] = 1.0
    return x


def test_rotation_angles_spread_over_the_factor_range():
    x = _impulses(200, 21, 10, 18)  # a point 8 pixels right of the centre
    out = RandomRotation(0.1, fill_mode="constant", seed=0)(x, training=True).numpy()
    rows, cols = _impulse_positions(out)
    degrees = np.degrees(np.arctan2(-(rows - 10), cols - 10))
    assert degrees.min() > -37 and degrees.max() < 37  # 0.1 of a turn = 36 degrees either way
    assert degrees.min() < -30 and degrees.max() > 30 and abs(degrees.mean()) < 5
    assert np.allclose(np.hypot(rows - 10, cols - 10), 8, atol=0.3)


def test_zoom_factors_spread_over_the_range_and_keep_the_aspect_ratio():
    x = _impulses(200, 21, 4, 4)  # 6 pixels up and left of the centre
    out = RandomZoom(0.2, fill_mode="constant", seed=0)(x, training=True).numpy()
    rows, cols = _impulse_positions(out)
    zoom = 6 / (10 - rows)  # the output reads the input `zoom` times farther from the centre
    assert_close(10 - cols, 10 - rows, atol=0.05)  # width_factor=None: one zoom for both axes
    assert zoom.min() > 0.78 and zoom.max() < 1.22
    assert zoom.min() < 0.85 and zoom.max() > 1.15


def test_translation_shifts_spread_over_the_factor_ranges():
    x = _impulses(200, 21, 10, 10)
    out = RandomTranslation((-0.2, 0.0), 0.1, fill_mode="constant", seed=0)(x, training=True).numpy()
    rows, cols = _impulse_positions(out)
    down, right = rows - 10, cols - 10
    assert down.min() >= -4.2 - 1e-3 and down.max() <= 1e-3 and down.min() < -3.5  # up to 20% of 21 rows, upwards
    assert right.min() >= -2.1 - 1e-3 and right.max() <= 2.1 + 1e-3 and right.min() < -1.5 and right.max() > 1.5


def test_configs_round_trip_and_keras_configs_load(keras, rng):
    x = rng.normal(size=(2, 12, 12, 1)).astype("float32")
    pairs = [(RandomRotation(0.2, fill_mode="wrap", seed=3), keras.layers.RandomRotation(0.2, "wrap", seed=3)),
             (RandomZoom(0.4, (-0.2, 0.3), interpolation="nearest", seed=4),
              keras.layers.RandomZoom(0.4, (-0.2, 0.3), interpolation="nearest", seed=4)),
             (RandomTranslation(0.1, 0.2, fill_value=2.0, fill_mode="constant", seed=5),
              keras.layers.RandomTranslation(0.1, 0.2, fill_value=2.0, fill_mode="constant", seed=5))]
    for layer, theirs in pairs:
        config, k_config = layer.get_config(), theirs.get_config()
        for key in ("fill_mode", "interpolation", "fill_value", "seed", "data_format"):
            assert config[key] == k_config[key], key
        first = type(layer).from_config(config | {"name": None})(x, training=True)
        assert_close(type(layer).from_config(k_config | {"name": None})(x, training=True), first)
        assert not np.allclose(first.numpy(), x)


def test_bad_arguments_are_refused_clearly():
    with pytest.raises(ConfigError, match="`fill_mode` to be one of 'reflect', 'wrap', 'constant', 'nearest'"):
        RandomRotation(0.1, fill_mode="mirror")
    with pytest.raises(ConfigError, match="`interpolation` to be one of 'bilinear', 'nearest'"):
        RandomZoom(0.1, interpolation="bicubic")
    with pytest.raises(ValueError, match=r"`height_factor` to be a number in \(-1, 1\].*Received: height_factor=-1"):
        RandomZoom(-1)
    with pytest.raises(ConfigError, match=r"`width_factor` to be a number in \[-1, 1\]"):
        RandomTranslation(0.1, (0.1, 1.5))
    assert math.isclose(RandomRotation((0.3, -0.1))._bounds[0], -0.1)  # a pair is sorted, as in Keras
