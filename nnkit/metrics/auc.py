"""Area under the ROC curve and average precision (the area under the precision-recall curve).

By default the value is exact: scores stay on the device until ``result()``, which sorts them once
and matches ``sklearn.metrics.roc_auc_score`` / ``average_precision_score`` (ties included). With
``num_thresholds=T`` (Keras's bounded-memory method) each score is counted into one of ``T + 1``
buckets between Keras's thresholds instead; the result is then the exact area for scores rounded
to those buckets, so it differs from the exact value only through pairs of positive and negative
samples whose scores share a bucket (at most their share of all such pairs).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from nnkit.errors import ConfigError, DataError
from nnkit.metrics import labels as lab
from nnkit.metrics.base import METRICS, Metric, accumulator_dtype
from nnkit.metrics.confusion import _check_choice

CURVES = ("ROC", "PR")
_EPSILON = 1e-7


class AUC(Metric):
    """ROC AUC (``curve='ROC'``) or average precision (``curve='PR'``), one-vs-rest per class.

    Outputs are scores: probabilities, or logits with ``from_logits=True`` (a softmax is applied over
    several outputs, a sigmoid for one output or with ``multi_label=True``; the exact ROC AUC of one
    output is the same either way). Targets are integer labels, one-hot or multi-hot rows, or 0/1 for
    one sigmoid unit.

    Args:
        num_thresholds: ``None`` (default) for the exact value; an int ``T > 1`` for Keras's
            bucketed approximation in bounded memory (scores must then be probabilities in [0, 1]).
        curve: ``'ROC'`` or ``'PR'``. ``'PR'`` is scikit-learn's average precision (step-wise), not
            Keras's interpolated area.
        name: Name in logs (default ``'auc'``).
        dtype: Accepted for Keras compatibility.
        average: ``'auto'`` (``'binary'`` for one sigmoid unit or two softmax units, else ``'macro'``),
            ``'binary'`` (class 1), ``'micro'`` (all columns pooled), ``'macro'``, ``'weighted'`` (by
            the weight of each class's positives) or ``None`` (one entry per class, ``auc_0``, ...).
            Classes whose curve is undefined (no positives; for ROC also no negatives) are left out of
            the macro and weighted averages and report 0, as does an undefined binary AUC. With
            ``None`` the result is a vector, logged as ``auc_0``, ``auc_1``, ...
        class_id: Report one class only (one-vs-rest).
        multi_label: Outputs are independent sigmoid units (matters for ``from_logits`` and for
            ``'auto'`` with two outputs).
        from_logits: Whether outputs are logits.
    """

    def __init__(self, num_thresholds: int | None = None, curve: str = "ROC", name: str | None = None,
                 dtype: Any = None, *, average: str | None = "auto", class_id: int | None = None,
                 multi_label: bool = False, from_logits: bool = False) -> None:
        super().__init__(name=name or "auc", dtype=dtype)
        curve = curve.upper() if isinstance(curve, str) else curve
        _check_choice(self.name, "curve", curve, CURVES)
        _check_choice(self.name, "average", average, ("auto", "binary", "micro", "macro", "weighted", None))
        if num_thresholds is not None and (isinstance(num_thresholds, bool) or not isinstance(num_thresholds, int)
                                           or num_thresholds < 2):
            raise ConfigError(f"Metric '{self.name}' needs num_thresholds to be None (exact) or an int > 1. "
                              f"Received: num_thresholds={num_thresholds!r}.")
        if class_id is not None and (isinstance(class_id, bool) or not isinstance(class_id, int) or class_id < 0):
            raise ConfigError(f"Metric '{self.name}' needs class_id to be a non-negative int or None. "
                              f"Received: class_id={class_id!r}.")
        self.num_thresholds = num_thresholds
        self.curve = curve
        self.average = average
        self.class_id = class_id
        self.multi_label = bool(multi_label)
        self.from_logits = bool(from_logits)
        self.reset_state()

    def reset_state(self) -> None:
        self.columns: int | None = None  # score columns; one sigmoid unit counts as two (1 - p, p)
        self._single_unit = False
        self._chunks: list[tuple[Tensor, Tensor, Tensor | None]] = []
        self._histogram: Tensor | None = None
        self._bad: Tensor | None = None

    # -- accumulation ------------------------------------------------------------------------------
    def _scores_and_targets(self, y_true: Tensor, y_pred: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(rows, columns)`` scores and bool targets; one sigmoid unit becomes two columns."""
        if y_pred.ndim <= 1 or y_pred.shape[-1] == 1:
            p = y_pred.reshape(-1, 1)
            p = torch.sigmoid(p) if self.from_logits else p
            true, bad = lab.indicators(y_true, y_pred, 1, self.name)
            return torch.cat([1 - p, p], dim=1), torch.cat([~true, true], dim=1), bad
        n = y_pred.shape[-1]
        scores = y_pred.reshape(-1, n)
        if self.from_logits:
            scores = torch.sigmoid(scores) if self.multi_label else torch.softmax(scores, dim=-1)
        true, bad = lab.indicators(y_true, y_pred, n, self.name)
        return scores, true, bad

    def update_state(self, y_true: Tensor, y_pred: Tensor, sample_weight: Tensor | None = None) -> None:
        y_true, y_pred = torch.as_tensor(y_true), torch.as_tensor(y_pred)
        scores, true, bad = self._scores_and_targets(y_true, y_pred.detach())
        weight = lab.row_weights(sample_weight, y_pred, self.name)
        if self.columns is None:
            self._check_columns(scores.shape[1])
            self.columns = scores.shape[1]
            self._single_unit = y_pred.ndim <= 1 or y_pred.shape[-1] == 1
            self._bad = torch.zeros((), dtype=torch.int64, device=scores.device)
        elif scores.shape[1] != self.columns:
            raise DataError(f"Metric '{self.name}' was accumulating {self.columns} output column(s) but now "
                            f"receives predictions of shape {tuple(y_pred.shape)}. Call reset_state() between models.")
        self._bad += bad
        if self.num_thresholds is None:
            self._chunks.append((scores, true, weight))
            return
        dtype = accumulator_dtype(scores.device)
        if self._histogram is None:
            self._histogram = torch.zeros(self.columns * (self.num_thresholds + 1) * 2, dtype=dtype,
                                          device=scores.device)
        bucket = torch.bucketize(scores.contiguous(), self._thresholds(scores.device, scores.dtype))
        column = torch.arange(self.columns, device=scores.device)
        index = (column * (self.num_thresholds + 1) + bucket) * 2 + true.long()
        values = (torch.ones((), dtype=dtype, device=scores.device).expand(index.shape) if weight is None
                  else weight.to(dtype)[:, None].expand(index.shape))
        self._histogram.index_add_(0, index.reshape(-1), values.reshape(-1))

    def _thresholds(self, device: torch.device, dtype: torch.dtype) -> Tensor:
        """Keras's thresholds: ``-eps``, ``i / (T - 1)`` for ``0 < i < T - 1``, ``1 + eps``."""
        t = self.num_thresholds
        inner = [i / (t - 1) for i in range(1, t - 1)]
        return torch.tensor([-_EPSILON, *inner, 1.0 + _EPSILON], device=device, dtype=dtype)

    def _check_columns(self, columns: int) -> None:
        if self.average == "binary" and columns > 2:
            raise ConfigError(
                f"Metric '{self.name}' uses average='binary', which needs a binary problem (one sigmoid unit or "
                f"two softmax units), but the predictions have {columns} classes. Use average='macro', 'micro', "
                "'weighted' or None, or class_id=k for one class."
            )
        if self.class_id is not None and self.class_id >= columns:
            raise ConfigError(f"Metric '{self.name}' has class_id={self.class_id}, but the predictions have "
                              f"{columns} classes; class_id must be in [0, {columns - 1}].")

    def check_compatible(self, output_shape: tuple[int, ...], integer_labels: bool) -> None:
        if output_shape:
            self._check_columns(max(2, output_shape[-1]))

    # -- result ------------------------------------------------------------------------------------------
    def _mode(self) -> str | None:
        if self.class_id is not None:
            return "class"
        if self.average == "auto":
            binary = self.columns == 2 and (self._single_unit or not self.multi_label)
            return "binary" if binary else "macro"
        return self.average

    def result(self) -> Tensor:
        """A float32 tensor: the area, or one area per class (``average=None``; empty before any update)."""
        return torch.as_tensor(self._result(), dtype=torch.float32)

    def _result(self) -> float | list[float]:
        mode = self._mode()
        if self.columns is None:
            return [] if mode is None else 0.0
        if mode in ("binary", "class"):
            columns = [1 if mode == "binary" else self.class_id]
        elif mode == "micro":
            columns = ["all"]
        else:
            columns = list(range(self.columns))
        values, defined, positives = (torch.stack(v) for v in zip(*(self._column_auc(c) for c in columns)))
        host = torch.stack([values, defined.to(values.dtype), positives]).cpu()
        bad = int(self._bad)
        if bad:
            raise DataError(f"Metric '{self.name}' received {bad} target value(s) that are not 0/1 values or integer "
                            f"labels in [0, {max(self.columns - 1, 1)}].")
        values, defined, positives = host[0].tolist(), host[1].bool().tolist(), host[2].tolist()
        if mode is None:
            return [v if ok else 0.0 for v, ok in zip(values, defined)]
        if mode in ("binary", "class", "micro"):
            return values[0] if defined[0] else 0.0
        kept = [(v, p) for v, ok, p in zip(values, defined, positives) if ok]
        if not kept:
            return 0.0
        if mode == "macro":
            return sum(v for v, _ in kept) / len(kept)
        total = sum(p for _, p in kept)
        return sum(v * p for v, p in kept) / total if total > 0 else 0.0

    def _column_auc(self, column: int | str) -> tuple[Tensor, Tensor, Tensor]:
        """``(area, defined, positive weight)`` of one column (or all pooled) as 0-d tensors."""
        if self._histogram is not None:
            hist = self._histogram.reshape(self.columns, self.num_thresholds + 1, 2)
            hist = hist.sum(0) if column == "all" else hist[column]
            descending = hist.flip(0)  # highest bucket first: positives at each threshold, as in Keras
            return _area(descending[:, 1].cumsum(0), descending[:, 0].cumsum(0), self.curve)
        scores, true, weight = self._stored()
        if column == "all":
            scores, true = scores.reshape(-1), true.reshape(-1)
            weight = None if weight is None else weight[:, None].expand(-1, self.columns).reshape(-1)
        else:
            scores, true = scores[:, column], true[:, column]
        return _area(*_curve_points(scores, true, weight), self.curve)

    def _stored(self) -> tuple[Tensor, Tensor, Tensor | None]:
        """Every stored batch as one ``(scores, targets, weights)`` triple (merged in place, once)."""
        if len(self._chunks) > 1:
            weights = [w for _, _, w in self._chunks]
            if any(w is None for w in weights):
                weights = [torch.ones(len(s), device=s.device) if w is None else w
                           for (s, _, _), w in zip(self._chunks, weights)]
            self._chunks = [(torch.cat([s for s, _, _ in self._chunks]), torch.cat([t for _, t, _ in self._chunks]),
                             None if all(w is None for _, _, w in self._chunks) else torch.cat(weights))]
        return self._chunks[0]

    def get_config(self) -> dict[str, Any]:
        return {"num_thresholds": self.num_thresholds, "curve": self.curve, "name": self.name,
                "average": self.average, "class_id": self.class_id, "multi_label": self.multi_label,
                "from_logits": self.from_logits}


def _curve_points(scores: Tensor, true: Tensor, weight: Tensor | None) -> tuple[Tensor, Tensor]:
    """Cumulative true/false positive weight as the threshold falls past each score.

    Tied scores form one threshold: every member of a tie group carries the group's final counts, so
    the repeated points add nothing to either area (no host sync to find the groups).
    """
    dtype = accumulator_dtype(scores.device)
    order = torch.argsort(scores, descending=True, stable=True)
    ordered, positive = scores[order], true[order].to(dtype)
    w = torch.ones_like(positive) if weight is None else weight[order].to(dtype)
    tps, fps = torch.cumsum(positive * w, 0), torch.cumsum((1 - positive) * w, 0)
    index = torch.arange(len(ordered), device=scores.device)
    last = torch.ones_like(ordered, dtype=torch.bool)
    last[:-1] = ordered[1:] != ordered[:-1]
    group_end = torch.where(last, index, len(ordered)).flip(0).cummin(0).values.flip(0)
    return tps[group_end], fps[group_end]


def _area(tps: Tensor, fps: Tensor, curve: str) -> tuple[Tensor, Tensor, Tensor]:
    """ROC AUC (trapezoids) or average precision (steps) from points in falling-threshold order."""
    zero = torch.zeros(1, dtype=tps.dtype, device=tps.device)
    if len(tps) == 0:
        return zero[0], zero[0].bool(), zero[0]
    positives, negatives = tps[-1], fps[-1]
    tps_before, fps_before = torch.cat([zero, tps[:-1]]), torch.cat([zero, fps[:-1]])
    if curve == "ROC":
        defined = (positives > 0) & (negatives > 0)
        area = ((fps - fps_before) * (tps + tps_before)).sum() / 2
        value = area / torch.where(defined, positives * negatives, torch.ones_like(positives))
    else:
        defined = positives > 0
        predicted = tps + fps
        precision = tps / torch.where(predicted > 0, predicted, torch.ones_like(predicted))
        value = ((tps - tps_before) * precision).sum() / torch.where(defined, positives, torch.ones_like(positives))
    return torch.where(defined, value, torch.zeros_like(value)), defined, positives


def _pr_auc() -> AUC:
    return AUC(curve="PR")


for _name in ("auc", "roc_auc"):
    METRICS.add(_name, AUC)
for _name in ("pr_auc", "auc_pr", "average_precision"):
    METRICS.add(_name, _pr_auc)
