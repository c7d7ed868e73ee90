"""Sequence losses: Connectionist Temporal Classification (CTC)."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from nnkit.errors import DataError
from nnkit.losses.base import LOSSES, LossFunctionWrapper, _integer_labels, _takes_arrays

BLANK = 0  # Keras's CTC reserves class 0 for the blank, which also pads the label sequences


@_takes_arrays(sparse=True)
def ctc(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """CTC loss of padded label sequences under per-step class logits.

    Args:
        y_true: Integer labels, shape ``(batch, max_label_length)``, padded with 0; class 0 is the blank
            and marks padding, so real classes start at 1. A row's length is its number of non-zero labels.
        y_pred: Logits (not softmax probabilities), shape ``(batch, time_steps, num_classes)``; every
            sequence uses all ``time_steps``.

    Returns:
        The negative log-likelihood of each label sequence, shape ``(batch,)``.

    Raises:
        DataError: ``y_true`` is not 2-D or ``y_pred`` not 3-D.
    """
    if y_true.ndim != 2:
        raise DataError(
            "Loss 'ctc' needs targets of shape (batch_size, max_length) holding integer labels, but received "
            f"targets of shape {tuple(y_true.shape)}."
        )
    if y_pred.ndim != 3:
        raise DataError(
            "Loss 'ctc' needs logits of shape (batch_size, max_length, num_classes), but received outputs of "
            f"shape {tuple(y_pred.shape)}."
        )
    labels = y_true.long()
    batch, steps = y_pred.shape[:2]
    logits = y_pred.transpose(0, 1)  # torch wants (time, batch, classes)
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()  # as Keras, which computes CTC in at least float32
    log_probs = F.log_softmax(logits, dim=-1)
    input_lengths = torch.full((batch,), steps, dtype=torch.long, device=y_pred.device)
    label_lengths = (labels != BLANK).sum(dim=-1)
    return F.ctc_loss(log_probs, labels, input_lengths, label_lengths, blank=BLANK, reduction="none")


@LOSSES.register("ctc", aliases=("CTC",))
class CTC(LossFunctionWrapper):
    """Connectionist Temporal Classification loss: see :func:`ctc`.

    Args:
        reduction: How per-sample values become the loss (see :class:`Loss`).
        name: Name used in logs.

    Example:
        >>> model.compile(optimizer="adam", loss="ctc")  # outputs (batch, steps, classes) logits  # doctest: +SKIP
    """

    _integer_targets = True

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str | None = "ctc") -> None:
        super().__init__(ctc, name=name, reduction=reduction)

    def prepare_targets(self, y: Tensor, output_shape: tuple[int, ...]) -> Tensor:
        if y.ndim != 2 or len(output_shape) != 2:
            raise DataError(
                f"Loss '{self.name}' needs label sequences of shape (n, max_length) and model outputs of shape "
                f"(None, time_steps, num_classes), but y has shape {tuple(y.shape)} and the model outputs "
                f"(None, {', '.join(map(str, output_shape))})."
            )
        y = _integer_labels(y, self.name, "CTC targets are class indices padded with 0.")
        n_classes = output_shape[-1]
        if y.numel() and (bool(y.min() < 0) or bool(y.max() >= n_classes)):
            raise DataError(
                f"Loss '{self.name}' got labels from {y.min().item()} to {y.max().item()}, but the model outputs "
                f"{n_classes} classes, so labels must be in [0, {n_classes - 1}] (0 is the blank and padding)."
            )
        return y


__all__ = ["CTC", "ctc"]
