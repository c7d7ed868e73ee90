"""Accuracy metrics with Keras semantics: thresholded, arg-max, integer-label and top-k variants."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from nnkit.errors import ConfigError, DataError
from nnkit.losses import align_ranks
from nnkit.metrics import labels as lab
from nnkit.metrics.base import METRICS, Mean, MeanMetricWrapper, Metric


def accuracy(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """1.0 where ``y_pred`` equals ``y_true`` exactly, else 0.0."""
    y_true = align_ranks(y_true, y_pred)
    return (y_true == y_pred).to(torch.float32)


def binary_accuracy(y_true: Tensor, y_pred: Tensor, threshold: float = 0.5) -> Tensor:
    """Share of outputs on the correct side of ``threshold``, averaged over the last axis."""
    y_true = align_ranks(y_true, y_pred)
    return ((y_pred > threshold) == (y_true > 0.5)).to(torch.float32).mean(dim=-1)


def categorical_accuracy(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """1.0 where the arg-max of ``y_pred`` matches the arg-max of one-hot ``y_true``."""
    return (lab.argmax(y_true) == lab.argmax(y_pred)).to(torch.float32)


def sparse_categorical_accuracy(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """1.0 where the arg-max of ``y_pred`` equals the integer label ``y_true``."""
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true.squeeze(-1)
    return (y_true.long() == lab.argmax(y_pred)).to(torch.float32)


class Accuracy(MeanMetricWrapper):
    """How often predictions equal labels exactly."""

    def __init__(self, name: str = "accuracy", dtype: Any = None) -> None:
        super().__init__(accuracy, name=name, dtype=dtype)


@METRICS.register("binary_accuracy")
class BinaryAccuracy(MeanMetricWrapper):
    """How often thresholded probabilities match binary labels."""

    def __init__(self, name: str = "binary_accuracy", dtype: Any = None, threshold: float = 0.5) -> None:
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)


@METRICS.register("categorical_accuracy")
class CategoricalAccuracy(MeanMetricWrapper):
    """How often the predicted class matches one-hot labels."""

    def __init__(self, name: str = "categorical_accuracy", dtype: Any = None) -> None:
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


@METRICS.register("sparse_categorical_accuracy")
class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often the predicted class matches integer labels."""

    def __init__(self, name: str = "sparse_categorical_accuracy", dtype: Any = None) -> None:
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)


def top_k_categorical_accuracy(y_true: Tensor, y_pred: Tensor, k: int = 5) -> Tensor:
    """1.0 where the true class is among the ``k`` highest scores (ties count as hits, as in Keras).

    ``y_true`` may be one-hot rows or integer labels.
    """
    labels, _ = lab.target_classes(y_true, y_pred, "top_k_categorical_accuracy")
    return _in_top_k(labels, y_pred, k).reshape(lab.rows(y_pred))


def _in_top_k(labels: Tensor, y_pred: Tensor, k: int) -> Tensor:
    """Per row, 1.0 if fewer than ``k`` classes score strictly higher than the true one (no sort)."""
    scores = y_pred.reshape(-1, y_pred.shape[-1])
    return ((scores > scores.gather(1, labels[:, None])).sum(1) < k).to(torch.float32)


def sparse_top_k_categorical_accuracy(y_true: Tensor, y_pred: Tensor, k: int = 5,
                                      from_sorted_ids: bool = False) -> Tensor:
    """1.0 where the integer label ``y_true`` is among the ``k`` highest scores of ``y_pred``.

    With ``from_sorted_ids=True``, ``y_pred`` holds per row the ids of the top categories, best first (as a
    retrieval model returns them), and a hit is ``y_true`` among the first ``k`` of them.
    """
    if from_sorted_ids:
        return _in_sorted_ids(torch.as_tensor(y_true), torch.as_tensor(y_pred), k, "sparse_top_k_categorical_accuracy")
    return top_k_categorical_accuracy(y_true, y_pred, k)


def _in_sorted_ids(y_true: Tensor, y_pred: Tensor, k: int, metric: str) -> Tensor:
    """Per row, 1.0 if the id ``y_true`` is among the first ``k`` ids of the row of ``y_pred``."""
    if y_pred.ndim < 2:
        raise DataError(f"Metric '{metric}' with from_sorted_ids=True needs the top ids of each sample, shape "
                        f"(n, N); received predictions of shape {tuple(y_pred.shape)}.")
    ids = y_pred.reshape(-1, y_pred.shape[-1])[:, :k]
    ids_of_true = y_true.to(device=ids.device, dtype=ids.dtype).reshape(-1, 1)  # Keras casts to y_pred's dtype
    if ids_of_true.shape[0] != ids.shape[0]:
        raise DataError(f"Metric '{metric}' needs one target id per sample ({ids.shape[0]}); received targets of "
                        f"shape {tuple(y_true.shape)} for predictions of shape {tuple(y_pred.shape)}.")
    return (ids_of_true == ids).any(dim=1).to(torch.float32)


@METRICS.register("top_k_categorical_accuracy")
class TopKCategoricalAccuracy(Mean):
    """How often the true class is among the ``k`` highest-scored classes.

    Targets may be one-hot rows or integer labels (so this and :class:`SparseTopKCategoricalAccuracy`
    differ only in their default name).

    Args:
        k: How many top classes count as a hit (at most the number of classes).
        name: Name in logs.
        dtype: Accepted for Keras compatibility.

    Raises:
        ConfigError: ``k`` is not a positive int, or exceeds the number of classes.
    """

    def __init__(self, k: int = 5, name: str = "top_k_categorical_accuracy", dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ConfigError(f"Metric '{self.name}' needs k to be a positive int. Received: k={k!r}.")
        self.k = k

    def reset_state(self) -> None:
        super().reset_state()
        self._bad: Tensor | None = None

    def check_compatible(self, output_shape: tuple[int, ...], integer_labels: bool) -> None:
        if output_shape:
            self._check_classes(output_shape[-1])

    def _check_classes(self, n_classes: int) -> None:
        if self.k > n_classes:
            raise ConfigError(f"Metric '{self.name}' has k={self.k}, but the predictions have only {n_classes} "
                              f"classes; k must be at most {n_classes}. Pass "
                              f"{type(self).__name__}(k={max(1, n_classes - 1)}) or fewer.")

    def update_state(self, y_true: Tensor, y_pred: Tensor, sample_weight: Tensor | None = None) -> None:  # type: ignore[override]
        y_true, y_pred = torch.as_tensor(y_true), torch.as_tensor(y_pred)
        if y_pred.ndim < 2:
            raise DataError(f"Metric '{self.name}' needs one score per class, shape (n, n_classes); received "
                            f"predictions of shape {tuple(y_pred.shape)}.")
        self._check_classes(y_pred.shape[-1])
        labels, bad = lab.target_classes(y_true, y_pred, self.name)
        self._bad = bad if self._bad is None else self._bad + bad
        self._accumulate(_in_top_k(labels, y_pred, self.k), lab.row_weights(sample_weight, y_pred, self.name))

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Tensor:  # type: ignore[override]
        return Metric.__call__(self, y_true, y_pred, sample_weight)

    def result(self) -> Tensor:
        if self._bad is not None and int(self._bad):
            raise DataError(f"Metric '{self.name}' received {int(self._bad)} target label(s) that are not integer "
                            "class labels within the predicted classes.")
        return super().result()

    def get_config(self) -> dict[str, Any]:
        return {"k": self.k, "name": self.name}


@METRICS.register("sparse_top_k_categorical_accuracy")
class SparseTopKCategoricalAccuracy(TopKCategoricalAccuracy):
    """:class:`TopKCategoricalAccuracy` under Keras's name for integer labels.

    Args:
        k: How many top classes count as a hit.
        name: Name in logs.
        dtype: Accepted for Keras compatibility.
        from_sorted_ids: ``y_pred`` holds per sample the ids of the top categories, best first, shape
            ``(n, N)``, instead of a score per class; a hit is the target id among the first ``k`` of them.

    Example:
        >>> m = SparseTopKCategoricalAccuracy(k=1, from_sorted_ids=True)
        >>> m.update_state([2, 1], [[1, 0, 3], [1, 2, 3]])
        >>> float(m.result())
        0.5
    """

    def __init__(self, k: int = 5, name: str = "sparse_top_k_categorical_accuracy", dtype: Any = None,
                 from_sorted_ids: bool = False) -> None:
        super().__init__(k=k, name=name, dtype=dtype)
        self.from_sorted_ids = from_sorted_ids

    def check_compatible(self, output_shape: tuple[int, ...], integer_labels: bool) -> None:
        if not self.from_sorted_ids:  # sorted ids: the outputs are ids, any number of them
            super().check_compatible(output_shape, integer_labels)

    def update_state(self, y_true: Tensor, y_pred: Tensor, sample_weight: Tensor | None = None) -> None:  # type: ignore[override]
        if not self.from_sorted_ids:
            return super().update_state(y_true, y_pred, sample_weight)
        y_pred = torch.as_tensor(y_pred)
        hits = _in_sorted_ids(torch.as_tensor(y_true), y_pred, self.k, self.name)
        self._accumulate(hits, lab.row_weights(sample_weight, y_pred, self.name))

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        if self.from_sorted_ids:  # as Keras: only when set
            config["from_sorted_ids"] = True
        return config
