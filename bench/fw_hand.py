"""The reference: a hand-written PyTorch training loop, and the thinnest scikit-learn estimator around it.

The loop is what a PyTorch user writes: the NumPy arrays converted to float32 tensors once, a ``randperm``
per epoch and batches sliced from it (no DataLoader), ``nn.CrossEntropyLoss`` on the logits,
``zero_grad`` / ``backward`` / ``step``. It keeps each batch's loss as a tensor and takes the epoch's mean
once at the end of the epoch (one host sync), the figure ``fit`` logs as ``loss``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import workloads
from torch import nn
from workloads import Data, Workload


def hand_loop(model: nn.Module, optimizer: torch.optim.Optimizer, x: np.ndarray, y: np.ndarray, epochs: int,
              batch_size: int, penalty: Callable[[], torch.Tensor] | None = None) -> float:
    """Train ``model`` on ``(x, y)``; returns the last epoch's sample-weighted mean loss.

    ``y`` holds one-hot rows (probability targets) or integer labels; ``penalty`` is added to each batch's
    loss (the seed grid's L2 term).
    """
    x_t = torch.as_tensor(x, dtype=torch.float32)
    y_t = torch.as_tensor(y)
    if y_t.is_floating_point():
        y_t = y_t.to(torch.float32)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    n = len(x_t)
    epoch_loss = float("nan")
    for _ in range(epochs):
        order = torch.randperm(n)
        losses = []
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            loss = loss_fn(model(x_t[idx]), y_t[idx])
            if penalty is not None:
                loss = loss + penalty()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.detach() * len(idx))
        epoch_loss = float(torch.stack(losses).sum() / n)
    model.eval()
    return epoch_loss


def fitter(w: Workload, data: Data) -> Callable[[], float]:
    """The timed call: ``hand_loop`` on the float64 arrays (PyTorch layout) and one-hot targets."""
    model = workloads.torch_module(w, workloads.keras_weights(w))
    optimizer = workloads.torch_optimizer(w, model.parameters())
    return lambda: hand_loop(model, optimizer, data.x_torch, data.y, w.epochs, w.batch)


def searcher(data: Data, grid: dict[str, list]) -> Callable[[], float]:
    """The timed call: ``GridSearchCV`` over :class:`HandClassifier`, integer labels; returns ``best_score_``."""
    from sklearn.model_selection import GridSearchCV

    def search() -> float:
        return GridSearchCV(hand_classifier()(), grid, cv=3, n_jobs=1).fit(data.x, data.labels).best_score_

    return search


def hand_classifier() -> type:
    """The seed network (20-64-10, ReLU, Adam 0.01, L2 on the hidden kernel) as a bare scikit-learn estimator."""
    from sklearn.base import BaseEstimator, ClassifierMixin

    class HandClassifier(ClassifierMixin, BaseEstimator):
        def __init__(self, batch_size: int = 32, epochs: int = 10, l2: float = 0.0) -> None:
            self.batch_size, self.epochs, self.l2 = batch_size, epochs, l2

        def fit(self, X: np.ndarray, y: np.ndarray) -> HandClassifier:
            self.classes_, codes = np.unique(y, return_inverse=True)
            hidden = nn.Linear(X.shape[1], 64)
            self.module_ = nn.Sequential(hidden, nn.ReLU(), nn.Linear(64, len(self.classes_)))
            optimizer = torch.optim.Adam(self.module_.parameters(), lr=workloads.SEARCH_LR, eps=workloads.ADAM_EPS)
            hand_loop(self.module_, optimizer, X, codes, self.epochs, self.batch_size,
                      penalty=lambda: self.l2 * (hidden.weight ** 2).sum())
            return self

        def predict(self, X: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                logits = self.module_(torch.as_tensor(X, dtype=torch.float32))
            return self.classes_[logits.argmax(dim=1).numpy()]

    return HandClassifier
