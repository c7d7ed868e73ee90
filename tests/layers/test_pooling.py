"""Pooling layers compute what Keras (and TensorFlow's 'same' padding) compute, in both data formats."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from nnkit.errors import ConfigError, DataError
from nnkit.layers import (
    LAYERS,
    AveragePooling1D,
    AveragePooling2D,
    AveragePooling3D,
    Conv2D,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    Input,
    MaxPooling2D,
)
from nnkit.models import Sequential
from tests.helpers import assert_close
from tests.layers.spatial_helpers import check_layer, clear_error

CHANNELS_LAST, CHANNELS_FIRST = "channels_last", "channels_first"


def _image(data_format: str, spatial: tuple[int, ...], channels: int) -> tuple[int, ...]:
    return (*spatial, channels) if data_format == CHANNELS_LAST else (channels, *spatial)


def _symmetric_same(size: int, pool: int, stride: int) -> bool:
    out = -(-size // stride)
    return max(0, (out - 1) * stride + pool - size) % 2 == 0


# (pool_size, strides) on a 7x8 image; with 'same' some pad symmetrically, some with the extra pixel after.
WINDOWS = [(2, None), (3, 2), (3, 1), (2, 3), ((3, 2), (1, 2)), ((2, 3), (2, 1))]


@pytest.mark.parametrize("data_format", [CHANNELS_LAST, CHANNELS_FIRST])
@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize(("pool_size", "strides"), WINDOWS, ids=str)
def test_max_pooling2d_matches_keras(keras, data_format, padding, pool_size, strides):
    check_layer(keras, "MaxPooling2D", _image(data_format, (7, 8), 3), pool_size, strides=strides, padding=padding,
                data_format=data_format)


@pytest.mark.parametrize("data_format", [CHANNELS_LAST, CHANNELS_FIRST])
@pytest.mark.parametrize(("pool_size", "strides"), WINDOWS, ids=str)
def test_average_pooling2d_matches_keras(keras, data_format, pool_size, strides):
    shape = _image(data_format, (7, 8), 3)
    check_layer(keras, "AveragePooling2D", shape, pool_size, strides=strides, padding="valid", data_format=data_format)
    sizes, pools = (7, 8), (pool_size,) * 2 if isinstance(pool_size, int) else pool_size
    steps = pools if strides is None else (strides,) * 2 if isinstance(strides, int) else strides
    if all(_symmetric_same(n, p, s) for n, p, s in zip(sizes, pools, steps)):
        # Keras 3.15's torch backend replicates edge values when 'same' pads unevenly (TensorFlow and
        # JAX average over the valid inputs); those cases are checked by hand below.
        check_layer(keras, "AveragePooling2D", shape, pool_size, strides=strides, padding="same",
                    data_format=data_format)


def _reference_average_same(x: np.ndarray, pool: tuple[int, ...], strides: tuple[int, ...]) -> np.ndarray:
    """TensorFlow's 'same' average pooling of channels-last ``x``: the mean of the unpadded inputs."""
    spatial = x.shape[1:-1]
    outs = [-(-n // s) for n, s in zip(spatial, strides)]
    starts = [max(0, (o - 1) * s + p - n) // 2 for n, p, s, o in zip(spatial, pool, strides, outs)]
    result = np.zeros((x.shape[0], *outs, x.shape[-1]))
    for index in itertools.product(*(range(o) for o in outs)):
        window = tuple(slice(max(0, i * s - b), max(0, i * s - b + p))
                       for i, s, b, p in zip(index, strides, starts, pool))
        result[(slice(None), *index)] = x[(slice(None), *window)].mean(axis=tuple(range(1, len(spatial) + 1)))
    return result


@pytest.mark.parametrize(("layer", "shape", "pool", "strides"), [
    (AveragePooling1D, (9, 2), (3,), (2,)),
    (AveragePooling1D, (5, 2), (4,), (1,)),
    (AveragePooling2D, (7, 8, 3), (3, 3), (2, 2)),
    (AveragePooling2D, (7, 8, 3), (2, 2), (3, 3)),
    (AveragePooling2D, (7, 8, 3), (4, 3), (3, 2)),
    (AveragePooling2D, (6, 6, 1), (2, 4), (1, 1)),
    (AveragePooling3D, (5, 6, 4, 2), (3, 3, 2), (2, 2, 3)),
], ids=str)
def test_average_pooling_same_divides_by_the_valid_inputs_only(rng, layer, shape, pool, strides):
    x = rng.standard_normal((3, *shape)).astype("float32")
    model = Sequential([Input(shape=shape), layer(pool, strides=strides, padding="same")])
    assert_close(model.predict(x, verbose=0), _reference_average_same(x, pool, strides), rtol=1e-5, atol=1e-6)
    first = Sequential([Input(shape=(shape[-1], *shape[:-1])),
                        layer(pool, strides=strides, padding="same", data_format=CHANNELS_FIRST)])
    assert_close(first.predict(np.moveaxis(x, -1, 1), verbose=0),
                 np.moveaxis(_reference_average_same(x, pool, strides), -1, 1), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("data_format", [CHANNELS_LAST, CHANNELS_FIRST])
@pytest.mark.parametrize("name", ["MaxPooling1D", "AveragePooling1D"])
@pytest.mark.parametrize(("pool_size", "strides", "padding"), [(2, None, "valid"), (3, 2, "same"), (3, 1, "same"),
                                                               (4, 2, "valid")], ids=str)
def test_1d_poolings_match_keras(keras, data_format, name, pool_size, strides, padding):
    check_layer(keras, name, _image(data_format, (9,), 3), pool_size, strides=strides, padding=padding,
                data_format=data_format)


@pytest.mark.parametrize("data_format", [CHANNELS_LAST, CHANNELS_FIRST])
@pytest.mark.parametrize(("name", "padding"), [("MaxPooling3D", "valid"), ("MaxPooling3D", "same"),
                                               ("AveragePooling3D", "valid")])
def test_3d_poolings_match_keras(keras, data_format, name, padding):
    check_layer(keras, name, _image(data_format, (5, 6, 4), 2), (2, 3, 2), strides=(2, 1, 2), padding=padding,
                data_format=data_format)


@pytest.mark.parametrize("data_format", [CHANNELS_LAST, CHANNELS_FIRST])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("name", ["GlobalAveragePooling2D", "GlobalMaxPooling2D", "GlobalAveragePooling3D",
                                  "GlobalMaxPooling3D"])
def test_global_poolings_match_keras(keras, data_format, keepdims, name):
    spatial = (5, 6) if name.endswith("2D") else (3, 4, 5)
    check_layer(keras, name, _image(data_format, spatial, 4), data_format=data_format, keepdims=keepdims)


def test_max_pooling_same_never_picks_the_padding(rng):
    x = -1 - rng.random((2, 5, 5, 1)).astype("float32")  # all negative: a zero pad would win
    out = Sequential([Input(shape=(5, 5, 1)), MaxPooling2D(2, padding="same")]).predict(x, verbose=0)
    assert out.shape == (2, 3, 3, 1) and (out < -1).all()
    assert_close(out[:, -1, -1, 0], x[:, -1, -1, 0])


def test_pooling_has_no_weights_and_keras_names():
    model = Sequential([Input(shape=(8, 8, 2)), Conv2D(3, 3), MaxPooling2D(), GlobalAveragePooling2D()])
    model.build()
    assert model.layers[1].get_weights() == [] and model.layers[1].count_params() == 0
    assert [layer.name for layer in model.layers] == ["conv2d", "max_pooling2d", "global_average_pooling2d"]
    assert model.output_shape == (None, 3)
    for name, cls in [("MaxPooling2D", MaxPooling2D), ("MaxPool2D", MaxPooling2D), ("max_pooling2d", MaxPooling2D),
                      ("AvgPool2D", AveragePooling2D), ("GlobalAvgPool2D", GlobalAveragePooling2D),
                      ("GlobalMaxPool2D", GlobalMaxPooling2D)]:
        assert LAYERS.get(name) is cls, name
    clone = Sequential.from_config(model.get_config())
    assert clone.output_shape == model.output_shape


def test_pool_larger_than_input_and_wrong_rank_are_explained():
    with clear_error(DataError, "MaxPooling2D layer 'max_pooling2d'", "pool 3x3", "2x2", "padding='same'",
                     "pool_size"):
        Sequential([Input(shape=(2, 2, 4)), MaxPooling2D(3)]).build()
    Sequential([Input(shape=(2, 2, 4)), MaxPooling2D(3, padding="same")]).build()
    with clear_error(DataError, "GlobalMaxPooling2D", "(batch, height, width, channels)", "(None, 10)"):
        Sequential([Input(shape=(10,)), GlobalMaxPooling2D()]).build()
    with clear_error(DataError, "AveragePooling1D", "(batch, steps, channels)", "(None, 4, 4, 4)"):
        Sequential([Input(shape=(4, 4, 4)), AveragePooling1D(2)]).build()


@pytest.mark.parametrize(("make", "fragments"), [
    (lambda: MaxPooling2D(0), ["`pool_size`", "pool_size=0"]),
    (lambda: MaxPooling2D((2, 2, 2)), ["tuple of 2", "pool_size=(2, 2, 2)"]),
    (lambda: AveragePooling2D(2, strides=-1), ["`strides`", "strides=-1"]),
    (lambda: MaxPooling2D(padding="full"), ["`padding`", "padding='full'"]),
    (lambda: GlobalAveragePooling2D(data_format="channels_middle"), ["data_format", "'channels_middle'"]),
])
def test_invalid_pooling_arguments_are_named(make, fragments):
    with clear_error(ConfigError, *fragments):
        make()
