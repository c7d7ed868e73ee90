"""TextVectorization reproduces Keras's documented outputs and its standardize / split / n-gram rules
(Keras's own layer needs TensorFlow, so its docstring examples and hand computations are the reference)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from nnkit.layers import Dense, Embedding, GlobalAveragePooling1D, Input, TextVectorization
from nnkit.models import Sequential
from tests.helpers import assert_close


def test_docstring_examples():
    layer = TextVectorization(max_tokens=5000, output_mode="int", output_sequence_length=4)
    layer.adapt(["foo bar", "bar baz", "baz bada boom"])
    assert layer.get_vocabulary() == ["", "[UNK]", "baz", "bar", "foo", "boom", "bada"]
    out = layer([["foo qux bar"], ["qux baz"]])
    assert out.dtype == torch.int64 and out.tolist() == [[4, 1, 3, 0], [1, 2, 0, 0]]
    given = TextVectorization(max_tokens=5000, output_sequence_length=4, vocabulary=["earth", "wind", "and", "fire"])
    assert given.get_vocabulary() == ["", "[UNK]", "earth", "wind", "and", "fire"]
    assert given.vocabulary_size() == 6


def test_standardize_lowers_ascii_and_strips_keras_punctuation():
    layer = TextVectorization(split=None, vocabulary=["x"])
    assert layer.tokenize(["Hello, World! It's 5:30 (ÉTÉ) — ok?"]).tolist() == ["hello world its 530 ÉtÉ — ok"]
    assert TextVectorization(standardize="lower", split=None, vocabulary=["x"]).tokenize(["A.B"]).tolist() == ["a.b"]
    strip = TextVectorization(standardize="strip_punctuation", split=None, vocabulary=["x"])
    assert strip.tokenize(["A.B"]).tolist() == ["AB"]
    upper = TextVectorization(standardize=np.char.upper, split=None, vocabulary=["x"])
    assert upper.tokenize(np.array(["a b"])).tolist() == ["A B"]


def test_splits_and_ngrams():
    whitespace = TextVectorization(vocabulary=["x"])
    assert whitespace.tokenize(["  a\tb\n c  "]) == [["a", "b", "c"]]
    assert TextVectorization(split="character", vocabulary=["x"]).tokenize(["ab c"]) == [["a", "b", " ", "c"]]
    dashes = TextVectorization(standardize="lower", split=lambda s: s.split("-"), vocabulary=["x"])
    assert dashes.tokenize(["A-b"]) == [["a", "b"]]  # the default standardize would strip the dashes first
    bigrams = TextVectorization(ngrams=2, vocabulary=["x"])
    assert bigrams.tokenize(["a b c"]) == [["a", "b", "c", "a b", "b c"]]
    assert TextVectorization(ngrams=(2, 3), vocabulary=["x"]).tokenize(["a b c"]) == [["a b", "b c", "a b c"]]


def test_adapt_orders_by_count_then_descending_token_and_caps_max_tokens():
    layer = TextVectorization(max_tokens=5, ngrams=2)
    layer.adapt(["a b c", "a b"])  # a, b, "a b": 2 each; c, "b c": 1 each
    assert layer.get_vocabulary() == ["", "[UNK]", "b", "a b", "a"]
    assert layer(["a b c d"]).tolist() == [[4, 2, 1, 1, 3, 1, 1]]  # padded to the longest: no cut without length


@pytest.mark.parametrize(("mode", "expected"), [
    ("multi_hot", [[1, 1, 1, 0], [1, 0, 0, 1]]),
    ("count", [[1, 2, 1, 0], [2, 0, 0, 1]]),
])
def test_bag_of_words_outputs(mode, expected):
    layer = TextVectorization(output_mode=mode, vocabulary=["the", "cat", "dog"])
    out = layer(["The cat, the hat", "a dog? zebra"])
    assert out.dtype == torch.float32
    assert_close(out, expected)
    assert TextVectorization(output_mode=mode, vocabulary=["x"], max_tokens=6,
                             pad_to_max_tokens=True)(["x"]).shape == (1, 6)


def test_tf_idf_adapt_matches_the_keras_formula():
    layer = TextVectorization(output_mode="tf_idf")
    layer.adapt(["a b a", "b c c", "d a a"])
    assert layer.get_vocabulary() == ["[UNK]", "a", "c", "b", "d"]
    idf = {"a": math.log(1 + 3 / 3), "c": math.log(1 + 3 / 2), "b": math.log(1 + 3 / 3), "d": math.log(1 + 3 / 2)}
    oov = np.mean(list(idf.values()))
    assert_close(layer(["a a z", "d"]), [[oov, 2 * idf["a"], 0, 0, 0], [0, 0, 0, 0, idf["d"]]], rtol=1e-6)


def test_output_sequence_length_pads_and_cuts():
    layer = TextVectorization(output_sequence_length=3, vocabulary=["a", "b"])
    assert layer(["a b a b", "b", ""]).tolist() == [[2, 3, 2], [3, 0, 0], [0, 0, 0]]


def test_set_vocabulary_get_config_and_from_config_round_trip():
    layer = TextVectorization(ngrams=2, output_mode="count")
    layer.adapt(["red fish blue fish"])
    config = layer.get_config()
    assert config["vocabulary"] == layer.get_vocabulary()
    clone = TextVectorization.from_config(config)
    assert torch.equal(clone(["one fish two fish"]), layer(["one fish two fish"]))
    other = TextVectorization()
    other.set_vocabulary(["fish", "red"])
    assert other(["red fish"]).tolist() == [[3, 2]]


def test_vectorized_text_trains_a_model_through_a_dataloader(rng):
    texts = ["good movie", "great film", "bad movie", "awful film"] * 8
    labels = np.array([1, 1, 0, 0] * 8, dtype="float32")
    vectorize = TextVectorization(output_sequence_length=3)
    vectorize.adapt(texts)

    def collate(batch):
        return vectorize([text for text, _ in batch]), torch.tensor([[label] for _, label in batch])

    loader = DataLoader(list(zip(texts, labels)), batch_size=8, collate_fn=collate)
    model = Sequential([Input(shape=(3,), dtype="int64"), Embedding(vectorize.vocabulary_size(), 4),
                        GlobalAveragePooling1D(), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    history = model.fit(loader, epochs=15, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_errors_are_clear():
    with pytest.raises(ValueError, match="output_sequence_length"):
        TextVectorization(output_mode="multi_hot", output_sequence_length=3)
    with pytest.raises(ValueError, match="standardize"):
        TextVectorization(standardize="upper")
    with pytest.raises(ValueError, match="ragged"):
        TextVectorization(ragged=True)
    with pytest.raises(ValueError, match="shape \\(batch,\\) or \\(batch, 1\\)"):
        TextVectorization(vocabulary=["a"])([["a", "b"]])
    with pytest.raises(ValueError, match="data pipeline"):
        TextVectorization(vocabulary=["a"])(Input(shape=(1,)))
