"""Resizing and CenterCrop give Keras's values, shapes and configs, in both data formats."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnkit.errors import ConfigError, DataError
from nnkit.layers import CenterCrop, Resizing
from tests.helpers import assert_close
from tests.layers.parity import keras_output, nnkit_model, nnkit_output


def _images(rng, shape):
    return rng.uniform(0, 255, size=shape).astype("float32")


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("aspect", ["stretch", "crop", "pad"])
@pytest.mark.parametrize("size", [(5, 4), (13, 17)])
def test_resizing_matches_keras(keras, rng, interpolation, aspect, size):
    options = {"crop_to_aspect_ratio": aspect == "crop", "pad_to_aspect_ratio": aspect == "pad", "fill_value": 7.0}
    x = _images(rng, (2, 9, 12, 3))
    expected = keras_output(keras, keras.layers.Resizing(*size, interpolation=interpolation, **options), x)
    model = nnkit_model(Resizing(*size, interpolation=interpolation, **options), (9, 12, 3))
    assert model.output_shape == (None, *size, 3)
    assert_close(nnkit_output(model, x), expected, rtol=1e-5, atol=1e-3)
    assert_close(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic"])
def test_resizing_with_antialias_matches_keras(keras, rng, interpolation):
    x = _images(rng, (2, 16, 12, 1))
    expected = keras_output(keras, keras.layers.Resizing(5, 3, interpolation=interpolation, antialias=True), x)
    out = Resizing(5, 3, interpolation=interpolation, antialias=True)(x)
    assert_close(out, expected, rtol=1e-5, atol=1e-3)
    assert not np.allclose(out.numpy(), Resizing(5, 3, interpolation=interpolation)(x).numpy(), atol=1e-2)


def test_resizing_channels_first_matches_keras(keras, rng):
    x = _images(rng, (2, 3, 9, 12))
    layer = keras.layers.Resizing(6, 6, crop_to_aspect_ratio=True, data_format="channels_first")
    model = nnkit_model(Resizing(6, 6, crop_to_aspect_ratio=True, data_format="channels_first"), (3, 9, 12))
    assert model.output_shape == (None, 3, 6, 6)
    assert_close(nnkit_output(model, x), keras_output(keras, layer, x), rtol=1e-5, atol=1e-3)


def test_resizing_a_single_image_gives_the_batched_result(rng):
    x = _images(rng, (3, 10, 8, 3))
    layer = Resizing(4, 6)
    single = layer(x[1])
    assert tuple(single.shape) == (4, 6, 3)
    assert_close(single, layer(x)[1])


def test_resizing_applies_in_training_too(rng):
    x = _images(rng, (2, 8, 8, 1))
    layer = Resizing(4, 4)
    assert_close(layer(x, training=True), layer(x, training=False))


def test_resizing_config_round_trips_and_reads_keras_configs(keras, rng):
    options = {"interpolation": "bicubic", "pad_to_aspect_ratio": True, "fill_value": 3.0, "antialias": True}
    layer = Resizing(6, 5, **options)
    k_config = keras.layers.Resizing(6, 5, **options).get_config()
    config = layer.get_config()
    assert {k: v for k, v in config.items() if k != "name"} == {k: k_config[k] for k in config if k != "name"}
    x = _images(rng, (2, 7, 9, 3))
    for clone in (Resizing.from_config(config | {"name": "copy"}), Resizing.from_config(k_config | {"name": "k"})):
        assert_close(clone(x), layer(x))


def test_resizing_refuses_bad_arguments_clearly():
    with pytest.raises(ValueError, match=r"lanczos3.*not supported on torch"):
        Resizing(4, 4, interpolation="lanczos3")
    with pytest.raises(ConfigError, match=r"interpolation.*'bilinear'.*Received: interpolation='cubic'"):
        Resizing(4, 4, interpolation="cubic")
    with pytest.raises(ConfigError, match="not both"):
        Resizing(4, 4, crop_to_aspect_ratio=True, pad_to_aspect_ratio=True)
    with pytest.raises(ConfigError, match=r"`height` to be a positive int\. Received: height=0"):
        Resizing(0, 4)
    with pytest.raises(DataError, match=r"expects images \(height, width, channels\).*\(None, 8\)"):
        nnkit_model(Resizing(4, 4), (8,))


@pytest.mark.parametrize("image", [(12, 10), (6, 5), (6, 12), (8, 6)])
def test_center_crop_matches_keras_including_its_resize_of_small_images(keras, rng, image):
    x = _images(rng, (2, *image, 3))
    model = nnkit_model(CenterCrop(8, 6), (*image, 3))
    assert model.output_shape == (None, 8, 6, 3)
    assert_close(nnkit_output(model, x), keras_output(keras, keras.layers.CenterCrop(8, 6), x), rtol=1e-5, atol=1e-3)


def test_center_crop_takes_the_centre_in_both_formats_and_single_images(keras, rng):
    x = _images(rng, (2, 3, 11, 9))
    layer = CenterCrop(5, 4, data_format="channels_first")
    expected = keras_output(keras, keras.layers.CenterCrop(5, 4, data_format="channels_first"), x)
    assert_close(layer(x), expected)
    assert_close(layer(x), x[:, :, 3:8, 2:6])
    assert_close(CenterCrop(5, 4)(x[0].transpose(1, 2, 0)), x[0, :, 3:8, 2:6].transpose(1, 2, 0))


def test_center_crop_config_round_trips(rng):
    layer = CenterCrop(3, 2, name="crop")
    assert layer.get_config() == {"height": 3, "width": 2, "data_format": "channels_last", "name": "crop"}
    x = torch.as_tensor(_images(rng, (1, 5, 5, 2)))
    assert torch.equal(CenterCrop.from_config(layer.get_config() | {"name": "other"})(x), layer(x))
