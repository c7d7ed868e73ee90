"""nnkit's ``fit`` on a small convnet against the same net in a hand-written PyTorch loop, in one process.

Workload (issue 3): 4,000 random 28x28x1 images, Conv 16 -> pool -> Conv 32 -> pool -> Dense 10,
batch 64, Adam. nnkit gets the images channels-last, ``(n, 28, 28, 1)`` float64 NumPy, as a Keras user
has them; the hand loop gets NCHW ``(n, 1, 28, 28)`` data, as a PyTorch user has them. Each repetition
times both, in alternating order, and the figure reported is the median ratio ``nnkit / hand loop``.
Run: ``python bench/bench_cnn.py``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

import nnkit
from nnkit.layers import Conv2D, Dense, Flatten, Input, MaxPooling2D
from nnkit.models import Sequential

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_fit import hand_loop  # the same hand-written loop as the MLP benchmark

ROWS, SIDE, CLASSES, BATCH = 4_000, 28, 10, 64


def torch_net() -> nn.Sequential:
    """The convnet as a PyTorch user writes it (logits out, NCHW in)."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 5 * 5, CLASSES),
    )


def nnkit_net() -> Sequential:
    """The same convnet, Keras style (softmax out, channels-last in)."""
    return Sequential([
        Input(shape=(SIDE, SIDE, 1)),
        Conv2D(16, 3, activation="relu"), MaxPooling2D(2),
        Conv2D(32, 3, activation="relu"), MaxPooling2D(2),
        Flatten(), Dense(CLASSES, activation="softmax"),
    ])


def run(repeats: int, epochs: int, metrics: list[str]) -> tuple[float, float, float]:
    rng = np.random.default_rng(0)
    x_keras = rng.random((ROWS, SIDE, SIDE, 1))  # channels-last, float64: what a Keras user passes
    x_torch = np.ascontiguousarray(x_keras.transpose(0, 3, 1, 2))  # NCHW: what a PyTorch user has
    y = nnkit.utils.to_categorical(rng.integers(CLASSES, size=ROWS), CLASSES)
    hand_times, nnkit_times = [], []
    for rep in range(repeats):
        net = torch_net()
        optimizer = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
        model = nnkit_net()
        model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=metrics)

        def time_hand(net=net, optimizer=optimizer) -> None:
            start = time.perf_counter()
            hand_loop(net, optimizer, x_torch, y, epochs, BATCH)
            hand_times.append(time.perf_counter() - start)

        def time_nnkit(model=model) -> None:
            start = time.perf_counter()
            model.fit(x_keras, y, epochs=epochs, batch_size=BATCH, verbose=0)
            nnkit_times.append(time.perf_counter() - start)

        for fn in ((time_hand, time_nnkit) if rep % 2 == 0 else (time_nnkit, time_hand)):
            fn()
    ratios = [b / a for a, b in zip(hand_times, nnkit_times)]
    return statistics.median(hand_times), statistics.median(nnkit_times), statistics.median(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    torch.manual_seed(0)
    nnkit.config.set_device("cpu")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, nnkit {nnkit.__version__}")
    print(f"{'workload':<58} {'metrics':<10} {'hand s':>8} {'nnkit s':>8} {'ratio':>7}")
    name = f"CNN 28x28x1 conv16-pool-conv32-pool-dense10, {ROWS} rows, batch {BATCH}, Adam, {args.epochs} ep"
    for metrics in ([], ["accuracy"]):
        hand, ours, ratio = run(args.repeats, args.epochs, metrics)
        print(f"{name:<58} {','.join(metrics) or 'none':<10} {hand:>8.3f} {ours:>8.3f} {ratio:>7.3f}")


if __name__ == "__main__":
    main()
