"""Correlation metrics, as Keras defines them: ``pearson_correlation`` and ``concordance_correlation``
(per sample, along ``axis``) and the metrics ``PearsonCorrelation`` / ``ConcordanceCorrelation`` that
average them over samples.

As in Keras, the correlation is taken along ``axis`` (the last one by default) *within* each sample,
so for ``(batch, d)`` inputs each row gives one value; for 1-D inputs ``(batch,)`` the axis is the
batch and each ``update_state`` call gives one value (the metric is then the mean over batches, not
the correlation of all samples together). There, unlike Keras (which refuses the combination), a
``sample_weight`` weights each batch's value by the batch's total weight.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from nnkit.config import epsilon
from nnkit.losses import align_ranks
from nnkit.metrics.base import METRICS, MeanMetricWrapper, Metric


def _pair(y_true: Any, y_pred: Any) -> tuple[Tensor, Tensor]:
    """Float tensors of one rank (a trailing axis of 1 added or dropped), ``y_true`` in ``y_pred``'s dtype."""
    y_pred = torch.as_tensor(y_pred)
    if not y_pred.is_floating_point():
        y_pred = y_pred.float()
    y_true = torch.as_tensor(y_true, device=y_pred.device).to(y_pred.dtype)
    return align_ranks(y_true, y_pred), y_pred


def pearson_correlation(y_true: Tensor, y_pred: Tensor, axis: int = -1) -> Tensor:
    """Pearson correlation coefficient of ``y_true`` and ``y_pred`` along ``axis``.

    Args:
        y_true: Targets.
        y_pred: Predictions, shaped like the targets (up to a trailing axis of 1).
        axis: Axis along which the correlation is computed.

    Returns:
        The correlation, with ``axis`` reduced (``nan`` where either input is constant along it, as in Keras).
    """
    y_true, y_pred = _pair(y_true, y_pred)
    true = y_true - y_true.mean(dim=axis, keepdim=True)
    pred = y_pred - y_pred.mean(dim=axis, keepdim=True)
    true = true / true.std(dim=axis, keepdim=True, correction=0)
    pred = pred / pred.std(dim=axis, keepdim=True, correction=0)
    return (true * pred).mean(dim=axis)


def concordance_correlation(y_true: Tensor, y_pred: Tensor, axis: int = -1) -> Tensor:
    """Lin's concordance correlation coefficient along ``axis``, as Keras computes it.

    Keras's covariance term centres ``y_true`` on the mean of ``y_pred``,
    ``mean((y_true - mean(y_pred)) * (y_pred - mean(y_pred)))``, rather than on its own mean (the
    textbook formula); this function follows Keras so that ported models log the same numbers. The
    two agree when the means are equal.

    Args:
        y_true: Targets.
        y_pred: Predictions, shaped like the targets (up to a trailing axis of 1).
        axis: Axis along which the coefficient is computed.

    Returns:
        The coefficient, with ``axis`` reduced.
    """
    y_true, y_pred = _pair(y_true, y_pred)
    true_mean = y_true.mean(dim=axis, keepdim=True)
    pred_mean = y_pred.mean(dim=axis, keepdim=True)
    true_var = y_true.var(dim=axis, keepdim=True, correction=0)
    pred_var = y_pred.var(dim=axis, keepdim=True, correction=0)
    covariance = (y_true - pred_mean) * (y_pred - pred_mean)
    norm = true_var + pred_var + torch.square(true_mean - pred_mean)
    return (2 * covariance / (norm + epsilon())).mean(dim=axis)


class _Correlation(MeanMetricWrapper):
    """The weighted mean of a correlation function over the values it returns."""

    def __init__(self, fn: Any, name: str, dtype: Any, axis: int) -> None:
        super().__init__(fn, name=name, dtype=dtype, axis=axis)
        self.axis = axis

    def update_state(self, y_true: Tensor, y_pred: Tensor, sample_weight: Tensor | None = None) -> None:  # type: ignore[override]
        values = self.fn(y_true, torch.as_tensor(y_pred).detach(), axis=self.axis)
        if values.ndim == 0 and sample_weight is not None:
            # One value for the whole batch (1-D inputs): it counts with the batch's total weight, as in Keras.
            weight = torch.as_tensor(sample_weight, device=values.device)
            values, sample_weight = values.reshape(1), weight.sum().reshape(1)
        self._accumulate(values, sample_weight)

    def result(self) -> Tensor:
        """The mean correlation so far, a float32 scalar tensor (0 before any update)."""
        if self.total is None:
            return torch.zeros((), dtype=torch.float32)
        return (self.total / self.count).to(torch.float32)

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Tensor:  # type: ignore[override]
        return Metric.__call__(self, y_true, y_pred, sample_weight)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "axis": self.axis}


class PearsonCorrelation(_Correlation):
    """Mean over samples of :func:`pearson_correlation` along ``axis``.

    Args:
        name: Name in logs (default ``'pearson_correlation'``).
        dtype: Accepted for Keras compatibility.
        axis: Axis along which each correlation is computed.
    """

    def __init__(self, name: str = "pearson_correlation", dtype: Any = None, axis: int = -1) -> None:
        super().__init__(pearson_correlation, name, dtype, axis)


class ConcordanceCorrelation(_Correlation):
    """Mean over samples of :func:`concordance_correlation` along ``axis``.

    Args:
        name: Name in logs (default ``'concordance_correlation'``).
        dtype: Accepted for Keras compatibility.
        axis: Axis along which each coefficient is computed.
    """

    def __init__(self, name: str = "concordance_correlation", dtype: Any = None, axis: int = -1) -> None:
        super().__init__(concordance_correlation, name, dtype, axis)


METRICS.add("pearson_correlation", PearsonCorrelation)
METRICS.add("concordance_correlation", ConcordanceCorrelation)
