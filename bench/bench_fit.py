"""nnkit's ``fit`` against a hand-written PyTorch loop on the same model and data, in one process.

Each repetition times both, in alternating order, and the figure reported is the median ratio
``nnkit time / hand-loop time`` (1.00 = no overhead). Run: ``python bench/bench_fit.py``.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time

import numpy as np
import torch
from torch import nn

import nnkit
from nnkit.layers import Dense
from nnkit.models import Sequential


def hand_loop(model: nn.Module, optimizer: torch.optim.Optimizer, x: np.ndarray, y: np.ndarray,
              epochs: int, batch_size: int) -> None:
    """What a PyTorch user writes: tensor slicing from a permutation, no DataLoader."""
    x_t = torch.as_tensor(x, dtype=torch.float32)
    y_t = torch.as_tensor(y, dtype=torch.float32)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    n = len(x_t)
    for _ in range(epochs):
        order = torch.randperm(n)
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            loss = loss_fn(model(x_t[idx]), y_t[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()


WORKLOADS = {
    "seed MLP 20-64-10, 10k rows, batch 32, SGD": dict(
        features=20, hidden=(64,), classes=10, rows=10_000, batch=32, epochs=3, optimizer="sgd"),
    "MLP 784-256-128-10, 30k rows, batch 128, Adam": dict(
        features=784, hidden=(256, 128), classes=10, rows=30_000, batch=128, epochs=1, optimizer="adam"),
}


def run(spec: dict, repeats: int, metrics: list[str]) -> tuple[float, float, float]:
    rng = np.random.default_rng(0)
    x = rng.random((spec["rows"], spec["features"]))
    y = nnkit.utils.to_categorical(rng.integers(spec["classes"], size=spec["rows"]), spec["classes"])
    hand_times, nnkit_times = [], []
    for rep in range(repeats):
        sizes = [spec["features"], *spec["hidden"]]
        torch_layers: list[nn.Module] = []
        for a, b in itertools.pairwise(sizes):
            torch_layers += [nn.Linear(a, b), nn.ReLU()]
        torch_layers.append(nn.Linear(sizes[-1], spec["classes"]))
        torch_model = nn.Sequential(*torch_layers)
        if spec["optimizer"] == "sgd":
            torch_opt = torch.optim.SGD(torch_model.parameters(), lr=0.01)
        else:
            torch_opt = torch.optim.Adam(torch_model.parameters(), lr=1e-3, eps=1e-7)
        model = Sequential([Dense(spec["hidden"][0], activation="relu", input_dim=spec["features"]),
                            *(Dense(h, activation="relu") for h in spec["hidden"][1:]),
                            Dense(spec["classes"], activation="softmax")])
        model.compile(loss="categorical_crossentropy", optimizer=spec["optimizer"], metrics=metrics)

        def time_hand(torch_model=torch_model, torch_opt=torch_opt) -> None:
            start = time.perf_counter()
            hand_loop(torch_model, torch_opt, x, y, spec["epochs"], spec["batch"])
            hand_times.append(time.perf_counter() - start)

        def time_nnkit(model=model) -> None:
            start = time.perf_counter()
            model.fit(x, y, epochs=spec["epochs"], batch_size=spec["batch"], verbose=0)
            nnkit_times.append(time.perf_counter() - start)

        for fn in ((time_hand, time_nnkit) if rep % 2 == 0 else (time_nnkit, time_hand)):
            fn()
    ratios = [b / a for a, b in zip(hand_times, nnkit_times)]
    return statistics.median(hand_times), statistics.median(nnkit_times), statistics.median(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, nnkit {nnkit.__version__}")
    print(f"{'workload':<48} {'metrics':<12} {'hand s':>8} {'nnkit s':>8} {'ratio':>7}")
    for name, spec in WORKLOADS.items():
        for metrics in ([], ["accuracy"]):
            hand, ours, ratio = run(spec, args.repeats, metrics)
            print(f"{name:<48} {','.join(metrics) or 'none':<12} {hand:>8.3f} {ours:>8.3f} {ratio:>7.3f}")


if __name__ == "__main__":
    main()
