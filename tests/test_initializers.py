"""Initializers follow Keras's definitions: fans, scales, distributions, seeds."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from nnkit import initializers
from nnkit.errors import ConfigError
from nnkit.layers import Dense, Embedding

FAN_IN, FAN_OUT = 400, 600


def _filled(name: str, **kwargs) -> torch.Tensor:
    weight = torch.empty(FAN_OUT, FAN_IN)  # torch layout (out, in), as in nn.Linear
    initializers.get({"class_name": name, "config": kwargs} if kwargs else name)(weight)
    return weight


@pytest.mark.parametrize(("name", "limit"), [
    ("glorot_uniform", math.sqrt(6 / (FAN_IN + FAN_OUT))),
    ("he_uniform", math.sqrt(6 / FAN_IN)),
    ("lecun_uniform", math.sqrt(3 / FAN_IN)),
])
def test_uniform_limits(name, limit):
    weight = _filled(name)
    assert weight.abs().max() <= limit and weight.abs().max() > 0.99 * limit
    assert abs(weight.std().item() - limit / math.sqrt(3)) < 0.02 * limit


@pytest.mark.parametrize(("name", "std"), [
    ("glorot_normal", math.sqrt(2 / (FAN_IN + FAN_OUT))),
    ("he_normal", math.sqrt(2 / FAN_IN)),
    ("lecun_normal", math.sqrt(1 / FAN_IN)),
])
def test_truncated_normals_have_the_target_stddev(name, std):
    weight = _filled(name)
    assert abs(weight.std().item() - std) < 0.02 * std
    # truncated at two standard deviations of the underlying normal
    assert weight.abs().max() <= 2 * std / 0.87962566103423978 + 1e-6


def test_constant_zeros_ones_and_random_defaults():
    assert _filled("zeros").eq(0).all() and _filled("ones").eq(1).all()
    assert _filled("Constant", value=0.5).eq(0.5).all()
    uniform = _filled("random_uniform")
    assert uniform.min() >= -0.05 and uniform.max() <= 0.05
    assert abs(_filled("random_normal").std().item() - 0.05) < 0.002


def test_orthogonal_gives_orthonormal_rows():
    weight = torch.empty(50, 80)
    initializers.get("orthogonal")(weight)
    torch.testing.assert_close(weight @ weight.T, torch.eye(50), atol=1e-5, rtol=0)


def test_seeded_initializers_repeat():
    a, b = torch.empty(3, 4), torch.empty(3, 4)
    initializers.GlorotUniform(seed=3)(a)
    initializers.GlorotUniform(seed=3)(b)
    assert torch.equal(a, b)


def test_keras_defaults_match_keras(keras):
    assert keras.initializers.RandomNormal().get_config()["stddev"] == initializers.RandomNormal().stddev
    assert keras.initializers.RandomUniform().get_config()["maxval"] == initializers.RandomUniform().maxval
    config = keras.initializers.VarianceScaling().get_config()
    ours = initializers.VarianceScaling()
    assert (config["scale"], config["mode"], config["distribution"]) == (ours.scale, ours.mode, ours.distribution)


def test_bad_arguments_are_explained():
    with pytest.raises(ConfigError, match="Did you mean 'glorot_uniform'"):
        initializers.get("glorot_unifrom")
    with pytest.raises(ConfigError, match="mode"):
        initializers.VarianceScaling(mode="fan_middle")


@pytest.mark.parametrize("value", [np.arange(12, dtype="float32").reshape(3, 4), torch.ones(5), np.float32(2.5)])
def test_a_tensor_is_an_initializer_of_its_value_as_in_keras(keras, value):
    ours, theirs = initializers.get(value), keras.initializers.get(value)
    shape = tuple(np.shape(value))
    for dtype in (None, "float64"):
        expected = keras.ops.convert_to_numpy(theirs(shape, dtype=dtype))
        result = ours(shape, dtype=dtype)
        assert str(result.dtype).replace("torch.", "") == str(expected.dtype)
        np.testing.assert_array_equal(result.numpy(), expected)
    with pytest.raises(ValueError):
        theirs((7,))
    with pytest.raises(ConfigError, match=rf"tensor of shape {re.escape(str(shape))} cannot fill a weight of shape \(7,\)"):
        ours((7,))


def test_layers_built_from_a_tensor_initializer_hold_that_tensor(keras):
    square = np.arange(9, dtype="float32").reshape(3, 3)  # square: the layout cannot be told from the shape
    features, ids = np.ones((1, 3), dtype="float32"), np.array([[0, 2]])
    pairs = [
        (Dense(3, kernel_initializer=initializers.get(square), bias_initializer=initializers.get(np.ones(3))),
         keras.layers.Dense(3, kernel_initializer=keras.initializers.get(square),
                            bias_initializer=keras.initializers.get(np.ones(3))), features),
        (Embedding(3, 3, embeddings_initializer=initializers.get(square)),
         keras.layers.Embedding(3, 3, embeddings_initializer=keras.initializers.get(square)), ids),
    ]
    for ours, theirs, x in pairs:
        np.testing.assert_array_equal(ours(x).detach().numpy(), keras.ops.convert_to_numpy(theirs(x)))
        assert len(ours.get_weights()) == len(theirs.get_weights()) > 0
        for mine, expected in zip(ours.get_weights(), theirs.get_weights()):
            np.testing.assert_array_equal(mine, expected)
