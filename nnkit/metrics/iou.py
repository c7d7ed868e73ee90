"""Intersection-over-union metrics, as Keras defines them: ``IoU``, ``MeanIoU``, ``BinaryIoU``,
``OneHotIoU`` and ``OneHotMeanIoU``.

Every variant accumulates one weighted ``(num_classes, num_classes)`` confusion matrix on the device
of the first batch (one ``index_add_`` per batch, no host sync). The IoU of class ``c`` is
``tp / (tp + fp + fn)``; ``result()`` averages it over the target classes that occurred (a class
never seen in targets or predictions is left out, as in Keras).

Unlike Keras, whose confusion matrix defaults to ``dtype='int32'`` (so float sample weights are
truncated, with a warning), the counts here are float64 (float32 on MPS): fractional sample
weights count as given, which is what Keras computes with ``dtype='float32'``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from nnkit.config import epsilon
from nnkit.errors import ConfigError, DataError
from nnkit.metrics.base import METRICS, Metric, accumulator_dtype


def _check_int(metric: str, argument: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"Metric '{metric}' needs {argument} to be an int >= {low}. Received: {argument}={value!r}.")


class IoU(Metric):
    """Intersection over union of chosen classes: mean over ``target_class_ids`` of
    ``tp / (tp + fp + fn)``, for semantic segmentation and classification.

    Args:
        num_classes: Number of classes a prediction can take.
        target_class_ids: Classes whose IoU is averaged (e.g. ``[0]`` for one class).
        name: Name in logs (default ``'io_u'``, as in Keras).
        dtype: Accepted for Keras compatibility; counts are float64 (float32 on MPS).
        ignore_class: A target label left out entirely (e.g. a "void" class), or ``None``.
        sparse_y_true: Targets are integer labels; ``False``: one-hot (or scores), arg-max along ``axis``.
        sparse_y_pred: Predictions are integer labels; ``False``: class scores, arg-max along ``axis``.
        axis: Class axis for the arg-max of non-sparse inputs.

    Labels outside ``[0, num_classes)`` are skipped, as in Keras. Float labels are truncated to
    integers (Keras's cast), so probabilities must be given with ``sparse_y_pred=False``.

    Example:
        >>> m = IoU(num_classes=2, target_class_ids=[0])
        >>> float(m([0, 0, 1, 1], [0, 1, 0, 1]))  # class 0: tp 1, fp 1, fn 1
        0.333...
    """

    def __init__(self, num_classes: int, target_class_ids: Sequence[int], name: str | None = None,
                 dtype: Any = None, ignore_class: int | None = None, sparse_y_true: bool = True,
                 sparse_y_pred: bool = True, axis: int = -1) -> None:
        super().__init__(name=name, dtype=dtype)
        _check_int(self.name, "num_classes", num_classes, 1)
        target_class_ids = list(target_class_ids)
        if not target_class_ids:
            raise ConfigError(f"Metric '{self.name}' needs at least one class in target_class_ids. Received: [].")
        for class_id in target_class_ids:
            if isinstance(class_id, bool) or not isinstance(class_id, int) or not 0 <= class_id < num_classes:
                raise ConfigError(f"Metric '{self.name}': target class id {class_id!r} is out of range, which is "
                                  f"[0, {num_classes}). Pass ids of classes in [0, num_classes - 1].")
        self.num_classes = num_classes
        self.target_class_ids = target_class_ids
        self.ignore_class = ignore_class
        self.sparse_y_true = bool(sparse_y_true)
        self.sparse_y_pred = bool(sparse_y_pred)
        self.axis = axis
        self.reset_state()

    def reset_state(self) -> None:
        self.total_cm: Tensor | None = None  # weighted counts, flat: true * num_classes + pred

    def _labels(self, values: Tensor, sparse: bool) -> Tensor:
        """Flat int64 class labels (arg-max of scores when not sparse; floats truncated like Keras's cast)."""
        values = torch.as_tensor(values)
        if not sparse:
            values = values.argmax(dim=self.axis)
        return values.reshape(-1).long()

    def update_state(self, y_true: Tensor, y_pred: Tensor, sample_weight: Tensor | None = None) -> None:
        true_shape = tuple(torch.as_tensor(y_true).shape)
        true = self._labels(y_true, self.sparse_y_true)
        pred = self._labels(torch.as_tensor(y_pred).detach(), self.sparse_y_pred)
        if true.numel() != pred.numel():
            raise DataError(f"Metric '{self.name}' needs one target label per predicted label, but received y_true "
                            f"of shape {true_shape} ({true.numel()} labels) and y_pred of shape "
                            f"{tuple(torch.as_tensor(y_pred).shape)} ({pred.numel()} labels). Check "
                            "sparse_y_true / sparse_y_pred.")
        if self.total_cm is None:
            self.total_cm = torch.zeros(self.num_classes**2, dtype=accumulator_dtype(pred.device), device=pred.device)
        true = true.to(pred.device)
        n = self.num_classes
        keep = (true >= 0) & (true < n) & (pred >= 0) & (pred < n)
        if self.ignore_class is not None:
            keep &= true != self.ignore_class
        weight = keep.to(self.total_cm.dtype)
        if sample_weight is not None:
            weight = weight * _flat_weights(self.name, sample_weight, true_shape, true.numel(), pred.device)
        cells = torch.where(keep, true * n + pred, torch.zeros_like(true))
        self.total_cm.index_add_(0, cells, weight.to(self.total_cm.dtype))

    def result(self) -> Tensor:
        """The mean IoU over the target classes seen so far, a float32 scalar tensor (0 before any update)."""
        if self.total_cm is None:
            return torch.zeros((), dtype=torch.float32)
        cm = self.total_cm.reshape(self.num_classes, self.num_classes)
        tp = cm.diagonal()
        denominator = cm.sum(0) + cm.sum(1) - tp
        ids = torch.tensor(self.target_class_ids, device=cm.device)
        tp, denominator = tp[ids], denominator[ids]
        valid = denominator > 1e-9
        iou = torch.where(valid, tp / (denominator + epsilon()), torch.zeros_like(tp))
        return (iou.sum() / (valid.sum() + epsilon())).to(torch.float32)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "num_classes": self.num_classes, "target_class_ids": self.target_class_ids,
                "ignore_class": self.ignore_class, "sparse_y_true": self.sparse_y_true,
                "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}


def _flat_weights(metric: str, sample_weight: Any, true_shape: tuple[int, ...], size: int,
                  device: torch.device) -> Tensor:
    """One weight per label: a scalar, one weight per label, or one per sample (broadcast over its labels)."""
    weight = torch.as_tensor(sample_weight, device=device)
    if weight.numel() == size or weight.numel() == 1:
        return weight.reshape(-1).expand(size) if weight.numel() == 1 else weight.reshape(-1)
    rows = true_shape[0] if true_shape else 1
    if weight.numel() == rows and size % rows == 0:
        return weight.reshape(rows, 1).expand(rows, size // rows).reshape(-1)
    raise DataError(f"Metric '{metric}' needs sample_weight with one value per label ({size}) or per sample "
                    f"({rows}); received sample_weight of shape {tuple(weight.shape)} for y_true of shape "
                    f"{true_shape}.")


class MeanIoU(IoU):
    """IoU averaged over all ``num_classes`` classes (:class:`IoU` with every class as target).

    Args:
        num_classes: Number of classes.
        name: Name in logs (default ``'mean_io_u'``, as in Keras).
        dtype: Accepted for Keras compatibility.
        ignore_class: A target label left out entirely, or ``None``.
        sparse_y_true: Targets are integer labels (else arg-max along ``axis``).
        sparse_y_pred: Predictions are integer labels (else arg-max along ``axis``).
        axis: Class axis for non-sparse inputs.
    """

    def __init__(self, num_classes: int, name: str | None = None, dtype: Any = None, ignore_class: int | None = None,
                 sparse_y_true: bool = True, sparse_y_pred: bool = True, axis: int = -1) -> None:
        _check_int(name or "mean_io_u", "num_classes", num_classes, 1)
        super().__init__(num_classes, list(range(num_classes)), name=name, dtype=dtype, ignore_class=ignore_class,
                         sparse_y_true=sparse_y_true, sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["target_class_ids"]
        return config


class BinaryIoU(IoU):
    """IoU of a binary problem: predictions at or above ``threshold`` are class 1.

    Args:
        target_class_ids: Classes averaged: ``(0, 1)`` (default), ``[0]`` or ``[1]``.
        threshold: Scores ``>= threshold`` predict 1 (Keras's comparison).
        name: Name in logs (default ``'binary_io_u'``).
        dtype: Accepted for Keras compatibility.

    Targets are 0/1 values (other values are truncated to integers and skipped if out of range).
    """

    def __init__(self, target_class_ids: Sequence[int] = (0, 1), threshold: float = 0.5, name: str | None = None,
                 dtype: Any = None) -> None:
        super().__init__(2, target_class_ids, name=name, dtype=dtype)
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
            raise ConfigError(f"Metric '{self.name}' needs threshold to be a number. Received: threshold={threshold!r}.")
        self.threshold = float(threshold)

    def update_state(self, y_true: Tensor, y_pred: Tensor, sample_weight: Tensor | None = None) -> None:
        y_pred = (torch.as_tensor(y_pred).detach().float() >= self.threshold).long()
        super().update_state(y_true, y_pred, sample_weight)

    def get_config(self) -> dict[str, Any]:
        return {"target_class_ids": self.target_class_ids, "threshold": self.threshold, "name": self.name}


class OneHotIoU(IoU):
    """:class:`IoU` with one-hot targets (arg-max along ``axis``) and, by default, class scores as predictions.

    Args:
        num_classes: Number of classes.
        target_class_ids: Classes whose IoU is averaged.
        name: Name in logs (default ``'one_hot_io_u'``).
        dtype: Accepted for Keras compatibility.
        ignore_class: A target label left out entirely, or ``None``.
        sparse_y_pred: Predictions are integer labels (default ``False``: scores, arg-max along ``axis``).
        axis: Class axis.
    """

    def __init__(self, num_classes: int, target_class_ids: Sequence[int], name: str | None = None, dtype: Any = None,
                 ignore_class: int | None = None, sparse_y_pred: bool = False, axis: int = -1) -> None:
        super().__init__(num_classes, target_class_ids, name=name, dtype=dtype, ignore_class=ignore_class,
                         sparse_y_true=False, sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["sparse_y_true"]
        return config


class OneHotMeanIoU(MeanIoU):
    """:class:`MeanIoU` with one-hot targets and, by default, class scores as predictions.

    Args:
        num_classes: Number of classes.
        name: Name in logs (default ``'one_hot_mean_io_u'``).
        dtype: Accepted for Keras compatibility.
        ignore_class: A target label left out entirely, or ``None``.
        sparse_y_pred: Predictions are integer labels (default ``False``: scores, arg-max along ``axis``).
        axis: Class axis.
    """

    def __init__(self, num_classes: int, name: str | None = None, dtype: Any = None, ignore_class: int | None = None,
                 sparse_y_pred: bool = False, axis: int = -1) -> None:
        super().__init__(num_classes, name=name, dtype=dtype, ignore_class=ignore_class, sparse_y_true=False,
                         sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["sparse_y_true"]
        return config


for _name, _cls in (("io_u", IoU), ("mean_io_u", MeanIoU), ("binary_io_u", BinaryIoU), ("one_hot_io_u", OneHotIoU),
                   ("one_hot_mean_io_u", OneHotMeanIoU)):
    METRICS.add(_name, _cls)
