"""Optimizers mirroring ``keras.optimizers``: Keras names and defaults, building ``torch.optim`` optimizers.

``nnkit.optimizers.schedules`` holds the learning-rate schedules (``ExponentialDecay``, ``CosineDecay``, ...),
usable as ``learning_rate=`` of any optimizer here.
"""

from nnkit.optimizers import schedules
from nnkit.optimizers.base import OPTIMIZERS, Optimizer
from nnkit.optimizers.keras_rmsprop import KerasRMSprop
from nnkit.optimizers.optimizers import (
    SGD,
    Adadelta,
    Adagrad,
    Adam,
    Adamax,
    AdamW,
    Nadam,
    RMSprop,
    TorchOptimizer,
    get,
)
from nnkit.registry import serializers

serialize, deserialize = serializers(get, "optimizer")

__all__ = [
    "OPTIMIZERS", "SGD", "Adadelta", "Adagrad", "Adam", "AdamW", "Adamax", "KerasRMSprop", "Nadam", "Optimizer",
    "RMSprop", "TorchOptimizer", "deserialize", "get", "schedules", "serialize",
]
