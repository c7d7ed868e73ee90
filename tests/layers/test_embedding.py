"""Embedding and Masking: Keras's values, masks, weights and initializer; integer inputs and their checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import nnkit
from nnkit.layers import GRU, LSTM, Dense, Embedding, GlobalAveragePooling1D, Input, Masking, Reshape, SimpleRNN
from nnkit.models import Sequential
from tests.helpers import assert_close
from tests.layers.sequence_twins import assert_same_predictions, padded_features, padded_ids, twins


def test_embedding_looks_up_keras_rows(keras, rng):
    n_model, k_model = twins(keras, [keras.layers.Embedding(20, 4)], [Embedding(20, 4)], (8,), rng, dtype="int32")
    ids = rng.integers(0, 20, size=(5, 8))
    assert_same_predictions(n_model, k_model, ids)
    assert n_model.output_shape == (None, 8, 4)
    assert n_model.count_params() == k_model.count_params() == 80
    assert [w.shape for w in n_model.get_weights()] == [(20, 4)]


def test_embedding_of_any_input_rank():
    model = Sequential([Input((3, 5)), Embedding(10, 2)])
    assert model.output_shape == (None, 3, 5, 2)
    assert tuple(model.predict(np.zeros((4, 3, 5), dtype="int64"), verbose=0).shape) == (4, 3, 5, 2)


def test_default_initializer_is_keras_uniform():
    layer = Embedding(500, 40)
    Sequential([Input((3,)), layer]).build()
    table = layer.get_weights()[0]
    assert np.abs(table).max() <= 0.05
    assert table.std() == pytest.approx(0.1 / np.sqrt(12), rel=0.05)  # uniform on [-0.05, 0.05]


@pytest.mark.parametrize(("kind", "padding"), [("LSTM", "pre"), ("LSTM", "post"), ("GRU", "pre"), ("GRU", "post"),
                                               ("SimpleRNN", "pre"), ("SimpleRNN", "post")])
def test_mask_zero_is_honoured_by_the_recurrent_layer_like_keras(keras, rng, kind, padding):
    ours = {"LSTM": LSTM, "GRU": GRU, "SimpleRNN": SimpleRNN}[kind]
    n_model, k_model = twins(
        keras, [keras.layers.Embedding(20, 4, mask_zero=True), getattr(keras.layers, kind)(3, return_sequences=True),
                getattr(keras.layers, kind)(3)],
        [Embedding(20, 4, mask_zero=True), ours(3, return_sequences=True), ours(3)], (8,), rng, dtype="int32")
    assert_same_predictions(n_model, k_model, padded_ids(rng, padding))


def test_without_mask_zero_padding_is_an_ordinary_token(keras, rng):
    n_model, k_model = twins(keras, [keras.layers.Embedding(20, 4), keras.layers.LSTM(3)],
                             [Embedding(20, 4), LSTM(3)], (8,), rng, dtype="int32")
    ids = padded_ids(rng, "pre")
    assert_same_predictions(n_model, k_model, ids)
    masked = Sequential([Input((8,)), Embedding(20, 4, mask_zero=True), LSTM(3)])
    masked.set_weights(n_model.get_weights())
    assert not np.allclose(masked.predict(ids, verbose=0), n_model.predict(ids, verbose=0))


def test_token_ids_stay_integers_and_integral_floats_are_accepted(rng):
    model = Sequential([Input((6,)), Embedding(10, 3)])
    ids = rng.integers(0, 10, size=(4, 6))
    expected = model.predict(ids, verbose=0)
    assert_close(model.predict(ids.astype("float64"), verbose=0), expected)  # Keras casts, so do we
    assert_close(model(torch.as_tensor(ids)).detach(), expected)
    seen = []
    model.module[0].register_forward_pre_hook(lambda module, args: seen.append(args[0].dtype))
    model.predict(ids.astype("int32"), verbose=0)
    assert seen == [torch.int64]  # never through float32, which rounds ids above 2**24


@pytest.mark.parametrize(("x", "match"), [
    (np.full((3, 6), 0.5), r"'embedding' expects integer token ids, but `x` holds non-integer values such as 0\.5"),
    (np.full((3, 6), 10), r"input_dim=10, so token ids must lie in \[0, 9\], but `x` holds the id 10\. "
                          r"Use input_dim=11 or more"),
    (np.full((3, 6), -1), r"holds the id -1\. Ids must be non-negative"),
])
def test_bad_token_ids_are_caught_once_before_training(rng, x, match):
    model = Sequential([Input((6,)), Embedding(10, 3), GlobalAveragePooling1D(), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    with pytest.raises(ValueError, match=match):
        model.fit(x, np.zeros(3), verbose=0)
    with pytest.raises(ValueError, match=match):
        model.predict(x, verbose=0)


def test_bad_ids_in_validation_data_name_it(rng):
    model = Sequential([Input((6,)), Embedding(10, 3), GlobalAveragePooling1D(), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    with pytest.raises(ValueError, match="`validation_data x` holds the id 12"):
        model.fit(np.ones((3, 6)), np.zeros(3), validation_data=(np.full((2, 6), 12), np.zeros(2)), verbose=0)


def test_ids_from_a_data_loader_work_and_out_of_range_ids_name_the_layer(rng):
    ids = torch.as_tensor(rng.integers(0, 10, size=(16, 6)))
    model = Sequential([Input((6,)), Embedding(10, 3), GlobalAveragePooling1D(), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(DataLoader(TensorDataset(ids, torch.zeros(16, 1)), batch_size=8), epochs=1, verbose=0)
    bad = DataLoader(TensorDataset(torch.full((4, 6), 11), torch.zeros(4, 1)), batch_size=4)
    with pytest.raises(IndexError, match=r"Embedding layer 'embedding' received a token id outside \[0, 9\]"):
        model.evaluate(bad, verbose=0)


def test_embedding_after_another_layer_casts_float_ids(rng):
    model = Sequential([Input((6,)), Reshape((6,)), Embedding(10, 3)])
    first = Sequential([Input((6,)), Embedding(10, 3)])
    first.set_weights(model.get_weights())
    ids = rng.integers(0, 10, size=(2, 6))
    assert_close(model.predict(ids, verbose=0), first.predict(ids, verbose=0))


def test_input_length_declares_the_input_shape():
    model = Sequential([Embedding(50, 8, input_length=12), LSTM(4)])
    assert model.input_shape == (None, 12)
    assert Embedding.from_config(model.layers[0].get_config()).declared_input_shape == (12,)


def test_embeddings_regularizer_matches_keras(keras, rng):
    k_model = keras.Sequential([keras.Input((5,), dtype="int32"),
                                keras.layers.Embedding(10, 3, embeddings_regularizer=keras.regularizers.L2(0.1)),
                                keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(1)])
    n_model = Sequential([Input((5,)), Embedding(10, 3, embeddings_regularizer=nnkit.regularizers.L2(0.1)),
                          GlobalAveragePooling1D(), Dense(1)])
    n_model.set_weights(k_model.get_weights())
    ids, y = rng.integers(0, 10, size=(12, 5)), rng.normal(size=(12, 1))
    for model in (n_model, k_model):
        model.compile(optimizer="sgd", loss="mse")
    assert_close(n_model.evaluate(ids, y, verbose=0), k_model.evaluate(ids, y, verbose=0), rtol=1e-5)


def test_embeddings_constraint_is_applied_after_each_step(rng):
    model = Sequential([Input((5,)), Embedding(10, 3, embeddings_initializer="ones", embeddings_constraint="non_neg"),
                        GlobalAveragePooling1D(), Dense(1)])
    model.compile(optimizer=nnkit.optimizers.SGD(learning_rate=10.0), loss="mse")
    model.fit(rng.integers(0, 10, size=(16, 5)), np.full((16, 1), -100.0), epochs=1, verbose=0)
    assert model.get_weights()[0].min() >= 0


def test_embedding_fit_lowers_the_loss(rng):
    ids = rng.integers(1, 30, size=(128, 10))
    y = (ids == 5).any(axis=1).astype("float32")
    model = Sequential([Input((10,)), Embedding(30, 8), GlobalAveragePooling1D(), Dense(1, activation="sigmoid")])
    model.compile(optimizer=nnkit.optimizers.Adam(learning_rate=0.02), loss="binary_crossentropy")
    losses = model.fit(ids, y, epochs=10, batch_size=32, verbose=0).history["loss"]
    assert losses[-1] < 0.8 * losses[0]


@pytest.mark.parametrize(("make", "match"), [
    (lambda: Embedding(0, 4), "`input_dim` to be a positive int. Received: input_dim=0"),
    (lambda: Embedding(10, 2.5), "`output_dim` to be a positive int"),
    (lambda: Embedding(10, 4, embeddings_initializer="unifrom"), "Did you mean 'uniform'"),
    (lambda: Masking(mask_value="x"), "`mask_value` to be a number"),
])
def test_invalid_arguments_raise_clear_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_config_round_trip():
    layer = Embedding(100, 8, mask_zero=True, embeddings_initializer="random_normal", name="tokens")
    clone = Embedding.from_config(layer.get_config())
    assert (clone.input_dim, clone.output_dim, clone.mask_zero, clone.name) == (100, 8, True, "tokens")
    assert repr(layer) == ("Embedding(input_dim=100, output_dim=8, embeddings_initializer='random_normal', "
                           "mask_zero=True, name='tokens')")


# -- Masking -------------------------------------------------------------------------------------------------
def test_masking_zeroes_the_masked_steps_like_keras(keras, rng):
    n_model, k_model = twins(keras, [keras.layers.Masking(mask_value=-1.0)], [Masking(mask_value=-1.0)], (5, 3), rng)
    x = rng.normal(size=(4, 5, 3)).astype("float32")
    x[0, 1] = -1.0
    x[1, 2, 0] = -1.0  # one feature at the mask value does not mask the step
    assert_same_predictions(n_model, k_model, x)
    assert n_model.count_params() == 0


@pytest.mark.parametrize("padding", ["pre", "post", "holes"])
def test_masking_then_lstm_skips_padded_steps_like_keras(keras, rng, padding):
    n_model, k_model = twins(keras, [keras.layers.Masking(), keras.layers.LSTM(4, return_sequences=True),
                                     keras.layers.Dense(2)],
                             [Masking(), LSTM(4, return_sequences=True), Dense(2)], (8, 3), rng)
    assert_same_predictions(n_model, k_model, padded_features(rng, padding))


def test_masking_needs_a_steps_axis():
    with pytest.raises(ValueError, match=r"Masking layer 'masking' expects inputs of shape \(batch, steps, features\)"):
        Sequential([Input((4,)), Masking()]).build()
