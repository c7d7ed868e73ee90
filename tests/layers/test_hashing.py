"""Hashing gives Keras's bins: FarmHash64 and SipHash-2-4 checked against reference values and Keras's
documented outputs (Keras's Hashing needs TensorFlow, so it cannot run here)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnkit.layers import Dense, Hashing, Input
from nnkit.layers.hashing import fingerprint64, siphash64
from nnkit.models import Model, Sequential

# FarmHash Fingerprint64 from Google's C++ implementation (the pyfarmhash bindings), one input per code path:
# 0, 1-3, 4-7, 8-16, 17-32, 33-64 and more than 64 bytes.
FINGERPRINTS = {
    b"": 11160318154034397263,
    b"A": 16915294056622060564,
    b"stringer": 16712165399130654704,
    b"hello world, this is nnkit": 2796695710722857781,
    b"x" * 40: 17003596230054984852,
    b"The quick brown fox jumps over the lazy dog and keeps running far away": 15791603324931602905,
}


@pytest.mark.parametrize(("data", "expected"), list(FINGERPRINTS.items()))
def test_fingerprint64_matches_farmhash(data, expected):
    assert fingerprint64(data) == expected


def test_siphash_matches_the_reference_vectors():
    """Test vectors of the SipHash paper (key 00..0f, messages 00, 00 01, ...)."""
    key = (0x0706050403020100, 0x0F0E0D0C0B0A0908)
    assert siphash64(b"", key) == 0x726FDB47DD0E0E31
    assert siphash64(bytes(range(8)), key) == 0x93F5F5799A932462
    assert siphash64(bytes(range(15)), key) == 0xA129CA6149BE45E5


@pytest.mark.parametrize(("kwargs", "inputs", "expected"), [
    ({}, [["A"], ["B"], ["C"], ["D"], ["E"]], [[1], [0], [1], [1], [2]]),
    ({"mask_value": ""}, [["A"], ["B"], [""], ["C"], ["D"]], [[1], [1], [0], [2], [2]]),
    ({"salt": [133, 137]}, [["A"], ["B"], ["C"], ["D"], ["E"]], [[1], [2], [1], [0], [2]]),
    ({"salt": 133}, [["A"], ["B"], ["C"], ["D"], ["E"]], [[0], [0], [2], [1], [0]]),
])
def test_docstring_examples(kwargs, inputs, expected):
    out = Hashing(num_bins=3, **kwargs)(inputs)
    assert out.dtype == torch.int64
    assert out.tolist() == expected


def test_keras_test_suite_values():
    names = np.asarray([["omar"], ["stringer"], ["marlo"], ["wire"], ["skywalker"]])
    assert Hashing(num_bins=2)(names).tolist() == [[0], [0], [1], [0], [0]]
    assert Hashing(num_bins=2)(names[:, 0].tolist()).tolist() == [0, 0, 1, 0, 0]
    assert Hashing(num_bins=3, mask_value="omar")(names).tolist() == [[0], [1], [2], [1], [1]]
    assert Hashing(num_bins=2, salt=[133, 137])(names).tolist() == [[0], [1], [0], [1], [0]]
    assert Hashing(num_bins=2, salt=[211, 137])(names).tolist() == [[1], [0], [1], [0], [1]]
    assert Hashing(num_bins=1)(names).tolist() == [[0]] * 5
    ints = np.asarray([[0], [1], [2], [3], [4]])  # integers hash as their decimal strings
    assert Hashing(num_bins=3)(ints).tolist() == [[1], [0], [1], [0], [2]]
    assert Hashing(num_bins=3, salt=[133, 137])(ints).tolist() == [[1], [1], [2], [0], [1]]
    assert Hashing(num_bins=3)(np.array(["0", "1", "2"])).tolist() == [1, 0, 1]


def test_encoded_outputs_in_models():
    """Keras's tests: one_hot on (batch, 1) ints, multi_hot on a sequence, count on a 1-D input."""
    inputs = Input(shape=(1,), dtype="int32")
    model = Model(inputs, Hashing(num_bins=3, output_mode="one_hot")(inputs))
    assert model.output_shape == (None, 3)
    expected = [[0, 1, 0], [1, 0, 0], [0, 1, 0], [1, 0, 0], [0, 0, 1]]
    np.testing.assert_array_equal(model(np.array([0, 1, 2, 3, 4])).numpy(), expected)
    inputs = Input(shape=(None,), dtype="int32")
    model = Model(inputs, Hashing(num_bins=3, output_mode="multi_hot")(inputs))
    np.testing.assert_array_equal(model(np.array([[0, 1, 2, 3, 4]])).numpy(), [[1, 1, 1]])
    np.testing.assert_array_equal(Hashing(num_bins=3, output_mode="count")(np.array([0, 1, 2, 3, 4])).numpy(),
                                  [2, 2, 1])


def test_hashing_trains_in_a_model_and_round_trips_its_config(rng):
    ids = rng.integers(0, 1000, size=(32, 2))
    model = Sequential([Input(shape=(2,), dtype="int64"), Hashing(num_bins=8, output_mode="multi_hot", salt=7),
                        Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(ids, rng.normal(size=(32, 1)), epochs=1, verbose=0)
    layer = model.layers[0]
    assert layer.get_config()["salt"] == [7, 7]
    clone = Hashing.from_config(layer.get_config())
    assert torch.equal(clone(ids), layer(ids))


def test_hashing_errors_are_clear():
    with pytest.raises(ValueError, match="positive int"):
        Hashing(num_bins=0)
    with pytest.raises(ValueError, match="salt"):
        Hashing(num_bins=2, salt="x")
    with pytest.raises(ValueError, match="salt"):
        Hashing(num_bins=2, salt=[1])
    with pytest.raises(ValueError, match="sparse=True"):
        Hashing(num_bins=2, output_mode="multi_hot", sparse=True)
