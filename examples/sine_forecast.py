"""Forecast the next value of a noisy sine wave from the previous 30 steps with an LSTM and a GRU.

Both models must beat the naive forecast "the next value equals the last one", which is hard to beat on
smooth series: the networks have to average the noise out and follow the wave's curvature.

Run: ``python examples/sine_forecast.py`` (synthetic data, no download).
"""

from __future__ import annotations

import numpy as np

import nnkit as keras
from nnkit.layers import GRU, LSTM, Dense, Input
from nnkit.models import Sequential

WINDOW = 30


def noisy_sine(n_points: int, rng: np.random.Generator) -> np.ndarray:
    """A sine wave with a period of about 40 steps, a slow drift in amplitude, and Gaussian noise."""
    t = np.arange(n_points)
    amplitude = 1.0 + 0.3 * np.sin(2 * np.pi * t / 600)
    return amplitude * np.sin(2 * np.pi * t / 40) + rng.normal(scale=0.15, size=n_points)


def windows(series: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """``(samples, window, 1)`` inputs and the value that follows each window."""
    x = np.lib.stride_tricks.sliding_window_view(series[:-1], window)
    return x[..., None].astype("float32"), series[window:].astype("float32")


def forecaster(layer) -> Sequential:
    model = Sequential([Input(shape=(WINDOW, 1)), layer, Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="mse")
    return model


def main() -> dict[str, float]:
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    series = noisy_sine(1800, rng)
    x, y = windows(series, WINDOW)
    split = int(0.8 * len(x))  # the test windows come after the training ones in time
    x_train, y_train, x_test, y_test = x[:split], y[:split], x[split:], y[split:]

    results = {"naive last value": float(np.mean((x_test[:, -1, 0] - y_test) ** 2))}
    for name, layer in (("LSTM", LSTM(32)), ("GRU", GRU(32))):
        model = forecaster(layer)
        model.fit(x_train, y_train, epochs=6, batch_size=64, validation_split=0.1, verbose=0)
        results[name] = float(model.evaluate(x_test, y_test, verbose=0))

    for name, mse in results.items():
        print(f"{name:>16}: test MSE {mse:.4f}")
    baseline = results["naive last value"]
    for name in ("LSTM", "GRU"):
        print(f"{name} beats the naive forecast: {results[name] < baseline} "
              f"({results[name] / baseline:.0%} of its error)")
    return results


if __name__ == "__main__":
    main()
