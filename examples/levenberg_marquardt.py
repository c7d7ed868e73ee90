"""Levenberg-Marquardt, L-BFGS, Adam and SGD on the classic 1-10-1 sine fit: training loss against wall time.

The network (one tanh layer of 10 units) fits ``sin(2 pi x) + noise`` on 41 points of [-1, 1], from the
same initial weights for every optimizer, each given the same wall-time budget. SGD and Adam take minibatch
steps (batch 32, Keras's default); L-BFGS and Levenberg-Marquardt take one full-batch step per epoch. The
curves go to a PNG (log-scale loss).

Run: ``python examples/levenberg_marquardt.py [--seconds 2] [--output levenberg_marquardt.png]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import nnkit as keras
from nnkit.callbacks import Callback
from nnkit.layers import Dense, Input
from nnkit.models import Sequential

OPTIMIZERS = {
    "SGD (lr 0.1)": lambda: keras.optimizers.SGD(learning_rate=0.1),
    "Adam (lr 0.01)": lambda: keras.optimizers.Adam(learning_rate=0.01),
    "L-BFGS": lambda: keras.optimizers.LBFGS(),
    "Levenberg-Marquardt": lambda: keras.optimizers.LevenbergMarquardt(),
}


class Clock(Callback):
    """Records (seconds since the start, loss) after every epoch and stops training after ``seconds``."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds, self.times, self.losses = seconds, [], []

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self.start)
        self.losses.append(logs["loss"])
        if self.times[-1] >= self.seconds:
            self.model.stop_training = True


def sine_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = np.linspace(-1.0, 1.0, 41, dtype="float32").reshape(-1, 1)
    return x, (np.sin(2 * np.pi * x) + 0.1 * rng.normal(size=x.shape)).astype("float32")


def build(optimizer) -> Sequential:
    keras.utils.set_random_seed(0)  # the same initial weights for every optimizer
    model = Sequential([Input(shape=(1,)), Dense(10, activation="tanh"), Dense(1)])
    model.compile(optimizer=optimizer, loss="mse")
    return model


def main(seconds: float = 2.0, output: str | None = "levenberg_marquardt.png", epochs: int = 10**6
         ) -> dict[str, float]:
    """Train with each optimizer for ``seconds`` (or ``epochs``, if fewer); plot the curves to ``output``;
    returns the final training losses."""
    torch.set_num_threads(1)
    x, y = sine_data()
    curves = {}
    for name, make in OPTIMIZERS.items():
        build(make()).fit(x, y, epochs=2, verbose=0)  # warm-up: first-call costs are not the method's
        clock = Clock(seconds)
        model = build(make())
        model.fit(x, y, epochs=epochs, verbose=0, callbacks=[clock])
        final = float(model.evaluate(x, y, verbose=0))
        print(f"{name:>20}: training MSE {final:.5f} after {clock.times[-1]:.2f} s ({len(clock.times)} epochs)")
        curves[name] = (clock.times, clock.losses, final)
    if output:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4.5))
        for name, (times, losses, _) in curves.items():
            ax.plot(times, losses, label=name)
        ax.set(xlabel="wall time (s)", ylabel="training loss (MSE)", yscale="log",
               title="1-10-1 tanh network on sin(2 pi x) + noise")
        ax.legend()
        fig.tight_layout()
        fig.savefig(output, dpi=100)
        plt.close(fig)
        print(f"saved {output}")
    return {name: final for name, (_, _, final) in curves.items()}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="wall-time budget per optimizer")
    parser.add_argument("--output", default="levenberg_marquardt.png", help="where to save the plot")
    args = parser.parse_args()
    main(args.seconds, args.output)
