"""Running loss and metrics of one pass, read from the device only when someone looks.

Per batch the tracker only keeps references (the detached loss and outputs); metric updates run on
concatenated chunks and the host syncs once per read, so metrics cost almost nothing per step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import Tensor, nn

from nnkit import distributed
from nnkit.metrics.base import Metric, accumulator_dtype, result_entries
from nnkit.training import data

# Pending outputs are folded into the metrics once they hold this many values (or, when training is
# distributed, this many batches: every rank must gather at the same step, and batch counts agree).
_PENDING_LIMIT = 1 << 20
_PENDING_BATCHES_DISTRIBUTED = 64


class RunningLogs:
    """Accumulates the loss (weighted by batch size, as Keras does) and metrics of one pass.

    Args:
        metrics: ``(metric, weighted)`` pairs; weighted metrics receive the sample weights.
        output_activation: Maps what the training forward returns to model outputs (e.g. softmax
            over logits) before metrics see it; ``None`` when they are the same.
    """

    def __init__(self, metrics: list[tuple[Metric, bool]],
                 output_activation: Callable[[Tensor], Tensor] | None = None,
                 loss_parts: list[str] | None = None) -> None:
        self.metrics = metrics
        self.output_activation = output_activation
        self.loss_parts = loss_parts  # names of the entries after the total when each loss is a vector
        for metric, _ in metrics:
            metric.reset_state()
        self._losses: list[Tensor] = []
        self._sizes: list[int] = []
        self._loss_total: Tensor | None = None
        self._count = 0
        self._pending: list[tuple[Tensor, Tensor, Tensor | None]] = []
        self._pending_values = 0
        self._distributed = distributed.world_size() > 1
        self._metrics_updated = False

    def add(self, loss: Tensor, size: int, y_pred: Tensor, y_true: Tensor | None,
            sample_weight: Tensor | None) -> None:
        """Record one batch: its mean loss, its size and (for metrics) outputs and targets."""
        self._losses.append(loss)
        self._sizes.append(size)
        if self.metrics and y_true is not None:
            self._pending.append((y_pred, y_true, sample_weight))
            self._pending_values += y_pred.numel() if isinstance(y_pred, Tensor) else data.size(y_pred)
            if (len(self._pending) >= _PENDING_BATCHES_DISTRIBUTED if self._distributed
                    else self._pending_values > _PENDING_LIMIT):
                self._flush_metrics()
        if len(self._losses) >= 4096:
            self._flush_loss()

    def _flush_loss(self) -> None:
        if not self._losses:
            return
        losses = torch.stack(self._losses)
        dtype = accumulator_dtype(losses.device)
        sizes = torch.tensor(self._sizes, dtype=dtype, device=losses.device).reshape(-1, *([1] * (losses.ndim - 1)))
        total = (losses.to(dtype) * sizes).sum(dim=0)
        self._loss_total = total if self._loss_total is None else self._loss_total + total
        self._count += sum(self._sizes)
        self._losses, self._sizes = [], []

    def _flush_metrics(self) -> None:
        if not self._pending:
            return
        y_pred = data.concatenate([p for p, _, _ in self._pending])
        y_true = data.concatenate([t for _, t, _ in self._pending])
        weights = [w for _, _, w in self._pending]
        sample_weight = None if any(w is None for w in weights) else data.concatenate(weights)
        if self._distributed:  # every rank's metrics see every rank's samples, so all log the same values
            y_pred, y_true, sample_weight = _gathered(y_pred, y_true, sample_weight)
        if self.output_activation is not None:
            y_pred = _activate(self.output_activation, y_pred)
        for metric, weighted in self.metrics:
            metric.update_state(y_true, y_pred, sample_weight if weighted else None)
        self._pending, self._pending_values = [], 0
        self._metrics_updated = True

    def results(self, synchronize: bool = False) -> dict[str, float]:
        """``{"loss": ..., metric names: ...}`` as Python floats, keys sorted as Keras logs them.

        In distributed training, ``synchronize=True`` (which every rank must call at the same point, as
        the loop does at the end of a pass) combines all ranks; otherwise the loss is this rank's and
        the metrics are as of the last combination.
        """
        self._flush_loss()
        if synchronize or not self._distributed:
            self._flush_metrics()
        logs: dict[str, float] = {}
        if self._loss_total is not None:
            total, count = self._loss_total, torch.tensor(float(self._count), device=self._loss_total.device)
            if synchronize:
                total, count = distributed.sum_across_ranks([total, count])
            if self.loss_parts is None:
                logs["loss"] = float(total) / float(count)
            else:
                values = (total / count).tolist()
                logs.update(zip(["loss", *self.loss_parts], values))
        for metric, _ in (self.metrics if self._metrics_updated else []):
            for key, value in result_entries(metric.name, metric.result()).items():
                logs[key] = float(value)
        return dict(sorted(logs.items()))

    def lazy(self) -> LazyLogs:
        """A logs dict that reads the device only if a callback actually looks inside it."""
        return LazyLogs(self.results)


def _gathered(y_pred: Any, y_true: Any, sample_weight: Tensor | None) -> tuple[Any, Any, Tensor | None]:
    """Every rank's rows of outputs, targets and weights (tuples gathered part by part)."""
    if not isinstance(y_pred, tuple):
        return tuple(distributed.gather_rows([y_pred, y_true, sample_weight]))  # type: ignore[return-value]
    n = len(y_pred)
    weights = list(sample_weight) if isinstance(sample_weight, tuple) else [sample_weight]
    parts = distributed.gather_rows([*y_pred, *y_true, *weights])
    gathered = parts[2 * n:]
    return tuple(parts[:n]), tuple(parts[n:2 * n]), tuple(gathered) if isinstance(sample_weight, tuple) else gathered[0]


def _activate(activation: Callable[[Tensor], Tensor], y_pred: Tensor) -> Tensor:
    """Apply the output activation to a chunk of logits.

    torch's CPU softmax over a short last axis (a few classes, many rows) is slow; over the
    transposed, contiguous tensor it runs about six times faster with the same result.
    """
    if isinstance(y_pred, tuple):
        return activation(y_pred)
    if isinstance(activation, nn.Softmax) and y_pred.ndim == 2 and y_pred.shape[1] <= 64 and not y_pred.is_cuda:
        return torch.softmax(y_pred.T.contiguous(), dim=0).T.contiguous()  # metrics reduce rows fastest
    return activation(y_pred)


class LazyLogs(dict):
    """A ``dict`` filled on first access, so batch hooks that ignore their logs cost no sync."""

    def __init__(self, compute: Callable[[], dict[str, float]]) -> None:
        super().__init__()
        self._compute: Callable[[], dict[str, float]] | None = compute

    def _fill(self) -> None:
        if self._compute is not None:
            compute, self._compute = self._compute, None
            super().update(compute())

    def __getitem__(self, key: str) -> float:
        self._fill()
        return super().__getitem__(key)

    def __iter__(self) -> Iterator[str]:
        self._fill()
        return super().__iter__()

    def __len__(self) -> int:
        self._fill()
        return super().__len__()

    def __contains__(self, key: object) -> bool:
        self._fill()
        return super().__contains__(key)

    def __repr__(self) -> str:
        self._fill()
        return super().__repr__()

    def __eq__(self, other: object) -> bool:
        self._fill()
        return super().__eq__(other)

    __hash__ = None  # type: ignore[assignment]

    def get(self, key: str, default: Any = None) -> Any:
        self._fill()
        return super().get(key, default)

    def keys(self):  # type: ignore[override]
        self._fill()
        return super().keys()

    def values(self):  # type: ignore[override]
        self._fill()
        return super().values()

    def items(self):  # type: ignore[override]
        self._fill()
        return super().items()

    def copy(self) -> dict[str, float]:
        self._fill()
        return dict(super().items())
