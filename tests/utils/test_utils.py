"""keras.utils equivalents: to_categorical, normalize, set_random_seed, clear_session."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnkit.errors import DataError
from nnkit.layers import Dense
from nnkit.utils import clear_session, normalize, set_random_seed, to_categorical


def test_to_categorical_matches_keras(keras, rng):
    labels = rng.integers(5, size=(12, 1))
    np.testing.assert_array_equal(to_categorical(labels, 5), keras.utils.to_categorical(labels, 5))
    np.testing.assert_array_equal(to_categorical([0, 2, 1]), keras.utils.to_categorical([0, 2, 1]))
    assert to_categorical([1, 0], 3).dtype == keras.utils.to_categorical([1, 0], 3).dtype


def test_to_categorical_rejects_bad_labels():
    with pytest.raises(DataError, match="num_classes=3"):
        to_categorical([0, 3], num_classes=3)
    with pytest.raises(DataError, match="non-negative"):
        to_categorical([-1, 0])
    with pytest.raises(DataError, match="integer"):
        to_categorical([0.5, 1])


def test_normalize_gives_unit_rows():
    out = normalize(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]])


def test_set_random_seed_repeats_torch_numpy_and_python():
    import random

    set_random_seed(5)
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    set_random_seed(5)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first
    with pytest.raises(TypeError):
        set_random_seed(-1)


def test_clear_session_resets_automatic_names():
    assert Dense(1).name == "dense" and Dense(1).name == "dense_1"
    clear_session()
    assert Dense(1).name == "dense"
