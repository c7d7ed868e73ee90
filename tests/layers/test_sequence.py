"""RepeatVector, Permute and TimeDistributed: Keras's values, shapes, weights and mask handling."""

from __future__ import annotations

import numpy as np
import pytest

from nnkit.layers import (
    LSTM,
    Conv2D,
    Dense,
    Embedding,
    Flatten,
    Input,
    MaxPooling2D,
    Permute,
    RepeatVector,
    TimeDistributed,
)
from nnkit.models import Sequential
from tests.helpers import assert_close
from tests.layers.sequence_twins import assert_same_predictions, padded_ids, twins


# -- RepeatVector ---------------------------------------------------------------------------------------------
def test_repeat_vector_matches_keras(keras, rng):
    n_model, k_model = twins(keras, [keras.layers.RepeatVector(3)], [RepeatVector(3)], (4,), rng)
    assert_same_predictions(n_model, k_model, rng.normal(size=(5, 4)).astype("float32"))
    assert n_model.output_shape == (None, 3, 4)


def test_encoder_decoder_drops_the_encoders_mask_like_keras(keras, rng):
    """LSTM(return_sequences=False) ends the mask, so a decoder of the same length sees none."""
    n_model, k_model = twins(
        keras, [keras.layers.Embedding(20, 4, mask_zero=True), keras.layers.LSTM(5), keras.layers.RepeatVector(8),
                keras.layers.LSTM(3, return_sequences=True), keras.layers.TimeDistributed(keras.layers.Dense(2))],
        [Embedding(20, 4, mask_zero=True), LSTM(5), RepeatVector(8), LSTM(3, return_sequences=True),
         TimeDistributed(Dense(2))], (8,), rng, dtype="int32")
    assert_same_predictions(n_model, k_model, padded_ids(rng, "pre"))


def test_repeat_vector_checks_its_arguments_and_input_rank():
    with pytest.raises(ValueError, match=r"`n` to be a positive int\. Received: n=0"):
        RepeatVector(0)
    with pytest.raises(ValueError, match=r"expects inputs of shape \(batch, features\) but received \(None, 5, 4\)"):
        Sequential([Input((5, 4)), RepeatVector(2)]).build()


# -- Permute --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("dims", "shape"), [((2, 1), (5, 3)), ((3, 1, 2), (2, 5, 3))])
def test_permute_matches_keras(keras, rng, dims, shape):
    n_model, k_model = twins(keras, [keras.layers.Permute(dims)], [Permute(dims)], shape, rng)
    x = rng.normal(size=(4, *shape)).astype("float32")
    assert_same_predictions(n_model, k_model, x)
    assert n_model.output_shape == (None, *(shape[d - 1] for d in dims))


def test_permute_then_dense_then_lstm_matches_keras(keras, rng):
    n_model, k_model = twins(
        keras, [keras.layers.Permute((2, 1)), keras.layers.Dense(4), keras.layers.LSTM(2)],
        [Permute((2, 1)), Dense(4), LSTM(2)], (3, 6), rng)
    assert_same_predictions(n_model, k_model, rng.normal(size=(4, 3, 6)).astype("float32"))


@pytest.mark.parametrize("dims", [(1, 1), (0, 1), (1, 3), "ab", ()])
def test_permute_rejects_non_permutations(dims):
    with pytest.raises(ValueError, match=r"permutation of 1\.\.rank"):
        Permute(dims)


def test_permute_rank_must_match_the_input():
    with pytest.raises(ValueError, match=r"dims=\(2, 1\) for samples of rank 2, but received inputs of shape"):
        Sequential([Input((2, 3, 4)), Permute((2, 1))]).build()


# -- TimeDistributed ----------------------------------------------------------------------------------------------
def test_time_distributed_dense_matches_keras(keras, rng):
    n_model, k_model = twins(keras, [keras.layers.TimeDistributed(keras.layers.Dense(3, activation="relu"))],
                             [TimeDistributed(Dense(3, activation="relu"))], (5, 4), rng)
    assert_same_predictions(n_model, k_model, rng.normal(size=(2, 5, 4)).astype("float32"))
    assert n_model.output_shape == (None, 5, 3)
    assert n_model.count_params() == k_model.count_params() == 15
    assert [w.shape for w in n_model.get_weights()] == [(4, 3), (3,)]


def test_time_distributed_convnet_matches_keras(keras, rng):
    """A channels-last convolution inside: the channel axis moves around the wrapped layer."""
    n_model, k_model = twins(
        keras, [keras.layers.TimeDistributed(keras.layers.Conv2D(2, 3, activation="relu")),
                keras.layers.TimeDistributed(keras.layers.MaxPooling2D()),
                keras.layers.TimeDistributed(keras.layers.Flatten()), keras.layers.LSTM(3)],
        [TimeDistributed(Conv2D(2, 3, activation="relu")), TimeDistributed(MaxPooling2D()),
         TimeDistributed(Flatten()), LSTM(3)], (4, 6, 6, 1), rng)
    assert_same_predictions(n_model, k_model, rng.normal(size=(3, 4, 6, 6, 1)).astype("float32"))
    assert n_model.layers[0].output_shape == (4, 4, 4, 2)


def test_time_distributed_keeps_the_mask_like_keras(keras, rng):
    n_model, k_model = twins(
        keras, [keras.layers.Embedding(20, 4, mask_zero=True), keras.layers.TimeDistributed(keras.layers.Dense(3)),
                keras.layers.LSTM(2)],
        [Embedding(20, 4, mask_zero=True), TimeDistributed(Dense(3)), LSTM(2)], (8,), rng, dtype="int32")
    assert_same_predictions(n_model, k_model, padded_ids(rng, "post"))


def test_time_distributed_regularizes_and_freezes_the_wrapped_layer():
    inner = Dense(2, kernel_regularizer="l2")
    model = Sequential([Input((3, 4)), TimeDistributed(inner)])
    model.build()
    assert len(model.layers[0].regularization_terms()) == 1
    model.layers[0].trainable = False
    assert not inner.trainable and not any(p.requires_grad for p in model.module.parameters())


def test_time_distributed_config_round_trip(rng):
    model = Sequential([Input((3, 4)), TimeDistributed(Dense(2, activation="tanh"))])
    clone = Sequential.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    x = rng.normal(size=(2, 3, 4)).astype("float32")
    assert_close(clone.predict(x, verbose=0), model.predict(x, verbose=0))


def test_time_distributed_needs_a_time_axis_and_a_layer():
    with pytest.raises(ValueError, match="TimeDistributed expects an nnkit layer"):
        TimeDistributed("dense")
    with pytest.raises(ValueError, match=r"\(batch, timesteps, \.\.\.\).*received \(None, 4\)"):
        Sequential([Input((4,)), TimeDistributed(Dense(2))]).build()
    assert np.isfinite(Sequential([Input((2, 4)), TimeDistributed(Dense(2))]).predict(np.ones((1, 2, 4)),
                                                                                         verbose=0)).all()
