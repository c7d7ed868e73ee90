"""Normalization layers give Keras's outputs and moving statistics on the same weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nnkit
from nnkit.layers import (
    BatchNormalization,
    Dense,
    GroupNormalization,
    Input,
    LayerNormalization,
    UnitNormalization,
)
from nnkit.models import Sequential
from tests.helpers import assert_close
from tests.layers.parity import keras_built, keras_output, nnkit_model, nnkit_output, random_weights

BN_CASES = [  # (sample shape, axis): features, channels-last images, channels-first images, sequences
    ((6,), -1),
    ((5, 4, 3), -1),
    ((3, 5, 4), 1),
    ((7, 4), -1),
    ((5, 4, 3), 2),
]


@pytest.mark.parametrize(("shape", "axis"), BN_CASES)
@pytest.mark.parametrize("training", [False, True])
def test_batch_normalization_matches_keras(keras, rng, shape, axis, training):
    k_layer = keras_built(keras, keras.layers.BatchNormalization(axis=axis), shape)
    weights = random_weights(keras, k_layer, rng)
    model = nnkit_model(BatchNormalization(axis=axis), shape, weights)
    x = rng.normal(1.0, 2.0, size=(8, *shape))
    assert_close(nnkit_output(model, x, training), keras_output(keras, k_layer, x, training), rtol=1e-4, atol=1e-5)
    # A training call updates the moving statistics exactly as Keras does (biased batch variance).
    for ours, theirs in zip(model.get_weights(), k_layer.get_weights()):
        assert_close(ours, theirs, rtol=1e-5, atol=1e-6)


def test_channels_last_batch_normalization_runs_in_torch_layout_without_extra_moves():
    model = Sequential([Input(shape=(6, 6, 4)), BatchNormalization(), BatchNormalization()])
    kinds = [type(m).__name__ for m in model.module]
    assert kinds == ["MoveChannels", "BatchNorm", "BatchNorm", "MoveChannels"]
    assert Sequential([Input(shape=(4, 6, 6)), BatchNormalization(axis=1)]).module[0].__class__.__name__ == "BatchNorm"


def test_moving_statistics_follow_keras_over_several_training_steps(keras, rng):
    k_layer = keras_built(keras, keras.layers.BatchNormalization(momentum=0.9), (3,))
    model = nnkit_model(BatchNormalization(momentum=0.9), (3,))
    for _ in range(5):
        x = rng.normal(2.0, 3.0, size=(16, 3))
        nnkit_output(model, x, training=True)
        keras_output(keras, k_layer, x, training=True)
    moving_mean, moving_variance = model.get_weights()[2:]
    assert_close(moving_mean, k_layer.moving_mean.numpy(), rtol=1e-5)
    assert_close(moving_variance, k_layer.moving_variance.numpy(), rtol=1e-5)


@pytest.mark.parametrize(("center", "scale"), [(False, True), (True, False), (False, False)])
def test_center_and_scale_switch_off_beta_and_gamma_like_keras(keras, rng, center, scale):
    k_layer = keras_built(keras, keras.layers.BatchNormalization(center=center, scale=scale), (4,))
    weights = random_weights(keras, k_layer, rng)
    model = nnkit_model(BatchNormalization(center=center, scale=scale), (4,), weights)
    x = rng.normal(size=(8, 4))
    for training in (True, False):
        assert_close(nnkit_output(model, x, training), keras_output(keras, k_layer, x, training), rtol=1e-4,
                     atol=1e-5)
    assert len(model.trainable_weights) == len(k_layer.trainable_weights)
    assert model.count_params() == k_layer.count_params()


def test_a_batch_of_one_sample_trains_like_keras(keras, rng):
    """torch's BatchNorm refuses one value per channel; Keras normalizes it to beta."""
    k_layer = keras_built(keras, keras.layers.BatchNormalization(), (4,))
    weights = random_weights(keras, k_layer, rng)
    model = nnkit_model(BatchNormalization(), (4,), weights)
    x = rng.normal(size=(1, 4))
    assert_close(nnkit_output(model, x, True), keras_output(keras, k_layer, x, True), rtol=1e-5, atol=1e-6)
    for ours, theirs in zip(model.get_weights(), k_layer.get_weights()):
        assert_close(ours, theirs, rtol=1e-5, atol=1e-6)


def _bn_pair(keras, rng, **bn_kwargs):
    k_model = keras.Sequential([keras.Input(shape=(5,)), keras.layers.Dense(8),
                                keras.layers.BatchNormalization(**bn_kwargs), keras.layers.Activation("relu"),
                                keras.layers.Dense(3, activation="softmax")])
    n_model = Sequential([Input(shape=(5,)), Dense(8), BatchNormalization(**bn_kwargs), nnkit.layers.Activation("relu"),
                          Dense(3, activation="softmax")])
    n_model.set_weights(k_model.get_weights())
    for model in (k_model, n_model):
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x = rng.normal(1.0, 2.0, size=(70, 5)).astype("float32")
    y = rng.integers(3, size=70)
    return n_model, k_model, x, y


def test_fit_matches_keras_including_moving_statistics(keras, rng):
    n_model, k_model, x, y = _bn_pair(keras, rng, momentum=0.8)
    kwargs = {"epochs": 3, "batch_size": 16, "shuffle": False, "verbose": 0}  # last batch has 6 samples
    n_hist, k_hist = n_model.fit(x, y, **kwargs).history, k_model.fit(x, y, **kwargs).history
    assert_close(n_hist["loss"], k_hist["loss"], rtol=1e-4)
    for ours, theirs in zip(n_model.get_weights(), k_model.get_weights()):
        assert_close(ours, theirs, rtol=1e-4, atol=1e-5)
    assert_close(n_model.predict(x, verbose=0), k_model.predict(x, verbose=0), rtol=1e-4, atol=1e-5)


def test_frozen_batch_normalization_runs_in_inference_mode_like_keras(keras, rng):
    n_model, k_model, x, y = _bn_pair(keras, rng)
    n_model.layers[1].trainable = False
    k_model.layers[1].trainable = False
    k_model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    n_model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    before = n_model.layers[1].get_weights()
    kwargs = {"epochs": 2, "batch_size": 16, "shuffle": False, "verbose": 0}
    assert_close(n_model.fit(x, y, **kwargs).history["loss"], k_model.fit(x, y, **kwargs).history["loss"], rtol=1e-4)
    for a, b in zip(before, n_model.layers[1].get_weights()):  # gamma, beta and moving statistics all untouched
        np.testing.assert_array_equal(a, b)
    for ours, theirs in zip(n_model.get_weights(), k_model.get_weights()):
        assert_close(ours, theirs, rtol=1e-4, atol=1e-5)
    # Unfreezing brings batch statistics back.
    n_model.layers[1].trainable = True
    assert not n_model.layers[1].module.frozen


def test_summary_counts_moving_statistics_as_non_trainable_like_keras(keras, rng):
    n_model, k_model, _, _ = _bn_pair(keras, rng)
    lines: list[str] = []
    n_model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    trainable = sum(int(np.prod(w.shape)) for w in k_model.trainable_weights)
    frozen = sum(int(np.prod(w.shape)) for w in k_model.non_trainable_weights)
    assert frozen == 16
    assert f"Total params: {k_model.count_params():,}" in text
    assert f"Trainable params: {trainable:,}" in text and f"Non-trainable params: {frozen:,}" in text
    assert n_model.count_params() == k_model.count_params()
    assert "(BatchNormalization)" in text


def test_gamma_and_beta_regularizers_and_constraints_apply(rng):
    layer = BatchNormalization(gamma_regularizer="l2", beta_constraint="non_neg")
    model = Sequential([Input(shape=(4,)), Dense(4), layer, Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(rng.normal(size=(32, 4)), rng.normal(size=(32, 1)), epochs=2, verbose=0)
    assert (layer.module.bias >= 0).all()
    assert len(layer.regularization_terms()) == 1


# -- LayerNormalization ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("shape", "axis"), [((6,), -1), ((4, 5), -1), ((4, 5), [1, 2]), ((3, 4, 5), [-2, -1])])
def test_layer_normalization_matches_keras(keras, rng, shape, axis):
    k_layer = keras_built(keras, keras.layers.LayerNormalization(axis=axis), shape)
    weights = random_weights(keras, k_layer, rng)
    model = nnkit_model(LayerNormalization(axis=axis), shape, weights)
    x = rng.normal(0.5, 2.0, size=(5, *shape))
    assert_close(nnkit_output(model, x), keras_output(keras, k_layer, x), rtol=1e-4, atol=1e-5)
    assert model.count_params() == k_layer.count_params()


@pytest.mark.parametrize(("shape", "axis"), [((4, 5), 1), ((3, 4, 5), [1, 3])])
def test_layer_normalization_over_leading_axes_matches_the_formula(rng, shape, axis):
    """Keras 3 on torch fails on these axes (it calls torch's layer_norm on the wrong axes)."""
    layer = LayerNormalization(axis=axis, gamma_initializer="random_normal", beta_initializer="random_normal")
    model = nnkit_model(layer, shape)
    gamma, beta = layer.get_weights()
    x = rng.normal(0.5, 2.0, size=(5, *shape))
    axes = tuple(a % (len(shape) + 1) for a in ([axis] if isinstance(axis, int) else axis))
    broadcast = [x.shape[a] if a in axes else 1 for a in range(x.ndim)]
    expected = (x - x.mean(axis=axes, keepdims=True)) / np.sqrt(x.var(axis=axes, keepdims=True) + 1e-3)
    expected = expected * gamma.reshape(broadcast) + beta.reshape(broadcast)
    assert gamma.shape == tuple(shape[a - 1] for a in axes)
    assert_close(nnkit_output(model, x), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(("center", "scale"), [(False, True), (True, False), (False, False)])
def test_layer_normalization_without_center_or_scale(keras, rng, center, scale):
    k_layer = keras_built(keras, keras.layers.LayerNormalization(center=center, scale=scale), (6,))
    weights = random_weights(keras, k_layer, rng)
    model = nnkit_model(LayerNormalization(center=center, scale=scale), (6,), weights)
    x = rng.normal(size=(5, 6))
    assert_close(nnkit_output(model, x), keras_output(keras, k_layer, x), rtol=1e-4, atol=1e-5)


# -- GroupNormalization -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("shape", "groups", "axis"), [((8,), 2, -1), ((5, 5, 6), 3, -1), ((6, 5, 5), 2, 1),
                                                       ((7, 4), -1, -1), ((5, 5, 4), 1, -1)])
@pytest.mark.parametrize("training", [False, True])
def test_group_normalization_matches_keras(keras, rng, shape, groups, axis, training):
    k_layer = keras_built(keras, keras.layers.GroupNormalization(groups=groups, axis=axis), shape)
    weights = random_weights(keras, k_layer, rng)
    model = nnkit_model(GroupNormalization(groups=groups, axis=axis), shape, weights)
    x = rng.normal(0.5, 2.0, size=(4, *shape))
    assert_close(nnkit_output(model, x, training), keras_output(keras, k_layer, x, training), rtol=1e-4, atol=1e-5)
    assert model.count_params() == k_layer.count_params()


def test_group_normalization_rejects_groups_that_do_not_divide_the_channels():
    with pytest.raises(ValueError, match=r"cannot split 6 channels .* groups=4"):
        nnkit_model(GroupNormalization(groups=4), (5, 5, 6))
    with pytest.raises(ValueError, match=r"`groups` to be a positive int .* groups=0"):
        GroupNormalization(groups=0)


# -- UnitNormalization ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("shape", "axis"), [((6,), -1), ((4, 5), 1), ((4, 5), [1, 2])])
def test_unit_normalization_matches_keras(keras, rng, shape, axis):
    k_layer = keras.layers.UnitNormalization(axis=axis)
    model = nnkit_model(UnitNormalization(axis=axis), shape)
    x = rng.normal(size=(5, *shape))
    x[0] = 0.0  # an all-zero sample stays zero, without NaN
    ours = nnkit_output(model, x)
    assert_close(ours, keras_output(keras, k_layer, x), rtol=1e-5, atol=1e-6)
    assert np.all(ours[0] == 0)


# -- errors ------------------------------------------------------------------------------------------------------
def test_axis_errors_name_the_layer_the_axis_and_the_input_shape():
    with pytest.raises(ValueError, match=r"BatchNormalization layer 'bn' got axis=3, .*\(None, 4, 5\)"):
        nnkit_model(BatchNormalization(axis=3, name="bn"), (4, 5))
    with pytest.raises(ValueError, match=r"batch axis 0"):
        nnkit_model(LayerNormalization(axis=0), (4,))
    with pytest.raises(ValueError, match=r"BatchNormalization expects `axis` to be an int. Received: axis=\[1, 2\]"):
        BatchNormalization(axis=[1, 2])


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"momentum": 1.5}, r"`momentum` to be a number in \[0, 1\]. Received: momentum=1.5"),
    ({"epsilon": -1}, r"`epsilon` to be a number >= 0"),
    ({"renorm": True}, r"renorm=True\) is not supported"),
    ({"gamma_initializer": "glorot_unifrom"}, r"Did you mean 'glorot_uniform'"),
    ({"beta_constraint": "max_nrom"}, r"Did you mean 'max_norm'"),
])
def test_bad_batch_normalization_arguments_fail_at_construction(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BatchNormalization(**kwargs)


def test_config_round_trip_rebuilds_the_same_layer():
    layer = BatchNormalization(momentum=0.9, epsilon=1e-4, center=False, beta_constraint="non_neg")
    clone = BatchNormalization.from_config(layer.get_config())
    assert clone.momentum == 0.9 and clone.epsilon == 1e-4 and not clone.center
    assert type(clone.beta_constraint).__name__ == "NonNeg"
    assert repr(LayerNormalization(axis=[1, 2])) == "LayerNormalization(axis=[1, 2])"


def test_normalization_modules_are_plain_torch_and_export(rng):
    model = Sequential([Input(shape=(6, 6, 4)), BatchNormalization(), GroupNormalization(2), LayerNormalization(),
                        UnitNormalization()])
    x = torch.as_tensor(rng.normal(size=(2, 6, 6, 4)), dtype=torch.float32)
    model.module.eval()
    exported = torch.export.export(model.module, (x,))
    assert_close(exported.module()(x), model.module(x), rtol=1e-5)


@pytest.mark.parametrize(("name", "kwargs", "batch_shape"), [
    ("LayerNormalization", {"axis": [1, 2, 3]}, (5, 20, 30, 40)),
    ("LayerNormalization", {"center": False}, (None, 6)),
    ("BatchNormalization", {"scale": False}, (None, 4, 3)),
    ("GroupNormalization", {"groups": 2}, (None, 4)),
])
def test_gamma_and_beta_are_named_and_built_by_hand_as_in_keras(keras, name, kwargs, batch_shape):
    """``layer.build(batch_shape)`` by hand builds the layer; ``gamma`` / ``beta`` are its weights (None when
    switched off), as in Keras."""
    def described(lib):
        layer = getattr(lib.layers, name)(**kwargs)
        layer.build(batch_shape)
        return [None if w is None else tuple(w.shape) for w in (layer.gamma, layer.beta)], layer.built

    assert described(nnkit) == described(keras)
    layer = getattr(nnkit.layers, name)(**kwargs)
    assert not hasattr(layer, "gamma")  # an AttributeError until built
    layer.build(batch_shape)
    assert all(w is None or any(w is p for p in layer.weights) for w in (layer.gamma, layer.beta))
