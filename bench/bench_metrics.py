"""The cost of classification metrics in ``fit``: ``metrics=['accuracy', 'precision', 'recall', 'f1']``
against ``metrics=['accuracy']`` on the seed MLP, in one process.

Each repetition builds two identical models and fits both, in alternating order; the figure is the
median of the per-repetition ratios ``time with all four / time with accuracy`` (1.00 = free).
Run: ``python bench/bench_metrics.py``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

import nnkit
from nnkit.layers import Dense
from nnkit.models import Sequential

BASELINE = ["accuracy"]
CANDIDATES = {
    "accuracy, precision, recall, f1": ["accuracy", "precision", "recall", "f1"],
    "accuracy, precision, recall, f1 + validation 20%": ["accuracy", "precision", "recall", "f1"],
}


def seed_mlp(metrics: list[str]) -> Sequential:
    """The seed program's model: Dense 64 relu + Dense 10 softmax on 20 features, SGD."""
    model = Sequential([Dense(64, activation="relu", input_dim=20), Dense(10, activation="softmax")])
    model.compile(loss="categorical_crossentropy", optimizer="sgd", metrics=metrics)
    return model


def run(metrics: list[str], repeats: int, validation_split: float) -> tuple[float, float, float]:
    """Median seconds of the baseline and of ``metrics``, and the median of their ratios."""
    rng = np.random.default_rng(0)
    x = rng.random((10_000, 20))
    y = nnkit.utils.to_categorical(rng.integers(10, size=10_000), 10)
    base_times, metric_times = [], []
    for rep in range(repeats):
        nnkit.utils.set_random_seed(rep)
        base_model = seed_mlp(BASELINE)
        nnkit.utils.set_random_seed(rep)
        metric_model = seed_mlp(metrics)

        def time_fit(model: Sequential, times: list[float]) -> None:
            start = time.perf_counter()
            model.fit(x, y, epochs=3, batch_size=32, verbose=0, validation_split=validation_split)
            times.append(time.perf_counter() - start)

        pair = [(base_model, base_times), (metric_model, metric_times)]
        for model, times in (pair if rep % 2 == 0 else pair[::-1]):
            time_fit(model, times)
    ratios = [m / b for b, m in zip(base_times, metric_times)]
    return statistics.median(base_times), statistics.median(metric_times), statistics.median(ratios)


def metric_work(names: list[str], repeats: int = 50) -> float:
    """Seconds one epoch's metric work takes for ``names``: the tracker's single update on the epoch's
    10,000 x 10 outputs and one ``result()`` (a load-robust complement to the end-to-end ratio)."""
    rng = np.random.default_rng(1)
    y_true = torch.as_tensor(nnkit.utils.to_categorical(rng.integers(10, size=10_000), 10))
    logits = torch.as_tensor(rng.normal(size=(10_000, 10)), dtype=torch.float32)
    y_pred = torch.softmax(logits.T.contiguous(), dim=0).T  # the layout the training loop hands to metrics
    resolved = [nnkit.metrics.get(n, target_shape=(10,), output_shape=(10,)) for n in names]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for metric in resolved:
            metric.reset_state()
            metric.update_state(y_true, y_pred)
            metric.result()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, nnkit {nnkit.__version__}")
    print(f"{'metrics':<50} {'accuracy s':>10} {'metrics s':>10} {'ratio':>7}")
    for label, metrics in CANDIDATES.items():
        split = 0.2 if "validation" in label else 0.0
        base, ours, ratio = run(metrics, args.repeats, split)
        print(f"{label:<50} {base:>10.3f} {ours:>10.3f} {ratio:>7.3f}")
    extra = metric_work(["precision", "recall", "f1"])
    print(f"precision + recall + f1 work per epoch: {extra * 1e3:.2f} ms "
          f"(update on the epoch's 10,000 x 10 outputs, then result)")


if __name__ == "__main__":
    main()
