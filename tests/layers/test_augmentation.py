"""RandomFlip, RandomCrop, RandomContrast and RandomBrightness: identity (or Keras's deterministic crop)
outside training, Keras's transforms and draw ranges while training, reproducible seeds."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nnkit
from nnkit.errors import ConfigError
from nnkit.layers import (
    Input,
    RandomBrightness,
    RandomContrast,
    RandomCrop,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
)
from nnkit.models import Sequential
from tests.helpers import assert_close
from tests.layers.parity import keras_output, nnkit_model, nnkit_output

FLIPS = {"horizontal": (2,), "vertical": (1,), "horizontal_and_vertical": (1, 2)}


def _images(rng, shape):
    return rng.uniform(0, 255, size=shape).astype("float32")


@pytest.mark.parametrize("make", [lambda: RandomFlip(), lambda: RandomCrop(6, 6), lambda: RandomContrast(0.5),
                                  lambda: RandomBrightness(0.3)])
def test_inference_keeps_images_as_keras_does(keras, rng, make):
    """predict, evaluate-style calls and training=False leave images alone (RandomCrop resizes to its size)."""
    x = _images(rng, (4, 6, 6, 3))
    layer = make()
    model = nnkit_model(layer, (6, 6, 3))
    theirs = getattr(keras.layers, type(layer).__name__)(**{k: v for k, v in layer.get_config().items()
                                                             if k != "name"})
    for out in (layer(x, training=False), model.predict(x, verbose=0), model(x, training=False)):
        assert_close(out, x, rtol=0, atol=0)
    assert_close(keras_output(keras, theirs, x), x, rtol=0, atol=0)


@pytest.mark.parametrize("make", [lambda: RandomFlip(), lambda: RandomContrast(0.5), lambda: RandomBrightness(0.3),
                                  lambda: RandomRotation(0.2), lambda: RandomZoom(0.3), lambda: RandomTranslation(0.3, 0.3)])
def test_a_call_given_no_mode_augments_as_in_keras(keras, rng, make):
    """Keras's augmentation layers default to training=True in call: `layer(images)` and `augment(images)` for a
    Sequential `augment` augment (the images Keras's tutorials plot), while the model's Dropout infers."""
    x = _images(rng, (16, 6, 6, 3))
    layer = make()
    theirs = getattr(keras.layers, type(layer).__name__)(**{k: v for k, v in layer.get_config().items()
                                                             if k != "name"})
    assert not np.array_equal(keras.ops.convert_to_numpy(theirs(x)), x)  # what Keras does
    assert not np.array_equal(np.asarray(layer(x)), x)
    augment = Sequential([Input((6, 6, 3)), make(), nnkit.layers.Dropout(0.99)])
    out = np.asarray(augment(x))
    assert not np.array_equal(out, x) and np.count_nonzero(out) > out.size // 2  # augmented, no dropout
    assert np.array_equal(augment.predict(x, verbose=0), x) and not augment.training


@pytest.mark.parametrize("mode", list(FLIPS))
def test_flip_turns_each_image_as_keras_does(keras, rng, mode):
    """Each image is the input or its flip; in 'horizontal_and_vertical' Keras 3 flips both axes together."""
    x = _images(rng, (64, 5, 7, 2))
    for out in (RandomFlip(mode)(x, training=True).numpy(), keras_output(keras, keras.layers.RandomFlip(mode), x,
                                                                           training=True)):
        same = np.all(out == x, axis=(1, 2, 3))
        flipped = np.all(out == np.flip(x, FLIPS[mode]), axis=(1, 2, 3))
        assert np.all(same | flipped)
        assert 16 < flipped.sum() < 48  # probability 1/2 per image


def test_flip_channels_first_and_single_images(rng):
    x = _images(rng, (32, 2, 5, 7))
    out = RandomFlip("horizontal", data_format="channels_first")(x, training=True).numpy()
    assert np.all(np.all(out == x, axis=(1, 2, 3)) | np.all(out == x[..., ::-1], axis=(1, 2, 3)))
    single = RandomFlip("vertical")(x[0].transpose(1, 2, 0), training=True).numpy()
    assert single.shape == (5, 7, 2)
    assert np.array_equal(single, x[0].transpose(1, 2, 0)) or np.array_equal(single, x[0].transpose(1, 2, 0)[::-1])


def test_a_seed_gives_the_layer_its_own_reproducible_stream(rng):
    x = torch.as_tensor(_images(rng, (32, 4, 4, 1)))
    first, second, other = RandomFlip(seed=7), RandomFlip(seed=7), RandomFlip(seed=8)
    a = first(x, training=True)
    torch.rand(100)  # the global generator moving on does not change a seeded layer's draws
    assert torch.equal(second(x, training=True), a)
    assert not torch.equal(first(x, training=True), a)  # the stream goes on
    assert not torch.equal(other(x, training=True), a)


def test_unseeded_draws_follow_set_random_seed(rng):
    x = torch.as_tensor(_images(rng, (32, 4, 4, 1)))
    outputs = []
    for _ in range(2):
        nnkit.utils.set_random_seed(3)
        outputs.append(RandomFlip()(x, training=True))
    assert torch.equal(*outputs)


def test_random_crop_trains_on_one_random_window_per_batch(rng):
    x = _images(rng, (4, 9, 8, 2))
    layer = RandomCrop(5, 4, seed=1)
    starts = set()
    for _ in range(60):
        out = layer(x, training=True).numpy()
        assert out.shape == (4, 5, 4, 2)
        windows = [(t, s) for t in range(5) for s in range(5) if np.array_equal(out, x[:, t:t + 5, s:s + 4])]
        assert len(windows) == 1  # a window of the input, the same for every image (as in Keras 3)
        starts.add(windows[0])
    assert len(starts) > 15 and {t for t, _ in starts} == set(range(5)) and {s for _, s in starts} == set(range(5))


@pytest.mark.parametrize(("image", "training"), [((9, 8), False), ((4, 8), True), ((5, 12), True), ((5, 4), True)])
def test_random_crop_resizes_the_centred_window_as_keras_documents(keras, rng, image, training):
    """Outside training, and while training on images not larger than the crop, the result is Keras's
    smart_resize: the largest centred window of the crop's aspect ratio, resized."""
    x = _images(rng, (2, *image, 3))
    expected = keras.ops.convert_to_numpy(keras.preprocessing.image.smart_resize(x, (5, 4)))
    model = nnkit_model(RandomCrop(5, 4), (*image, 3))
    assert model.output_shape == (None, 5, 4, 3)
    assert_close(nnkit_output(model, x, training=training), expected, rtol=1e-5, atol=1e-3)


def test_random_crop_channels_first(rng):
    x = _images(rng, (3, 2, 9, 9))
    out = RandomCrop(4, 4, data_format="channels_first")(x, training=True).numpy()
    assert out.shape == (3, 2, 4, 4)
    assert any(np.array_equal(out, x[..., t:t + 4, s:s + 4]) for t in range(6) for s in range(6))


def test_contrast_factor_zero_only_clips_like_keras(keras, rng):
    x = rng.uniform(-50, 300, size=(3, 4, 5, 3)).astype("float32")
    expected = keras_output(keras, keras.layers.RandomContrast(0.0), x, training=True)
    assert_close(RandomContrast(0.0)(x, training=True), expected)
    assert_close(expected, np.clip(x, 0, 255))


@pytest.mark.parametrize(("factor", "low", "high"), [(0.5, 1.0, 1.5), ((0.5, 0.5), 0.5, 1.5), ((0.2, 0.8), 0.8, 1.8)])
def test_contrast_scales_deviations_from_the_channel_means_in_keras_range(keras, rng, factor, low, high):
    """Keras 3 maps a single number f to factors in [1, 1 + f]; a pair (a, b) to [1 - a, 1 + b]."""
    x = rng.normal(0, 1, size=(300, 6, 6, 2)).astype("float32")
    layer = RandomContrast(factor, value_range=(-100, 100), data_format="channels_last")
    out = layer(x, training=True).numpy()
    assert_close(out.mean(axis=(1, 2)), x.mean(axis=(1, 2)), atol=1e-5)  # the per-channel means stay
    x_dev = (x - x.mean(axis=(1, 2), keepdims=True)).reshape(300, -1)
    out_dev = (out - out.mean(axis=(1, 2), keepdims=True)).reshape(300, -1)
    factors = (out_dev * x_dev).sum(axis=1) / (x_dev**2).sum(axis=1)
    assert_close(out_dev, factors[:, None] * x_dev, atol=1e-4)  # one factor per image, all channels
    theirs = keras_output(keras, keras.layers.RandomContrast(factor, value_range=(-100, 100)), x[:100], training=True)
    their_factors = (theirs.std(axis=(1, 2)) / x[:100].std(axis=(1, 2)))[:, 0]
    for drawn in (factors, their_factors):
        assert low - 1e-4 <= drawn.min() and drawn.max() <= high + 1e-4
        assert drawn.min() < low + 0.15 * (high - low) and drawn.max() > high - 0.15 * (high - low)


def test_brightness_with_a_fixed_factor_matches_keras(keras, rng):
    x = _images(rng, (3, 4, 4, 3))
    for factor in ((0.2, 0.2), (-0.1, -0.1)):
        expected = keras_output(keras, keras.layers.RandomBrightness(factor), x, training=True)
        assert_close(RandomBrightness(factor)(x, training=True), expected, atol=1e-4)


def test_brightness_adds_one_offset_per_image_within_the_range(rng):
    x = rng.uniform(0.3, 0.7, size=(400, 3, 3, 3)).astype("float32")
    out = RandomBrightness(0.25, value_range=(0, 1), data_format="channels_first")(x, training=True).numpy()
    delta = (out - x).reshape(400, -1)
    assert_close(delta, delta[:, :1].repeat(delta.shape[1], axis=1), atol=1e-6)
    assert delta.min() >= -0.25 - 1e-6 and delta.max() <= 0.25 + 1e-6
    assert delta.min() < -0.2 and delta.max() > 0.2 and abs(delta.mean()) < 0.03
    clipped = RandomBrightness((1.0, 1.0), value_range=(0, 1))(x, training=True).numpy()
    assert np.array_equal(clipped, np.ones_like(x))


def test_configs_round_trip_and_keras_configs_load(keras, rng):
    x = torch.as_tensor(_images(rng, (2, 6, 6, 3)))
    for layer, theirs in ((RandomFlip("vertical", seed=4), keras.layers.RandomFlip("vertical", seed=4)),
                          (RandomCrop(3, 4, seed=2), keras.layers.RandomCrop(3, 4, seed=2)),
                          (RandomContrast((0.1, 0.4), seed=5), keras.layers.RandomContrast((0.1, 0.4), seed=5)),
                          (RandomBrightness(0.2, (0, 1), seed=6), keras.layers.RandomBrightness(0.2, (0, 1), seed=6))):
        cls = type(layer)
        for config in (layer.get_config(), theirs.get_config()):
            clone = cls.from_config(config | {"name": None})
            assert torch.equal(clone(x, training=True), cls.from_config(config | {"name": None})(x, training=True))
        assert layer.get_config()["seed"] == theirs.get_config()["seed"]


def test_bad_arguments_are_refused_clearly():
    with pytest.raises(ConfigError, match=r"`mode` to be one of.*Received: mode='diagonal'"):
        RandomFlip("diagonal")
    with pytest.raises(ValueError, match=r"`factor` to be a number in \[0.0, 1.0\].*Received: factor=1.5"):
        RandomContrast(1.5)
    with pytest.raises(ConfigError, match=r"`value_range` to be two numbers.*Received: value_range=255"):
        RandomBrightness(0.1, value_range=255)
    with pytest.raises(ConfigError, match=r"`seed` to be an int \(64-bit\) or None"):
        RandomFlip(seed="1")
