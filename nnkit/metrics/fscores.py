"""Precision, recall and F-scores, exact and streaming, in every label format.

Unlike Keras's ``Precision``/``F1Score`` (which threshold each softmax column at 0.5 and refuse
integer labels), these read integer labels, one-hot rows, probabilities, logits, one sigmoid unit or
two softmax units (see :mod:`nnkit.metrics.labels`), and average like
``sklearn.metrics.precision_recall_fscore_support``. Undefined ratios (no predicted or no true
samples of a class) are 0, silently, as with scikit-learn's ``zero_division=0``. ``Precision`` and
``Recall`` given Keras's ``thresholds=`` or ``top_k=`` follow Keras's definition instead.

Results are float32 tensors, as in Keras: a scalar, or one value per class with ``average=None`` (the
default of ``F1Score`` and ``FBetaScore``, as in Keras; the ``compile`` name ``'f1'`` keeps nnkit's
``average='auto'``), logged as ``f1_score_0``, ``f1_score_1``, ...
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from nnkit.errors import ConfigError
from nnkit.metrics.at_thresholds import NEG_INF, ThresholdCounts, divide_no_nan
from nnkit.metrics.base import METRICS
from nnkit.metrics.confusion import ConfusionMetric, safe_divide


class Precision(ConfusionMetric):
    """Share of predicted positives that are right: ``tp / (tp + fp)``.

    Two definitions, chosen by the arguments:

    * nnkit's (default): ``threshold``/``average`` as in :class:`~nnkit.metrics.confusion.ConfusionMetric`,
      reading every label format and averaging like scikit-learn.
    * Keras's, when ``thresholds`` or ``top_k`` is given: every output column is thresholded on its
      own (score ``> t``) and the counts of all columns are pooled; ``top_k`` keeps each row's ``k``
      largest scores only (default threshold then: any score), ``class_id`` keeps one column. With
      several thresholds the result is one value per threshold (logged as ``precision_0``, ...).

    Args:
        thresholds: Keras's thresholds (a number or a list of numbers in [0, 1]); selects Keras's definition.
        top_k: Keras's ``top_k``; selects Keras's definition.
        class_id: Report one class only.
        name: Name in logs (default ``'precision'``).
        dtype: Accepted for Keras compatibility.
        threshold: nnkit's definition; see :class:`~nnkit.metrics.confusion.ConfusionMetric`: ``None``
            means 0.5 for one output unit and arg-max for several; a number thresholds each output
            (multi-label).
        average: ``'auto'`` (binary for binary problems, else macro), ``'binary'``, ``'micro'``,
            ``'macro'``, ``'weighted'`` or ``None`` (a vector, one value per class, logged as
            ``precision_0``, ...).
        from_logits: Outputs are logits (sigmoid before thresholding).

    Raises:
        ConfigError: Invalid thresholds or ``top_k``, or ``thresholds``/``top_k`` combined with
            ``threshold`` or ``average``.

    Example:
        >>> float(Precision(average="macro")(y_true=[0, 1, 2, 2], y_pred=[[.8, .1, .1], [.2, .7, .1],
        ...                                                                [.1, .8, .1], [.1, .1, .8]]))
        0.833...
        >>> float(Precision(top_k=1)([[0, 0, 1], [0, 1, 0]], [[.2, .3, .5], [.6, .3, .1]]))
        0.5
    """

    def __init__(self, thresholds: float | list[float] | None = None, top_k: int | None = None,
                 class_id: int | None = None, name: str | None = None, dtype: Any = None, *,
                 threshold: float | None = None, average: str | None = "auto", from_logits: bool = False) -> None:
        self.thresholds, self.top_k = thresholds, top_k
        self._keras: ThresholdCounts | None = None
        super().__init__(threshold=threshold, average=average, class_id=class_id, from_logits=from_logits,
                         name=name, dtype=dtype)
        if thresholds is not None or top_k is not None:
            self._keras = ThresholdCounts(_keras_thresholds(self.name, threshold, average, thresholds, top_k),
                                          self.name, top_k=top_k, class_id=class_id, from_logits=from_logits)

    def reset_state(self) -> None:
        if self._keras is not None:
            self._keras.reset()
        super().reset_state()

    def update_state(self, y_true: Tensor, y_pred: Tensor, sample_weight: Tensor | None = None) -> None:
        if self._keras is None:
            super().update_state(y_true, y_pred, sample_weight)
        else:
            self._keras.update(y_true, y_pred, sample_weight)

    def result(self) -> Any:
        if self._keras is None:
            return super().result()
        tp, fp, _, fn = self._keras.counts()
        values = self._keras_score(tp, fp, fn).to(torch.float32)
        return values[0] if len(values) == 1 else values

    def _keras_score(self, tp: Tensor, fp: Tensor, fn: Tensor) -> Tensor:
        return divide_no_nan(tp, tp + fp)

    def check_compatible(self, output_shape: tuple[int, ...], integer_labels: bool) -> None:
        if self._keras is None:
            super().check_compatible(output_shape, integer_labels)
        elif self.class_id is not None or self.top_k is not None:
            self._keras.check(output_shape[-1] if output_shape else 1)

    def score(self, tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, tn: np.ndarray) -> np.ndarray:
        return safe_divide(tp, tp + fp)

    def get_config(self) -> dict[str, Any]:
        if self._keras is None:
            return super().get_config()
        return {"thresholds": self.thresholds, "top_k": self.top_k, "class_id": self.class_id,
                "from_logits": self.from_logits, "name": self.name}


class Recall(Precision):
    """Share of actual positives that are found: ``tp / (tp + fn)``. Arguments as :class:`Precision`
    (default name ``'recall'``); ``thresholds=`` or ``top_k=`` select Keras's definition."""

    def _keras_score(self, tp: Tensor, fp: Tensor, fn: Tensor) -> Tensor:
        return divide_no_nan(tp, tp + fn)

    def score(self, tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, tn: np.ndarray) -> np.ndarray:
        return safe_divide(tp, tp + fn)


class FBetaScore(ConfusionMetric):
    """Weighted harmonic mean of precision and recall:
    ``(1 + beta**2) * tp / ((1 + beta**2) * tp + beta**2 * fn + fp)``.

    Args:
        average: ``None`` (default, as in Keras: a vector, one value per class, logged as
            ``fbeta_score_0``, ...), ``'auto'`` (binary for binary problems, else macro), ``'binary'``,
            ``'micro'``, ``'macro'`` or ``'weighted'``.
        beta: Weight of recall relative to precision (a positive number).
        threshold: ``None`` means 0.5 for one output unit and arg-max for several; a number thresholds
            each output (multi-label), as Keras's ``FBetaScore``.
        name: Name in logs (default ``'fbeta_score'``).
        dtype: Accepted for Keras compatibility.
        class_id: Report one class only.
        from_logits: Outputs are logits (sigmoid before ``threshold``).
    """

    def __init__(self, average: str | None = None, beta: float = 1.0, threshold: float | None = None,
                 name: str | None = None, dtype: Any = None, *, class_id: int | None = None,
                 from_logits: bool = False) -> None:
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not beta > 0:
            raise ConfigError(f"Metric '{name or 'fbeta_score'}' needs beta to be a positive number. "
                              f"Received: beta={beta!r}.")
        self.beta = float(beta)
        if class_id is not None and average is None:  # the default average: class_id picks the class instead
            average = "auto"
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
        average: ``None`` (default, as in Keras: a vector, one value per class, logged as
            ``f1_score_0``, ...), ``'auto'`` (binary for binary problems, else macro), ``'binary'``,
            ``'micro'``, ``'macro'`` or ``'weighted'``. (The ``compile`` name ``'f1'`` is ``'auto'``.)
        threshold: ``None`` means 0.5 for one output unit and arg-max for several; a number thresholds
            each output (multi-label), as Keras's ``F1Score``.
        name: Name in logs (default ``'f1_score'``).
        dtype: Accepted for Keras compatibility.
        class_id: Report one class only.
        from_logits: Outputs are logits (sigmoid before ``threshold``).
    """

    def __init__(self, average: str | None = None, threshold: float | None = None, name: str | None = None,
                 dtype: Any = None, *, class_id: int | None = None, from_logits: bool = False) -> None:
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name or "f1_score", dtype=dtype,
                         class_id=class_id, from_logits=from_logits)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["beta"]
        return config


def _keras_thresholds(metric: str, threshold: float | None, average: str | None, thresholds: Any,
                     top_k: Any) -> list[float]:
    """Keras's thresholds for ``Precision``/``Recall(thresholds=..., top_k=...)``, checked."""
    if threshold is not None or average != "auto":
        raise ConfigError(f"Metric '{metric}' got thresholds={thresholds!r} / top_k={top_k!r} (Keras's definition: "
                          f"columns thresholded and pooled) together with threshold={threshold!r} / "
                          f"average={average!r} (nnkit's definition); pass one or the other.")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ConfigError(f"Metric '{metric}' needs top_k to be a positive int or None. Received: top_k={top_k!r}.")
    if thresholds is None:
        return [0.5 if top_k is None else NEG_INF]
    values = list(thresholds) if isinstance(thresholds, (list, tuple)) else [thresholds]
    bad = [t for t in values if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 <= t <= 1]
    if bad or not values:
        raise ConfigError(f"Metric '{metric}' needs threshold values in [0, 1]. Received: thresholds={thresholds!r}.")
    return [float(t) for t in values]


def _variant(cls: type, average: str | None, **fixed: Any) -> Any:
    """A factory for a compile() name with a fixed average (the name is set by ``get``)."""

    def make() -> Any:
        return cls(average=average, **fixed)

    make.__name__ = cls.__name__
    return make


METRICS.add("precision", Precision)
METRICS.add("recall", Recall)
METRICS.add("f1", F1Score)  # by name in compile(), average='auto' (see nnkit.metrics.get)
METRICS.add("f1_score", F1Score)
METRICS.add("fbeta_score", FBetaScore)
for _average in ("micro", "macro", "weighted"):
    METRICS.add(f"precision_{_average}", _variant(Precision, _average))
    METRICS.add(f"recall_{_average}", _variant(Recall, _average))
    METRICS.add(f"f1_{_average}", _variant(F1Score, _average))
