"""Bidirectional: Keras's merge modes, masking, weight order and counts on the same weights."""

from __future__ import annotations

import numpy as np
import pytest

from nnkit.layers import GRU, LSTM, Bidirectional, Dense, Embedding, Input, Masking, SimpleRNN
from nnkit.models import Sequential
from tests.helpers import assert_close
from tests.layers.sequence_twins import assert_same_predictions, padded_features, padded_ids, twins

KINDS = {"SimpleRNN": SimpleRNN, "LSTM": LSTM, "GRU": GRU}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave"])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_outputs_match_keras(keras, rng, kind, merge_mode, return_sequences):
    n_model, k_model = twins(
        keras, [keras.layers.Bidirectional(getattr(keras.layers, kind)(3, return_sequences=return_sequences),
                                           merge_mode=merge_mode)],
        [Bidirectional(KINDS[kind](3, return_sequences=return_sequences), merge_mode=merge_mode)], (6, 2), rng)
    assert_same_predictions(n_model, k_model, rng.normal(size=(5, 6, 2)).astype("float32"))
    width = 6 if merge_mode == "concat" else 3
    assert n_model.output_shape == ((None, 6, width) if return_sequences else (None, width))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("padding", ["pre", "post", "holes"])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_masks_match_keras(keras, rng, kind, padding, return_sequences):
    """Keras zeroes the masked steps of both directions inside Bidirectional."""
    n_model, k_model = twins(
        keras, [keras.layers.Masking(),
                keras.layers.Bidirectional(getattr(keras.layers, kind)(3, return_sequences=return_sequences))],
        [Masking(), Bidirectional(KINDS[kind](3, return_sequences=return_sequences))], (8, 3), rng)
    assert_same_predictions(n_model, k_model, padded_features(rng, padding))


@pytest.mark.parametrize("padding", ["pre", "post"])
def test_embedding_bidirectional_lstm_stack_matches_keras(keras, rng, padding):
    n_model, k_model = twins(
        keras, [keras.layers.Embedding(20, 4, mask_zero=True),
                keras.layers.Bidirectional(keras.layers.LSTM(3, return_sequences=True)),
                keras.layers.Bidirectional(keras.layers.GRU(2)), keras.layers.Dense(1, activation="sigmoid")],
        [Embedding(20, 4, mask_zero=True), Bidirectional(LSTM(3, return_sequences=True)), Bidirectional(GRU(2)),
         Dense(1, activation="sigmoid")], (8,), rng, dtype="int32")
    assert_same_predictions(n_model, k_model, padded_ids(rng, padding))


@pytest.mark.parametrize(("kind", "extra"), [("LSTM", 2 * 12), ("GRU", 0)])
def test_weights_are_forward_then_backward_with_keras_counts(keras, rng, kind, extra):
    n_model, k_model = twins(keras, [keras.layers.Bidirectional(getattr(keras.layers, kind)(3))],
                             [Bidirectional(KINDS[kind](3))], (6, 2), rng)
    ours, theirs = n_model.get_weights(), k_model.get_weights()
    assert [w.shape for w in ours] == [w.shape for w in theirs]
    for a, b in zip(ours, theirs):
        assert_close(a, b, rtol=0, atol=0)
    layer = n_model.layers[0]
    assert_close(layer.forward_layer.get_weights()[0], theirs[0], rtol=0, atol=0)
    assert_close(layer.backward_layer.get_weights()[0], theirs[len(theirs) // 2], rtol=0, atol=0)
    assert n_model.count_params() == k_model.count_params() + extra
    assert layer.backward_layer.go_backwards and layer.backward_layer.name == f"backward_{layer.forward_layer.name}"


def test_training_matches_keras(keras, rng):
    n_model, k_model = twins(keras, [keras.layers.Bidirectional(keras.layers.LSTM(3), merge_mode="sum"),
                                     keras.layers.Dense(1)],
                             [Bidirectional(LSTM(3), merge_mode="sum"), Dense(1)], (6, 2), rng)
    x = rng.normal(size=(16, 6, 2)).astype("float32")
    y = x[:, :, 1].sum(axis=1, keepdims=True)
    for model in (n_model, k_model):
        model.compile(optimizer="sgd", loss="mse")
    fit = {"epochs": 2, "batch_size": 8, "shuffle": False, "verbose": 0}
    assert_close(n_model.fit(x, y, **fit).history["loss"], k_model.fit(x, y, **fit).history["loss"], rtol=1e-5)


def test_input_shape_may_sit_on_the_wrapped_layer():
    model = Sequential([Bidirectional(LSTM(4, return_sequences=True, input_shape=(10, 3))), Dense(1)])
    assert model.input_shape == (None, 10, 3)
    assert model.output_shape == (None, 10, 1)


def test_an_explicit_backward_layer_is_used(rng):
    backward = GRU(3, go_backwards=True, activation="relu")
    layer = Bidirectional(GRU(3), backward_layer=backward)
    Sequential([Input((5, 2)), layer]).build()
    assert layer.backward_layer is backward and not layer.backward_layer.module.fused


def test_trainable_false_freezes_both_directions():
    model = Sequential([Input((5, 2)), Bidirectional(LSTM(3))])
    model.layers[0].trainable = False
    assert not any(p.requires_grad for p in model.module.parameters())
    model.layers[0].trainable = True
    assert sum(p.numel() for p in model.module.parameters() if p.requires_grad) == 2 * (2 * 12 + 3 * 12 + 12)


def test_config_round_trip(rng):
    model = Sequential([Input((5, 2)), Bidirectional(GRU(3, return_sequences=True), merge_mode="ave")])
    clone = Sequential.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    x = rng.normal(size=(2, 5, 2)).astype("float32")
    assert_close(clone.predict(x, verbose=0), model.predict(x, verbose=0))
    assert clone.layers[0].merge_mode == "ave" and clone.layers[0].return_sequences


@pytest.mark.parametrize(("make", "match"), [
    (lambda: Bidirectional(Dense(3)), "recurrent layer such as LSTM"),
    (lambda: Bidirectional(LSTM(3), merge_mode=None), "merge_mode=None returns two tensors"),
    (lambda: Bidirectional(LSTM(3), merge_mode="max"), "Received: merge_mode='max'"),
    (lambda: Bidirectional(LSTM(3), backward_layer=LSTM(3)), "opposite directions"),
    (lambda: Bidirectional(LSTM(3), backward_layer=LSTM(3, go_backwards=True, return_sequences=True)),
     "agree on return_sequences"),
])
def test_invalid_arguments_raise_clear_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_set_weights_checks_the_count():
    layer = Bidirectional(LSTM(3))
    Sequential([Input((5, 2)), layer]).build()
    with pytest.raises(ValueError, match=r"6 weight arrays \(3 per direction\) but set_weights received 3"):
        layer.set_weights(layer.get_weights()[:3])
    assert np.all(np.isfinite(np.concatenate([w.ravel() for w in layer.get_weights()])))
