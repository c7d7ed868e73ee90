"""Keras's threshold-based confusion counts and the metrics read from them: ``PrecisionAtRecall``,
``RecallAtPrecision``, ``SensitivityAtSpecificity`` and ``SpecificityAtSensitivity`` (and, through
:class:`ThresholdCounts`, ``Precision``/``Recall`` with Keras's ``thresholds=`` or ``top_k=``).

A prediction is positive at threshold ``t`` when its score is strictly above ``t``; a target is positive
when it is non-zero. As in Keras, every output column is one prediction (multi-column outputs are
pooled), ``class_id`` keeps one column and ``top_k`` keeps only each row's ``k`` largest scores.
Each batch adds to a histogram of ``(thresholds passed, target)`` on the device of the first batch;
``result()`` turns it into per-threshold counts.

Beyond Keras, integer class labels (shape ``(batch,)`` or ``(batch, 1)``) are accepted with several
output columns and read as one-hot rows (Keras refuses them).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from nnkit.errors import ConfigError, DataError
from nnkit.losses import align_ranks
from nnkit.metrics.base import METRICS, Metric, accumulator_dtype
from nnkit.registry import snake_case

NEG_INF = -1e10  # Keras's score for the entries top_k filters out


def even_thresholds(num_thresholds: int) -> list[float]:
    """Keras's ``num_thresholds`` evenly spaced thresholds in [0, 1] (``[0.5]`` for one)."""
    if num_thresholds == 1:
        return [0.5]
    return [0.0, *((i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)), 1.0]


def _evenly_spaced(thresholds: list[float]) -> bool:
    """Keras's test for its fast bucketing path: at least three thresholds equal to ``i / (T - 1)``."""
    n = len(thresholds)
    return n >= 3 and all(math.isclose(t, i / (n - 1), abs_tol=1e-7) for i, t in enumerate(thresholds))


class ThresholdCounts:
    """Weighted true/false positives/negatives at each of several thresholds, streamed on the device.

    Args:
        thresholds: Score thresholds (any order).
        metric: Name of the metric, for error messages.
        top_k: Keep only each row's ``k`` largest scores (the rest count as negative predictions).
        class_id: Count only this output column.
        from_logits: Apply a sigmoid to the scores first.
    """

    def __init__(self, thresholds: list[float], metric: str, top_k: int | None = None,
                 class_id: int | None = None, from_logits: bool = False) -> None:
        self.thresholds = [float(t) for t in thresholds]
        self.metric, self.top_k, self.class_id, self.from_logits = metric, top_k, class_id, from_logits
        self._even = _evenly_spaced(self.thresholds)
        self.reset()

    def reset(self) -> None:
        self._histogram: Tensor | None = None  # (T + 1) x (negative, positive): thresholds passed per target
        self._sorted: Tensor | None = None  # the thresholds, ascending, on the device of the histogram

    def check(self, columns: int) -> None:
        """Raise a ConfigError if ``class_id``/``top_k`` do not fit ``columns`` output columns."""
        if self.class_id is not None and self.class_id >= columns:
            raise ConfigError(f"Metric '{self.metric}' has class_id={self.class_id}, but the predictions have "
                              f"{columns} column(s); class_id must be in [0, {columns - 1}].")
        if self.top_k is not None and self.top_k > columns:
            raise ConfigError(f"Metric '{self.metric}' has top_k={self.top_k}, but the predictions have only "
                              f"{columns} column(s); use top_k <= {columns}.")

    def _prepare(self, y_true: Tensor, y_pred: Tensor, sample_weight: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
        """Scores, bool targets and weights, all of one shape."""
        y_pred = torch.as_tensor(y_pred).detach()
        y_pred = (y_pred if y_pred.is_floating_point() else y_pred.float())
        y_true = torch.as_tensor(y_true, device=y_pred.device)
        columns = y_pred.shape[-1] if y_pred.ndim >= 2 else 1
        if y_pred.ndim >= 2 and columns > 1 and tuple(y_true.shape) in (tuple(y_pred.shape[:-1]),
                                                                        (*y_pred.shape[:-1], 1)):
            labels = y_true.reshape(y_pred.shape[:-1]).long()
            target = labels[..., None] == torch.arange(columns, device=y_pred.device)
        else:
            y_true = align_ranks(y_true, y_pred)
            if y_true.shape != y_pred.shape:
                raise DataError(f"Metric '{self.metric}' needs targets shaped like the predictions "
                                f"{tuple(y_pred.shape)} (or integer labels of shape {tuple(y_pred.shape[:-1])}), "
                                f"but received targets of shape {tuple(y_true.shape)}.")
            target = y_true != 0
        if self.from_logits:
            y_pred = torch.sigmoid(y_pred)
        if self.top_k is not None or self.class_id is not None:
            if self.class_id is not None and y_pred.ndim < 2:
                raise DataError(f"Metric '{self.metric}' with class_id needs predictions of shape "
                                f"(samples, classes); received shape {tuple(y_pred.shape)}.")
            self.check(y_pred.shape[-1] if y_pred.ndim else 1)  # top_k of 1-D predictions: over all of them
        if self.top_k is not None:
            top = y_pred.topk(self.top_k, dim=-1).indices
            kept = torch.zeros_like(y_pred, dtype=torch.bool).scatter_(-1, top, True)
            y_pred = torch.where(kept, y_pred, torch.full_like(y_pred, NEG_INF))
        if sample_weight is None:
            weight = torch.ones((), device=y_pred.device).expand(y_pred.shape)
        else:
            weight = _broadcast_weight(self.metric, sample_weight, y_pred)
        if self.class_id is not None:
            k = self.class_id
            y_pred, target, weight = y_pred[..., k], target[..., k], weight[..., k]
        return y_pred, target, weight

    def update(self, y_true: Tensor, y_pred: Tensor, sample_weight: Tensor | None = None) -> None:
        """Add one batch."""
        scores, target, weight = self._prepare(y_true, y_pred, sample_weight)
        n = len(self.thresholds)
        if self._histogram is None:
            self._histogram = torch.zeros((n + 1) * 2, dtype=accumulator_dtype(scores.device), device=scores.device)
        scores = scores.reshape(-1).float()
        if self._even:  # Keras's bucketing, float32 arithmetic included, so values on a threshold land alike
            passed = torch.ceil(scores.clamp(0.0, 1.0) * (n - 1)).long()
        else:
            if self._sorted is None:
                self._sorted = torch.tensor(sorted(self.thresholds), dtype=torch.float32, device=scores.device)
            passed = torch.bucketize(scores.contiguous(), self._sorted, right=False)  # thresholds strictly below
        index = passed * 2 + target.reshape(-1).long()
        self._histogram.index_add_(0, index, weight.reshape(-1).to(self._histogram.dtype))

    def counts(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``(tp, fp, tn, fn)``, one value per threshold in the given order (zeros before any update)."""
        n = len(self.thresholds)
        if self._histogram is None:
            zeros = torch.zeros(n, dtype=torch.float64)
            return zeros, zeros, zeros, zeros
        hist = self._histogram.reshape(n + 1, 2)
        above = hist.flip(0).cumsum(0).flip(0)[1:]  # weight of scores past threshold j (sorted order)
        fp, tp = above[:, 0], above[:, 1]
        negatives, positives = hist[:, 0].sum(), hist[:, 1].sum()
        order = sorted(range(n), key=lambda i: self.thresholds[i])
        rank = torch.empty(n, dtype=torch.long, device=hist.device)
        rank[torch.tensor(order, device=hist.device)] = torch.arange(n, device=hist.device)
        tp, fp = tp[rank], fp[rank]
        return tp, fp, negatives - fp, positives - tp


def _broadcast_weight(metric: str, sample_weight: Any, y_pred: Tensor) -> Tensor:
    weight = torch.as_tensor(sample_weight, device=y_pred.device)
    while weight.ndim > y_pred.ndim and weight.shape[-1] == 1:
        weight = weight.squeeze(-1)
    weight = weight.reshape(tuple(weight.shape) + (1,) * (y_pred.ndim - weight.ndim))
    try:
        return torch.broadcast_to(weight, y_pred.shape)
    except RuntimeError:
        raise DataError(f"Metric '{metric}' needs one sample weight per sample ({y_pred.shape[0]}) or per "
                        f"prediction {tuple(y_pred.shape)}; received sample_weight of shape "
                        f"{tuple(weight.shape)}.") from None


def divide_no_nan(numerator: Tensor, denominator: Tensor) -> Tensor:
    """``numerator / denominator`` with 0 where the denominator is 0."""
    safe = torch.where(denominator == 0, torch.ones_like(denominator), denominator)
    return torch.where(denominator == 0, torch.zeros_like(numerator), numerator / safe)


class _AtThreshold(Metric):
    """Base of the "best X where Y is at least ``value``" metrics, over Keras's ``num_thresholds`` thresholds."""

    _target = ""  # name of the constrained quantity, for the constructor's argument and config

    def __init__(self, value: float, num_thresholds: int = 200, class_id: int | None = None, name: str | None = None,
                 dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise ConfigError(f"Metric '{self.name}' needs {self._target} in the range [0, 1]. "
                              f"Received: {self._target}={value!r}.")
        if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, int) or num_thresholds <= 0:
            raise ConfigError(f"Metric '{self.name}' needs num_thresholds to be an int > 0. "
                              f"Received: num_thresholds={num_thresholds!r}.")
        if class_id is not None and (isinstance(class_id, bool) or not isinstance(class_id, int) or class_id < 0):
            raise ConfigError(f"Metric '{self.name}' needs class_id to be a non-negative int or None. "
                              f"Received: class_id={class_id!r}.")
        self.value = float(value)
        setattr(self, self._target, self.value)  # Keras's attribute: m.recall, m.specificity, ...
        self.num_thresholds = num_thresholds
        self.class_id = class_id
        self.thresholds = even_thresholds(num_thresholds)
        self._counts = ThresholdCounts(self.thresholds, self.name, class_id=class_id)

    def reset_state(self) -> None:
        self._counts.reset()

    def update_state(self, y_true: Tensor, y_pred: Tensor, sample_weight: Tensor | None = None) -> None:
        self._counts.update(y_true, y_pred, sample_weight)

    def check_compatible(self, output_shape: tuple[int, ...], integer_labels: bool) -> None:
        if self.class_id is not None:
            self._counts.check(output_shape[-1] if output_shape else 1)

    def _curves(self, tp: Tensor, fp: Tensor, tn: Tensor, fn: Tensor) -> tuple[Tensor, Tensor]:
        """``(constrained, maximised)`` values per threshold."""
        raise NotImplementedError

    def result(self) -> Tensor:
        """The best maximised value among thresholds meeting the constraint (0 if none), a float32 scalar tensor."""
        constrained, dependent = self._curves(*self._counts.counts())
        feasible = torch.where(constrained >= self.value, dependent, torch.zeros_like(dependent))
        return feasible.max().clamp_min(0.0).to(torch.float32)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "class_id": self.class_id, "num_thresholds": self.num_thresholds,
                self._target: self.value}


def _recall(tp: Tensor, fp: Tensor, tn: Tensor, fn: Tensor) -> Tensor:
    return divide_no_nan(tp, tp + fn)


def _specificity(tp: Tensor, fp: Tensor, tn: Tensor, fn: Tensor) -> Tensor:
    return divide_no_nan(tn, tn + fp)


def _precision(tp: Tensor, fp: Tensor, tn: Tensor, fn: Tensor) -> Tensor:
    return divide_no_nan(tp, tp + fp)


class SensitivityAtSpecificity(_AtThreshold):
    """Best sensitivity (recall) over the thresholds whose specificity is at least ``specificity``.

    Args:
        specificity: Minimum specificity, in [0, 1].
        num_thresholds: Number of evenly spaced thresholds in [0, 1] tried (Keras's default 200).
        class_id: Use only this output column (``None``: all columns pooled).
        name: Name in logs (default ``'sensitivity_at_specificity'``).
        dtype: Accepted for Keras compatibility.

    Example:
        >>> m = SensitivityAtSpecificity(0.5, num_thresholds=3)
        >>> float(m([0, 0, 0, 1, 1], [0.0, 0.3, 0.8, 0.3, 0.8]))
        0.5
    """

    _target = "specificity"

    def __init__(self, specificity: float, num_thresholds: int = 200, class_id: int | None = None,
                 name: str | None = None, dtype: Any = None) -> None:
        super().__init__(specificity, num_thresholds, class_id, name, dtype)

    def _curves(self, *counts: Tensor) -> tuple[Tensor, Tensor]:
        return _specificity(*counts), _recall(*counts)


class SpecificityAtSensitivity(_AtThreshold):
    """Best specificity over the thresholds whose sensitivity (recall) is at least ``sensitivity``.

    Args:
        sensitivity: Minimum sensitivity, in [0, 1].
        num_thresholds: Number of evenly spaced thresholds in [0, 1] tried (Keras's default 200).
        class_id: Use only this output column (``None``: all columns pooled).
        name: Name in logs (default ``'specificity_at_sensitivity'``).
        dtype: Accepted for Keras compatibility.
    """

    _target = "sensitivity"

    def __init__(self, sensitivity: float, num_thresholds: int = 200, class_id: int | None = None,
                 name: str | None = None, dtype: Any = None) -> None:
        super().__init__(sensitivity, num_thresholds, class_id, name, dtype)

    def _curves(self, *counts: Tensor) -> tuple[Tensor, Tensor]:
        return _recall(*counts), _specificity(*counts)


class PrecisionAtRecall(_AtThreshold):
    """Best precision over the thresholds whose recall is at least ``recall``.

    Args:
        recall: Minimum recall, in [0, 1].
        num_thresholds: Number of evenly spaced thresholds in [0, 1] tried (Keras's default 200).
        class_id: Use only this output column (``None``: all columns pooled).
        name: Name in logs (default ``'precision_at_recall'``).
        dtype: Accepted for Keras compatibility.
    """

    _target = "recall"

    def __init__(self, recall: float, num_thresholds: int = 200, class_id: int | None = None,
                 name: str | None = None, dtype: Any = None) -> None:
        super().__init__(recall, num_thresholds, class_id, name, dtype)

    def _curves(self, *counts: Tensor) -> tuple[Tensor, Tensor]:
        return _recall(*counts), _precision(*counts)


class RecallAtPrecision(_AtThreshold):
    """Best recall over the thresholds whose precision is at least ``precision``.

    Args:
        precision: Minimum precision, in [0, 1].
        num_thresholds: Number of evenly spaced thresholds in [0, 1] tried (Keras's default 200).
        class_id: Use only this output column (``None``: all columns pooled).
        name: Name in logs (default ``'recall_at_precision'``).
        dtype: Accepted for Keras compatibility.
    """

    _target = "precision"

    def __init__(self, precision: float, num_thresholds: int = 200, class_id: int | None = None,
                 name: str | None = None, dtype: Any = None) -> None:
        super().__init__(precision, num_thresholds, class_id, name, dtype)

    def _curves(self, *counts: Tensor) -> tuple[Tensor, Tensor]:
        return _precision(*counts), _recall(*counts)


for _cls in (SensitivityAtSpecificity, SpecificityAtSensitivity, PrecisionAtRecall, RecallAtPrecision):
    METRICS.add(snake_case(_cls.__name__), _cls)
