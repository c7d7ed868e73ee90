"""Regression losses: squared, absolute, percentage, logarithmic, Huber, log-cosh and cosine errors."""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.nn import functional as F

from nnkit.config import epsilon
from nnkit.losses.base import LOSSES, LossFunctionWrapper, _same_shape, _simple_loss, _takes_arrays


@_takes_arrays
def mean_squared_error(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """``mean((y_true - y_pred) ** 2, axis=-1)``."""
    y_true = _same_shape(y_true, y_pred, "mean_squared_error")
    return torch.square(y_pred - y_true).mean(dim=-1)


@_takes_arrays
def mean_absolute_error(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """``mean(|y_true - y_pred|, axis=-1)``."""
    y_true = _same_shape(y_true, y_pred, "mean_absolute_error")
    return (y_pred - y_true).abs().mean(dim=-1)


@_takes_arrays
def mean_absolute_percentage_error(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """``100 * mean(|(y_true - y_pred) / max(|y_true|, eps)|, axis=-1)``."""
    y_true = _same_shape(y_true, y_pred, "mean_absolute_percentage_error")
    diff = (y_true - y_pred).abs() / y_true.abs().clamp_min(epsilon())
    return 100.0 * diff.mean(dim=-1)


@_takes_arrays
def mean_squared_logarithmic_error(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """``mean((log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1)) ** 2, axis=-1)``."""
    y_true = _same_shape(y_true, y_pred, "mean_squared_logarithmic_error")
    first = torch.log1p(y_pred.clamp_min(epsilon()))
    second = torch.log1p(y_true.clamp_min(epsilon()))
    return torch.square(first - second).mean(dim=-1)


@_takes_arrays
def huber(y_true: Tensor, y_pred: Tensor, delta: float = 1.0) -> Tensor:
    """Quadratic for ``|error| <= delta``, linear beyond, averaged over the last axis."""
    y_true = _same_shape(y_true, y_pred, "huber")
    return F.huber_loss(y_pred, y_true, reduction="none", delta=delta).mean(dim=-1)


@_takes_arrays
def log_cosh(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """``mean(log(cosh(y_pred - y_true)), axis=-1)``, computed without overflow."""
    y_true = _same_shape(y_true, y_pred, "log_cosh")
    x = y_pred - y_true
    return (x + F.softplus(-2.0 * x) - math.log(2.0)).mean(dim=-1)


@_takes_arrays
def cosine_similarity(y_true: Tensor, y_pred: Tensor, axis: int = -1) -> Tensor:
    """Negative cosine similarity along ``axis`` (so minimising it aligns the vectors)."""
    y_true = _same_shape(y_true, y_pred, "cosine_similarity")
    return -(F.normalize(y_true, dim=axis) * F.normalize(y_pred, dim=axis)).sum(dim=axis)


MeanSquaredError = _simple_loss("MeanSquaredError", mean_squared_error, ("mse",))
MeanSquaredError._mean_of = staticmethod(lambda y_true, y_pred: F.mse_loss(y_pred, y_true))
MeanAbsoluteError = _simple_loss("MeanAbsoluteError", mean_absolute_error, ("mae",))
MeanAbsoluteError._mean_of = staticmethod(lambda y_true, y_pred: F.l1_loss(y_pred, y_true))
MeanAbsolutePercentageError = _simple_loss("MeanAbsolutePercentageError", mean_absolute_percentage_error, ("mape",))
MeanSquaredLogarithmicError = _simple_loss("MeanSquaredLogarithmicError", mean_squared_logarithmic_error, ("msle",))
LogCosh = _simple_loss("LogCosh", log_cosh, ("logcosh",))


@LOSSES.register("huber", aliases=("huber_loss", "Huber"))
class Huber(LossFunctionWrapper):
    """Huber loss with threshold ``delta`` (default 1.0)."""

    def __init__(self, delta: float = 1.0, name: str | None = "huber_loss",
                 reduction: str | None = "sum_over_batch_size") -> None:
        super().__init__(huber, name=name, reduction=reduction, delta=delta)


@LOSSES.register("cosine_similarity", aliases=("CosineSimilarity",))
class CosineSimilarity(LossFunctionWrapper):
    """Negative cosine similarity along ``axis``."""

    def __init__(self, axis: int = -1, name: str | None = "cosine_similarity",
                 reduction: str | None = "sum_over_batch_size") -> None:
        super().__init__(cosine_similarity, name=name, reduction=reduction, axis=axis)


__all__ = [
    "CosineSimilarity", "Huber", "LogCosh", "MeanAbsoluteError", "MeanAbsolutePercentageError", "MeanSquaredError",
    "MeanSquaredLogarithmicError", "cosine_similarity", "huber", "log_cosh", "mean_absolute_error",
    "mean_absolute_percentage_error", "mean_squared_error", "mean_squared_logarithmic_error",
]
