"""The seed program's whole grid search (27 candidates x 3 folds + refit) with nnkit and with skorch.

nnkit runs ``examples/grid_search.py`` as written: its ``create_model``, ``KerasClassifier(build_fn=...,
verbose=0)``, float64 ``X`` and one-hot ``y``. skorch runs the same network (20-64-10, ReLU, Adam with
learning rate 0.01 and Keras's epsilon, L2 penalty on the hidden kernel) on the same grid, as its users
write it: ``NeuralNetClassifier`` with ``max_epochs``/``batch_size`` searched, shuffled batches, no internal
validation split, float32 ``X`` and integer labels (skorch rejects float64 input and one-hot targets).
Both are timed in one process, alternating which goes first; the medians are reported.

Run: ``python bench/bench_search.py`` (``--repeats``, ``--threads``, ``--jobs``; skorch is in the ``bench``
extra: ``pip install -e ".[bench]"``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import GridSearchCV
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import grid_search as seed  # examples/grid_search.py: the seed program

GRID = {"batch_size": [16, 32, 64], "epochs": [5, 10, 15], "l2": [0.0, 0.01, 0.1]}


def time_nnkit(x: np.ndarray, y: np.ndarray, jobs: int | None) -> float:
    model = seed.KerasClassifier(build_fn=seed.create_model, verbose=0)
    start = time.perf_counter()
    GridSearchCV(estimator=model, param_grid=GRID, cv=3, n_jobs=jobs).fit(x, y)
    return time.perf_counter() - start


class SeedMLP(nn.Module):
    """The seed program's network; outputs logits for CrossEntropyLoss (what skorch users write)."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden = nn.Linear(20, 64)
        self.out = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.relu(self.hidden(x)))


def skorch_estimator():
    from skorch import NeuralNetClassifier

    class L2NeuralNetClassifier(NeuralNetClassifier):
        """Adds Keras's ``l2 * sum(kernel ** 2)`` on the hidden layer to the loss."""

        def __init__(self, module, *, l2: float = 0.0, **kwargs) -> None:
            super().__init__(module, **kwargs)
            self.l2 = l2

        def get_loss(self, y_pred, y_true, X=None, training=False):
            loss = super().get_loss(y_pred, y_true, X=X, training=training)
            return loss + self.l2 * (self.module_.hidden.weight ** 2).sum()

    return L2NeuralNetClassifier(SeedMLP, criterion=nn.CrossEntropyLoss, optimizer=torch.optim.Adam, lr=0.01,
                                 optimizer__eps=1e-7, train_split=None, iterator_train__shuffle=True, verbose=0)


def time_skorch(x: np.ndarray, y: np.ndarray, jobs: int | None) -> float:
    grid = {"batch_size": GRID["batch_size"], "max_epochs": GRID["epochs"], "l2": GRID["l2"]}
    start = time.perf_counter()
    GridSearchCV(estimator=skorch_estimator(), param_grid=grid, cv=3, n_jobs=jobs).fit(
        x.astype(np.float32), y.argmax(axis=1))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--jobs", type=int, default=None, help="GridSearchCV n_jobs (default: sequential)")
    parser.add_argument("--no-skorch", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    x, y = seed.X, seed.y
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, n_jobs={args.jobs}, "
          f"81 fits + refit, {args.repeats} repetitions")
    runners = {"nnkit": time_nnkit} if args.no_skorch else {"nnkit": time_nnkit, "skorch": time_skorch}
    times: dict[str, list[float]] = {name: [] for name in runners}
    for rep in range(args.repeats):
        order = list(runners) if rep % 2 == 0 else list(reversed(runners))
        for name in order:
            times[name].append(runners[name](x, y, args.jobs))
            print(f"  {name:<7} {times[name][-1]:7.2f} s", flush=True)
    for name, values in times.items():
        print(f"{name:<7} median {statistics.median(values):7.2f} s  (min {min(values):.2f})")
    if "skorch" in times:
        ratios = [s / n for n, s in zip(times["nnkit"], times["skorch"])]
        print(f"skorch / nnkit: {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
