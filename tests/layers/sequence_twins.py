"""Keras and nnkit Sequential models with the same weights, and padded sequence batches, for the
recurrent, embedding and sequence layer tests."""

from __future__ import annotations

import numpy as np

from nnkit.layers import Input
from nnkit.models import Sequential
from tests.helpers import assert_close


def twins(keras, k_layers: list, n_layers: list, sample_shape: tuple[int, ...], rng: np.random.Generator,
          dtype: str = "float32", scale: float = 0.5) -> tuple[Sequential, object]:
    """An nnkit model and a Keras model holding the same random weights (biases included)."""
    k_model = keras.Sequential([keras.Input(shape=sample_shape, dtype=dtype), *k_layers])
    weights = [rng.normal(scale=scale, size=w.shape).astype("float32") for w in k_model.get_weights()]
    k_model.set_weights(weights)
    n_model = Sequential([Input(shape=sample_shape), *n_layers])
    n_model.set_weights(weights)
    return n_model, k_model


def assert_same_predictions(n_model: Sequential, k_model, x: np.ndarray, atol: float = 1e-5) -> None:
    """Both models predict the same values for ``x`` (to 1e-5)."""
    assert_close(n_model.predict(x, verbose=0), k_model.predict(x, verbose=0), rtol=1e-5, atol=atol)


def padded_lengths(batch: int) -> np.ndarray:
    """Sequence lengths covering full, short, single-step and empty sequences."""
    return np.array([8, 5, 1, 3, 0, 7, 2, 6][:batch] * (batch // 8 + 1))[:batch]


def padded_ids(rng: np.random.Generator, padding: str, batch: int = 8, steps: int = 8, vocab: int = 20) -> np.ndarray:
    """Token ids in ``[1, vocab)`` padded with 0 before (``'pre'``, Keras's default) or after (``'post'``)."""
    ids = np.zeros((batch, steps), dtype="int64")
    for row, length in enumerate(padded_lengths(batch)):
        tokens = rng.integers(1, vocab, size=length)
        if padding == "pre":
            ids[row, steps - length:] = tokens
        else:
            ids[row, :length] = tokens
    return ids


def padded_features(rng: np.random.Generator, padding: str, batch: int = 8, steps: int = 8,
                    features: int = 3) -> np.ndarray:
    """Float sequences padded with all-zero steps before, after, or (``'holes'``) in the middle."""
    x = rng.normal(size=(batch, steps, features)).astype("float32")
    if padding == "holes":
        x[:, 1::3] = 0.0
        x[0] = 0.0
        return x
    for row, length in enumerate(padded_lengths(batch)):
        if padding == "pre":
            x[row, : steps - length] = 0.0
        else:
            x[row, length:] = 0.0
    return x
