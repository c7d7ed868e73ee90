"""Overlap losses for segmentation masks: Dice and Tversky.

Unlike most losses they reduce over ``axis`` (all axes by default, giving one value for the whole batch), so
pass ``axis=(1, 2, 3)`` for one value per image of shape ``(batch, height, width, channels)``.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from nnkit.config import epsilon
from nnkit.losses.base import LOSSES, LossFunctionWrapper, _same_shape, _takes_arrays

Axis = int | Sequence[int] | None


def _dims(axis: Axis) -> int | tuple[int, ...] | None:
    """``axis`` as torch takes it; a list (as configs store tuples) becomes a tuple, so configs round-trip."""
    return axis if axis is None or isinstance(axis, int) else tuple(axis)


@_takes_arrays
def dice(y_true: Tensor, y_pred: Tensor, axis: Axis = None) -> Tensor:
    """``1 - 2 * sum(y_true * y_pred) / (sum(y_true) + sum(y_pred) + eps)`` over ``axis``.

    Args:
        y_true: Target masks (0/1 or soft), shaped like ``y_pred``.
        y_pred: Predicted masks.
        axis: Axes summed over; ``None`` sums everything.

    Returns:
        The loss with ``axis`` reduced: a scalar when ``axis`` is ``None``.

    Example:
        >>> y_true = [[[[1.0], [1.0]], [[0.0], [0.0]]], [[[1.0], [1.0]], [[0.0], [0.0]]]]
        >>> y_pred = [[[[0.0], [1.0]], [[0.0], [1.0]]], [[[0.4], [0.0]], [[0.0], [0.9]]]]
        >>> dice(y_true, y_pred, axis=(1, 2, 3))  # doctest: +SKIP
        tensor([0.5000, 0.7576])
    """
    y_true = _same_shape(y_true, y_pred, "dice")
    dims = _dims(axis)
    intersection = (y_true * y_pred).sum(dim=dims)
    return 1.0 - 2.0 * intersection / (y_true.sum(dim=dims) + y_pred.sum(dim=dims) + epsilon())


@_takes_arrays
def tversky(y_true: Tensor, y_pred: Tensor, alpha: float = 0.5, beta: float = 0.5, axis: Axis = None) -> Tensor:
    """``1 - TP / (TP + alpha * sum(y_true * (1 - y_pred)) + beta * sum((1 - y_true) * y_pred) + eps)``.

    ``TP = sum(y_true * y_pred)``. The weights sit where Keras puts them: ``alpha`` on the mass of the
    targets that the prediction misses, ``beta`` on the predicted mass outside the targets. With
    ``alpha = beta = 0.5`` this is the Dice loss.

    Args:
        y_true: Target masks (0/1 or soft), shaped like ``y_pred``.
        y_pred: Predicted masks.
        alpha: Weight of ``sum(y_true * (1 - y_pred))``.
        beta: Weight of ``sum((1 - y_true) * y_pred)``.
        axis: Axes summed over; ``None`` sums everything.

    Returns:
        The loss with ``axis`` reduced: a scalar when ``axis`` is ``None``.
    """
    y_true = _same_shape(y_true, y_pred, "tversky")
    dims = _dims(axis)
    intersection = (y_true * y_pred).sum(dim=dims)
    missed = ((1.0 - y_pred) * y_true).sum(dim=dims)
    extra = (y_pred * (1.0 - y_true)).sum(dim=dims)
    return 1.0 - intersection / (intersection + missed * alpha + extra * beta + epsilon())


@LOSSES.register("dice", aliases=("Dice",))
class Dice(LossFunctionWrapper):
    """The Dice loss: see :func:`dice`.

    Args:
        reduction: How the values become the loss (see :class:`Loss`).
        name: Name used in logs.
        axis: Axes summed over; ``None`` (the default) gives one value for the whole batch.

    Example:
        >>> model.compile(optimizer="adam", loss=Dice(axis=(1, 2, 3)))  # doctest: +SKIP
    """

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str | None = "dice",
                 axis: Axis = None) -> None:
        super().__init__(dice, name=name, reduction=reduction, axis=_dims(axis))


@LOSSES.register("tversky", aliases=("Tversky",))
class Tversky(LossFunctionWrapper):
    """The Tversky loss (Salehi et al., 2017), Dice with weighted misses: see :func:`tversky`.

    Args:
        alpha: Weight of the target mass the prediction misses.
        beta: Weight of the predicted mass outside the targets.
        reduction: How the values become the loss (see :class:`Loss`).
        name: Name used in logs.
        axis: Axes summed over; ``None`` (the default) gives one value for the whole batch.
    """

    def __init__(self, alpha: float = 0.5, beta: float = 0.5, reduction: str | None = "sum_over_batch_size",
                 name: str | None = "tversky", axis: Axis = None) -> None:
        super().__init__(tversky, name=name, reduction=reduction, alpha=alpha, beta=beta, axis=_dims(axis))


__all__ = ["Dice", "Tversky", "dice", "tversky"]
