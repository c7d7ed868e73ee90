"""Convolution layers compute what Keras computes on the same weights, in both data formats."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import nnkit
from nnkit.errors import ConfigError, DataError
from nnkit.layers import (
    LAYERS,
    AveragePooling2D,
    Conv1D,
    Conv2D,
    Conv2DTranspose,
    Cropping2D,
    Dense,
    DepthwiseConv2D,
    Flatten,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    Input,
    MaxPooling2D,
    SeparableConv2D,
    ZeroPadding2D,
)
from nnkit.layers.containers import MoveChannels
from nnkit.models import Sequential
from tests.helpers import assert_close
from tests.layers.spatial_helpers import assert_same_outputs, check_layer, clear_error, twins

CHANNELS_LAST, CHANNELS_FIRST = "channels_last", "channels_first"


def _image(data_format: str, spatial: tuple[int, ...], channels: int) -> tuple[int, ...]:
    return (*spatial, channels) if data_format == CHANNELS_LAST else (channels, *spatial)


@pytest.fixture
def global_channels_first(keras):
    """Both libraries default to channels-first for the duration of a test."""
    nnkit.config.set_image_data_format(CHANNELS_FIRST)
    keras.config.set_image_data_format(CHANNELS_FIRST)
    yield
    nnkit.config.set_image_data_format(CHANNELS_LAST)
    keras.config.set_image_data_format(CHANNELS_LAST)


# -- parity with Keras ----------------------------------------------------------------------------------
CONV2D_CASES = [
    dict(filters=4, kernel_size=3),
    dict(filters=4, kernel_size=(3, 2), strides=2, padding="same", activation="relu"),
    dict(filters=5, kernel_size=4, strides=(2, 3), padding="same"),  # even kernel, asymmetric 'same'
    dict(filters=4, kernel_size=2, padding="same"),  # stride 1, even kernel: extra pixel after
    dict(filters=4, kernel_size=3, dilation_rate=2, padding="same", groups=2),
    dict(filters=3, kernel_size=3, dilation_rate=(1, 2), use_bias=False, activation="tanh"),
    dict(filters=6, kernel_size=1, strides=3, padding="valid", activation="softmax"),
]


@pytest.mark.parametrize("data_format", [CHANNELS_LAST, CHANNELS_FIRST])
@pytest.mark.parametrize("kwargs", CONV2D_CASES, ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()))
def test_conv2d_matches_keras(keras, data_format, kwargs):
    check_layer(keras, "Conv2D", _image(data_format, (9, 8), 4), data_format=data_format, **kwargs)


@pytest.mark.parametrize("data_format", [CHANNELS_LAST, CHANNELS_FIRST])
@pytest.mark.parametrize("kwargs", [
    dict(filters=5, kernel_size=3),
    dict(filters=5, kernel_size=4, strides=2, padding="same"),
    dict(filters=4, kernel_size=3, padding="causal", dilation_rate=2, activation="relu"),
    dict(filters=4, kernel_size=2, padding="causal"),
    dict(filters=6, kernel_size=3, groups=3, padding="same"),
], ids=str)
def test_conv1d_matches_keras(keras, data_format, kwargs):
    check_layer(keras, "Conv1D", _image(data_format, (11,), 3), data_format=data_format, **kwargs)


@pytest.mark.parametrize("data_format", [CHANNELS_LAST, CHANNELS_FIRST])
@pytest.mark.parametrize("kwargs", [
    dict(filters=3, kernel_size=(2, 3, 2)),
    dict(filters=3, kernel_size=3, strides=2, padding="same", activation="relu"),
], ids=str)
def test_conv3d_matches_keras(keras, data_format, kwargs):
    check_layer(keras, "Conv3D", _image(data_format, (5, 6, 4), 2), data_format=data_format, **kwargs)


TRANSPOSE_CASES = [
    dict(kernel_size=3, strides=2, padding="same"),
    dict(kernel_size=3, strides=2, padding="valid"),
    dict(kernel_size=2, strides=3, padding="valid"),  # stride > kernel: Keras pads the end
    dict(kernel_size=4, strides=2, padding="same"),
    dict(kernel_size=3, strides=3, padding="same", output_padding=2),
    dict(kernel_size=3, strides=2, padding="valid", output_padding=1, activation="relu"),
    dict(kernel_size=(3, 2), strides=(1, 2), padding="same", output_padding=(0, 1)),
    dict(kernel_size=3, dilation_rate=2, padding="same"),
    dict(kernel_size=2, padding="same", use_bias=False),
]


@pytest.mark.parametrize("data_format", [CHANNELS_LAST, CHANNELS_FIRST])
@pytest.mark.parametrize("kwargs", TRANSPOSE_CASES, ids=str)
def test_conv2d_transpose_matches_keras(keras, data_format, kwargs):
    check_layer(keras, "Conv2DTranspose", _image(data_format, (5, 6), 3), 4, data_format=data_format, **kwargs)


@pytest.mark.parametrize(("name", "spatial"), [("Conv1DTranspose", (7,)), ("Conv3DTranspose", (3, 4, 3))])
def test_1d_and_3d_transposed_convolutions_match_keras(keras, name, spatial):
    check_layer(keras, name, (*spatial, 2), 3, 3, strides=2, padding="same")
    check_layer(keras, name, (2, *spatial), 3, 2, data_format=CHANNELS_FIRST)


@pytest.mark.parametrize("data_format", [CHANNELS_LAST, CHANNELS_FIRST])
@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=3),
    dict(kernel_size=(3, 2), depth_multiplier=2, strides=2, padding="same", activation="relu"),
    dict(kernel_size=2, depth_multiplier=3, padding="same", dilation_rate=2, use_bias=False),
], ids=str)
def test_depthwise_conv2d_matches_keras(keras, data_format, kwargs):
    check_layer(keras, "DepthwiseConv2D", _image(data_format, (7, 8), 3), data_format=data_format, **kwargs)


@pytest.mark.parametrize("data_format", [CHANNELS_LAST, CHANNELS_FIRST])
@pytest.mark.parametrize("kwargs", [
    dict(filters=5, kernel_size=3),
    dict(filters=4, kernel_size=3, depth_multiplier=2, strides=2, padding="same", activation="relu"),
    dict(filters=4, kernel_size=2, padding="same", dilation_rate=2, use_bias=False),
], ids=str)
def test_separable_conv2d_matches_keras(keras, data_format, kwargs):
    check_layer(keras, "SeparableConv2D", _image(data_format, (7, 8), 3), data_format=data_format, **kwargs)


@pytest.mark.parametrize("name", ["DepthwiseConv1D", "SeparableConv1D"])
def test_1d_depthwise_and_separable_match_keras(keras, name):
    args = () if name == "DepthwiseConv1D" else (4,)
    check_layer(keras, name, (9, 3), *args, kernel_size=3, depth_multiplier=2, padding="same")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(size=st.integers(1, 9), kernel=st.integers(1, 4), stride=st.integers(1, 3), dilation=st.integers(1, 3),
       padding=st.sampled_from(["valid", "same", "causal"]), name=st.sampled_from(["Conv1D", "Conv1DTranspose"]),
       data=st.data())
def test_any_window_arithmetic_matches_keras(keras, size, kernel, stride, dilation, padding, name, data):
    """Output sizes and values agree with Keras for every kernel, stride, dilation and padding."""
    assume(stride == 1 or dilation == 1)
    kwargs = dict(kernel_size=kernel, strides=stride, dilation_rate=dilation, padding=padding)
    if name == "Conv1DTranspose":
        assume(padding != "causal")
        kwargs["output_padding"] = data.draw(st.none() | st.integers(0, stride - 1), label="output_padding")
    elif padding == "valid":
        assume(size >= (kernel - 1) * dilation + 1)
    k_layer = getattr(keras.layers, name)(3, **kwargs)
    k_layer.build((None, size, 2))
    expected_shape = tuple(k_layer.compute_output_shape((None, size, 2)))
    assume(expected_shape[1] >= 1)
    rng = np.random.default_rng(size * 100 + kernel)
    k_layer.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in k_layer.get_weights()])
    x = rng.standard_normal((2, size, 2)).astype("float32")
    model = Sequential([Input(shape=(size, 2)), getattr(nnkit.layers, name)(3, **kwargs)])
    model.set_weights(k_layer.get_weights())
    assert model.output_shape == expected_shape
    assert_close(model.predict(x, verbose=0), keras.ops.convert_to_numpy(k_layer(x)), rtol=1e-5, atol=1e-5)


def test_global_channels_first_setting_applies_to_every_conv(keras, global_channels_first):
    layer = Conv2D(4, 3)
    assert layer.data_format == CHANNELS_FIRST and layer.get_config()["data_format"] == CHANNELS_FIRST
    for name, args in [("Conv2D", (4, 3)), ("Conv2DTranspose", (4, 3)), ("SeparableConv2D", (4, 3)),
                       ("DepthwiseConv2D", (3,))]:
        n_model, k_model = twins(keras, name, (3, 7, 6), *args, padding="same", strides=2)
        assert_same_outputs(n_model, k_model, (3, 7, 6))


# -- convnets: layout moves, training, regularizers and constraints ----------------------------------------
def _convnet_pair(keras, data_format, compile_kwargs):
    shape = _image(data_format, (10, 9), 2)
    k_model = keras.Sequential([
        keras.Input(shape=shape),
        keras.layers.Conv2D(6, 3, activation="relu", data_format=data_format),
        keras.layers.MaxPooling2D(2, data_format=data_format),
        keras.layers.Conv2D(8, 2, padding="same", activation="relu", data_format=data_format),
        keras.layers.Flatten(),
        keras.layers.Dense(3, activation="softmax"),
    ])
    n_model = Sequential([
        Input(shape=shape),
        Conv2D(6, 3, activation="relu", data_format=data_format),
        MaxPooling2D(2, data_format=data_format),
        Conv2D(8, 2, padding="same", activation="relu", data_format=data_format),
        Flatten(),
        Dense(3, activation="softmax"),
    ])
    n_model.set_weights(k_model.get_weights())
    for model in (n_model, k_model):
        model.compile(**compile_kwargs)
    return n_model, k_model, shape


def _data(shape, n=96, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, *shape)).astype("float32"), nnkit.utils.to_categorical(rng.integers(classes, size=n), classes)


@pytest.mark.parametrize("data_format", [CHANNELS_LAST, CHANNELS_FIRST])
def test_convnet_trains_like_keras(keras, data_format):
    n_model, k_model, shape = _convnet_pair(keras, data_format, {"loss": "categorical_crossentropy",
                                                                 "optimizer": "sgd", "metrics": ["accuracy"]})
    x, y = _data(shape)
    assert_close(n_model.predict(x, verbose=0), k_model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    fit = {"epochs": 2, "batch_size": 16, "shuffle": False, "verbose": 0}
    n_hist, k_hist = n_model.fit(x, y, **fit).history, k_model.fit(x, y, **fit).history
    assert_close(n_hist["loss"], k_hist["loss"], rtol=1e-4, atol=1e-6)
    for ours, theirs in zip(n_model.get_weights(), k_model.get_weights(), strict=True):
        assert_close(ours, theirs, rtol=1e-3, atol=1e-5)


def test_channels_last_convnet_moves_axes_once_at_each_end():
    model = Sequential([Input(shape=(10, 10, 1)), Conv2D(4, 3), MaxPooling2D(), Conv2D(4, 3), Flatten(), Dense(2)])
    moves = [m for m in model.module.modules() if isinstance(m, MoveChannels)]
    assert [m.to_first for m in moves] == [True, False]
    first = Sequential([Input(shape=(1, 10, 10)), Conv2D(4, 3, data_format=CHANNELS_FIRST), Flatten(), Dense(2)])
    assert not any(isinstance(m, MoveChannels) for m in first.module.modules())


def test_kernel_and_bias_regularizers_add_the_keras_penalty(keras):
    compile_kwargs = {"loss": "categorical_crossentropy", "optimizer": "sgd"}
    shape = (6, 6, 2)
    k_model = keras.Sequential([keras.Input(shape=shape),
                                keras.layers.Conv2D(3, 3, kernel_regularizer=keras.regularizers.L2(0.1),
                                                    bias_regularizer=keras.regularizers.L1(0.2),
                                                    bias_initializer="ones"),
                                keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3, activation="softmax")])
    n_model = Sequential([Input(shape=shape),
                          Conv2D(3, 3, kernel_regularizer=nnkit.regularizers.L2(0.1), bias_regularizer="l1"),
                          GlobalAveragePooling2D(), Dense(3, activation="softmax")])
    n_model.layers[0].bias_regularizer = nnkit.regularizers.L1(0.2)
    n_model.set_weights(k_model.get_weights())
    x, y = _data(shape)
    for model in (n_model, k_model):
        model.compile(**compile_kwargs)
    assert_close(n_model.evaluate(x, y, verbose=0), k_model.evaluate(x, y, verbose=0), rtol=1e-5)


@pytest.mark.parametrize(("name", "args", "constraint_arg"), [
    ("Conv2D", (4, 3), "kernel_constraint"),
    ("DepthwiseConv2D", (3,), "depthwise_constraint"),
    ("SeparableConv2D", (4, 3), "pointwise_constraint"),
])
def test_constraints_see_the_kernel_in_keras_layout(keras, name, args, constraint_arg):
    shape = (6, 6, 2)
    k_layer = getattr(keras.layers, name)(*args, **{constraint_arg: keras.constraints.MaxNorm(0.3, axis=[0, 1])})
    k_model = keras.Sequential([keras.Input(shape=shape), k_layer, keras.layers.GlobalMaxPooling2D(),
                                keras.layers.Dense(3, activation="softmax")])
    n_layer = getattr(nnkit.layers, name)(*args, **{constraint_arg: nnkit.constraints.MaxNorm(0.3, axis=[0, 1])})
    n_model = Sequential([Input(shape=shape), n_layer, GlobalMaxPooling2D(),
                          Dense(3, activation="softmax")])
    n_model.set_weights(k_model.get_weights())
    x, y = _data(shape, n=32)
    for model in (n_model, k_model):
        model.compile(loss="categorical_crossentropy", optimizer="sgd")
        model.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    for ours, theirs in zip(n_model.get_weights(), k_model.get_weights(), strict=True):
        assert_close(ours, theirs, rtol=1e-4, atol=1e-6)


def test_summary_shows_keras_names_shapes_and_counts(keras):
    model = Sequential([Input(shape=(28, 28, 1)), Conv2D(16, 3, activation="relu"), MaxPooling2D(),
                        Conv2D(32, 3, activation="relu"), MaxPooling2D(), Flatten(), Dense(10)])
    lines: list[str] = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    for fragment in ["conv2d (Conv2D)", "(None, 26, 26, 16)", "160", "max_pooling2d (MaxPooling2D)",
                     "(None, 13, 13, 16)", "conv2d_1 (Conv2D)", "(None, 11, 11, 32)", "4,640", "(None, 5, 5, 32)",
                     "(None, 800)", "Total params: 12,810"]:
        assert fragment in text, fragment
    assert [layer.name for layer in model.layers][:2] == ["conv2d", "max_pooling2d"]


def test_config_round_trip_and_keras_class_names():
    model = Sequential([Input(shape=(8, 8, 3)), Conv2D(4, (3, 2), strides=2, padding="same", activation="relu"),
                        SeparableConv2D(5, 3, depth_multiplier=2), Conv2DTranspose(2, 3, strides=2),
                        DepthwiseConv2D(2), Flatten(), Dense(2)])
    clone = Sequential.from_config(model.get_config())
    assert [type(a) for a in clone.layers] == [type(b) for b in model.layers]
    assert clone.output_shape == model.output_shape and clone.count_params() == model.count_params()
    assert clone.layers[0].get_config()["kernel_size"] == [3, 2]
    for name, cls in [("Conv2D", Conv2D), ("Convolution2D", Conv2D), ("conv2d", Conv2D), ("Conv1D", Conv1D),
                      ("Conv2DTranspose", Conv2DTranspose), ("conv2d_transpose", Conv2DTranspose),
                      ("SeparableConv2D", SeparableConv2D), ("SeparableConvolution2D", SeparableConv2D),
                      ("DepthwiseConv2D", DepthwiseConv2D), ("depthwise_conv2d", DepthwiseConv2D)]:
        assert LAYERS.get(name) is cls, name


def test_depthwise_kernel_is_initialized_with_keras_fans():
    # Keras: fan_in = 3 * 3 * 64 for a (3, 3, 64, 1) kernel; torch's (64, 1, 3, 3) shape alone would say 9.
    model = Sequential([Input(shape=(8, 8, 64)), DepthwiseConv2D(3, depthwise_initializer="he_uniform")])
    kernel = model.get_weights()[0]
    limit = np.sqrt(6 / (9 * 64))
    assert kernel.shape == (3, 3, 64, 1)
    assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.9 * limit


# -- bad input ---------------------------------------------------------------------------------------------
def test_conv2d_fed_flat_data_names_layout_shape_and_fixes():
    model = Sequential([Conv2D(8, 3), Flatten(), Dense(2)])
    model.compile(loss="mse", optimizer="sgd")
    x = np.zeros((10, 64), dtype="float32")
    with clear_error(ValueError, "Conv2D layer 'conv2d'", "(batch, height, width, channels)", "(None, 64)",
                 "Reshape((8, 8, 1))", "data_format='channels_first'"):
        model.fit(x, np.zeros((10, 2)), verbose=0)
    with clear_error(DataError, "Conv1D", "(batch, steps, channels)", "(None, 5, 4, 3)"):
        Sequential([Input(shape=(5, 4, 3)), Conv1D(2, 3)]).build()
    with clear_error(DataError, "(batch, channels, height, width)"):
        Sequential([Input(shape=(5, 4)), Conv2D(2, 3, data_format=CHANNELS_FIRST)]).build()


def test_kernel_larger_than_input_with_valid_padding():
    with clear_error(DataError, "Conv2D layer 'conv2d'", "padding='valid'", "kernel 5x5", "4x4", "padding='same'"):
        Sequential([Input(shape=(4, 4, 1)), Conv2D(2, 5)]).build()
    with clear_error(DataError, "dilated to 5x5"):
        Sequential([Input(shape=(4, 4, 1)), Conv2D(2, 3, dilation_rate=2)]).build()
    Sequential([Input(shape=(4, 4, 1)), Conv2D(2, 5, padding="same")]).build()  # fine with 'same'


@pytest.mark.parametrize(("make", "fragments"), [
    (lambda: Conv2D(-3, 3), ["Conv2D", "`filters`", "filters=-3"]),
    (lambda: Conv2D(0, 3), ["filters=0"]),
    (lambda: Conv2D(2.5, 3), ["filters=2.5"]),
    (lambda: Conv2D(4, 3, padding="full"), ["`padding`", "'valid' or 'same'", "padding='full'"]),
    (lambda: Conv2D(4, 3, padding="causal"), ["padding='causal'"]),
    (lambda: Conv1D(4, 3, padding="zeros"), ["'valid' or 'same' or 'causal'"]),
    (lambda: Conv2D(4, (3, 3, 3)), ["`kernel_size`", "tuple of 2", "kernel_size=(3, 3, 3)"]),
    (lambda: Conv2D(4, 0), ["kernel_size=0"]),
    (lambda: Conv2D(4, 3, strides=(1, -1)), ["`strides`", "strides=(1, -1)"]),
    (lambda: Conv2D(4, 3, strides=2, dilation_rate=2), ["strides", "dilation_rate"]),
    (lambda: Conv2D(5, 3, groups=2), ["multiple of `groups`", "filters=5"]),
    (lambda: Conv2D(4, 3, data_format="NHWC"), ["data_format", "'NHWC'"]),
    (lambda: Conv2D(4, 3, activation="relux"), ["relux", "relu"]),
    (lambda: Conv2DTranspose(4, 3, strides=2, output_padding=2), ["output_padding", "stride"]),
    (lambda: DepthwiseConv2D(3, depth_multiplier=0), ["`depth_multiplier`", "depth_multiplier=0"]),
    (lambda: SeparableConv2D(-1, 3), ["SeparableConv2D", "filters=-1"]),
    (lambda: Conv2D(4, 3, kernel_initializer="glorot_unifrom"), ["glorot_unifrom"]),
    (lambda: Conv2D(4, 3, kernel_constraint="max_nrm"), ["max_nrm"]),
])
def test_invalid_arguments_are_named(make, fragments):
    with clear_error(ConfigError, *fragments):
        make()


def test_groups_must_divide_input_channels_and_weights_must_fit():
    with clear_error(ConfigError, "groups=2", "3 channels"):
        Sequential([Input(shape=(5, 5, 3)), Conv2D(4, 3, groups=2)]).build()
    model = Sequential([Input(shape=(5, 5, 3)), Conv2D(4, 3)])
    with clear_error(ConfigError, "(3, 3, 3, 4)", "(4, 3, 3, 3)"):
        model.set_weights([np.zeros((4, 3, 3, 3)), np.zeros(4)])


def test_built_module_is_plain_pytorch_that_torch_export_accepts(rng):
    model = Sequential([Input(shape=(9, 9, 2)), ZeroPadding2D(1), Conv2D(4, 4, strides=2, padding="same"),
                        AveragePooling2D(3, strides=2, padding="same"), Conv2DTranspose(3, 3, strides=2, padding="same"),
                        Cropping2D(1), SeparableConv2D(2, 2, activation=lambda t: 2 * t), GlobalMaxPooling2D(),
                        Dense(2, activation="softmax")])
    x = torch.as_tensor(rng.random((3, 9, 9, 2)), dtype=torch.float32)
    exported = torch.export.export(model.module.eval(), (x,))
    assert_close(exported.module()(x), model(x))
