"""IntegerLookup and StringLookup reproduce Keras's documented outputs (Keras's own lookups need TensorFlow,
so its docstring examples and test-suite values are the reference), train in models and survive saving."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import torch

import nnkit
from nnkit.layers import CategoryEncoding, Concatenate, Dense, Discretization, Input, IntegerLookup, StringLookup
from nnkit.models import Model, Sequential, load_model
from tests.helpers import assert_close

VOCAB = [12, 36, 1138, 42]
DATA = np.array([[12, 1138, 42], [42, 1000, 36]])
COUNTED = np.array([[12, 1138, 42, 42], [42, 7, 36, 7]])
LETTERS = ["a", "b", "c", "d"]
WORDS = [["a", "c", "d", "d"], ["d", "z", "b", "z"]]


def test_integer_lookup_docstring_examples():
    assert IntegerLookup(vocabulary=VOCAB)(DATA).tolist() == [[1, 3, 4], [4, 0, 2]]
    adapted = IntegerLookup()
    adapted.adapt(DATA)
    assert adapted.get_vocabulary() == [-1, 42, 1138, 1000, 36, 12]  # by count, ties by descending token
    assert adapted(DATA).tolist() == [[5, 2, 1], [1, 3, 4]]
    two_oov = IntegerLookup(vocabulary=VOCAB, num_oov_indices=2)
    assert two_oov(np.array([[12, 1138, 42], [37, 1000, 36]])).tolist() == [[2, 4, 5], [1, 0, 3]]
    oov = np.array([100, 300, 700, 1100, 1700, 2000])
    assert IntegerLookup(vocabulary=[10, 20, 30], num_oov_indices=4)(oov).tolist() == [0] * 6
    farmhash = IntegerLookup(vocabulary=[10, 20, 30], num_oov_indices=4, oov_method="farmhash")
    assert farmhash(oov).tolist() == [3, 3, 2, 2, 0, 1]


@pytest.mark.parametrize(("mode", "expected"), [
    ("multi_hot", [[0, 1, 0, 1, 1], [1, 0, 1, 0, 1]]),
    ("count", [[0, 1, 0, 1, 2], [2, 0, 1, 0, 1]]),
])
@pytest.mark.parametrize("kind", ["integer", "string"])
def test_encoded_docstring_examples(kind, mode, expected):
    layer = (IntegerLookup(vocabulary=VOCAB, output_mode=mode) if kind == "integer"
             else StringLookup(vocabulary=LETTERS, output_mode=mode))
    out = layer(COUNTED if kind == "integer" else WORDS)
    assert out.dtype == torch.float32
    assert_close(out, expected)


@pytest.mark.parametrize("kind", ["integer", "string"])
def test_tf_idf_docstring_examples(kind):
    vocab, data, oov = (VOCAB, COUNTED, -1) if kind == "integer" else (LETTERS, WORDS, "[UNK]")
    cls = IntegerLookup if kind == "integer" else StringLookup
    layer = cls(output_mode="tf_idf", vocabulary=vocab, idf_weights=[0.25, 0.75, 0.6, 0.4])
    assert_close(layer(data), [[0, .25, 0, .6, .8], [1.0, 0, .75, 0, .4]])  # OOV weight: the mean, 0.5
    layer = cls(output_mode="tf_idf")
    layer.set_vocabulary([oov, *vocab], idf_weights=[0.9, 0.25, 0.75, 0.6, 0.4])
    assert_close(layer(data), [[0, .25, 0, .6, .8], [1.8, 0, .75, 0, .4]])


def test_one_hot_and_invert_docstring_examples():
    one_hot = IntegerLookup(vocabulary=VOCAB, output_mode="one_hot")(np.array([12, 36, 1138, 42, 7]))
    assert_close(one_hot, np.eye(5)[[1, 2, 3, 4, 0]])
    assert_close(StringLookup(vocabulary=LETTERS, output_mode="one_hot")(["a", "b", "c", "d", "z"]),
                 np.eye(5)[[1, 2, 3, 4, 0]])
    forward = IntegerLookup(vocabulary=VOCAB)
    inverse = IntegerLookup(vocabulary=forward.get_vocabulary(), invert=True)
    assert inverse(forward(DATA)).tolist() == [[12, 1138, 42], [42, -1, 36]]
    strings = StringLookup(vocabulary=LETTERS, invert=True)(StringLookup(vocabulary=LETTERS)([["a", "c", "d"],
                                                                                              ["d", "z", "b"]]))
    assert strings.tolist() == [["a", "c", "d"], ["d", "[UNK]", "b"]]


def test_string_lookup_docstring_examples():
    data = [["a", "c", "d"], ["d", "z", "b"]]
    assert StringLookup(vocabulary=LETTERS)(data).tolist() == [[1, 3, 4], [4, 0, 2]]
    layer = StringLookup()
    layer.adapt(data)
    assert layer.get_vocabulary() == ["[UNK]", "d", "z", "c", "b", "a"]
    assert layer(data).tolist() == [[5, 3, 1], [1, 2, 4]]
    two_oov = StringLookup(vocabulary=LETTERS, num_oov_indices=2)
    assert two_oov([["a", "c", "d"], ["m", "z", "b"]]).tolist() == [[2, 4, 5], [0, 1, 3]]


def test_keras_test_suite_values():
    assert IntegerLookup(vocabulary=[1, 2, 3], mask_token=0)([0, 1, 2, 3]).tolist() == [0, 2, 3, 4]
    assert IntegerLookup(vocabulary=[10, 20, 30], invert=True)([1, 2, 3, 0]).tolist() == [10, 20, 30, -1]
    assert IntegerLookup(vocabulary=[1, 2, 3], num_oov_indices=0)([1, 2, 3]).tolist() == [0, 1, 2]
    padded = IntegerLookup(vocabulary=[1, 2], output_mode="multi_hot", max_tokens=5, pad_to_max_tokens=True)
    assert padded([1, 2]).shape[-1] == 5
    capped = IntegerLookup(max_tokens=4)
    capped.adapt([1, 2, 3, 4, 5, 6, 1, 1, 2, 2])
    assert capped.get_vocabulary() == [-1, 2, 1, 6]  # 1 and 2 occur 3 times: the larger first; then 6
    one_hot = IntegerLookup(vocabulary=[1, 2, 3], output_mode="one_hot")(np.array([[[1, 2], [3, 0]]]))
    assert one_hot.shape == (1, 2, 2, 4)
    assert StringLookup(vocabulary=["a"], mask_token="[MASK]")(["[MASK]", "a"]).tolist() == [0, 2]
    assert StringLookup(vocabulary=["a", "b"], output_mode="multi_hot")(["a", "b"]).tolist() == [0, 1, 1]
    oov = ["x", "y", "z", "w", "v", "u"]
    farm = StringLookup(vocabulary=["a", "b", "c"], num_oov_indices=4)(oov)
    sip = StringLookup(vocabulary=["a", "b", "c"], num_oov_indices=4, salt=[137, 42])(oov)
    assert not torch.equal(farm, sip) and int(farm.max()) < 4 and int(sip.max()) < 4


def test_adapt_with_tf_idf_computes_keras_weights():
    layer = StringLookup(output_mode="tf_idf")
    layer.adapt([["a", "b", "a"], ["b", "c", "c"], ["d", "a", "a"]])  # each row is a document
    assert layer.get_vocabulary() == ["[UNK]", "a", "c", "b", "d"]
    idf = [math.log(1 + 3 / 3), math.log(1 + 3 / 2), math.log(1 + 3 / 3), math.log(1 + 3 / 2)]
    weights = [np.mean(idf), *idf]
    assert_close(layer(["a", "a", "q"]), [weights[0], 2 * weights[1], 0, 0, 0], rtol=1e-6)


def test_adapt_reads_batches_and_masks(rng):
    layer = IntegerLookup(mask_token=0)
    batches = [(torch.tensor([[5, 5, 0]]), torch.zeros(1)), (torch.tensor([[7, 5, 9]]), torch.zeros(1))]
    layer.adapt(iter(batches))
    assert layer.get_vocabulary() == [0, -1, 5, 9, 7]  # the mask token is never learned
    assert layer([[0, 9, 11]]).tolist() == [[0, 3, 1]]
    assert IntegerLookup(mask_token=0, output_mode="multi_hot", vocabulary=[5])([[0, 5]]).tolist() == [[0, 1]]


def test_configs_round_trip_the_vocabulary():
    layers = [IntegerLookup(output_mode="tf_idf", vocabulary=VOCAB, idf_weights=[0.25, 0.75, 0.6, 0.4]),
              StringLookup(num_oov_indices=2, mask_token="")]
    layers[1].adapt([["x", "y", "x"]])
    for layer, data in zip(layers, (COUNTED, [["x", "y", "", "q"]])):
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_vocabulary() == layer.get_vocabulary()
        assert torch.equal(clone(data), layer(data))


def test_lookup_errors_are_clear():
    with pytest.raises(ValueError, match="repeated tokens"):
        IntegerLookup(vocabulary=[1, 1])
    with pytest.raises(ValueError, match=r"invert=True.*output_mode='int'"):
        StringLookup(invert=True, output_mode="multi_hot")
    with pytest.raises(ValueError, match="also needs `idf_weights`"):
        StringLookup(output_mode="tf_idf", vocabulary=LETTERS)
    with pytest.raises(ValueError, match="more than max_tokens=3"):
        StringLookup(max_tokens=3, vocabulary=LETTERS)
    with pytest.raises(ValueError, match=r"num_oov_indices=0.*received \[7\]"):
        IntegerLookup(vocabulary=[1], num_oov_indices=0)([1, 7])
    with pytest.raises(ValueError, match="adapt\\(\\) is for layers created without one"):
        StringLookup(vocabulary=LETTERS).adapt(["a"])
    with pytest.raises(RuntimeError, match="no vocabulary yet"):
        StringLookup(output_mode="count")(["a"])
    with pytest.raises(ValueError, match="data pipeline"):
        StringLookup(vocabulary=LETTERS)(Input(shape=(1,)))
    with pytest.raises(ValueError, match="nested lists of different lengths"):
        StringLookup(vocabulary=LETTERS)([["a", "b"], ["c"]])
    built = IntegerLookup(output_mode="multi_hot", vocabulary=[1, 2])
    built([[1]])
    with pytest.raises(ValueError, match="already outputs 3 values; its new vocabulary would make 4"):
        built.set_vocabulary([1, 2, 3])
    assert built.get_vocabulary() == [-1, 1, 2]


def test_lookup_model_trains_and_survives_save_and_load(rng, tmp_path):
    ids = rng.choice([3, 17, 42, 99], size=(64, 1))
    amount = rng.normal(size=(64, 1)).astype("float32")
    y = ((ids[:, 0] == 42) | (amount[:, 0] > 0.5)).astype("float32")
    lookup, bins = IntegerLookup(), Discretization(num_bins=4)
    lookup.adapt(ids)
    bins.adapt(amount)
    id_input, amount_input = Input(shape=(1,), dtype="int64"), Input(shape=(1,))
    encoded = [CategoryEncoding(num_tokens=lookup.vocabulary_size(), output_mode="one_hot")(lookup(id_input)),
               CategoryEncoding(num_tokens=4, output_mode="one_hot")(bins(amount_input))]
    model = Model([id_input, amount_input], Dense(1, activation="sigmoid")(Concatenate()(encoded)))
    model.compile(optimizer="adam", loss="binary_crossentropy")
    history = model.fit([ids, amount], y, epochs=30, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    path = os.fspath(tmp_path / "model.keras")
    model.save(path)
    loaded = load_model(path)
    new_ids = np.array([[42], [5], [3]])
    new_amount = np.array([[0.0], [2.0], [-3.0]], dtype="float32")
    assert_close(loaded.predict([new_ids, new_amount], verbose=0), model.predict([new_ids, new_amount], verbose=0))
    assert loaded.get_layer(lookup.name).get_vocabulary() == lookup.get_vocabulary()
    assert loaded.get_layer(bins.name).bin_boundaries == bins.bin_boundaries


def test_integer_lookup_first_in_a_sequential_keeps_integer_ids(rng):
    big = 2**40  # loses its low bits as float32
    model = Sequential([Input(shape=(2,), dtype="int64"),
                        IntegerLookup(vocabulary=[big, big + 1], output_mode="multi_hot"), Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.array([[big, big + 1]] * 4), np.ones((4, 1)), epochs=1, verbose=0)
    assert_close(model.layers[0](np.array([[big + 1, 5]])), [[1, 0, 1]])
    rebuilt = nnkit.layers.get({"class_name": "IntegerLookup", "config": model.layers[0].get_config()})
    assert rebuilt.get_vocabulary() == [-1, big, big + 1]
