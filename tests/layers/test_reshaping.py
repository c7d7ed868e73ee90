"""Zero-padding, cropping and upsampling layers give Keras's outputs and shapes, in both data formats."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnkit.errors import ConfigError, DataError
from nnkit.layers import (
    LAYERS,
    Conv2D,
    Cropping1D,
    Cropping2D,
    Input,
    MaxPooling2D,
    UpSampling1D,
    UpSampling2D,
    ZeroPadding1D,
    ZeroPadding2D,
)
from nnkit.layers.containers import MoveChannels
from nnkit.models import Sequential
from tests.helpers import assert_close
from tests.layers.spatial_helpers import check_layer, clear_error

CHANNELS_LAST, CHANNELS_FIRST = "channels_last", "channels_first"


def _image(data_format: str, spatial: tuple[int, ...], channels: int) -> tuple[int, ...]:
    return (*spatial, channels) if data_format == CHANNELS_LAST else (channels, *spatial)


@pytest.mark.parametrize("data_format", [CHANNELS_LAST, CHANNELS_FIRST])
@pytest.mark.parametrize("padding", [1, (2, 0), ((1, 2), (0, 3))], ids=str)
def test_zero_padding2d_matches_keras(keras, data_format, padding):
    check_layer(keras, "ZeroPadding2D", _image(data_format, (4, 5), 3), padding, data_format=data_format)


@pytest.mark.parametrize("data_format", [CHANNELS_LAST, CHANNELS_FIRST])
@pytest.mark.parametrize("cropping", [1, (2, 0), ((1, 2), (0, 3))], ids=str)
def test_cropping2d_matches_keras(keras, data_format, cropping):
    check_layer(keras, "Cropping2D", _image(data_format, (6, 7), 3), cropping, data_format=data_format)


@pytest.mark.parametrize("data_format", [CHANNELS_LAST, CHANNELS_FIRST])
@pytest.mark.parametrize(("size", "interpolation"), [(2, "nearest"), ((2, 3), "nearest"), ((3, 1), "nearest"),
                                                     (2, "bilinear"), ((2, 3), "bilinear"), (2, "bicubic")], ids=str)
def test_upsampling2d_matches_keras(keras, data_format, size, interpolation):
    check_layer(keras, "UpSampling2D", _image(data_format, (4, 5), 3), size, data_format=data_format,
                interpolation=interpolation)


@pytest.mark.parametrize(("name", "arg"), [("ZeroPadding1D", 2), ("ZeroPadding1D", (1, 3)), ("Cropping1D", (2, 1)),
                                           ("Cropping1D", 1), ("UpSampling1D", 3)], ids=str)
def test_1d_layers_match_keras(keras, name, arg):
    check_layer(keras, name, (7, 3), arg)


def test_zero_padding1d_channels_first_matches_keras(keras):
    check_layer(keras, "ZeroPadding1D", (3, 7), (2, 1), data_format=CHANNELS_FIRST)


@pytest.mark.parametrize("data_format", [CHANNELS_LAST, CHANNELS_FIRST])
@pytest.mark.parametrize(("name", "arg"), [("ZeroPadding3D", (1, 2, 0)), ("Cropping3D", ((1, 0), (0, 2), (1, 1))),
                                           ("UpSampling3D", (1, 2, 3))], ids=str)
def test_3d_layers_match_keras(keras, data_format, name, arg):
    check_layer(keras, name, _image(data_format, (3, 4, 5), 2), arg, data_format=data_format)


def test_reshaping_layers_between_convolutions_cost_no_axis_move():
    model = Sequential([Input(shape=(12, 12, 1)), ZeroPadding2D(1), Conv2D(4, 3), MaxPooling2D(),
                        UpSampling2D(2), Cropping2D(((1, 1), (2, 0))), Conv2D(2, 3)])
    moves = [m for m in model.module.modules() if isinstance(m, MoveChannels)]
    assert [m.to_first for m in moves] == [True, False]
    assert model.output_shape == (None, 8, 8, 2)
    assert [layer.name for layer in model.layers] == ["zero_padding2d", "conv2d", "max_pooling2d", "up_sampling2d",
                                                      "cropping2d", "conv2d_1"]
    assert all(LAYERS.get(type(layer).__name__) is type(layer) for layer in model.layers)
    assert Sequential.from_config(model.get_config()).output_shape == model.output_shape


def test_nearest_upsampling_repeats_pixels(rng):
    x = rng.random((2, 3, 4, 1)).astype("float32")
    out = Sequential([Input(shape=(3, 4, 1)), UpSampling2D((2, 3))]).predict(x, verbose=0)
    assert_close(out, np.repeat(np.repeat(x, 2, axis=1), 3, axis=2))


def test_sequence_layers_keep_channels_last_semantics(rng):
    x = rng.random((2, 5, 3)).astype("float32")
    model = Sequential([Input(shape=(5, 3)), ZeroPadding1D((1, 0)), Cropping1D((0, 2)), UpSampling1D(2)])
    expected = np.repeat(np.concatenate([np.zeros((2, 1, 3)), x], axis=1)[:, :4], 2, axis=1)
    assert_close(model.predict(x, verbose=0), expected)


def test_cropping_everything_and_wrong_rank_are_explained():
    with clear_error(DataError, "Cropping2D layer 'cropping2d'", "((2, 2), (0, 0))", "(4, 5)", "nothing"):
        Sequential([Input(shape=(4, 5, 1)), Cropping2D(((2, 2), (0, 0)))]).build()
    with clear_error(DataError, "ZeroPadding2D", "(batch, height, width, channels)", "(None, 16)", "Reshape"):
        Sequential([Input(shape=(16,)), ZeroPadding2D()]).build()
    with clear_error(DataError, "UpSampling1D", "(batch, steps, channels)", "(None, 4, 4, 1)"):
        Sequential([Input(shape=(4, 4, 1)), UpSampling1D()]).build()


@pytest.mark.parametrize(("make", "fragments"), [
    (lambda: ZeroPadding2D(-1), ["ZeroPadding2D", "`padding`", "padding=-1"]),
    (lambda: ZeroPadding2D((1, 2, 3)), ["padding=(1, 2, 3)"]),
    (lambda: Cropping2D(((1, 2), (3,))), ["`cropping`", "cropping=((1, 2), (3,))"]),
    (lambda: Cropping1D((1, 2, 3)), ["Cropping1D", "cropping=(1, 2, 3)"]),
    (lambda: UpSampling2D(0), ["`size`", "size=0"]),
    (lambda: UpSampling2D(interpolation="lanczos3"), ["`interpolation`", "'bilinear'", "'lanczos3'"]),
    (lambda: ZeroPadding2D(data_format="NCHW"), ["data_format", "'NCHW'"]),
])
def test_invalid_reshaping_arguments_are_named(make, fragments):
    with clear_error(ConfigError, *fragments):
        make()


@pytest.mark.parametrize(("name", "arg", "shape"), [
    ("ZeroPadding1D", 1, (2, 3, 2)), ("ZeroPadding2D", (1, 2), (2, 3, 2, 2)), ("ZeroPadding3D", 1, (1, 2, 2, 2, 1)),
    ("Cropping1D", 1, (2, 4, 2)), ("Cropping2D", 1, (2, 4, 4, 1)), ("Cropping3D", 1, (1, 3, 3, 3, 1)),
    ("UpSampling1D", 2, (2, 3, 2)), ("UpSampling2D", (1, 2), (2, 2, 3, 2)), ("UpSampling3D", 2, (1, 2, 2, 2, 1)),
    ("Reshape", (-1,), (2, 3, 2)), ("Flatten", None, (2, 3, 2)), ("Permute", (2, 1), (2, 3, 2)),
])
@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "bool"])
def test_integer_arrays_keep_their_dtype_like_keras(keras, name, arg, shape, dtype):
    """Weight-free layers that only move values compute on integer and boolean arrays, as Keras does."""
    x = (np.arange(np.prod(shape)).reshape(shape) % 7).astype(dtype)
    args = () if arg is None else (arg,)
    theirs = keras.ops.convert_to_numpy(getattr(keras.layers, name)(*args)(x))
    ours = LAYERS.get(name)(*args)(x).numpy()
    assert ours.dtype == theirs.dtype
    np.testing.assert_array_equal(ours, theirs)


def test_smooth_upsampling_and_layers_with_weights_still_receive_floats():
    """A deliberate difference: Keras rounds a bilinear upsampling of integers back to integers."""
    x = np.arange(8).reshape(1, 2, 2, 2)
    assert UpSampling2D(2, interpolation="bilinear")(x).dtype == torch.float32
    assert Conv2D(1, 1)(x).dtype == torch.float32
