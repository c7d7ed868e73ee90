"""Small models and a log-scripting callback shared by the callback tests."""

from __future__ import annotations

import numpy as np

import nnkit
from nnkit.callbacks import Callback
from nnkit.layers import Dense


class Script(Callback):
    """Overwrites ``logs[key]`` with scripted values at each epoch end (put it before the callback under test),
    and records a copy of the weights after every epoch."""

    def __init__(self, key: str, values: list[float]) -> None:
        super().__init__()
        self.key, self.values = key, list(values)
        self.weights: dict[int, list[np.ndarray]] = {}

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]
        self.weights[epoch] = [np.array(w, copy=True) for w in self.model.get_weights()]


class FakeOptimizer:
    def __init__(self, learning_rate: float) -> None:
        self.learning_rate = learning_rate
        self.name = "fake"


class FakeModel:
    """The duck-typed surface callbacks use: ``stop_training``, weights, ``optimizer.learning_rate``."""

    def __init__(self, learning_rate: float = 0.1) -> None:
        self.stop_training = False
        self.optimizer = FakeOptimizer(learning_rate)
        self._weights = [np.zeros(2)]

    def get_weights(self):
        return [w.copy() for w in self._weights]

    def set_weights(self, weights):
        self._weights = [np.array(w, copy=True) for w in weights]


def make_model(optimizer="sgd", units: int = 1, features: int = 4) -> nnkit.Sequential:
    model = nnkit.Sequential([Dense(units, input_dim=features)])
    model.compile(optimizer=optimizer, loss="mse")
    return model
