"""Cross-entropies that weigh examples: binary and categorical focal cross-entropy, which down-weight easy
examples (Lin et al., 2018), and the generalized cross-entropy that tolerates noisy labels (Zhang & Sabuncu,
2018).

Like Keras on the torch backend, ``from_logits=True`` applies the sigmoid (softmax) and then the clipped
probability formula, so a model ending in a sigmoid or softmax gains nothing from running these losses on its
logits: training keeps them on the probabilities.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
from torch import Tensor
from torch.nn import functional as F

from nnkit.config import epsilon
from nnkit.errors import ConfigError
from nnkit.losses.base import LOSSES, LossFunctionWrapper, _same_shape, _takes_arrays
from nnkit.losses.probabilistic import _sparse_labels, one_hot_targets, sparse_targets


@_takes_arrays
def binary_focal_crossentropy(y_true: Tensor, y_pred: Tensor, apply_class_balancing: bool = False,
                              alpha: float = 0.25, gamma: float = 2.0, from_logits: bool = False,
                              label_smoothing: float = 0.0, axis: int = -1) -> Tensor:
    """Binary cross-entropy scaled by the focal factor ``(1 - p_t) ** gamma``, averaged over ``axis``.

    ``p_t`` is the predicted probability of the true class. With ``apply_class_balancing`` positives are
    also weighted by ``alpha`` and negatives by ``1 - alpha``; ``gamma=0`` gives binary cross-entropy.

    Args:
        y_true: 0/1 (or soft) targets shaped like ``y_pred``.
        y_pred: Probabilities, or logits if ``from_logits``.
        apply_class_balancing: Whether to weigh the classes by ``alpha`` and ``1 - alpha``.
        alpha: Weight of class 1 when balancing.
        gamma: Focusing parameter.
        from_logits: Whether ``y_pred`` holds logits.
        label_smoothing: Pull targets towards 0.5 by this fraction.
        axis: Axis the mean is taken over.

    Returns:
        The loss per sample: ``y_pred``'s shape without ``axis``.

    Example:
        >>> binary_focal_crossentropy([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]], gamma=2.0)  # doctest: +SKIP
        tensor([0.3300, 0.2055])
    """
    y_true = _same_shape(y_true, y_pred, "binary_focal_crossentropy")
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        y_pred = torch.sigmoid(y_pred)
    bce = F.binary_cross_entropy(y_pred.clamp(epsilon(), 1.0 - epsilon()), y_true, reduction="none")
    p_t = y_true * y_pred + (1.0 - y_true) * (1.0 - y_pred)
    focal_bce = torch.pow(1.0 - p_t, gamma) * bce
    if apply_class_balancing:
        focal_bce = (y_true * alpha + (1.0 - y_true) * (1.0 - alpha)) * focal_bce
    return focal_bce.mean(dim=axis)


@_takes_arrays
def categorical_focal_crossentropy(y_true: Tensor, y_pred: Tensor, alpha: float | Sequence[float] = 0.25,
                                   gamma: float = 2.0, from_logits: bool = False, label_smoothing: float = 0.0,
                                   axis: int = -1) -> Tensor:
    """Categorical cross-entropy with each class term scaled by ``alpha * (1 - p) ** gamma``.

    Args:
        y_true: One-hot (or soft) targets shaped like ``y_pred``.
        y_pred: Class probabilities along ``axis``, or logits if ``from_logits``.
        alpha: Weight of every class, or one weight per class (e.g. inverse class frequencies).
        gamma: Focusing parameter; ``0`` gives ``alpha`` times the categorical cross-entropy.
        from_logits: Whether ``y_pred`` holds logits.
        label_smoothing: Mix targets with the uniform distribution by this fraction.
        axis: The class axis.

    Returns:
        The loss per sample: ``y_pred``'s shape without ``axis``.

    Raises:
        ConfigError: ``axis`` is a bool.
    """
    if isinstance(axis, bool):
        raise ConfigError(f"categorical_focal_crossentropy: axis must be an int, but received axis={axis}.")
    y_true = _same_shape(y_true, y_pred, "categorical_focal_crossentropy")
    if y_pred.shape[-1] == 1:
        warnings.warn(
            f"In loss categorical_focal_crossentropy, expected y_pred.shape to be (batch_size, num_classes) with "
            f"num_classes > 1. Received: y_pred.shape={tuple(y_pred.shape)}. Consider using "
            "'binary_crossentropy' if you only have 2 classes.", SyntaxWarning, stacklevel=2)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_pred.shape[-1]
    if from_logits:
        y_pred = torch.softmax(y_pred, dim=axis)
    output = (y_pred / y_pred.sum(dim=axis, keepdim=True)).clamp(epsilon(), 1.0 - epsilon())
    if not isinstance(alpha, (int, float)):
        alpha = torch.as_tensor(alpha, dtype=output.dtype, device=output.device)
    weight = torch.pow(1.0 - output, gamma) * alpha
    return (weight * (-y_true * torch.log(output))).sum(dim=axis)


@_takes_arrays(sparse=True)
def categorical_generalized_cross_entropy(y_true: Tensor, y_pred: Tensor, q: float) -> Tensor:
    """``(1 - p ** q) / q``, with ``p`` the predicted probability of each sample's true class.

    Args:
        y_true: Integer class labels, shape ``(batch,)`` or ``(batch, 1)``.
        y_pred: Class probabilities, shape ``(batch, num_classes)``.
        q: Noise parameter in ``(0, 1)``: towards 0 the loss behaves like cross-entropy, towards 1 like the
            mean absolute error.

    Returns:
        The loss per sample.
    """
    labels = _sparse_labels(y_true, y_pred, "categorical_generalized_cross_entropy", "categorical_crossentropy")
    p = y_pred.gather(-1, labels.unsqueeze(-1)).squeeze(-1)
    return (1.0 - torch.pow(p, q)) / q


@LOSSES.register("binary_focal_crossentropy", aliases=("BinaryFocalCrossentropy",))
class BinaryFocalCrossentropy(LossFunctionWrapper):
    """Focal cross-entropy for 0/1 (or soft) targets: see :func:`binary_focal_crossentropy`.

    Args:
        apply_class_balancing: Whether to weigh class 1 by ``alpha`` and class 0 by ``1 - alpha``.
        alpha: Weight of class 1 when balancing.
        gamma: Focusing parameter; ``0`` gives binary cross-entropy.
        from_logits: Whether ``y_pred`` holds logits rather than probabilities.
        label_smoothing: Pull targets towards 0.5 by this fraction.
        axis: Axis the mean is taken over.
        reduction: How per-sample values become the loss (see :class:`Loss`).
        name: Name used in logs.

    Example:
        >>> model.compile(optimizer="adam", loss=BinaryFocalCrossentropy(gamma=2.0))  # doctest: +SKIP
    """

    def __init__(self, apply_class_balancing: bool = False, alpha: float = 0.25, gamma: float = 2.0,
                 from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction: str | None = "sum_over_batch_size", name: str | None = "binary_focal_crossentropy") -> None:
        super().__init__(binary_focal_crossentropy, name=name, reduction=reduction,
                         apply_class_balancing=apply_class_balancing, alpha=alpha, gamma=gamma,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)


@LOSSES.register("categorical_focal_crossentropy", aliases=("CategoricalFocalCrossentropy",))
class CategoricalFocalCrossentropy(LossFunctionWrapper):
    """Focal cross-entropy for one-hot (or soft) targets: see :func:`categorical_focal_crossentropy`.

    Args:
        alpha: Weight of every class, or a list with one weight per class.
        gamma: Focusing parameter.
        from_logits: Whether ``y_pred`` holds logits rather than probabilities.
        label_smoothing: Mix targets with the uniform distribution by this fraction.
        axis: The class axis.
        reduction: How per-sample values become the loss (see :class:`Loss`).
        name: Name used in logs.
    """

    def __init__(self, alpha: float | Sequence[float] = 0.25, gamma: float = 2.0, from_logits: bool = False,
                 label_smoothing: float = 0.0, axis: int = -1, reduction: str | None = "sum_over_batch_size",
                 name: str | None = "categorical_focal_crossentropy") -> None:
        super().__init__(categorical_focal_crossentropy, name=name, reduction=reduction, alpha=alpha, gamma=gamma,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)

    def prepare_targets(self, y: Tensor, output_shape: tuple[int, ...]) -> Tensor:
        return one_hot_targets(self, y, output_shape)


@LOSSES.register("categorical_generalized_cross_entropy", aliases=("CategoricalGeneralizedCrossEntropy",))
class CategoricalGeneralizedCrossEntropy(LossFunctionWrapper):
    """Generalized cross-entropy ``(1 - p ** q) / q`` for integer labels, robust to noisy labels.

    Unlike Keras, labels of shape ``(batch, 1)`` are read as ``(batch,)`` (Keras broadcasts them against
    every row of ``y_pred``).

    Args:
        q: Noise parameter in ``(0, 1)``; towards 0 like cross-entropy, towards 1 like mean absolute error.
        reduction: How per-sample values become the loss (see :class:`Loss`).
        name: Name used in logs.

    Raises:
        ConfigError: ``q`` is not in ``(0, 1)``.
    """

    _integer_targets = True

    def __init__(self, q: float = 0.5, reduction: str | None = "sum_over_batch_size",
                 name: str | None = "categorical_generalized_cross_entropy") -> None:
        if not 0 < q < 1:
            raise ConfigError(
                f"CategoricalGeneralizedCrossEntropy: q must be in the interval (0, 1), but received q={q}. "
                "Use a value such as 0.5 (the default) or 0.7."
            )
        super().__init__(categorical_generalized_cross_entropy, name=name, reduction=reduction, q=q)

    def prepare_targets(self, y: Tensor, output_shape: tuple[int, ...]) -> Tensor:
        return sparse_targets(self, y, output_shape)


__all__ = [
    "BinaryFocalCrossentropy", "CategoricalFocalCrossentropy", "CategoricalGeneralizedCrossEntropy",
    "binary_focal_crossentropy", "categorical_focal_crossentropy", "categorical_generalized_cross_entropy",
]
