"""timeseries_dataset_from_array: Keras's documented windows, by hand (Keras needs TensorFlow for it)."""

from __future__ import annotations

import numpy as np
import pytest

from nnkit.errors import ConfigError
from nnkit.layers import Dense, Flatten, Input
from nnkit.models import Sequential
from nnkit.utils import PyDataset, timeseries_dataset_from_array


def _all(dataset):
    batches = list(dataset)
    if isinstance(batches[0], tuple):
        return tuple(np.concatenate(parts) for parts in zip(*batches))
    return np.concatenate(batches)


def test_keras_example_1_windows_with_stride_and_sampling_rate():
    dataset = timeseries_dataset_from_array(np.arange(99), None, sequence_length=10, sampling_rate=2,
                                            sequence_stride=3, batch_size=8)
    windows = _all(dataset)
    np.testing.assert_array_equal(windows[0], [0, 2, 4, 6, 8, 10, 12, 14, 16, 18])
    np.testing.assert_array_equal(windows[1], [3, 5, 7, 9, 11, 13, 15, 17, 19, 21])
    np.testing.assert_array_equal(windows[2], [6, 8, 10, 12, 14, 16, 18, 20, 22, 24])
    np.testing.assert_array_equal(windows[-1], [78, 80, 82, 84, 86, 88, 90, 92, 94, 96])
    assert len(windows) == 27  # starts 0, 3, ..., 78; the last two points are dropped
    assert [len(batch) for batch in dataset] == [8, 8, 8, 3] and len(dataset) == 4


def test_keras_example_2_past_ten_steps_predict_the_next():
    data = np.random.default_rng(0).random(50)
    dataset = timeseries_dataset_from_array(data[:-10], data[10:], sequence_length=10, batch_size=16)
    inputs, targets = dataset[0]
    np.testing.assert_array_equal(inputs[0], data[:10])
    assert targets[0] == data[10]
    inputs, targets = _all(dataset)
    assert inputs.shape == (31, 10) and targets.shape == (31,)
    for i in (5, 30):
        np.testing.assert_array_equal(inputs[i], data[i:i + 10])
        assert targets[i] == data[i + 10]


def test_keras_example_3_many_to_many_without_overlap():
    X = np.arange(100)
    Y = X * 2
    inputs = timeseries_dataset_from_array(X, None, sequence_length=20, sequence_stride=20)
    targets = timeseries_dataset_from_array(Y, None, sequence_length=20, sequence_stride=20)
    for x_batch, y_batch in zip(inputs, targets):
        np.testing.assert_array_equal(x_batch[0], X[:20])
        np.testing.assert_array_equal(y_batch[1], Y[20:40])
    assert _all(inputs).shape == (5, 20)


def test_start_and_end_index_reserve_data_and_targets_follow_the_window_start():
    data = np.arange(40).reshape(20, 2)
    targets = np.arange(100, 120)
    windows, labels = _all(timeseries_dataset_from_array(data, targets, sequence_length=3, start_index=5,
                                                         end_index=15, batch_size=4))
    starts = np.arange(5, 13)  # the last window, 12..14, ends before end_index
    np.testing.assert_array_equal(windows, np.stack([data[s:s + 3] for s in starts]))
    np.testing.assert_array_equal(labels, targets[starts])


def test_shuffle_draws_keras_first_order_and_reshuffles_each_epoch():
    dataset = timeseries_dataset_from_array(np.arange(30), np.arange(30), sequence_length=5, batch_size=4,
                                            shuffle=True, seed=7)
    expected = np.arange(26)
    np.random.RandomState(7).shuffle(expected)
    first = _all(dataset)
    np.testing.assert_array_equal(first[1], expected)
    np.testing.assert_array_equal(first[0][:, 0], expected)  # windows stay with their targets
    dataset.on_epoch_end()
    second = _all(dataset)[1]
    assert sorted(second) == list(range(26)) and list(second) != list(expected)


def test_unbatched_and_indexing():
    dataset = timeseries_dataset_from_array(np.arange(10), None, sequence_length=4, batch_size=None)
    assert len(dataset) == 7 and isinstance(dataset, PyDataset)
    np.testing.assert_array_equal(dataset[-1], [6, 7, 8, 9])
    with pytest.raises(IndexError):
        dataset[7]
    assert "TimeseriesDataset(windows=7" in repr(dataset)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"start_index": 20}, "start_index` must be 0 or greater and lower"),
    ({"start_index": 5, "end_index": 3}, "end_index` must be higher than `start_index"),
    ({"end_index": 20}, "end_index` must be higher than 0 and lower"),
    ({"sampling_rate": 0}, "sampling_rate` must be an int of at least 1"),
    ({"sequence_stride": 12}, "sequence_stride` must be lower than the length of the data"),
    ({"batch_size": 0}, "batch_size` must be an int of at least 1"),
])
def test_bad_arguments_fail_like_keras(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        timeseries_dataset_from_array(np.arange(12), None, sequence_length=3, **kwargs)


def test_fit_trains_on_the_windows_like_on_the_same_arrays():
    series = np.sin(np.arange(80) / 5).astype("float32")[:, None]
    dataset = timeseries_dataset_from_array(series[:-6], series[6:, 0], sequence_length=6, batch_size=16)
    x, y = _all(dataset)
    models = [Sequential([Input(shape=(6, 1)), Flatten(), Dense(1)]) for _ in range(2)]
    models[1].set_weights(models[0].get_weights())
    for model in models:
        model.compile(optimizer="adam", loss="mse")
    windows = models[0].fit(dataset, epochs=2, shuffle=False, verbose=0).history["loss"]
    arrays = models[1].fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(windows, arrays, rtol=1e-6)
    np.testing.assert_allclose(models[0].predict(dataset, verbose=0), models[0].predict(x, verbose=0), rtol=1e-6)
