"""Accuracy metrics with Keras semantics (thresholded, argmax and integer-label variants)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from nnkit.losses import align_ranks
from nnkit.metrics.base import METRICS, MeanMetricWrapper


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
    return (y_true.argmax(dim=-1) == y_pred.argmax(dim=-1)).to(torch.float32)


def sparse_categorical_accuracy(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """1.0 where the arg-max of ``y_pred`` equals the integer label ``y_true``."""
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true.squeeze(-1)
    return (y_true.long() == y_pred.argmax(dim=-1)).to(torch.float32)


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
