"""Label and array helpers from ``keras.utils``."""

from __future__ import annotations

import numpy as np

from nnkit.errors import DataError


def to_categorical(x, num_classes: int | None = None) -> np.ndarray:
    """One-hot encode integer class labels.

    Args:
        x: Array-like of non-negative integer labels; a trailing axis of size 1 is dropped.
        num_classes: Number of classes; ``max(x) + 1`` when omitted.

    Returns:
        A float array of shape ``x.shape + (num_classes,)``.

    Example:
        >>> to_categorical([0, 2], num_classes=3).tolist()
        [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    """
    labels = np.asarray(x)
    if labels.size and not np.all(np.equal(np.mod(labels, 1), 0)):
        raise DataError(f"to_categorical expects integer class labels. Received values such as {labels.flat[0]!r}.")
    labels = labels.astype("int64")
    if labels.ndim > 1 and labels.shape[-1] == 1:
        labels = labels.reshape(labels.shape[:-1])
    if labels.size and labels.min() < 0:
        raise DataError(f"to_categorical expects non-negative labels. Received a minimum of {labels.min()}.")
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    elif labels.size and labels.max() >= num_classes:
        raise DataError(
            f"to_categorical received label {labels.max()} but num_classes={num_classes}: labels must be "
            f"in [0, {num_classes - 1}]. Raise num_classes or fix the labels."
        )
    return np.eye(num_classes, dtype="float64")[labels]


def normalize(x, axis: int = -1, order: int = 2) -> np.ndarray:
    """Scale ``x`` to unit ``order``-norm along ``axis`` (zero vectors stay zero)."""
    array = np.asarray(x, dtype="float64")
    norm = np.linalg.norm(array, ord=order, axis=axis, keepdims=True)
    return array / np.where(norm == 0, 1, norm)
