"""Metrics mirroring ``keras.metrics``.

``get`` resolves what ``compile(metrics=[...])`` accepts: names (``'accuracy'`` picks the binary,
categorical or sparse variant from the shapes, as Keras does), loss names (``'mse'``), ``Metric``
instances, and plain functions ``fn(y_true, y_pred)`` averaged over samples.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nnkit import losses
from nnkit.errors import ConfigError
from nnkit.metrics.accuracy import (
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    accuracy,
    binary_accuracy,
    categorical_accuracy,
    sparse_categorical_accuracy,
)
from nnkit.metrics.base import METRICS, Mean, MeanMetricWrapper, Metric
from nnkit.registry import closest, snake_case

__all__ = [
    "Accuracy", "BinaryAccuracy", "CategoricalAccuracy", "Mean", "MeanMetricWrapper", "Metric",
    "SparseCategoricalAccuracy", "accuracy", "binary_accuracy", "categorical_accuracy", "get",
    "sparse_categorical_accuracy",
]


def _accuracy_for(loss: losses.Loss | None, target_shape: tuple[int, ...], output_shape: tuple[int, ...]) -> Callable:
    """Keras's rule for the string 'accuracy': binary, sparse or categorical from the shapes."""
    if isinstance(loss, losses.BinaryCrossentropy) or output_shape[-1:] == (1,):
        return binary_accuracy
    if isinstance(loss, losses.SparseCategoricalCrossentropy):
        return sparse_categorical_accuracy
    sparse = len(target_shape) < len(output_shape) or (target_shape[-1:] == (1,) and output_shape[-1] > 1)
    return sparse_categorical_accuracy if sparse else categorical_accuracy


def get(identifier: str | Metric | Callable[..., Any], *, loss: losses.Loss | None = None,
        target_shape: tuple[int, ...] = (), output_shape: tuple[int, ...] = ()) -> Metric:
    """A :class:`Metric` for a ``compile(metrics=...)`` entry.

    Args:
        identifier: A name, a Metric, or a function ``fn(y_true, y_pred) -> per-sample values``.
        loss: The compiled loss (decides what ``'accuracy'`` means).
        target_shape: Shape of ``y`` without the batch axis.
        output_shape: Shape of the model output without the batch axis.
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        if identifier in ("accuracy", "acc"):
            return MeanMetricWrapper(_accuracy_for(loss, target_shape, output_shape), name=identifier)
        if identifier in METRICS:
            return METRICS.get(identifier)()
        if identifier in losses.LOSSES:
            fn = losses.LOSSES.get(identifier)()
            return MeanMetricWrapper(lambda y_true, y_pred: fn.call(y_true, y_pred), name=identifier)
        known = sorted({*METRICS.names(), *losses.LOSSES.names(), "accuracy", "acc"})
        guess = closest(snake_case(identifier), known)
        hint = f" Did you mean '{guess}'?" if guess else ""
        raise ConfigError(f"Unknown metric '{identifier}'.{hint} Known metrics: {', '.join(known)}.")
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    raise ConfigError(f"Expected a metric name, a Metric or a function fn(y_true, y_pred). Received: {identifier!r}.")
