"""The dropout family acts only in training, with the statistics Keras's layers have."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import nnkit
from nnkit.layers import (
    ActivityRegularization,
    AlphaDropout,
    Dense,
    GaussianDropout,
    GaussianNoise,
    Input,
    SpatialDropout1D,
    SpatialDropout2D,
    SpatialDropout3D,
)
from nnkit.models import Sequential
from tests.helpers import assert_close
from tests.layers.parity import keras_output, nnkit_model, nnkit_output

LAYERS = [
    (lambda: SpatialDropout1D(0.5), lambda k: k.layers.SpatialDropout1D(0.5), (6, 4)),
    (lambda: SpatialDropout2D(0.5), lambda k: k.layers.SpatialDropout2D(0.5), (5, 5, 4)),
    (lambda: SpatialDropout3D(0.5), lambda k: k.layers.SpatialDropout3D(0.5), (3, 3, 3, 4)),
    (lambda: GaussianDropout(0.3), lambda k: k.layers.GaussianDropout(0.3), (8,)),
    (lambda: GaussianNoise(0.5), lambda k: k.layers.GaussianNoise(0.5), (8,)),
    (lambda: AlphaDropout(0.2), lambda k: k.layers.AlphaDropout(0.2), (8,)),
]


@pytest.mark.parametrize(("ours", "theirs", "shape"), LAYERS)
def test_inference_is_the_identity_like_keras(keras, rng, ours, theirs, shape):
    model = nnkit_model(ours(), shape)
    x = rng.normal(size=(4, *shape))
    assert_close(nnkit_output(model, x, training=False), keras_output(keras, theirs(keras), x), rtol=0, atol=0)
    assert_close(model.predict(x, verbose=0), x, rtol=1e-6)
    assert model.count_params() == 0


@pytest.mark.parametrize(("ours", "theirs", "shape"), LAYERS)
def test_training_changes_the_inputs(rng, ours, theirs, shape):
    model = nnkit_model(ours(), shape)
    x = rng.normal(size=(4, *shape))
    assert not np.allclose(nnkit_output(model, x, training=True), x)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_spatial_dropout_2d_drops_whole_channels(rng, data_format):
    shape = (6, 6, 32) if data_format == "channels_last" else (32, 6, 6)
    model = nnkit_model(SpatialDropout2D(0.4, data_format=data_format), shape)
    x = rng.uniform(1, 2, size=(64, *shape))
    out = nnkit_output(model, x, training=True)
    ratio = out / x
    maps = ratio.transpose(0, 3, 1, 2) if data_format == "channels_last" else ratio
    maps = maps.reshape(64, 32, -1)
    assert np.allclose(maps, maps[:, :, :1])  # one decision per (sample, channel)
    kept = maps[:, :, 0]
    assert set(np.round(np.unique(kept), 5)) <= {0.0, round(1 / 0.6, 5)}
    assert abs((kept == 0).mean() - 0.4) < 0.05


def test_spatial_dropout_1d_drops_features_at_every_step(rng):
    model = nnkit_model(SpatialDropout1D(0.5), (10, 16))
    x = rng.uniform(1, 2, size=(32, 10, 16))
    ratio = nnkit_output(model, x, training=True) / x
    assert np.allclose(ratio, ratio[:, :1, :])
    assert abs((ratio[:, 0, :] == 0).mean() - 0.5) < 0.06
    assert_close(ratio.mean(), 1.0, rtol=0.1)


def test_gaussian_dropout_multiplies_by_unit_mean_noise(rng):
    rate = 0.3
    model = nnkit_model(GaussianDropout(rate), (1000,))
    x = np.full((50, 1000), 2.0)
    noise = nnkit_output(model, x, training=True) / x
    assert abs(noise.mean() - 1.0) < 0.01
    assert abs(noise.std() - math.sqrt(rate / (1 - rate))) < 0.01


def test_gaussian_noise_adds_zero_mean_noise(rng):
    model = nnkit_model(GaussianNoise(0.25), (1000,))
    x = rng.normal(size=(50, 1000))
    noise = nnkit_output(model, x, training=True) - x
    assert abs(noise.mean()) < 0.01 and abs(noise.std() - 0.25) < 0.01


def test_alpha_dropout_keeps_mean_and_variance_with_keras_values(rng):
    rate = 0.2
    model = nnkit_model(AlphaDropout(rate), (2000,))
    x = rng.normal(size=(100, 2000)).astype("float32")
    out = nnkit_output(model, x, training=True)
    assert abs(out.mean()) < 0.02 and abs(out.var() - 1.0) < 0.03
    # Keras's formula: a * x + b for kept units, a * alpha_p + b for dropped ones.
    alpha_p = -1.6732632423543772 * 1.0507009873554805
    a = ((1 - rate) * (1 + rate * alpha_p**2)) ** -0.5
    b = -a * alpha_p * rate
    kept = np.isclose(out, a * x + b, atol=1e-5)
    dropped = np.isclose(out, a * alpha_p + b, atol=1e-5)
    assert np.all(kept | dropped) and abs(dropped.mean() - rate) < 0.01


def test_alpha_dropout_noise_shape_shares_the_mask(rng):
    model = nnkit_model(AlphaDropout(0.5, noise_shape=(None, 1, 8)), (5, 8))
    x = np.zeros((16, 5, 8), dtype="float32")  # zero inputs: the output shows the mask
    out = nnkit_output(model, x, training=True)
    assert np.allclose(out, out[:, :1, :])


def test_noise_is_reproducible_with_set_random_seed(rng):
    model = nnkit_model(GaussianNoise(1.0), (8,))
    x = rng.normal(size=(4, 8))
    nnkit.utils.set_random_seed(7)
    first = nnkit_output(model, x, training=True)
    nnkit.utils.set_random_seed(7)
    np.testing.assert_array_equal(first, nnkit_output(model, x, training=True))


def test_spatial_dropout_between_convolution_style_layers_adds_no_axis_moves():
    model = Sequential([Input(shape=(6, 6, 4)), nnkit.layers.BatchNormalization(), SpatialDropout2D(0.2)])
    assert [type(m).__name__ for m in model.module] == ["MoveChannels", "BatchNorm", "ChannelDropout", "MoveChannels"]


def test_activity_regularization_adds_keras_penalty_to_the_loss(keras, rng):
    x, y = rng.normal(size=(40, 5)).astype("float32"), rng.normal(size=(40, 3)).astype("float32")
    k_model = keras.Sequential([keras.Input(shape=(5,)), keras.layers.Dense(3),
                                keras.layers.ActivityRegularization(l1=0.01, l2=0.02)])
    n_model = Sequential([Input(shape=(5,)), Dense(3), ActivityRegularization(l1=0.01, l2=0.02)])
    n_model.set_weights(k_model.get_weights())
    for model in (k_model, n_model):
        model.compile(optimizer="sgd", loss="mse")
    assert_close(n_model.evaluate(x, y, verbose=0), k_model.evaluate(x, y, verbose=0), rtol=1e-5)
    kwargs = {"epochs": 2, "batch_size": 8, "shuffle": False, "verbose": 0}
    assert_close(n_model.fit(x, y, **kwargs).history["loss"], k_model.fit(x, y, **kwargs).history["loss"], rtol=1e-4)


def test_dropout_layers_are_active_during_fit_only(rng):
    """An identity plus noise that does not learn: training loss > 0, evaluation loss == 0."""
    identity = Dense(8, use_bias=False)
    model = Sequential([Input(shape=(8,)), GaussianNoise(1.0), identity])
    model.build()
    identity.set_weights([np.eye(8)])
    model.compile(optimizer=nnkit.optimizers.SGD(learning_rate=0.0), loss="mse")
    x = rng.normal(size=(32, 8))
    assert model.train_on_batch(x, x) > 0.5
    assert model.evaluate(x, x, verbose=0) == 0.0


@pytest.mark.parametrize(("make", "message"), [
    (lambda: SpatialDropout2D(1.0), r"SpatialDropout2D expects `rate` in \[0, 1\). Received: rate=1.0"),
    (lambda: GaussianDropout(-0.1), r"GaussianDropout expects `rate` in \[0, 1\)"),
    (lambda: GaussianNoise("big"), r"`stddev` to be a number >= 0. Received: stddev='big'"),
    (lambda: SpatialDropout2D(0.1, data_format="nhwc"), r"data_format must be 'channels_last' or 'channels_first'"),
    (lambda: AlphaDropout(0.1, noise_shape=(None, 0)), r"`noise_shape` to be a tuple of positive ints or None"),
])
def test_bad_arguments_fail_at_construction(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_wrong_rank_names_the_layer_the_expected_layout_and_the_shape():
    with pytest.raises(ValueError, match=r"SpatialDropout2D layer 'drop' expects inputs shaped "
                                         r"\(batch, height, width, channels\) but received \(None, 10\)"):
        nnkit_model(SpatialDropout2D(0.2, name="drop"), (10,))
    with pytest.raises(ValueError, match=r"noise_shape=\(None, 2, 8\) for inputs \(None, 5, 8\)"):
        nnkit_model(AlphaDropout(0.2, noise_shape=(None, 2, 8)), (5, 8))


def test_modules_are_plain_torch_and_scriptable(rng):
    model = nnkit_model(SpatialDropout2D(0.3), (4, 4, 3))
    x = torch.as_tensor(rng.normal(size=(2, 4, 4, 3)), dtype=torch.float32)
    model.module.eval()
    assert_close(torch.export.export(model.module, (x,)).module()(x), x)
