"""nnkit: Keras-style deep learning on plain PyTorch.

``import nnkit as keras`` gives the Keras module layout: ``keras.layers``, ``keras.models``,
``keras.optimizers``, ``keras.losses``, ``keras.metrics``, ``keras.callbacks``, ``keras.utils``,
``keras.saving``, ``keras.datasets`` and ``keras.wrappers`` (the last two load on first use).
"""

from nnkit import (
    activations,
    backend,
    callbacks,
    config,
    constraints,
    initializers,
    layers,
    losses,
    metrics,
    models,
    ops,
    optimizers,
    random,
    regularizers,
    saving,
    utils,
)
from nnkit.layers import Input, KerasTensor, Layer
from nnkit.models import Model, Sequential

__version__ = "0.1.0"

__all__ = [
    "Input", "KerasTensor", "Layer", "Model", "Sequential", "__version__", "activations", "backend", "callbacks",
    "config",
    "constraints", "initializers", "layers", "losses", "metrics", "models", "ops", "optimizers", "random",
    "regularizers", "saving", "utils",
]
_LAZY = ("datasets", "wrappers")


def __getattr__(name: str):  # nnkit.wrappers imports scikit-learn, so it loads on first use only (datasets too)
    if name in _LAZY:
        import importlib

        return importlib.import_module(f"nnkit.{name}")
    raise AttributeError(f"module 'nnkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
