"""Confusion-matrix state shared by the classification metrics, and the counts ``TruePositives`` ...
``FalseNegatives`` that report its cells.

A batch is folded into a weighted confusion matrix on the device with one ``index_add_`` (no host
sync); ``result()`` reads the small matrix once. Precision, recall and F-scores derive from the
per-class counts, so every label format (see :mod:`nnkit.metrics.labels`) and every ``average``
share one exact, streaming implementation.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from nnkit.errors import ConfigError, DataError
from nnkit.metrics import labels as lab
from nnkit.metrics.base import METRICS, Metric, accumulator_dtype
from nnkit.registry import closest

AVERAGES = ("auto", "binary", "micro", "macro", "weighted", None)


def _check_choice(metric: str, argument: str, value: Any, choices: tuple) -> None:
    if value in choices:
        return
    names = [c for c in choices if isinstance(c, str)]
    guess = closest(str(value), names) if isinstance(value, str) else None
    hint = f" Did you mean '{guess}'?" if guess else ""
    raise ConfigError(f"Metric '{metric}' got {argument}={value!r}.{hint} Use one of: "
                      f"{', '.join(repr(c) for c in choices)}.")


class ConfusionMetric(Metric):
    """Base of metrics computed from per-class true/false positive/negative counts.

    Args:
        threshold: Score above which a class is predicted. ``None`` (default): 0.5 for one output unit,
            arg-max for several. A number with several outputs makes the problem multi-label: each
            column is thresholded on its own, as in Keras's ``F1Score(threshold=...)``.
        average: ``'binary'`` (the positive class, 1), ``'micro'``, ``'macro'``, ``'weighted'`` or
            ``None`` (a vector, one value per class, logged as ``name_0``, ``name_1``, ...), with scikit-learn's
            meaning; ``'auto'`` (default) is ``'binary'`` for a binary problem (one sigmoid unit or
            two softmax units) and ``'macro'`` otherwise.
        class_id: Report only this class (one-vs-rest); replaces ``average``.
        from_logits: Whether outputs are logits; a sigmoid is applied before ``threshold``. Arg-max
            predictions are the same either way.
        name: Name in logs.
        dtype: Accepted for Keras compatibility; counts are always float64 (float32 on MPS).

    Raises:
        ConfigError: An unknown ``average``, ``average='binary'`` or ``class_id`` that the model's
            classes do not allow (at the first update, or when ``fit`` resolves the metric).
        DataError: Targets that do not match the outputs, or labels outside the classes (read
            in ``result()``).
    """

    _averages: tuple = AVERAGES

    def __init__(self, threshold: float | None = None, average: str | None = "auto", class_id: int | None = None,
                 from_logits: bool = False, name: str | None = None, dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)
        _check_choice(self.name, "average", average, self._averages)
        if class_id is not None and (isinstance(class_id, bool) or not isinstance(class_id, int) or class_id < 0):
            raise ConfigError(f"Metric '{self.name}' needs class_id to be a non-negative int or None. "
                              f"Received: class_id={class_id!r}.")
        if class_id is not None and average not in ("auto", "binary"):
            raise ConfigError(f"Metric '{self.name}' got both class_id={class_id} and average={average!r}; "
                              "class_id already picks one class, so leave average at its default.")
        if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))
                                      or not 0.0 <= threshold <= 1.0):
            raise ConfigError(f"Metric '{self.name}' needs a threshold in [0, 1] (a probability; with "
                              f"from_logits=True it applies after the sigmoid). Received: threshold={threshold!r}.")
        self.threshold = None if threshold is None else float(threshold)
        self.average = average
        self.class_id = class_id
        self.from_logits = bool(from_logits)
        self.reset_state()

    # -- state -----------------------------------------------------------------------------------------
    def reset_state(self) -> None:
        self.task: lab.Task | None = None
        self._cells: Tensor | None = None  # weighted confusion cells, flat
        self._seen: Tensor | None = None  # rows naming each class, when weights could hide it
        self._bad: Tensor | None = None  # impossible target labels

    def update_state(self, y_true: Tensor, y_pred: Tensor, sample_weight: Tensor | None = None) -> None:
        y_true, y_pred = torch.as_tensor(y_true), torch.as_tensor(y_pred)
        task = lab.task_of(y_pred, self.threshold)
        if self.task is None:
            self._start(task, y_pred.device)
        elif task != self.task:
            raise DataError(f"Metric '{self.name}' was accumulating {self.task.describe()} but now receives "
                            f"predictions of shape {tuple(y_pred.shape)}. Call reset_state() between models.")
        weight = lab.row_weights(sample_weight, y_pred, self.name)
        n = task.n_classes
        if task.kind == lab.MULTILABEL:
            true, bad = lab.indicators(y_true, y_pred, n, self.name)
            pred = lab.thresholded(y_pred, n, self.threshold, self.from_logits)
            cells = torch.arange(n, device=true.device) * 4 + true.long() * 2 + pred.long()
            if weight is not None:
                weight = weight[:, None].expand(cells.shape)
        else:
            true, pred, bad = lab.class_labels(task, y_true, y_pred, self.threshold, self.from_logits, self.name)
            cells = true * n + pred
            if weight is not None:
                ones = torch.ones((), dtype=self._seen.dtype, device=true.device).expand(true.shape)
                self._seen.index_add_(0, torch.cat([true, pred]), torch.cat([ones, ones]))
        if weight is None:
            weight = torch.ones((), dtype=self._cells.dtype, device=cells.device).expand(cells.shape)
        self._cells.index_add_(0, cells.reshape(-1), weight.reshape(-1).to(self._cells.dtype))
        self._bad += bad

    def _start(self, task: lab.Task, device: torch.device) -> None:
        self._check_task(task)
        self.task = task
        dtype = accumulator_dtype(device)
        size = task.n_classes * 4 if task.kind == lab.MULTILABEL else task.n_classes**2
        self._cells = torch.zeros(size, dtype=dtype, device=device)
        self._seen = torch.zeros(task.n_classes, dtype=dtype, device=device)
        self._bad = torch.zeros((), dtype=torch.int64, device=device)

    def _check_task(self, task: lab.Task) -> None:
        """Refuse settings the task cannot satisfy (called on the first batch and by ``get``)."""
        if self.average == "binary" and task.n_classes > 2:
            raise ConfigError(
                f"Metric '{self.name}' uses average='binary', which needs a binary problem (one sigmoid unit "
                f"or two softmax units), but the predictions describe {task.describe()}. Use average='macro', "
                "'micro', 'weighted' or None, or class_id=k for one class."
            )
        if self.class_id is not None and self.class_id >= task.n_classes:
            raise ConfigError(f"Metric '{self.name}' has class_id={self.class_id}, but the predictions describe "
                              f"{task.describe()}; class_id must be in [0, {task.n_classes - 1}].")

    def check_compatible(self, output_shape: tuple[int, ...], integer_labels: bool) -> None:
        if output_shape:
            self._check_task(lab.task_of_shape(output_shape, self.threshold))

    # -- reading ---------------------------------------------------------------------------------------
    def _host_state(self) -> tuple[np.ndarray, np.ndarray]:
        """The accumulated cells on the host, ``(C, C)`` [true, pred] or ``(C, 2, 2)`` multi-label, and
        how many rows named each class (kept only for weighted updates)."""
        values = torch.cat([self._cells, self._seen, self._bad.to(self._cells.dtype)[None]]).cpu().numpy()
        n = self.task.n_classes
        bad = int(values[-1])
        if bad:
            expected = ("0/1 targets" if self.task.kind == lab.BINARY
                        else f"integer labels in [0, {n - 1}] or one-hot rows of width {n}")
            raise DataError(f"Metric '{self.name}' received {bad} target value(s) that are not valid for "
                            f"{self.task.describe()}: expected {expected}.")
        cells, seen = values[:len(self._cells)], values[len(self._cells):-1]
        return (cells.reshape(n, 2, 2) if self.task.kind == lab.MULTILABEL else cells.reshape(n, n)), seen

    def counts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per-class ``(tp, fp, fn, tn, present)`` as float64 arrays; ``present`` marks the classes that
        occur in the targets or predictions (all of them for multi-label outputs, as in scikit-learn)."""
        matrix, seen = self._host_state()
        if self.task.kind == lab.MULTILABEL:
            tn, fp, fn, tp = matrix[:, 0, 0], matrix[:, 0, 1], matrix[:, 1, 0], matrix[:, 1, 1]
            return tp, fp, fn, tn, np.ones(len(tp), dtype=bool)
        tp = np.diag(matrix).copy()
        fp, fn = matrix.sum(0) - tp, matrix.sum(1) - tp
        tn = matrix.sum() - tp - fp - fn
        return tp, fp, fn, tn, (tp + fp + fn > 0) | (seen > 0)

    def _mode(self) -> str | None:
        """What ``result`` reports: 'class', 'binary', 'micro', 'macro', 'weighted' or None."""
        if self.class_id is not None:
            return "class"
        if self.average != "auto":
            return self.average
        binary = self.task.kind == lab.BINARY or (self.task.kind == lab.MULTICLASS and self.task.n_classes == 2)
        return "binary" if binary else self._auto_average

    _auto_average = "macro"

    def score(self, tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, tn: np.ndarray) -> np.ndarray:
        """The metric per class from its counts (vectorised)."""
        raise NotImplementedError

    def result(self) -> Tensor:
        """A float32 tensor: the score, or one score per class (``average=None``; empty before any update)."""
        return torch.as_tensor(self._result(), dtype=torch.float32)

    def _result(self) -> float | np.ndarray:
        if self.task is None:
            return np.zeros(0) if self.average is None and self.class_id is None else 0.0
        tp, fp, fn, tn, present = self.counts()
        mode = self._mode()
        if mode in ("class", "binary"):
            k = 1 if mode == "binary" else self.class_id
            return float(self.score(tp[k:k + 1], fp[k:k + 1], fn[k:k + 1], tn[k:k + 1])[0])
        if mode == "micro":
            return float(self.score(*(np.array([c.sum()]) for c in (tp, fp, fn, tn)))[0])
        values = self.score(tp, fp, fn, tn)
        if mode is None:
            return values
        if mode == "macro":
            return float(values[present].mean()) if present.any() else 0.0
        support = tp + fn
        return float((values * support).sum() / support.sum()) if support.sum() > 0 else 0.0

    def get_config(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "average": self.average, "class_id": self.class_id,
                "from_logits": self.from_logits, "name": self.name}


def safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator`` with 0 where the denominator is 0 (no warnings)."""
    return np.divide(numerator, denominator, out=np.zeros_like(numerator, dtype=np.float64), where=denominator > 0)


# -- counts -----------------------------------------------------------------------------------------------
class _Count(ConfusionMetric):
    """A confusion count; ``average='auto'`` sums over classes when there are more than two."""

    _averages = ("auto", "binary", "micro", None)
    _auto_average = "micro"
    _cell = ""

    def __init__(self, threshold: float | None = None, name: str | None = None, dtype: Any = None, *,
                 average: str | None = "auto", class_id: int | None = None, from_logits: bool = False) -> None:
        super().__init__(threshold=threshold, average=average, class_id=class_id, from_logits=from_logits,
                         name=name, dtype=dtype)

    def score(self, tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, tn: np.ndarray) -> np.ndarray:
        return {"tp": tp, "fp": fp, "fn": fn, "tn": tn}[self._cell]


class TruePositives(_Count):
    """(Weighted) number of true positives: of the positive class for a binary problem, summed over
    classes otherwise (``average=None`` for one count per class, ``class_id`` for one class)."""

    _cell = "tp"


class FalsePositives(_Count):
    """(Weighted) number of false positives; see :class:`TruePositives` for the averaging."""

    _cell = "fp"


class TrueNegatives(_Count):
    """(Weighted) number of true negatives; see :class:`TruePositives` for the averaging."""

    _cell = "tn"


class FalseNegatives(_Count):
    """(Weighted) number of false negatives; see :class:`TruePositives` for the averaging."""

    _cell = "fn"


for _names, _cls in ((("true_positives", "tp"), TruePositives), (("false_positives", "fp"), FalsePositives),
                     (("true_negatives", "tn"), TrueNegatives), (("false_negatives", "fn"), FalseNegatives)):
    for _name in _names:
        METRICS.add(_name, _cls)
