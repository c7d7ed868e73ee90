"""Optimizers mirroring ``keras.optimizers``: Keras names and defaults, building ``torch.optim`` optimizers.

``nnkit.optimizers.schedules`` holds the learning-rate schedules (``ExponentialDecay``, ``CosineDecay``, ...),
usable as ``learning_rate=`` of any optimizer here.
"""

from nnkit.optimizers import schedules
from nnkit.optimizers.base import OPTIMIZERS, Optimizer
from nnkit.optimizers.keras_rmsprop import KerasRMSprop
from nnkit.optimizers.keras_updates import KerasAdafactor, KerasFtrl, KerasLamb, KerasLion
from nnkit.optimizers.lbfgs import LBFGS
from nnkit.optimizers.levenberg_marquardt import LevenbergMarquardt
from nnkit.optimizers.optimizers import (
    SGD,
    Adadelta,
    Adafactor,
    Adagrad,
    Adam,
    Adamax,
    AdamW,
    Ftrl,
    Lamb,
    Lion,
    Nadam,
    RMSprop,
    TorchOptimizer,
    get,
)
from nnkit.registry import serializers

serialize, deserialize = serializers(get, "optimizer")

__all__ = [
    "LBFGS", "OPTIMIZERS", "SGD", "Adadelta", "Adafactor", "Adagrad", "Adam", "AdamW", "Adamax", "Ftrl",
    "KerasAdafactor", "KerasFtrl", "KerasLamb", "KerasLion", "KerasRMSprop", "Lamb", "LevenbergMarquardt", "Lion",
    "Nadam", "Optimizer", "RMSprop", "TorchOptimizer", "deserialize", "get", "schedules", "serialize",
]
