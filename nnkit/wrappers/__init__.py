"""scikit-learn estimators around nnkit models (the only part of nnkit importing scikit-learn estimators).

``KerasClassifier`` / ``KerasRegressor`` take a build function, a model or a list of layers, with every
setting a searchable parameter; ``SKLearnClassifier`` / ``SKLearnRegressor`` follow Keras 3's
``keras.wrappers`` signature. ``nnkit.wrappers.scikit_learn`` is the Keras 2 import path.
"""

from nnkit.wrappers.classifier import KerasClassifier
from nnkit.wrappers.regressor import KerasRegressor
from nnkit.wrappers.sklearn_api import SKLearnClassifier, SKLearnRegressor

__all__ = ["KerasClassifier", "KerasRegressor", "SKLearnClassifier", "SKLearnRegressor"]
