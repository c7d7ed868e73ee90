"""Stacked grid search (``nnkit.model_selection.GridSearchCV``) against scikit-learn's ``GridSearchCV`` on the
same nnkit estimator, grid, folds and seeds; the figure is scikit-learn's time over the stacked search's.

Workloads (1,000 x 20 rows, 10 classes, cv=3, the refit included in both):

- ``seed_grid``: the seed program's ``create_model`` and grid, ``batch_size`` [16, 32, 64] x ``epochs``
  [5, 10, 15] x ``l2`` [0, 0.01, 0.1] (27 candidates; candidates of different epochs or batch sizes are
  not stacked together yet, so groups hold 3 or 6 fits);
- ``lr_l2_grid``: the same model, ``learning_rate`` x ``l2`` (4 x 4 = 16 candidates, epochs 10, batch 32),
  where every fit of a fold size joins one group.

One torch thread; the two searches alternate, and each figure is the median of ``--repeats`` rounds after a
warm-up. Both searches must agree (the largest difference of ``mean_test_score`` is printed). ``--quick``
is a smoke run (a fifth of the rows, fewer epochs, one round). Prints a table; writes nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn import model_selection as sk

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

from grid_search import create_model

import nnkit
from nnkit import model_selection as stacked
from nnkit.wrappers import KerasClassifier


def workloads(quick: bool) -> dict[str, dict[str, list]]:
    epochs = [1, 2, 3] if quick else [5, 10, 15]
    return {
        "seed_grid": {"batch_size": [16, 32, 64], "epochs": epochs, "l2": [0.0, 0.01, 0.1]},
        "lr_l2_grid": {"learning_rate": [1e-3, 3e-3, 1e-2, 3e-2], "l2": [0.0, 1e-3, 1e-2, 1e-1],
                       "epochs": [2 if quick else 10]},
    }


def timed(search_class: type, grid: dict[str, list], x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    estimator = KerasClassifier(build_fn=create_model, verbose=0, random_state=0)
    search = search_class(estimator, grid, cv=3)
    start = time.perf_counter()
    search.fit(x, y)
    return time.perf_counter() - start, np.asarray(search.cv_results_["mean_test_score"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = 200 if args.quick else 1000
    rng = np.random.default_rng(0)
    x = rng.random((rows, 20)).astype("float32")
    y = nnkit.utils.to_categorical(rng.integers(10, size=(rows, 1)), num_classes=10)
    repeats = 1 if args.quick else args.repeats
    print(f"{'workload':<12} {'scikit-learn s':>15} {'stacked s':>10} {'ratio':>7} {'max |score diff|':>17}")
    for name, grid in workloads(args.quick).items():
        timed(stacked.GridSearchCV, {k: v[:1] for k, v in grid.items()}, x, y)  # warm-up
        times: dict[str, list[float]] = {"sklearn": [], "stacked": []}
        for _ in range(repeats):
            seconds, theirs = timed(sk.GridSearchCV, grid, x, y)
            times["sklearn"].append(seconds)
            seconds, ours = timed(stacked.GridSearchCV, grid, x, y)
            times["stacked"].append(seconds)
        baseline, ours_time = statistics.median(times["sklearn"]), statistics.median(times["stacked"])
        print(f"{name:<12} {baseline:>15.2f} {ours_time:>10.2f} {baseline / ours_time:>6.2f}x "
              f"{np.max(np.abs(ours - theirs)):>17.2e}")


if __name__ == "__main__":
    main()
