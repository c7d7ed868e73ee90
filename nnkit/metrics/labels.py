"""Reading classification targets and outputs in any label format.

Targets may be integer labels (``(n,)`` or ``(n, 1)``), one-hot (or soft) rows shaped like the
outputs, or 0/1 values for a single sigmoid unit. Outputs are per-class scores: probabilities,
or logits when the metric has ``from_logits=True``. What the outputs mean follows from their shape
and the metric's ``threshold``:

* one column (or a 1-D vector): a binary problem; class 1 is predicted where the score exceeds
  ``threshold`` (0.5 unless given);
* several columns and no ``threshold``: single-label multiclass; the arg-max is the predicted class
  (so two softmax units are a binary problem too);
* several columns and a ``threshold``: multi-label; each column is thresholded on its own.

Every function here runs on the device of its inputs without reading values back to the host:
impossible labels (negative, too large, fractional) are counted in a tensor that the metric checks
once, in ``result()``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from nnkit.errors import DataError

BINARY, MULTICLASS, MULTILABEL = "binary", "multiclass", "multilabel"


@dataclass(frozen=True)
class Task:
    """What a metric learned from the first batch.

    Attributes:
        kind: ``'binary'`` (one score column), ``'multiclass'`` (arg-max over columns) or
            ``'multilabel'`` (each column thresholded).
        n_classes: Number of classes; 2 for a single sigmoid unit.
    """

    kind: str
    n_classes: int

    def describe(self) -> str:
        """The task in a user's words, for error messages."""
        if self.kind == BINARY:
            return "a binary problem (one output unit)"
        if self.kind == MULTILABEL:
            return f"a multi-label problem with {self.n_classes} thresholded outputs"
        return f"a {self.n_classes}-class problem"


def task_of(y_pred: Tensor, threshold: float | None) -> Task:
    """The task implied by an output batch and the metric's threshold."""
    return task_of_shape(tuple(y_pred.shape[1:]), threshold)


def task_of_shape(output_shape: tuple[int, ...], threshold: float | None) -> Task:
    """The task implied by an output shape without the batch axis (``()``: one score per sample)."""
    columns = output_shape[-1] if output_shape else 1
    if columns == 1:
        return Task(BINARY, 2)
    return Task(MULTICLASS if threshold is None else MULTILABEL, columns)


def argmax(scores: Tensor) -> Tensor:
    """Index of the largest value on the last axis (the first one on ties).

    The copy to a contiguous layout pays for itself: on CPU, ``argmax`` over the non-contiguous last axis
    of the outputs the training loop hands to metrics (a transposed softmax) is about four times slower
    than copy + ``argmax``. (``max(-1).indices`` is as fast there, but enters torch's thread pool even for
    a handful of rows, which costs milliseconds when the cores are busy.)
    """
    return scores.contiguous().argmax(dim=-1)


def rows(y_pred: Tensor) -> tuple[int, ...]:
    """The shape of one prediction per sample (all axes but the class axis)."""
    if y_pred.ndim <= 1:
        return tuple(y_pred.shape)
    return tuple(y_pred.shape[:-1])


def row_weights(sample_weight: Tensor | None, y_pred: Tensor, metric: str) -> Tensor | None:
    """``sample_weight`` broadcast to one weight per prediction row, flattened."""
    if sample_weight is None:
        return None
    shape = rows(y_pred)
    weight = torch.as_tensor(sample_weight, device=y_pred.device)
    while weight.ndim > len(shape) and weight.shape[-1] == 1:
        weight = weight.squeeze(-1)
    weight = weight.reshape(tuple(weight.shape) + (1,) * (len(shape) - weight.ndim))
    try:
        return torch.broadcast_to(weight, shape).reshape(-1)
    except RuntimeError:
        raise DataError(
            f"Metric '{metric}' needs one sample weight per sample, shape {shape[:1]}, but received "
            f"sample_weight of shape {tuple(sample_weight.shape)} for predictions of shape {tuple(y_pred.shape)}."
        ) from None


def _shape_error(metric: str, y_true: Tensor, y_pred: Tensor) -> DataError:
    shape = rows(y_pred)
    columns = y_pred.shape[-1] if y_pred.ndim >= 2 else 1
    one_hot = f" or one-hot rows of shape {(*shape, columns)}" if columns > 1 else ""
    return DataError(
        f"Metric '{metric}' cannot pair targets of shape {tuple(y_true.shape)} with predictions of shape "
        f"{tuple(y_pred.shape)}: pass integer labels of shape {shape}{one_hot}."
    )


def _is_labels(y_true: Tensor, y_pred: Tensor) -> bool:
    """Whether ``y_true`` holds one label per prediction row (``(n,)`` or ``(n, 1)``)."""
    shape = rows(y_pred)
    return tuple(y_true.shape) in (shape, (*shape, 1))


def _integer_labels(y_true: Tensor, n_classes: int) -> tuple[Tensor, Tensor]:
    """Flat int64 labels clamped into range, and how many were out of range or fractional."""
    flat = y_true.reshape(-1)
    bad = torch.zeros((), dtype=torch.int64, device=flat.device)
    if flat.is_floating_point():
        bad = bad + (flat != torch.round(flat)).sum()
    labels = flat.long()
    bad = bad + ((labels < 0) | (labels >= n_classes)).sum()
    return labels.clamp(0, n_classes - 1), bad


def _binary_targets(y_true: Tensor) -> tuple[Tensor, Tensor]:
    """0/1 targets (soft targets split at 0.5) and how many lie outside [0, 1]."""
    if y_true.dtype == torch.bool:
        return y_true, torch.zeros((), dtype=torch.int64, device=y_true.device)
    bad = ((y_true < 0) | (y_true > 1)).sum()
    return y_true > 0.5, bad


def class_labels(task: Task, y_true: Tensor, y_pred: Tensor, threshold: float | None, from_logits: bool,
                 metric: str) -> tuple[Tensor, Tensor, Tensor]:
    """True and predicted class indices, flat int64, for a binary or multiclass task.

    Returns:
        ``(true, pred, bad)``: labels per prediction row and the count of impossible labels.
    """
    if task.kind == BINARY:
        scores = y_pred.reshape(-1)
        if from_logits:
            scores = torch.sigmoid(scores)
        pred = (scores > (0.5 if threshold is None else threshold)).long()
        if _is_labels(y_true, y_pred) or y_true.shape == y_pred.shape:
            true, bad = _binary_targets(y_true.reshape(-1))
            return true.long(), pred, bad
        if tuple(y_true.shape) == (*rows(y_pred), 2):  # one-hot targets for a single sigmoid unit
            return argmax(y_true.reshape(-1, 2)), pred, torch.zeros((), dtype=torch.int64, device=pred.device)
        raise _shape_error(metric, y_true, y_pred)
    true, bad = target_classes(y_true, y_pred, metric)
    return true, argmax(y_pred.reshape(-1, task.n_classes)), bad


def target_classes(y_true: Tensor, y_pred: Tensor, metric: str) -> tuple[Tensor, Tensor]:
    """The true class of each row of several-column predictions, from one-hot rows or integer labels.

    Returns:
        ``(labels, bad)``: flat int64 labels (clamped into range) and the count of impossible ones.
    """
    n_classes = y_pred.shape[-1]
    if y_true.shape == y_pred.shape:
        return argmax(y_true.reshape(-1, n_classes)), torch.zeros((), dtype=torch.int64, device=y_pred.device)
    if _is_labels(y_true, y_pred):
        return _integer_labels(y_true, n_classes)
    raise _shape_error(metric, y_true, y_pred)


def indicators(y_true: Tensor, y_pred: Tensor, n_columns: int, metric: str) -> tuple[Tensor, Tensor]:
    """Targets as a ``(rows, n_columns)`` bool matrix (integer labels are one-hot encoded).

    Returns:
        ``(indicator, bad)``: the matrix and the count of impossible labels.
    """
    if y_true.shape == y_pred.shape and (y_pred.ndim >= 2 or n_columns == 1):
        true, bad = _binary_targets(y_true.reshape(-1, n_columns))
        return true, bad
    if _is_labels(y_true, y_pred):
        if n_columns == 1:
            true, bad = _binary_targets(y_true.reshape(-1, 1))
            return true, bad
        labels, bad = _integer_labels(y_true, n_columns)
        # A comparison, not F.one_hot: that one reads the labels' range back to the host on CUDA.
        return labels[:, None] == torch.arange(n_columns, device=labels.device), bad
    raise _shape_error(metric, y_true, y_pred)


def thresholded(y_pred: Tensor, n_columns: int, threshold: float, from_logits: bool) -> Tensor:
    """Predictions as a ``(rows, n_columns)`` bool matrix: score above ``threshold``."""
    scores = y_pred.reshape(-1, n_columns)
    if from_logits:
        scores = torch.sigmoid(scores)
    return scores > threshold
