"""GlobalAveragePooling1D and GlobalMaxPooling1D: Keras's values, data formats and mask semantics."""

from __future__ import annotations

import numpy as np
import pytest

from nnkit.layers import (
    LSTM,
    Dense,
    Embedding,
    GlobalAveragePooling1D,
    GlobalMaxPooling1D,
    Input,
    Masking,
    Reshape,
)
from nnkit.models import Sequential
from tests.helpers import assert_close
from tests.layers.sequence_twins import assert_same_predictions, padded_features, padded_ids, twins

POOLINGS = {"GlobalAveragePooling1D": GlobalAveragePooling1D, "GlobalMaxPooling1D": GlobalMaxPooling1D}


@pytest.mark.parametrize("kind", POOLINGS)
@pytest.mark.parametrize(("data_format", "keepdims", "shape"), [
    ("channels_last", False, (4,)), ("channels_last", True, (1, 4)), ("channels_first", False, (6,)),
    ("channels_first", True, (6, 1)),
])
def test_pooling_matches_keras(keras, rng, kind, data_format, keepdims, shape):
    n_model, k_model = twins(keras, [getattr(keras.layers, kind)(data_format=data_format, keepdims=keepdims)],
                             [POOLINGS[kind](data_format=data_format, keepdims=keepdims)], (6, 4), rng)
    assert_same_predictions(n_model, k_model, rng.normal(size=(3, 6, 4)).astype("float32"))
    assert n_model.output_shape == (None, *shape)


@pytest.mark.parametrize("kind", POOLINGS)
@pytest.mark.parametrize("padding", ["pre", "post"])
def test_masks_from_embedding_follow_keras(keras, rng, kind, padding):
    """The average leaves masked steps out; Keras's max does not apply the mask."""
    n_model, k_model = twins(
        keras, [keras.layers.Embedding(20, 4, mask_zero=True), getattr(keras.layers, kind)(), keras.layers.Dense(2)],
        [Embedding(20, 4, mask_zero=True), POOLINGS[kind](), Dense(2)], (8,), rng, dtype="int32")
    ids = padded_ids(rng, padding)
    keep = (ids != 0).any(axis=1)  # Keras averages an all-padding sample to NaN; nnkit gives zeros
    assert_close(n_model.predict(ids, verbose=0)[keep], k_model.predict(ids, verbose=0)[keep], atol=1e-5)


@pytest.mark.parametrize("padding", ["pre", "post", "holes"])
def test_average_of_lstm_sequences_with_masking_matches_keras(keras, rng, padding):
    n_model, k_model = twins(
        keras, [keras.layers.Masking(), keras.layers.LSTM(3, return_sequences=True),
                keras.layers.GlobalAveragePooling1D()],
        [Masking(), LSTM(3, return_sequences=True), GlobalAveragePooling1D()], (8, 3), rng)
    x = padded_features(rng, padding)
    keep = np.abs(x).sum(axis=(1, 2)) > 0
    assert_close(n_model.predict(x, verbose=0)[keep], k_model.predict(x, verbose=0)[keep], atol=1e-5)


def test_masked_average_by_hand():
    model = Sequential([Input((4,)), Embedding(5, 1, embeddings_initializer="ones", mask_zero=True),
                        GlobalAveragePooling1D()])
    model.set_weights([np.arange(5, dtype="float32").reshape(5, 1)])
    ids = np.array([[0, 0, 2, 4], [1, 2, 3, 4], [0, 0, 0, 0]])
    assert_close(model.predict(ids, verbose=0), [[3.0], [2.5], [0.0]])


def test_the_mask_ends_at_the_pooling(keras, rng):
    """Later layers see no mask, even when a later shape happens to match the mask's."""
    n_model, k_model = twins(
        keras, [keras.layers.Embedding(20, 4, mask_zero=True), keras.layers.GlobalAveragePooling1D(),
                keras.layers.Dense(8), keras.layers.Reshape((8, 1)), keras.layers.LSTM(2)],
        [Embedding(20, 4, mask_zero=True), GlobalAveragePooling1D(), Dense(8), Reshape((8, 1)), LSTM(2)],
        (8,), rng, dtype="int32")
    ids = padded_ids(rng, "pre")
    keep = (ids != 0).any(axis=1)
    assert_close(n_model.predict(ids, verbose=0)[keep], k_model.predict(ids, verbose=0)[keep], atol=1e-5)


@pytest.mark.parametrize("kind", POOLINGS)
def test_wrong_rank_names_the_layer_and_layout(kind):
    with pytest.raises(ValueError, match=r"expects inputs of shape \(batch, steps, features\) but received "
                                         r"\(None, 4, 4, 3\)"):
        Sequential([Input((4, 4, 3)), POOLINGS[kind]()]).build()


def test_unknown_data_format_is_rejected():
    with pytest.raises(ValueError, match="data_format must be 'channels_last' or 'channels_first'"):
        GlobalMaxPooling1D(data_format="NHWC")


def test_keras_names_and_aliases():
    assert GlobalAveragePooling1D().name == "global_average_pooling1d"
    assert Sequential.from_config({"layers": [{"class_name": "GlobalMaxPooling1D", "config": {}}]}).layers[0].name \
        == "global_max_pooling1d"
