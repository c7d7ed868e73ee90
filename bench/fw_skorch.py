"""skorch: ``NeuralNetClassifier`` around the same torch module, as skorch users write it.

skorch needs float32 ``x`` and integer labels (it rejects float64 input and one-hot targets): the float64
arrays are converted inside the timed call. ``train_split=None`` (no hidden validation split, as in the
other frameworks), ``iterator_train__shuffle=True`` (a shuffled DataLoader per epoch), ``verbose=0``.
skorch records the epoch's mean ``train_loss`` in its history.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import workloads
from skorch import NeuralNetClassifier
from torch import nn
from workloads import Data, Workload


def classifier(w: Workload, **settings) -> NeuralNetClassifier:
    """``NeuralNetClassifier`` around the workload's torch module (initial weights, loss, optimizer, learning
    rate, batch size, epochs), with ``settings`` on top of skorch's defaults."""
    module = workloads.torch_module(w, workloads.keras_weights(w))
    optimizer_args = {"optimizer__eps": workloads.ADAM_EPS} if w.optimizer == "adam" else {}
    return NeuralNetClassifier(
        module, criterion=nn.CrossEntropyLoss,
        optimizer=torch.optim.SGD if w.optimizer == "sgd" else torch.optim.Adam,
        lr=workloads.SGD_LR if w.optimizer == "sgd" else workloads.ADAM_LR, **optimizer_args,
        max_epochs=w.epochs, batch_size=w.batch, device="cpu", **settings)


def fitter(w: Workload, data: Data) -> Callable[[], float]:
    """The timed call: ``net.fit(x.astype(float32), labels)``; returns the last epoch's ``train_loss``."""
    net = classifier(w, train_split=None, iterator_train__shuffle=True, verbose=0)

    def fit() -> float:
        net.fit(data.x_torch.astype(np.float32), data.labels)
        return net.history[-1, "train_loss"]

    return fit


class SeedMLP(nn.Module):
    """The seed program's network; logits out for CrossEntropyLoss."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden = nn.Linear(20, 64)
        self.out = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.relu(self.hidden(x)))


class L2NeuralNetClassifier(NeuralNetClassifier):
    """Adds Keras's ``l2 * sum(kernel ** 2)`` on the hidden layer to the loss (the seed's regularizer)."""

    def __init__(self, module, *, l2: float = 0.0, **kwargs) -> None:
        super().__init__(module, **kwargs)
        self.l2 = l2

    def get_loss(self, y_pred, y_true, X=None, training=False):
        loss = super().get_loss(y_pred, y_true, X=X, training=training)
        return loss + self.l2 * (self.module_.hidden.weight ** 2).sum()


def searcher(data: Data, grid: dict[str, list]) -> Callable[[], float]:
    """The timed call: ``GridSearchCV`` over ``max_epochs`` / ``batch_size`` / ``l2`` on float32 ``x`` and
    integer labels; returns ``best_score_``."""
    from sklearn.model_selection import GridSearchCV

    skorch_grid = {"batch_size": grid["batch_size"], "max_epochs": grid["epochs"], "l2": grid["l2"]}

    def search() -> float:
        estimator = L2NeuralNetClassifier(
            SeedMLP, criterion=nn.CrossEntropyLoss, optimizer=torch.optim.Adam, lr=workloads.SEARCH_LR,
            optimizer__eps=workloads.ADAM_EPS, train_split=None, iterator_train__shuffle=True, verbose=0)
        x = data.x.astype(np.float32)
        return GridSearchCV(estimator, skorch_grid, cv=3, n_jobs=1).fit(x, data.labels).best_score_

    return search
