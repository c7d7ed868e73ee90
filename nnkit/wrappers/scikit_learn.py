"""Keras 2's import path: ``from nnkit.wrappers.scikit_learn import KerasClassifier``."""

from nnkit.wrappers.classifier import KerasClassifier
from nnkit.wrappers.regressor import KerasRegressor

__all__ = ["KerasClassifier", "KerasRegressor"]
