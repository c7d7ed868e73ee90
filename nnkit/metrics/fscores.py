"""Precision, recall and F-scores, exact and streaming, in every label format.

Unlike Keras's ``Precision``/``F1Score`` (which threshold each softmax column at 0.5 and refuse
integer labels), these read integer labels, one-hot rows, probabilities, logits, one sigmoid unit or
two softmax units (see :mod:`nnkit.metrics.labels`), and average like
``sklearn.metrics.precision_recall_fscore_support``. Undefined ratios (no predicted or no true
samples of a class) are 0, silently, as with scikit-learn's ``zero_division=0``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnkit.errors import ConfigError
from nnkit.metrics.base import METRICS
from nnkit.metrics.confusion import ConfusionMetric, safe_divide


class Precision(ConfusionMetric):
    """Share of predicted positives that are right: ``tp / (tp + fp)``.

    Args:
        threshold: See :class:`~nnkit.metrics.confusion.ConfusionMetric`: ``None`` means 0.5 for one
            output unit and arg-max for several; a number thresholds each output (multi-label).
        class_id: Report one class only.
        name: Name in logs (default ``'precision'``).
        dtype: Accepted for Keras compatibility.
        average: ``'auto'`` (binary for binary problems, else macro), ``'binary'``, ``'micro'``,
            ``'macro'``, ``'weighted'`` or ``None`` (one entry per class: ``precision_0``, ...).
        from_logits: Outputs are logits (sigmoid before ``threshold``).
        thresholds: Keras's spelling of ``threshold`` (a single number).

    Example:
        >>> Precision(average="macro")(y_true=[0, 1, 2, 2], y_pred=[[.8, .1, .1], [.2, .7, .1], [.1, .8, .1],
        ...                                                          [.1, .1, .8]])
        0.833...
    """

    def __init__(self, threshold: float | None = None, class_id: int | None = None, name: str | None = None,
                 dtype: Any = None, *, average: str | None = "auto", from_logits: bool = False,
                 thresholds: float | None = None) -> None:
        super().__init__(threshold=_one_threshold(threshold, thresholds, type(self).__name__), average=average,
                         class_id=class_id, from_logits=from_logits, name=name, dtype=dtype)

    def score(self, tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, tn: np.ndarray) -> np.ndarray:
        return safe_divide(tp, tp + fp)


class Recall(Precision):
    """Share of actual positives that are found: ``tp / (tp + fn)``. Arguments as :class:`Precision`
    (default name ``'recall'``)."""

    def score(self, tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, tn: np.ndarray) -> np.ndarray:
        return safe_divide(tp, tp + fn)


class FBetaScore(ConfusionMetric):
    """Weighted harmonic mean of precision and recall:
    ``(1 + beta**2) * tp / ((1 + beta**2) * tp + beta**2 * fn + fp)``.

    Args:
        average: ``'auto'`` (binary for binary problems, else macro), ``'binary'``, ``'micro'``,
            ``'macro'``, ``'weighted'`` or ``None`` (one entry per class: ``fbeta_score_0``, ...).
        beta: Weight of recall relative to precision (a positive number).
        threshold: ``None`` means 0.5 for one output unit and arg-max for several; a number thresholds
            each output (multi-label), as Keras's ``FBetaScore``.
        name: Name in logs (default ``'fbeta_score'``).
        dtype: Accepted for Keras compatibility.
        class_id: Report one class only.
        from_logits: Outputs are logits (sigmoid before ``threshold``).
    """

    def __init__(self, average: str | None = "auto", beta: float = 1.0, threshold: float | None = None,
                 name: str | None = None, dtype: Any = None, *, class_id: int | None = None,
                 from_logits: bool = False) -> None:
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not beta > 0:
            raise ConfigError(f"Metric '{name or 'fbeta_score'}' needs beta to be a positive number. "
                              f"Received: beta={beta!r}.")
        self.beta = float(beta)
        super().__init__(threshold=threshold, average=average, class_id=class_id, from_logits=from_logits,
                         name=name or "fbeta_score", dtype=dtype)

    def score(self, tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, tn: np.ndarray) -> np.ndarray:
        b2 = self.beta**2
        return safe_divide((1 + b2) * tp, (1 + b2) * tp + b2 * fn + fp)

    def get_config(self) -> dict[str, Any]:
        return {"beta": self.beta, **super().get_config()}


class F1Score(FBetaScore):
    """Harmonic mean of precision and recall (:class:`FBetaScore` with ``beta=1``).

    Args:
        average: ``'auto'`` (binary for binary problems, else macro), ``'binary'``, ``'micro'``,
            ``'macro'``, ``'weighted'`` or ``None`` (one entry per class: ``f1_score_0``, ...).
        threshold: ``None`` means 0.5 for one output unit and arg-max for several; a number thresholds
            each output (multi-label), as Keras's ``F1Score``.
        name: Name in logs (default ``'f1_score'``).
        dtype: Accepted for Keras compatibility.
        class_id: Report one class only.
        from_logits: Outputs are logits (sigmoid before ``threshold``).
    """

    def __init__(self, average: str | None = "auto", threshold: float | None = None, name: str | None = None,
                 dtype: Any = None, *, class_id: int | None = None, from_logits: bool = False) -> None:
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name or "f1_score", dtype=dtype,
                         class_id=class_id, from_logits=from_logits)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["beta"]
        return config


def _one_threshold(threshold: float | None, thresholds: Any, metric: str) -> float | None:
    """Accept Keras's ``thresholds=`` when it is one number."""
    if thresholds is None:
        return threshold
    if threshold is not None:
        raise ConfigError(f"{metric} got both threshold={threshold!r} and thresholds={thresholds!r}; pass one.")
    if isinstance(thresholds, (list, tuple)):
        if len(thresholds) != 1:
            raise ConfigError(f"{metric} takes one threshold; Received: thresholds={list(thresholds)!r}. Create "
                              "one metric per threshold.")
        thresholds = thresholds[0]
    return thresholds


def _variant(cls: type, average: str | None, **fixed: Any) -> Any:
    """A factory for a compile() name with a fixed average (the name is set by ``get``)."""

    def make() -> Any:
        return cls(average=average, **fixed)

    make.__name__ = cls.__name__
    return make


METRICS.add("precision", Precision)
METRICS.add("recall", Recall)
METRICS.add("f1", F1Score)
METRICS.add("f1_score", F1Score)
METRICS.add("fbeta_score", FBetaScore)
for _average in ("micro", "macro", "weighted"):
    METRICS.add(f"precision_{_average}", _variant(Precision, _average))
    METRICS.add(f"recall_{_average}", _variant(Recall, _average))
    METRICS.add(f"f1_{_average}", _variant(F1Score, _average))
