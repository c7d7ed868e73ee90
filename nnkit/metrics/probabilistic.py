"""The losses as metrics, as Keras names them (``keras.metrics.BinaryCrossentropy``, ``KLDivergence``, ...):
the mean of the loss function over all samples seen, and ``Sum``."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from nnkit import losses
from nnkit.metrics.base import Mean, MeanMetricWrapper


class BinaryCrossentropy(MeanMetricWrapper):
    """Mean binary cross-entropy between labels and predicted probabilities (or logits)."""

    def __init__(self, name: str = "binary_crossentropy", dtype: Any = None, from_logits: bool = False,
                 label_smoothing: float = 0.0) -> None:
        super().__init__(losses.binary_crossentropy, name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing)


class CategoricalCrossentropy(MeanMetricWrapper):
    """Mean cross-entropy between one-hot labels and predicted class probabilities (or logits)."""

    def __init__(self, name: str = "categorical_crossentropy", dtype: Any = None, from_logits: bool = False,
                 label_smoothing: float = 0.0) -> None:
        super().__init__(losses.categorical_crossentropy, name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing)


class SparseCategoricalCrossentropy(MeanMetricWrapper):
    """Mean cross-entropy between integer labels and predicted class probabilities (or logits)."""

    def __init__(self, name: str = "sparse_categorical_crossentropy", dtype: Any = None,
                 from_logits: bool = False) -> None:
        super().__init__(losses.sparse_categorical_crossentropy, name=name, dtype=dtype, from_logits=from_logits)


def _loss_metric(class_name: str, fn: Any, default_name: str, doc: str) -> type[MeanMetricWrapper]:
    def __init__(self: MeanMetricWrapper, name: str = default_name, dtype: Any = None) -> None:
        MeanMetricWrapper.__init__(self, fn, name=name, dtype=dtype)

    return type(class_name, (MeanMetricWrapper,), {"__init__": __init__, "__doc__": doc, "__module__": __name__})


KLDivergence = _loss_metric("KLDivergence", losses.kl_divergence, "kl_divergence",
                            "Mean Kullback-Leibler divergence between target and predicted distributions.")
Poisson = _loss_metric("Poisson", losses.poisson, "poisson", "Mean Poisson loss ``y_pred - y_true * log(y_pred)``.")
Hinge = _loss_metric("Hinge", losses.hinge, "hinge", "Mean hinge loss of -1/1 (or 0/1) labels.")
SquaredHinge = _loss_metric("SquaredHinge", losses.squared_hinge, "squared_hinge", "Mean squared hinge loss.")
CategoricalHinge = _loss_metric("CategoricalHinge", losses.categorical_hinge, "categorical_hinge",
                                "Mean categorical hinge loss of one-hot labels.")


class Sum(Mean):
    """The (weighted) sum of every value passed to ``update_state(values, sample_weight)``."""

    def __init__(self, name: str | None = "sum", dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)

    def update_state(self, values: Tensor, sample_weight: Tensor | None = None) -> None:  # type: ignore[override]
        super().update_state(values, sample_weight)

    def result(self) -> Tensor:
        """The weighted sum so far, a float32 scalar tensor."""
        return torch.zeros((), dtype=torch.float32) if self.total is None else self.total.to(torch.float32)
