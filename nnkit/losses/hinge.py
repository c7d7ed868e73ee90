"""Hinge losses for -1/1 (or 0/1) labels and raw scores: hinge, squared hinge and categorical hinge."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from nnkit.losses.base import _same_shape, _simple_loss, _takes_arrays


def _hinge_labels(y_true: Tensor) -> Tensor:
    """Keras converts 0/1 labels to -1/1 for hinge losses."""
    is_binary = torch.all((y_true == 0) | (y_true == 1))
    return torch.where(is_binary, 2.0 * y_true - 1.0, y_true)


@_takes_arrays
def hinge(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """``mean(max(1 - y_true * y_pred, 0), axis=-1)``; 0/1 labels are read as -1/1."""
    y_true = _hinge_labels(_same_shape(y_true, y_pred, "hinge"))
    return F.relu(1.0 - y_true * y_pred).mean(dim=-1)


@_takes_arrays
def squared_hinge(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """``mean(max(1 - y_true * y_pred, 0) ** 2, axis=-1)``; 0/1 labels are read as -1/1."""
    y_true = _hinge_labels(_same_shape(y_true, y_pred, "squared_hinge"))
    return torch.square(F.relu(1.0 - y_true * y_pred)).mean(dim=-1)


@_takes_arrays
def categorical_hinge(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """``max(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0)``."""
    y_true = _same_shape(y_true, y_pred, "categorical_hinge")
    positive = (y_true * y_pred).sum(dim=-1)
    negative = ((1.0 - y_true) * y_pred).amax(dim=-1)
    return F.relu(negative - positive + 1.0)


Hinge = _simple_loss("Hinge", hinge)
SquaredHinge = _simple_loss("SquaredHinge", squared_hinge)
CategoricalHinge = _simple_loss("CategoricalHinge", categorical_hinge)

__all__ = ["CategoricalHinge", "Hinge", "SquaredHinge", "categorical_hinge", "hinge", "squared_hinge"]
