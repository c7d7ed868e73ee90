"""Normalization (with adapt) and Rescaling match Keras."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnkit.layers import Dense, Input, Normalization, Rescaling
from nnkit.models import Sequential
from tests.helpers import assert_close
from tests.layers.parity import keras_output, nnkit_model, nnkit_output


@pytest.mark.parametrize(("shape", "axis"), [((4,), -1), ((3, 4), -1), ((3, 4), (1, 2)), ((3, 4), 1), ((4,), None)])
def test_adapt_on_an_array_matches_keras(keras, rng, shape, axis):
    data = rng.normal(3.0, 2.0, size=(50, *shape)).astype("float32")
    k_layer = keras.layers.Normalization(axis=axis)
    k_layer.adapt(data)
    layer = Normalization(axis=axis)
    layer.adapt(data)
    model = nnkit_model(layer, shape)
    x = rng.normal(size=(6, *shape))
    assert_close(nnkit_output(model, x), keras_output(keras, k_layer, x), rtol=1e-5, atol=1e-5)
    for ours, theirs in zip(layer.get_weights(), k_layer.get_weights()):
        assert_close(ours, theirs, rtol=1e-5, atol=1e-6)
    assert model.count_params() == k_layer.count_params()


def test_adapt_on_batches_gives_the_statistics_of_all_the_data(keras, rng):
    """Keras needs TensorFlow to adapt on an iterable; its result is that of the concatenated data."""
    batches = [rng.normal(i, 1 + i, size=(n, 3)).astype("float32") for i, n in enumerate((10, 7, 25))]
    k_layer = keras.layers.Normalization()
    k_layer.adapt(np.concatenate(batches))
    layer = Normalization()
    layer.adapt(iter([(torch.as_tensor(b), None) for b in batches]))  # (x, y) batches, e.g. from a DataLoader
    for ours, theirs in zip(layer.get_weights()[:2], k_layer.get_weights()[:2]):
        assert_close(ours, theirs, rtol=1e-5)


@pytest.mark.parametrize(("mean", "variance"), [(2.0, 4.0), ([1.0, 2.0, 3.0], [1.0, 4.0, 9.0])])
@pytest.mark.parametrize("invert", [False, True])
def test_given_mean_and_variance_match_keras(keras, rng, mean, variance, invert):
    k_layer = keras.layers.Normalization(mean=mean, variance=variance, invert=invert)
    model = nnkit_model(Normalization(mean=mean, variance=variance, invert=invert), (3,))
    x = rng.normal(size=(5, 3))
    assert_close(nnkit_output(model, x), keras_output(keras, k_layer, x), rtol=1e-5, atol=1e-6)
    assert model.count_params() == 0 and model.get_weights() == []


def test_adapt_before_or_after_building_the_model_standardizes_inputs(rng):
    data = rng.normal(5.0, 3.0, size=(200, 4))
    early = Normalization()
    early.adapt(data)
    late = Normalization()
    model = Sequential([Input(shape=(4,)), late, Dense(1)])
    model.build()
    late.adapt(data)
    for layer in (early, late):
        out = nnkit_output(nnkit_model(layer, (4,)) if layer is early else Sequential([Input(shape=(4,)), layer]),
                           data)
        assert_close(out.mean(axis=0), np.zeros(4), atol=1e-5)
        assert_close(out.std(axis=0), np.ones(4), rtol=1e-4)


def test_normalization_trains_inside_a_model_and_its_statistics_stay_fixed(rng):
    data = rng.normal(100.0, 20.0, size=(64, 4))
    norm = Normalization()
    norm.adapt(data)
    model = Sequential([Input(shape=(4,)), norm, Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    before = norm.get_weights()
    model.fit(data, data[:, :1] / 100, epochs=2, verbose=0)
    for a, b in zip(before, norm.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert len(model.non_trainable_weights) == 3


def test_normalization_errors_are_clear(rng):
    with pytest.raises(ValueError, match=r"needs both `mean` and `variance`"):
        Normalization(mean=1.0)
    with pytest.raises(ValueError, match=r"same shape. Received shapes \(2,\) and \(3,\)"):
        Normalization(mean=[1, 2], variance=[1, 2, 3])
    with pytest.raises(ValueError, match=r"adapt\(\) is for layers created without them"):
        Normalization(mean=1.0, variance=1.0).adapt(np.ones((3, 2)))
    layer = Normalization(name="norm")
    layer.adapt(rng.normal(size=(10, 3)))
    with pytest.raises(ValueError, match=r"'norm' was adapted on data with \(3,\) .* \(None, 5\)"):
        nnkit_model(layer, (5,))
    with pytest.raises(ValueError, match=r"NaN or inf"):
        Normalization().adapt(np.array([[1.0, np.nan]]))
    with pytest.raises(ValueError, match=r"empty iterable"):
        Normalization().adapt(iter([]))


@pytest.mark.parametrize(("scale", "offset"), [(1 / 255, 0.0), (2.0, -1.0), ([1.0, 2.0, 3.0], [0.5, 0.0, -0.5])])
def test_rescaling_matches_keras(keras, rng, scale, offset):
    k_layer = keras.layers.Rescaling(scale, offset)
    model = nnkit_model(Rescaling(scale, offset), (4, 4, 3))
    x = rng.uniform(0, 255, size=(2, 4, 4, 3))
    assert_close(nnkit_output(model, x), keras_output(keras, k_layer, x), rtol=1e-5, atol=1e-6)
    assert model.count_params() == 0


def test_rescaling_errors():
    with pytest.raises(ValueError, match=r"`scale` to be a finite number or list. Received: 'a'"):
        Rescaling("a")
    with pytest.raises(ValueError, match=r"cannot broadcast a scale/offset of shape \(2,\) against inputs \(None, 3\)"):
        nnkit_model(Rescaling([1.0, 2.0]), (3,))
