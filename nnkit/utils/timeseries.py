"""``timeseries_dataset_from_array``: sliding windows over a series, batched for ``fit``, without TensorFlow."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from nnkit.errors import ConfigError
from nnkit.utils.py_dataset import PyDataset


class TimeseriesDataset(PyDataset):
    """Batches of windows cut from one array on demand (see :func:`timeseries_dataset_from_array`).

    Indexing gives batch ``i``: ``(windows, targets)``, or the windows alone without targets. Iterating
    gives every batch once. With ``shuffle`` the window order is drawn again after every pass.
    """

    def __init__(self, data: np.ndarray, targets: np.ndarray | None, starts: np.ndarray, sequence_length: int,
                 sampling_rate: int, batch_size: int | None, shuffle: bool, seed: int | None) -> None:
        super().__init__()
        self.data, self.targets, self.starts = data, targets, starts
        self.offsets = np.arange(sequence_length) * sampling_rate
        self.batch_size, self.shuffle = batch_size, shuffle
        self._rng = np.random.RandomState(seed if seed is not None else np.random.randint(1e6))
        self.order = self._rng.permutation(starts) if shuffle else starts

    def __len__(self) -> int:
        return len(self.order) if self.batch_size is None else math.ceil(len(self.order) / self.batch_size)

    def __getitem__(self, index: int) -> Any:
        if not -len(self) <= index < len(self):
            raise IndexError(f"batch index {index} out of range for a timeseries dataset of {len(self)} batches")
        if self.batch_size is None:  # single windows, without a batch axis
            starts = self.order[index]
        else:
            index %= len(self)
            starts = self.order[index * self.batch_size:(index + 1) * self.batch_size]
        windows = self.data[np.add.outer(starts, self.offsets)]
        return windows if self.targets is None else (windows, self.targets[starts])

    def on_epoch_end(self) -> None:
        if self.shuffle:
            self.order = self._rng.permutation(self.starts)

    def __repr__(self) -> str:
        return (f"TimeseriesDataset(windows={len(self.starts)}, sequence_length={len(self.offsets)}, "
                f"batch_size={self.batch_size}, shuffle={self.shuffle})")


def _count(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ConfigError(f"`{name}` must be an int of at least {minimum}. Received: {name}={value!r}.")
    return int(value)


def timeseries_dataset_from_array(
    data: Any,
    targets: Any,
    sequence_length: int,
    sequence_stride: int = 1,
    sampling_rate: int = 1,
    batch_size: int | None = 128,
    shuffle: bool = False,
    seed: int | None = None,
    start_index: int | None = None,
    end_index: int | None = None,
) -> TimeseriesDataset:
    """Sliding windows over a timeseries, batched for ``fit`` (Keras's function of the same name).

    Window ``j`` starts at ``start_index + s_j`` with ``s_j = j * sequence_stride`` and holds the steps
    ``data[start + k * sampling_rate]`` for ``k < sequence_length``; its target is ``targets[start]``.
    Windows that would run past ``end_index`` (or past the targets) are dropped.

    Unlike Keras, which returns a ``tf.data.Dataset`` (and needs TensorFlow), nnkit returns a
    :class:`~nnkit.utils.PyDataset` of NumPy batches that ``fit``, ``evaluate`` and ``predict`` accept and
    that can be indexed and iterated. With ``shuffle``, the windows are shuffled as a whole (the first
    order is Keras's, drawn with ``np.random.RandomState(seed)``) and reshuffled after every epoch,
    where Keras also shuffles them within a buffer of ``8 * batch_size`` samples.

    Args:
        data: Array or tensor of consecutive steps; axis 0 is time.
        targets: ``targets[i]`` is the target of the window starting at step ``i``; ``None`` for windows
            only.
        sequence_length: Steps per window.
        sequence_stride: Steps between the starts of two windows.
        sampling_rate: Steps between two elements of a window.
        batch_size: Windows per batch (the last may be smaller); ``None`` gives single windows.
        shuffle: Shuffle the windows instead of giving them in time order.
        seed: Seed of the shuffling.
        start_index: Steps before this index are not used.
        end_index: Steps from this index on are not used.

    Returns:
        A :class:`TimeseriesDataset` yielding ``(windows, targets)`` batches, or the windows alone.

    Raises:
        ConfigError: an index, stride or rate out of range, as in Keras.

    Example:
        >>> data = np.arange(100)
        >>> dataset = timeseries_dataset_from_array(data[:-10], data[10:], sequence_length=10, batch_size=4)
        >>> inputs, targets = dataset[0]
        >>> inputs[0].tolist(), int(targets[0])
        ([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 10)
    """
    data = np.asarray(data)
    if data.ndim == 0:
        raise ConfigError(f"`data` must be an array of steps (axis 0 is time). Received a scalar: {data!r}.")
    length = len(data)
    if targets is not None:
        targets = np.asarray(targets)
    sequence_length = _count(sequence_length, "sequence_length", 1)
    if start_index and (start_index < 0 or start_index >= length):
        raise ConfigError(f"`start_index` must be 0 or greater and lower than the length of the data. Received: "
                          f"start_index={start_index}, for data of length {length}.")
    if end_index:
        if start_index and end_index <= start_index:
            raise ConfigError(f"`end_index` must be higher than `start_index`. Received: start_index={start_index}, "
                              f"and end_index={end_index}.")
        if end_index <= 0 or end_index >= length:
            raise ConfigError(f"`end_index` must be higher than 0 and lower than the length of the data. Received: "
                              f"end_index={end_index}, for data of length {length}.")
    for name, value in (("sampling_rate", sampling_rate), ("sequence_stride", sequence_stride)):
        _count(value, name, 1)
        if value >= length:
            raise ConfigError(f"`{name}` must be lower than the length of the data. Received: {name}={value}, for "
                              f"data of length {length}.")
    if batch_size is not None:
        batch_size = _count(batch_size, "batch_size", 1)
    start = start_index or 0
    stop = end_index or length
    count = stop - start - (sequence_length - 1) * sampling_rate
    if targets is not None:
        count = min(count, len(targets) - start)
    # windows index the full arrays: start positions are relative to start_index, as Keras's are
    starts = start + np.arange(0, max(count, 0), sequence_stride, dtype=np.int64)
    return TimeseriesDataset(data, targets, starts, sequence_length, sampling_rate, batch_size, shuffle, seed)
