"""Losses with Keras names and semantics.

Functions (``mean_squared_error(y_true, y_pred)``) return one value per sample, reducing the last
axis; ``Loss`` objects reduce that to a scalar with the Keras default ``"sum_over_batch_size"``.
Probabilities are expected unless ``from_logits=True``. When a model ends in a softmax or sigmoid,
training computes its cross-entropy from the pre-activation logits (as Keras on TensorFlow does), so
saturated outputs neither lose precision nor produce inf.

One module per family: :mod:`~nnkit.losses.base` (the ``Loss`` protocol, reductions, registry),
:mod:`~nnkit.losses.regression`, :mod:`~nnkit.losses.hinge`, :mod:`~nnkit.losses.probabilistic`,
:mod:`~nnkit.losses.focal` (focal and generalized cross-entropy), :mod:`~nnkit.losses.segmentation` (Dice,
Tversky), :mod:`~nnkit.losses.similarity` (Circle) and :mod:`~nnkit.losses.sequence` (CTC).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from nnkit.errors import ConfigError
from nnkit.losses import focal as _focal_module
from nnkit.losses import hinge as _hinge_module
from nnkit.losses import probabilistic as _probabilistic_module
from nnkit.losses import regression as _regression_module
from nnkit.losses import segmentation as _segmentation_module
from nnkit.losses import sequence as _sequence_module
from nnkit.losses import similarity as _similarity_module
from nnkit.losses.base import (
    EPSILON,
    LOSSES,
    REDUCTIONS,
    Loss,
    LossFunctionWrapper,
    TorchLoss,
    align_ranks,
)
from nnkit.losses.focal import (
    BinaryFocalCrossentropy,
    CategoricalFocalCrossentropy,
    CategoricalGeneralizedCrossEntropy,
    binary_focal_crossentropy,
    categorical_focal_crossentropy,
    categorical_generalized_cross_entropy,
)
from nnkit.losses.hinge import (
    CategoricalHinge,
    Hinge,
    SquaredHinge,
    categorical_hinge,
    hinge,
    squared_hinge,
)
from nnkit.losses.probabilistic import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    KLDivergence,
    Poisson,
    SparseCategoricalCrossentropy,
    binary_crossentropy,
    categorical_crossentropy,
    kl_divergence,
    poisson,
    sparse_categorical_crossentropy,
)
from nnkit.losses.regression import (
    CosineSimilarity,
    Huber,
    LogCosh,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    cosine_similarity,
    huber,
    log_cosh,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
)
from nnkit.losses.segmentation import Dice, Tversky, dice, tversky
from nnkit.losses.sequence import CTC, ctc
from nnkit.losses.similarity import Circle, circle
from nnkit.registry import serializers

_FAMILIES = (_regression_module, _hinge_module, _probabilistic_module, _focal_module, _segmentation_module,
             _similarity_module, _sequence_module)
# The per-sample functions, which get() turns into their Loss classes.
_FUNCTIONS = {getattr(module, name) for module in _FAMILIES for name in module.__all__ if name[0].islower()}
# Saved models name a function by its public path (nnkit.losses.mse), not the module defining it.
for _fn in _FUNCTIONS:
    _fn.__module__ = __name__


def get(identifier: str | dict | Loss | Callable | torch.nn.Module) -> Loss:
    """A :class:`Loss` from a Keras name, a ``{"class_name", "config"}`` dict, an instance, a
    per-sample function ``fn(y_true, y_pred)`` or a ``torch.nn`` loss module.

    Raises:
        ConfigError: the name is unknown (with the closest known name) or ``identifier`` is none of these.
    """
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        return LOSSES.get(identifier)()
    if isinstance(identifier, dict):
        return LOSSES.get(identifier.get("class_name", "")).from_config(identifier.get("config", {}))
    if isinstance(identifier, torch.nn.Module):
        return TorchLoss(identifier)
    if callable(identifier):
        if identifier in _FUNCTIONS:
            return LOSSES.get(identifier.__name__)()
        return LossFunctionWrapper(identifier)
    raise ConfigError(
        f"Expected a loss name (e.g. 'mse'), a Loss, or a function fn(y_true, y_pred). Received: {identifier!r}."
    )


# Keras's short functional aliases.
mse, mae, mape, msle = (mean_squared_error, mean_absolute_error, mean_absolute_percentage_error,
                        mean_squared_logarithmic_error)
kld = kullback_leibler_divergence = kl_divergence
logcosh = log_cosh

serialize, deserialize = serializers(get, "loss")

__all__ = [
    "CTC", "EPSILON", "LOSSES", "REDUCTIONS", "BinaryCrossentropy", "BinaryFocalCrossentropy",
    "CategoricalCrossentropy", "CategoricalFocalCrossentropy", "CategoricalGeneralizedCrossEntropy",
    "CategoricalHinge", "Circle", "CosineSimilarity", "Dice", "Hinge", "Huber", "KLDivergence", "LogCosh", "Loss",
    "LossFunctionWrapper", "MeanAbsoluteError", "MeanAbsolutePercentageError", "MeanSquaredError",
    "MeanSquaredLogarithmicError", "Poisson", "SparseCategoricalCrossentropy", "SquaredHinge", "TorchLoss", "Tversky",
    "align_ranks", "binary_crossentropy", "binary_focal_crossentropy", "categorical_crossentropy",
    "categorical_focal_crossentropy", "categorical_generalized_cross_entropy", "categorical_hinge", "circle",
    "cosine_similarity", "ctc", "deserialize", "dice", "get", "hinge", "huber", "kl_divergence", "kld",
    "kullback_leibler_divergence", "log_cosh", "logcosh", "mae", "mape", "mean_absolute_error",
    "mean_absolute_percentage_error", "mean_squared_error", "mean_squared_logarithmic_error", "mse", "msle",
    "poisson", "serialize", "sparse_categorical_crossentropy", "squared_hinge", "tversky",
]
