"""Probabilistic losses: binary, categorical and sparse cross-entropy, KL divergence and Poisson.

When a model ends in a softmax or sigmoid, training computes its cross-entropy from the pre-activation
logits (as Keras on TensorFlow does, see :meth:`Loss.with_logits_of`), so saturated outputs neither lose
precision nor produce inf.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from nnkit.config import epsilon
from nnkit.errors import DataError
from nnkit.losses.base import (
    LOSSES,
    Loss,
    LossFunctionWrapper,
    _check_range,
    _integer_labels,
    _same_shape,
    _simple_loss,
    _takes_arrays,
)


@_takes_arrays
def binary_crossentropy(y_true: Tensor, y_pred: Tensor, from_logits: bool = False,
                        label_smoothing: float = 0.0) -> Tensor:
    """Binary cross-entropy averaged over the last axis; ``y_pred`` are probabilities unless
    ``from_logits``."""
    y_true = _same_shape(y_true, y_pred, "binary_crossentropy")
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        return F.binary_cross_entropy_with_logits(y_pred, y_true, reduction="none").mean(dim=-1)
    p = y_pred.clamp(epsilon(), 1.0 - epsilon())
    return -(y_true * torch.log(p) + (1.0 - y_true) * torch.log1p(-p)).mean(dim=-1)


@_takes_arrays
def categorical_crossentropy(y_true: Tensor, y_pred: Tensor, from_logits: bool = False,
                             label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy between one-hot (or soft) targets and class probabilities on the last axis."""
    y_true = _same_shape(y_true, y_pred, "categorical_crossentropy")
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_pred.shape[-1]
    if from_logits:
        return F.cross_entropy(y_pred.movedim(-1, 1), y_true.movedim(-1, 1), reduction="none")
    p = y_pred / y_pred.sum(dim=-1, keepdim=True)
    return -(y_true * torch.log(p.clamp(epsilon(), 1.0 - epsilon()))).sum(dim=-1)


def _sparse_labels(y_true: Tensor, y_pred: Tensor, loss: str, dense_twin: str) -> Tensor:
    """``y_true`` as one int64 label per row of ``y_pred`` (a trailing axis of 1 dropped)."""
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true.squeeze(-1)
    if y_true.shape != y_pred.shape[:-1]:
        raise DataError(
            f"Loss '{loss}' needs one integer label per output row: targets of shape "
            f"{tuple(y_pred.shape[:-1])} for outputs of shape {tuple(y_pred.shape)}, but received targets of "
            f"shape {tuple(y_true.shape)}. One-hot targets need '{dense_twin}'."
        )
    return y_true.long()


@_takes_arrays(sparse=True)
def sparse_categorical_crossentropy(y_true: Tensor, y_pred: Tensor, from_logits: bool = False) -> Tensor:
    """Cross-entropy between integer class labels and class probabilities on the last axis."""
    labels = _sparse_labels(y_true, y_pred, "sparse_categorical_crossentropy", "categorical_crossentropy")
    if from_logits:
        return F.cross_entropy(y_pred.movedim(-1, 1), labels, reduction="none")
    p = y_pred / y_pred.sum(dim=-1, keepdim=True)
    log_p = torch.log(p.clamp(epsilon(), 1.0 - epsilon()))
    return -log_p.gather(-1, labels.unsqueeze(-1)).squeeze(-1)


@_takes_arrays
def kl_divergence(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """``sum(y_true * log(y_true / y_pred), axis=-1)`` with both clipped to ``[eps, 1]``."""
    y_true = _same_shape(y_true, y_pred, "kl_divergence").clamp(epsilon(), 1.0)
    y_pred = y_pred.clamp(epsilon(), 1.0)
    return (y_true * torch.log(y_true / y_pred)).sum(dim=-1)


@_takes_arrays
def poisson(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """``mean(y_pred - y_true * log(y_pred + eps), axis=-1)``."""
    y_true = _same_shape(y_true, y_pred, "poisson")
    return (y_pred - y_true * torch.log(y_pred + epsilon())).mean(dim=-1)


KLDivergence = _simple_loss("KLDivergence", kl_divergence, ("kld", "kullback_leibler_divergence"))
Poisson = _simple_loss("Poisson", poisson)


@LOSSES.register("binary_crossentropy", aliases=("BinaryCrossentropy", "bce"))
class BinaryCrossentropy(LossFunctionWrapper):
    """Binary cross-entropy for 0/1 (or soft) targets and sigmoid probabilities.

    Args:
        from_logits: Whether ``y_pred`` holds logits rather than probabilities.
        label_smoothing: Pull targets towards 0.5 by this fraction.
    """

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0,
                 name: str | None = "binary_crossentropy", reduction: str | None = "sum_over_batch_size") -> None:
        super().__init__(binary_crossentropy, name=name, reduction=reduction, from_logits=from_logits,
                         label_smoothing=label_smoothing)
        if from_logits and not label_smoothing:
            self._mean_of = lambda y_true, y_pred: F.binary_cross_entropy_with_logits(y_pred, y_true)

    def prepare_targets(self, y: Tensor, output_shape: tuple[int, ...]) -> Tensor:
        y = super().prepare_targets(y, output_shape)
        _check_range(y, 0.0, 1.0, self.name, "Binary cross-entropy needs 0/1 labels or probabilities.")
        return y

    def with_logits_of(self, activation: str) -> Loss | None:
        if activation != "sigmoid" or self.fn_kwargs["from_logits"]:
            return None
        return type(self)(**{**self.get_config(), "from_logits": True})


def one_hot_targets(loss: Loss, y: Tensor, output_shape: tuple[int, ...],
                    hint: str = "It needs one-hot rows or probabilities.") -> Tensor:
    """:meth:`Loss.prepare_targets` for losses on one-hot (or soft) rows: probabilities shaped like the output."""
    if y.ndim == len(output_shape) or (y.ndim == len(output_shape) + 1 and y.shape[-1] == 1 != output_shape[-1]):
        raise DataError(
            f"Loss '{loss.name}' needs one-hot targets of shape (n, {output_shape[-1]}), but y has shape "
            f"{tuple(y.shape)}. Convert integer labels with nnkit.utils.to_categorical(y, "
            f"{output_shape[-1]}) or use loss='sparse_categorical_crossentropy'."
        )
    y = Loss.prepare_targets(loss, y, output_shape)
    _check_range(y, 0.0, 1.0, loss.name, hint)
    return y


def sparse_targets(loss: Loss, y: Tensor, output_shape: tuple[int, ...]) -> Tensor:
    """:meth:`Loss.prepare_targets` for losses on integer class labels: int64, one per output row, in range."""
    if y.ndim == len(output_shape) + 1 and y.shape[-1] == 1:
        y = y.squeeze(-1)
    n_classes = output_shape[-1]
    if tuple(y.shape[1:]) != tuple(output_shape[:-1]):
        raise DataError(
            f"Loss '{loss.name}' needs one integer label per sample (shape (n,)), but y has shape "
            f"{tuple(y.shape)}. For one-hot targets use loss='categorical_crossentropy'."
        )
    y = _integer_labels(y, loss.name, "For probabilities use loss='categorical_crossentropy'.")
    if y.numel() and (bool(y.min() < 0) or bool(y.max() >= n_classes)):
        raise DataError(
            f"Loss '{loss.name}' got labels from {y.min().item()} to {y.max().item()}, but the model "
            f"outputs {n_classes} classes, so labels must be in [0, {n_classes - 1}]. Give the last "
            f"layer one unit per class or re-encode the labels."
        )
    return y


@LOSSES.register("categorical_crossentropy", aliases=("CategoricalCrossentropy", "cce"))
class CategoricalCrossentropy(LossFunctionWrapper):
    """Cross-entropy for one-hot (or soft) targets and class probabilities.

    Args:
        from_logits: Whether ``y_pred`` holds logits rather than probabilities.
        label_smoothing: Mix targets with the uniform distribution by this fraction.
    """

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0,
                 name: str | None = "categorical_crossentropy",
                 reduction: str | None = "sum_over_batch_size") -> None:
        super().__init__(categorical_crossentropy, name=name, reduction=reduction, from_logits=from_logits,
                         label_smoothing=label_smoothing)
        if from_logits:
            self._mean_of = lambda y_true, y_pred: F.cross_entropy(y_pred, y_true, label_smoothing=label_smoothing)

    def prepare_targets(self, y: Tensor, output_shape: tuple[int, ...]) -> Tensor:
        return one_hot_targets(self, y, output_shape, "Categorical cross-entropy needs one-hot rows or probabilities.")

    def with_logits_of(self, activation: str) -> Loss | None:
        if activation != "softmax" or self.fn_kwargs["from_logits"]:
            return None
        return type(self)(**{**self.get_config(), "from_logits": True})


@LOSSES.register("sparse_categorical_crossentropy", aliases=("SparseCategoricalCrossentropy",))
class SparseCategoricalCrossentropy(LossFunctionWrapper):
    """Cross-entropy for integer class labels and class probabilities.

    Args:
        from_logits: Whether ``y_pred`` holds logits rather than probabilities.
    """

    _integer_targets = True

    def __init__(self, from_logits: bool = False, name: str | None = "sparse_categorical_crossentropy",
                 reduction: str | None = "sum_over_batch_size") -> None:
        super().__init__(sparse_categorical_crossentropy, name=name, reduction=reduction, from_logits=from_logits)

    def __call__(self, y_true: Tensor, y_pred: Tensor, sample_weight: Tensor | None = None) -> Tensor:
        if not isinstance(y_pred, Tensor) or not isinstance(y_true, Tensor) or not (
                sample_weight is None or isinstance(sample_weight, Tensor)):
            y_true, y_pred, sample_weight = self._tensors(y_true, y_pred, sample_weight)
        if (sample_weight is None and self.fn_kwargs["from_logits"] and y_pred.ndim == 2 and y_true.ndim == 1
                and y_true.dtype == torch.int64 and self.reduction in ("sum_over_batch_size", "mean")):
            return F.cross_entropy(y_pred, y_true)
        return super().__call__(y_true, y_pred, sample_weight)

    def prepare_targets(self, y: Tensor, output_shape: tuple[int, ...]) -> Tensor:
        return sparse_targets(self, y, output_shape)

    def with_logits_of(self, activation: str) -> Loss | None:
        if activation != "softmax" or self.fn_kwargs["from_logits"]:
            return None
        return type(self)(**{**self.get_config(), "from_logits": True})


__all__ = [
    "BinaryCrossentropy", "CategoricalCrossentropy", "KLDivergence", "Poisson", "SparseCategoricalCrossentropy",
    "binary_crossentropy", "categorical_crossentropy", "kl_divergence", "poisson", "sparse_categorical_crossentropy",
]
