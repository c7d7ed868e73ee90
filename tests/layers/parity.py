"""Run one nnkit layer and one Keras layer on the same inputs and weights."""

from __future__ import annotations

import numpy as np
import torch

from nnkit.layers import Input
from nnkit.models import Sequential


def keras_output(keras, layer, x: np.ndarray, training: bool = False) -> np.ndarray:
    """Keras ``layer(x, training=...)`` as a NumPy array (builds the layer on first use)."""
    return keras.ops.convert_to_numpy(layer(x.astype("float32"), training=training))


def keras_built(keras, layer, sample_shape: tuple[int, ...]):
    """``layer`` built for inputs ``(None, *sample_shape)``."""
    layer.build((None, *sample_shape))
    return layer


def random_weights(keras, layer, rng: np.random.Generator) -> list[np.ndarray]:
    """Random weights for a built Keras layer, assigned to it; variances stay positive."""
    weights = []
    for variable in layer.weights:
        shape = tuple(variable.shape)
        value = rng.uniform(0.5, 2.0, size=shape) if "variance" in variable.path else rng.normal(size=shape)
        weights.append(value.astype("float32"))
    layer.set_weights(weights)
    return weights


def nnkit_model(layer, sample_shape: tuple[int, ...], weights: list[np.ndarray] | None = None) -> Sequential:
    """A one-layer Sequential around ``layer`` (so the model's layout moves apply), with ``weights``."""
    model = Sequential([Input(shape=sample_shape), layer])
    model.build()
    if weights is not None:
        layer.set_weights(weights)
    return model


def nnkit_output(model: Sequential, x: np.ndarray, training: bool = False) -> np.ndarray:
    """The model's output on ``x`` in training or inference mode."""
    with torch.no_grad():
        out = model(x.astype("float32"), training=training)
    return out.cpu().numpy()
