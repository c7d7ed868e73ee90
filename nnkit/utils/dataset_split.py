"""``split_dataset``: a dataset cut into a left and a right part (train / test), as Keras does on torch."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Subset, TensorDataset

from nnkit.errors import ConfigError, DataError


def split_dataset(
    dataset: Any,
    left_size: int | float | None = None,
    right_size: int | float | None = None,
    shuffle: bool = False,
    seed: int | None = None,
) -> tuple[Subset, Subset]:
    """Split a dataset into a left and a right part (Keras's ``keras.utils.split_dataset``).

    As with Keras on the torch backend, both parts are ``torch.utils.data.Subset`` datasets (``fit`` accepts
    them); arrays become a ``TensorDataset`` whose samples are tuples, one tensor per array. Sizes follow
    Keras's rules: an int is a number of samples, a float in (0, 1) a fraction (rounded), ``None`` the
    rest. The left part takes the first samples and the right part the last ones; with both sizes given
    the samples between them are left out (where Keras's torch backend raises). With ``shuffle`` the
    samples are drawn by ``torch.randperm`` (seeded by ``seed``, else by torch's global generator), the
    same draw as Keras's; without it their order is kept (Keras's torch backend permutes them anyway).

    Args:
        dataset: A NumPy array or tensor, a list or tuple of arrays of the same length (e.g. ``(x, y)``),
            or a map-style ``torch.utils.data.Dataset``.
        left_size: Samples (int) or fraction (float) in the left part; ``None``: what the right leaves.
        right_size: Samples (int) or fraction (float) in the right part; ``None``: what the left leaves.
        shuffle: Shuffle the samples before splitting.
        seed: Seed of the shuffling.

    Returns:
        ``(left, right)`` datasets.

    Raises:
        ConfigError: both sizes are ``None``, a size is out of range, or the sizes overlap.
        DataError: arrays of different lengths, or a dataset without a length.
        TypeError: a size that is neither int, float nor ``None``, or an unsupported ``dataset``.

    Example:
        >>> data = np.random.random(size=(1000, 4))
        >>> left, right = split_dataset(data, left_size=0.8)
        >>> len(left), len(right)
        (800, 200)
    """
    source = _as_dataset(dataset)
    try:
        total = len(source)
    except TypeError:
        raise DataError(f"split_dataset needs a dataset with a length (a map-style torch Dataset); "
                        f"{type(dataset).__name__} has none.") from None
    left, right = split_sizes(left_size, right_size, total)
    if shuffle:
        generator = None if seed is None else torch.Generator().manual_seed(seed)
        order = torch.randperm(total, generator=generator).tolist()
    else:
        order = list(range(total))
    return Subset(source, order[:left]), Subset(source, order[total - right:])


def _as_dataset(dataset: Any) -> Dataset:
    if isinstance(dataset, Dataset):
        return dataset
    if isinstance(dataset, (np.ndarray, torch.Tensor)):
        return TensorDataset(_tensor(dataset, "dataset"))
    if isinstance(dataset, (list, tuple)) and dataset:
        if all(hasattr(part, "shape") and len(part.shape) >= 1 for part in dataset):  # several arrays
            tensors = [_tensor(part, f"dataset[{i}]") for i, part in enumerate(dataset)]
            lengths = {len(t) for t in tensors}
            if len(lengths) > 1:
                raise DataError("split_dataset needs arrays of the same length, but received lengths "
                                f"{[len(t) for t in tensors]}.")
            return TensorDataset(*tensors)
        return TensorDataset(_tensor(np.asarray(dataset), "dataset"))  # a list of samples
    raise TypeError("The `dataset` argument must be a torch.utils.data.Dataset, a NumPy array or tensor, or a "
                    f"list/tuple of arrays. Received: dataset of type {type(dataset).__name__}.")


def _tensor(value: Any, what: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    array = np.asarray(value)
    if array.ndim == 0:
        raise DataError(f"split_dataset: `{what}` must hold samples along axis 0; received a scalar.")
    return torch.from_numpy(np.ascontiguousarray(array)) if array.dtype.kind in "biuf" else torch.as_tensor(array)


def _kind(value: Any, name: str) -> type | None:
    if value is None:
        return None
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float
    raise TypeError(f"Invalid `{name}` type. Expected: int or float or None. Received: {name}={value!r} of type "
                    f"{type(value).__name__}.")


def split_sizes(left_size: Any, right_size: Any, total: int) -> tuple[int, int]:
    """Keras's split sizes as sample counts: ints are counts, floats in (0, 1) fractions, ``None`` the rest.

    Raises:
        ConfigError: both ``None``, a size out of range, or sizes that add up past ``total``.
        TypeError: a size that is neither int, float nor ``None``.
    """
    left_kind, right_kind = _kind(left_size, "left_size"), _kind(right_size, "right_size")
    if left_kind is None and right_kind is None:
        raise ConfigError("At least one of the `left_size` or `right_size` must be specified. Received: "
                          "left_size=None and right_size=None.")
    for name, value, kind in (("left_size", left_size, left_kind), ("right_size", right_size, right_kind)):
        if (kind is int and not 0 < value < total) or (kind is float and not 0 < value < 1):
            raise ConfigError(f"`{name}` should be either a positive integer smaller than {total} (the dataset's "
                              f"length), or a float within the range (0, 1). Received: {name}={value!r}.")
    if left_kind is right_kind is float and left_size + right_size > 1:
        raise ConfigError(f"The sum of `left_size` and `right_size` is greater than 1 ({left_size} + {right_size}). "
                          "It must be less than or equal to 1.")
    left = None if left_kind is None else round(left_size * total) if left_kind is float else int(left_size)
    right = None if right_kind is None else round(right_size * total) if right_kind is float else int(right_size)
    left = total - right if left is None else left
    right = total - left if right is None else right
    if left + right > total:
        raise ConfigError(f"The sum of `left_size` and `right_size` should be at most the dataset's length {total}. "
                          f"Received: left_size={left_size!r} and right_size={right_size!r} ({left} + {right} "
                          "samples).")
    for side, size in (("left", left), ("right", right)):
        if size == 0:
            raise ConfigError(f"With a dataset of length {total}, left_size={left_size!r} and right_size="
                              f"{right_size!r}, the {side} split would be empty. Adjust the sizes.")
    return left, right
