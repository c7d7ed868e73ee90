"""Regression metrics with Keras semantics, accumulated in float64 on the model's device.

Per-sample metrics (``MeanSquaredError``, ...) reduce the last axis, then average over samples
weighted by ``sample_weight``, as Keras's ``MeanMetricWrapper`` does. ``RootMeanSquaredError`` is
the square root of the mean over all values (Keras), ``R2Score`` is per output then aggregated
(Keras and scikit-learn). Targets and predictions must have the same shape (up to a trailing axis
of 1); integer class labels against several class scores are refused, since no regression metric
means anything there.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F

from nnkit.errors import ConfigError, DataError
from nnkit.losses import EPSILON, align_ranks
from nnkit.metrics.base import METRICS, Mean, Metric, accumulator_dtype
from nnkit.metrics.confusion import _check_choice


def _labels_error(metric: str, n_scores: int, shapes: str = "") -> ConfigError:
    return ConfigError(
        f"Metric '{metric}' compares targets and predictions value by value, but the targets are integer class "
        f"labels while the predictions are {n_scores} class scores per sample{shapes}; a regression metric is "
        "meaningless there. Use a classification metric ('accuracy', 'f1', 'auc'), or one-hot targets with "
        "loss='categorical_crossentropy'."
    )


def paired(metric: str, y_true: Tensor, y_pred: Tensor) -> tuple[Tensor, Tensor]:
    """``(y_true, y_pred)`` as same-shaped float tensors, at least 2-D (samples, values)."""
    y_true, y_pred = torch.as_tensor(y_true), torch.as_tensor(y_pred).detach()
    y_true = align_ranks(y_true, y_pred)
    if y_true.shape != y_pred.shape:
        if y_pred.ndim >= 2 and y_pred.shape[-1] > 1 and tuple(y_true.shape) in (y_pred.shape[:-1],
                                                                                 (*y_pred.shape[:-1], 1)):
            raise _labels_error(metric, y_pred.shape[-1],
                                f" (y_true {tuple(y_true.shape)}, y_pred {tuple(y_pred.shape)})")
        raise DataError(f"Metric '{metric}' needs targets shaped like the predictions {tuple(y_pred.shape)}, but "
                        f"received targets of shape {tuple(y_true.shape)}.")
    if y_pred.ndim == 1:
        y_true, y_pred = y_true[:, None], y_pred[:, None]
    dtype = accumulator_dtype(y_pred.device)
    return y_true.to(dtype), y_pred.to(dtype)


class RegressionMetric(Mean):
    """The weighted mean over samples of ``fn(y_true, y_pred)`` (one value per sample).

    Args:
        fn: Per-sample function of same-shaped float tensors.
        name: Name in logs.
        dtype: Accepted for Keras compatibility.
    """

    def __init__(self, fn: Any, name: str | None = None, dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)
        self.fn = fn

    def update_state(self, y_true: Tensor, y_pred: Tensor, sample_weight: Tensor | None = None) -> None:  # type: ignore[override]
        y_true, y_pred = paired(self.name, y_true, y_pred)
        self._accumulate(self.fn(y_true, y_pred), sample_weight)

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Tensor:  # type: ignore[override]
        return Metric.__call__(self, y_true, y_pred, sample_weight)

    def check_compatible(self, output_shape: tuple[int, ...], integer_labels: bool) -> None:
        if integer_labels and output_shape and output_shape[-1] > 1:
            raise _labels_error(self.name, output_shape[-1])

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name}


def _squared_error(y_true: Tensor, y_pred: Tensor) -> Tensor:
    return torch.square(y_pred - y_true).mean(dim=-1)


def _absolute_error(y_true: Tensor, y_pred: Tensor) -> Tensor:
    return (y_pred - y_true).abs().mean(dim=-1)


def _absolute_percentage_error(y_true: Tensor, y_pred: Tensor) -> Tensor:
    return 100.0 * ((y_true - y_pred).abs() / y_true.abs().clamp_min(EPSILON)).mean(dim=-1)


def _squared_logarithmic_error(y_true: Tensor, y_pred: Tensor) -> Tensor:
    return torch.square(torch.log1p(y_pred.clamp_min(EPSILON)) - torch.log1p(y_true.clamp_min(EPSILON))).mean(dim=-1)


def _log_cosh(y_true: Tensor, y_pred: Tensor) -> Tensor:
    x = y_pred - y_true
    return (x + F.softplus(-2.0 * x) - math.log(2.0)).mean(dim=-1)


class MeanSquaredError(RegressionMetric):
    """Mean of ``(y_true - y_pred) ** 2`` (over the last axis, then over samples)."""

    def __init__(self, name: str = "mean_squared_error", dtype: Any = None) -> None:
        super().__init__(_squared_error, name=name, dtype=dtype)


class MeanAbsoluteError(RegressionMetric):
    """Mean of ``|y_true - y_pred|``."""

    def __init__(self, name: str = "mean_absolute_error", dtype: Any = None) -> None:
        super().__init__(_absolute_error, name=name, dtype=dtype)


class MeanAbsolutePercentageError(RegressionMetric):
    """``100 *`` mean of ``|y_true - y_pred| / max(|y_true|, 1e-7)`` (a percentage, as in Keras;
    scikit-learn's ``mean_absolute_percentage_error`` is the same fraction without the 100)."""

    def __init__(self, name: str = "mean_absolute_percentage_error", dtype: Any = None) -> None:
        super().__init__(_absolute_percentage_error, name=name, dtype=dtype)


class MeanSquaredLogarithmicError(RegressionMetric):
    """Mean of ``(log(1 + y_pred) - log(1 + y_true)) ** 2``, values clipped below at 1e-7 (Keras)."""

    def __init__(self, name: str = "mean_squared_logarithmic_error", dtype: Any = None) -> None:
        super().__init__(_squared_logarithmic_error, name=name, dtype=dtype)


class LogCoshError(RegressionMetric):
    """Mean of ``log(cosh(y_pred - y_true))``, computed without overflow."""

    def __init__(self, name: str = "logcosh", dtype: Any = None) -> None:
        super().__init__(_log_cosh, name=name, dtype=dtype)


class CosineSimilarity(RegressionMetric):
    """Mean cosine similarity between targets and predictions along ``axis`` (1 = same direction).

    Note the sign: the metric is the similarity, the loss of the same name its negative.
    """

    def __init__(self, name: str = "cosine_similarity", dtype: Any = None, axis: int = -1) -> None:
        self.axis = axis
        super().__init__(self._similarity, name=name, dtype=dtype)

    def _similarity(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        return (F.normalize(y_true, dim=self.axis, eps=EPSILON) * F.normalize(y_pred, dim=self.axis, eps=EPSILON)
                ).sum(dim=self.axis)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "axis": self.axis}


class RootMeanSquaredError(RegressionMetric):
    """Square root of the mean of ``(y_true - y_pred) ** 2`` over all values (Keras's definition; for
    several outputs scikit-learn's ``root_mean_squared_error`` instead averages per-output roots)."""

    def __init__(self, name: str = "root_mean_squared_error", dtype: Any = None) -> None:
        super().__init__(lambda y_true, y_pred: torch.square(y_pred - y_true), name=name, dtype=dtype)

    def result(self) -> Tensor:
        return torch.sqrt(super().result())


class R2Score(Metric):
    """Coefficient of determination, streamed exactly (per-output means and variances merged batch by
    batch, Chan et al.), equal to ``sklearn.metrics.r2_score``.

    Args:
        class_aggregation: ``'uniform_average'`` (mean over outputs), ``'variance_weighted_average'``
            or ``None`` (a vector, one value per output, logged as ``r2_score_0``, ...).
        num_regressors: For the adjusted R² (``0``: plain R²). Falls back to plain R² with a warning
            when there are not more samples than ``num_regressors + 1``, as in Keras.
        name: Name in logs (default ``'r2_score'``).
        dtype: Accepted for Keras compatibility.

    A constant target gives 1.0 if predicted exactly, else 0.0 (scikit-learn's ``force_finite``).
    """

    def __init__(self, class_aggregation: str | None = "uniform_average", num_regressors: int = 0,
                 name: str = "r2_score", dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)
        _check_choice(self.name, "class_aggregation", class_aggregation,
                      ("uniform_average", "variance_weighted_average", None))
        if isinstance(num_regressors, bool) or not isinstance(num_regressors, int) or num_regressors < 0:
            raise ConfigError(f"Metric '{self.name}' needs num_regressors to be an int >= 0. "
                              f"Received: num_regressors={num_regressors!r}.")
        self.class_aggregation = class_aggregation
        self.num_regressors = num_regressors
        self.reset_state()

    def reset_state(self) -> None:
        self._state: Tensor | None = None  # rows: weight, mean, squared deviations, squared residuals
        self._rows: Tensor | None = None

    def update_state(self, y_true: Tensor, y_pred: Tensor, sample_weight: Tensor | None = None) -> None:
        y_true, y_pred = paired(self.name, y_true, y_pred)
        y_true, y_pred = y_true.reshape(-1, y_true.shape[-1]), y_pred.reshape(-1, y_pred.shape[-1])
        if self._state is None:
            self._state = torch.zeros(4, y_true.shape[1], dtype=y_true.dtype, device=y_true.device)
            self._rows = torch.zeros((), dtype=torch.int64, device=y_true.device)
        elif self._state.shape[1] != y_true.shape[1]:
            raise DataError(f"Metric '{self.name}' was accumulating {self._state.shape[1]} output(s) but now "
                            f"receives {y_true.shape[1]}. Call reset_state() between models.")
        if sample_weight is None:
            w = torch.ones_like(y_true[:, :1])
        else:
            w = torch.as_tensor(sample_weight, device=y_true.device).to(y_true.dtype).reshape(-1, 1)
            if len(w) != len(y_true):
                raise DataError(f"Metric '{self.name}' needs one sample weight per sample ({len(y_true)}), but "
                                f"received {len(w)}.")
        total, mean, deviations, residuals = self._state
        batch_weight = w.sum(0).expand(y_true.shape[1])
        safe = torch.where(batch_weight > 0, batch_weight, torch.ones_like(batch_weight))
        batch_mean = (w * y_true).sum(0) / safe
        batch_deviations = (w * torch.square(y_true - batch_mean)).sum(0)
        merged = total + batch_weight
        delta = batch_mean - mean
        share = torch.where(merged > 0, batch_weight / torch.where(merged > 0, merged, 1.0), 0.0)
        new_mean = mean + delta * share
        new_deviations = deviations + batch_deviations + torch.square(delta) * total * share
        new_residuals = residuals + (w * torch.square(y_true - y_pred)).sum(0)
        self._state = torch.stack([merged, new_mean, new_deviations, new_residuals])
        self._rows += len(y_true)

    def result(self) -> Tensor:
        """A float32 tensor: the score, or one score per output with ``class_aggregation=None``."""
        return torch.as_tensor(self._result(), dtype=torch.float32)

    def _result(self) -> float | list[float]:
        if self._state is None:
            return [] if self.class_aggregation is None else 0.0
        state = self._state.cpu().double()
        total, mean, deviations, residuals = state
        rows = int(self._rows)
        # Constant targets: deviations are rounding noise around 0, not a variance.
        constant = deviations <= 1e-20 * total * torch.square(mean)
        safe = torch.where(constant, torch.ones_like(deviations), deviations)
        scores = torch.where(constant, (residuals == 0).to(state.dtype), 1 - residuals / safe)
        if self.class_aggregation is None:
            return [self._adjusted(float(v), rows) for v in scores]
        if self.class_aggregation == "variance_weighted_average" and not bool(constant.all()):
            weights = torch.where(constant, torch.zeros_like(deviations), deviations)
            score = float((scores * weights).sum() / weights.sum())
        else:
            score = float(scores.mean())
        return self._adjusted(score, rows)

    def _adjusted(self, score: float, rows: int) -> float:
        p = self.num_regressors
        if p == 0:
            return score
        if p >= rows - 1:
            warnings.warn(f"Metric '{self.name}': adjusted R² needs more than num_regressors + 1 = {p + 1} "
                          f"samples but has {rows}; reporting the plain R².", RuntimeWarning, stacklevel=2)
            return score
        return 1 - (1 - score) * (rows - 1) / (rows - p - 1)

    def check_compatible(self, output_shape: tuple[int, ...], integer_labels: bool) -> None:
        if integer_labels and output_shape and output_shape[-1] > 1:
            raise _labels_error(self.name, output_shape[-1])

    def get_config(self) -> dict[str, Any]:
        return {"class_aggregation": self.class_aggregation, "num_regressors": self.num_regressors,
                "name": self.name}


for _names, _cls in ((("mean_squared_error", "mse"), MeanSquaredError),
                     (("root_mean_squared_error", "rmse"), RootMeanSquaredError),
                     (("mean_absolute_error", "mae"), MeanAbsoluteError),
                     (("mean_absolute_percentage_error", "mape"), MeanAbsolutePercentageError),
                     (("mean_squared_logarithmic_error", "msle"), MeanSquaredLogarithmicError),
                     (("r2_score", "r2"), R2Score),
                     (("logcosh", "log_cosh", "log_cosh_error"), LogCoshError),
                     (("cosine_similarity",), CosineSimilarity)):
    for _name in _names:
        METRICS.add(_name, _cls)
