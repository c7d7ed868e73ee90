"""nnkit: Keras-style deep learning on plain PyTorch.

``import nnkit as keras`` gives the Keras module layout: ``keras.layers``, ``keras.models``,
``keras.optimizers``, ``keras.losses``, ``keras.metrics``, ``keras.callbacks``, ``keras.utils``.
"""

from nnkit import (
    activations,
    callbacks,
    config,
    initializers,
    layers,
    losses,
    metrics,
    models,
    optimizers,
    regularizers,
    utils,
)
from nnkit.layers import Input
from nnkit.models import Sequential

__version__ = "0.1.0"

__all__ = [
    "Input", "Sequential", "__version__", "activations", "callbacks", "config", "initializers", "layers",
    "losses", "metrics", "models", "optimizers", "regularizers", "utils",
]
