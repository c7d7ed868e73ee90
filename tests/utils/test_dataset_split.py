"""split_dataset: Keras's size rules and shuffling (Keras on the torch backend as the reference)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import Subset, TensorDataset

from nnkit.errors import ConfigError
from nnkit.layers import Dense, Input
from nnkit.models import Sequential
from nnkit.utils import split_dataset


def _values(split):
    return [tuple(part.tolist() for part in split[i]) for i in range(len(split))]


@pytest.mark.parametrize(("left", "right"), [(0.8, None), (None, 3), (7, None), (0.25, 0.75), (4, 6), (None, 0.3)])
def test_sizes_follow_keras(keras, left, right):
    data = np.arange(10)
    ours = split_dataset(data, left_size=left, right_size=right)
    theirs = keras.utils.split_dataset(data, left_size=left, right_size=right)
    assert [len(part) for part in ours] == [len(part) for part in theirs]
    assert all(isinstance(part, Subset) for part in ours)


def test_without_shuffle_left_takes_the_first_samples_and_right_the_last():
    x, y = np.arange(20).reshape(10, 2), np.arange(10) * 10
    left, right = split_dataset((x, y), left_size=3, right_size=0.2)  # samples 3..7 are left out
    assert _values(left) == [(list(x[i]), int(y[i])) for i in range(3)]
    assert _values(right) == [(list(x[i]), int(y[i])) for i in (8, 9)]


def test_shuffle_with_a_seed_draws_the_samples_keras_draws(keras):
    x, y = np.arange(30).reshape(15, 2), np.arange(15)
    ours = split_dataset([x, y], left_size=0.6, shuffle=True, seed=3)
    theirs = keras.utils.split_dataset([x, y], left_size=0.6, shuffle=True, seed=3)
    for mine, reference in zip(ours, theirs):
        assert _values(mine) == _values(reference)
    assert sorted(v[1] for part in ours for v in _values(part)) == list(range(15))
    torch.manual_seed(0)
    first = _values(split_dataset(y, left_size=5, shuffle=True)[0])
    torch.manual_seed(0)
    assert _values(split_dataset(y, left_size=5, shuffle=True)[0]) == first  # seeded by set_random_seed


def test_torch_datasets_tensors_and_lists_of_samples_split_too():
    dataset = TensorDataset(torch.arange(8.0))
    left, right = split_dataset(dataset, right_size=2)
    assert left.dataset is dataset and list(left.indices) == list(range(6)) and list(right.indices) == [6, 7]
    assert [float(s[0]) for s in split_dataset(torch.arange(4.0), left_size=0.5)[1]] == [2.0, 3.0]
    assert [int(s[0]) for s in split_dataset([5, 6, 7, 8], left_size=1)[0]] == [5]


def test_splits_train_and_validate_in_fit(rng):
    x, y = rng.random((40, 3)).astype("float32"), rng.random((40, 1)).astype("float32")
    train, test = split_dataset((x, y), left_size=0.75)
    model = Sequential([Input(shape=(3,)), Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(train, validation_data=test, epochs=1, batch_size=10, verbose=0).history
    assert history["val_loss"][0] == pytest.approx(model.evaluate(x[30:], y[30:], verbose=0), rel=1e-6)


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({}, ConfigError, "At least one of the `left_size` or `right_size`"),
    ({"left_size": 10}, ConfigError, "`left_size` should be either a positive integer smaller than 10"),
    ({"right_size": 1.5}, ConfigError, "`right_size` should be .* float within the range"),
    ({"left_size": 0.6, "right_size": 0.6}, ConfigError, "greater than 1"),
    ({"left_size": 6, "right_size": 5}, ConfigError, "at most the dataset's length 10"),
    ({"left_size": 0.01}, ConfigError, "the left split would be empty"),
    ({"left_size": "half"}, TypeError, "Invalid `left_size` type"),
])
def test_bad_sizes_are_refused_like_keras(keras, kwargs, error, message):
    with pytest.raises(error, match=message):
        split_dataset(np.arange(10), **kwargs)
    with pytest.raises(TypeError if error is TypeError else ValueError):  # Keras refuses them too
        keras.utils.split_dataset(np.arange(10), **kwargs)


def test_arrays_of_different_lengths_and_unknown_types_are_refused():
    with pytest.raises(ValueError, match=r"same length, but received lengths \[3, 2\]"):
        split_dataset((np.zeros(3), np.zeros(2)), left_size=1)
    with pytest.raises(TypeError, match="Received: dataset of type dict"):
        split_dataset({"x": np.zeros(3)}, left_size=1)
