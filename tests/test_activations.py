"""Activations match Keras by name, as functions and as modules."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnkit import activations
from nnkit.errors import ConfigError
from tests.helpers import assert_close

NAMES = ["relu", "sigmoid", "tanh", "softmax", "gelu", "elu", "selu", "softplus", "softsign", "silu", "swish",
         "leaky_relu", "linear", "exponential", "hard_sigmoid", "relu6", "mish", "hard_silu", "log_softmax"]


@pytest.mark.parametrize("name", NAMES)
def test_function_and_module_match_keras(keras, name):
    x = np.linspace(-4, 4, 24, dtype="float32").reshape(4, 6)
    expected = keras.ops.convert_to_numpy(keras.activations.get(name)(keras.ops.convert_to_tensor(x)))
    assert_close(activations.get(name)(torch.from_numpy(x)), expected, rtol=1e-5, atol=1e-6)
    module = activations.module(name)
    result = torch.from_numpy(x) if module is None else module(torch.from_numpy(x))
    assert_close(result, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("negative_slope", [0.0, 0.3])
@pytest.mark.parametrize("max_value", [None, 6, 2.5])
@pytest.mark.parametrize("threshold", [0.0, 1.5, -1.0])
def test_relu_options_match_keras(keras, negative_slope, max_value, threshold):
    x = np.linspace(-8, 8, 33, dtype="float32")
    kwargs = {"negative_slope": negative_slope, "max_value": max_value, "threshold": threshold}
    expected = keras.ops.convert_to_numpy(keras.activations.relu(x, **kwargs))
    assert_close(activations.relu(x, **kwargs), expected, rtol=1e-6, atol=1e-6)


def test_callables_and_modules_pass_through():
    def double(x):
        return 2 * x

    assert activations.get(double) is double
    assert activations.module(double)(torch.ones(2)).tolist() == [2.0, 2.0]
    relu = torch.nn.ReLU()
    assert activations.module(relu) is relu
    assert activations.module(None) is None and activations.module("linear") is None
    assert activations.serialize(activations.relu) == "relu" and activations.serialize(double) is double


def test_unknown_name_suggests_the_closest():
    with pytest.raises(ConfigError, match=r"Unknown activation 'sigmiod'\. Did you mean 'sigmoid'\?"):
        activations.get("sigmiod")
