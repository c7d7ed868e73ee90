"""Generated datasets: scikit-learn's ``make_*`` problems and a sine series for forecasting.

Every generator takes ``random_state=0`` by default, so the same call gives the same arrays.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from nnkit.errors import ConfigError

SINE_STEP = 0.1
"""Radians between consecutive samples of the ``sine`` series (one period is about 63 samples)."""


def classification(
    n_samples: int = 100,
    n_features: int = 20,
    n_informative: int = 2,
    n_redundant: int = 2,
    n_classes: int = 2,
    n_clusters_per_class: int = 2,
    class_sep: float = 1.0,
    flip_y: float = 0.01,
    random_state: int | None = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """``sklearn.datasets.make_classification`` with the same arguments: float32 ``X``, int64 labels."""
    options = dict(locals())  # before the import below adds a local
    from sklearn.datasets import make_classification

    X, y = _generate("classification", make_classification, options)
    return X.astype(np.float32), y.astype(np.int64)


def regression(
    n_samples: int = 100,
    n_features: int = 100,
    n_informative: int = 10,
    n_targets: int = 1,
    bias: float = 0.0,
    noise: float = 0.0,
    random_state: int | None = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """``sklearn.datasets.make_regression``: float32 ``X`` and targets (``(n,)``, or ``(n, n_targets)``)."""
    options = dict(locals())  # before the import below adds a local
    from sklearn.datasets import make_regression

    X, y = _generate("regression", make_regression, options)
    return X.astype(np.float32), y.astype(np.float32)


def moons(
    n_samples: int = 100, noise: float | None = None, random_state: int | None = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``sklearn.datasets.make_moons``: two half circles, float32 ``X`` of shape ``(n, 2)``, int64 labels."""
    options = dict(locals())  # before the import below adds a local
    from sklearn.datasets import make_moons

    X, y = _generate("moons", make_moons, options)
    return X.astype(np.float32), y.astype(np.int64)


def _generate(name: str, make: Callable[..., Any], options: dict[str, Any]) -> Any:
    try:
        return make(**options)
    except (ValueError, TypeError) as err:  # scikit-learn's own checks name the bad option
        given = ", ".join(f"{key}={value!r}" for key, value in options.items())
        raise ConfigError(
            f"load({name!r}) cannot generate data with {given}: {str(err).rstrip('.')}. Change the option that message names."
        ) from err


def sine(
    n_samples: int = 1000, timesteps: int = 20, noise: float = 0.1, random_state: int | None = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A noisy sine series cut into sliding windows, for one-step-ahead forecasting.

    The series is ``s[t] = sin(SINE_STEP * t) + noise * N(0, 1)`` for ``t = 0 .. n_samples + timesteps - 1``;
    window ``i`` is ``X[i, :, 0] = s[i : i + timesteps]`` and its target the next value ``y[i, 0] = s[i + timesteps]``.

    Args:
        n_samples: Number of windows.
        timesteps: Length of each window.
        noise: Standard deviation of the Gaussian noise added to every sample of the series.
        random_state: Seed of the noise.

    Returns:
        ``(X, y)``: float32 arrays of shapes ``(n_samples, timesteps, 1)`` and ``(n_samples, 1)``.

    Raises:
        ConfigError: a count is not a positive int, or ``noise`` is negative.
    """
    for option, value in (("n_samples", n_samples), ("timesteps", timesteps)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(f"load('sine') expects {option} to be a positive int. Received: {option}={value!r}.")
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not math.isfinite(noise) or noise < 0:
        raise ConfigError(f"load('sine') expects noise to be a number >= 0. Received: noise={noise!r}.")
    try:
        rng = np.random.default_rng(random_state)
    except (TypeError, ValueError) as err:
        raise ConfigError(
            f"load('sine') expects random_state to be a non-negative int or None. Received: {random_state!r}."
        ) from err
    steps = np.arange(n_samples + timesteps)
    series = np.sin(SINE_STEP * steps) + noise * rng.standard_normal(steps.size)
    windows = np.lib.stride_tricks.sliding_window_view(series[:-1], timesteps)
    return windows[:, :, None].astype(np.float32), series[timesteps:, None].astype(np.float32)
