"""Metric-learning losses on embeddings: Circle loss (Sun et al., 2020)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F

from nnkit.errors import DataError
from nnkit.losses.base import LOSSES, LossFunctionWrapper, _integer_labels, _takes_arrays


def _labels(y: Tensor, loss: str) -> Tensor:
    if y.ndim == 2 and y.shape[-1] == 1:
        y = y.squeeze(-1)
    if y.ndim != 1:
        raise DataError(
            f"Loss '{loss}' needs one integer label per embedding (shape (batch,)), but received labels of shape "
            f"{tuple(y.shape)}."
        )
    return y.long()


@_takes_arrays(sparse=True)
def circle(y_true: Tensor, y_pred: Tensor, ref_labels: Any = None, ref_embeddings: Any = None,
           remove_diagonal: bool = True, gamma: float = 80.0, margin: float = 0.4) -> Tensor:
    """Circle loss of each embedding against the reference embeddings (by default, the batch itself).

    Pairs with the same label are pulled together and pairs with different labels pushed apart, each pair
    weighted by how far it is from its optimum. A sample with no positive (or no negative) pair gets 0.

    Args:
        y_true: Integer labels, shape ``(batch,)``.
        y_pred: L2-normalized embeddings, shape ``(batch, dim)``.
        ref_labels: Labels of the reference embeddings; ``y_true`` by default.
        ref_embeddings: L2-normalized reference embeddings; ``y_pred`` by default.
        remove_diagonal: Whether a sample's pair with itself is left out of its positives.
        gamma: Scale of the similarity scores.
        margin: Relaxation factor: the optimum distance of positives, and one minus that of negatives.

    Returns:
        The loss per sample, shape ``(batch,)``.
    """
    query = _labels(y_true, "circle")
    ref = y_pred if ref_embeddings is None else torch.as_tensor(ref_embeddings, dtype=y_pred.dtype,
                                                                 device=y_pred.device)
    keys = query if ref_labels is None else _labels(torch.as_tensor(ref_labels, device=y_pred.device), "circle")
    distances = (1.0 - y_pred @ ref.T).clamp_min(0.0)
    positive = query[:, None] == keys[None, :]
    negative = ~positive
    if remove_diagonal:
        positive = positive & ~torch.eye(len(query), len(keys), dtype=torch.bool, device=positive.device)
    pos_weights = ((margin + distances) * positive).clamp_min(0.0)
    neg_weights = ((1.0 + margin - distances) * negative).clamp_min(0.0)
    pos_scores = -gamma * pos_weights * (margin - distances)
    neg_scores = gamma * neg_weights * (1.0 - margin - distances)
    # A finite stand-in for -inf: rows without pairs still come out at 0, without a NaN gradient.
    lowest = torch.finfo(distances.dtype).min
    p_loss = torch.logsumexp(pos_scores.masked_fill(~positive, lowest), dim=1)
    n_loss = torch.logsumexp(neg_scores.masked_fill(~negative, lowest), dim=1)
    return F.softplus(p_loss + n_loss)


@LOSSES.register("circle", aliases=("Circle",))
class Circle(LossFunctionWrapper):
    """Circle loss between integer labels and L2-normalized embeddings: see :func:`circle`.

    As in Keras, samples whose loss is 0 (no positive or no negative pair in the batch) are left out of the
    mean. End the model in an embedding without activation followed by ``UnitNormalization``.

    Args:
        gamma: Scale of the similarity scores.
        margin: Relaxation factor.
        remove_diagonal: Whether a sample's pair with itself is left out of its positives.
        reduction: How per-sample values become the loss (see :class:`Loss`).
        name: Name used in logs.

    Example:
        >>> model.compile(optimizer="adam", loss=Circle(gamma=80.0, margin=0.4))  # doctest: +SKIP
    """

    _integer_targets = True

    def __init__(self, gamma: float = 80.0, margin: float = 0.4, remove_diagonal: bool = True,
                 reduction: str | None = "sum_over_batch_size", name: str | None = "circle") -> None:
        super().__init__(circle, name=name, reduction=reduction, gamma=gamma, margin=margin,
                         remove_diagonal=remove_diagonal)

    def __call__(self, y_true: Tensor, y_pred: Tensor, sample_weight: Tensor | None = None) -> Tensor:
        if not isinstance(y_pred, Tensor) or not isinstance(y_true, Tensor) or not (
                sample_weight is None or isinstance(sample_weight, Tensor)):
            y_true, y_pred, sample_weight = self._tensors(y_true, y_pred, sample_weight)
        values = self.call(y_true, y_pred)
        # Keras masks the zero losses: the means run over the samples that have pairs
        mask = (values > 0).to(values.dtype)
        if self.reduction in ("sum_over_batch_size", "mean"):
            valid = mask.sum()
            mask = mask * torch.where(valid > 0, mask.numel() / valid, torch.zeros_like(valid))
        if sample_weight is not None:
            sample_weight = sample_weight.to(values.dtype)
            if sample_weight.ndim == 2 and sample_weight.shape[-1] == 1:
                sample_weight = sample_weight.squeeze(-1)
            mask = mask * sample_weight
        return self._reduce(values, mask)

    def prepare_targets(self, y: Tensor, output_shape: tuple[int, ...]) -> Tensor:
        if len(output_shape) != 1:
            raise DataError(
                f"Loss '{self.name}' needs embeddings of shape (batch, dim), but the model outputs shape "
                f"(None, {', '.join(map(str, output_shape))}). Flatten the output or end with a Dense layer."
            )
        return _labels(_integer_labels(y, self.name, "Give one class label per sample."), self.name)


__all__ = ["Circle", "circle"]
