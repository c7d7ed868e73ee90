"""KerasRegressor: an nnkit network as a scikit-learn regressor."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import RegressorMixin

from nnkit.wrappers.keras_api import KerasWrapper
from nnkit.wrappers.targets import RegressionTargets


class RegressorMethods:
    """predict / partial_fit of both regressor families."""

    _targets_class = RegressionTargets

    def _fitted_attributes(self, targets: RegressionTargets) -> None:
        self.n_outputs_ = targets.n_outputs

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None, **fit_params: Any) -> Any:
        """One epoch on ``(X, y)``, continuing from the previous calls."""
        return self._train(X, y, sample_weight, fit_params, keep_model=True, partial=True)

    def predict(self, X: Any) -> np.ndarray:
        """Predictions shaped like the fitted ``y``: ``(n_samples,)`` or ``(n_samples, n_outputs)``, float64."""
        values, _ = self._outputs(X, logits=False)
        return self._targets.predictions(values)


class KerasRegressor(RegressorMethods, RegressorMixin, KerasWrapper):
    """An nnkit model as a scikit-learn regressor (one or several outputs), tunable with GridSearchCV.

    With ``layers=[...]`` (or no model at all) a linear output layer with one unit per target and the
    mean squared error are added. ``score`` is R². Parameters: see
    :class:`~nnkit.wrappers.keras_api.KerasWrapper`.

    Attributes:
        model_: The fitted nnkit ``Sequential``.
        history_: ``{"loss": [...], ...}`` per epoch, accumulated over ``partial_fit`` and warm starts.
        n_outputs_: Number of targets per sample.
        n_features_in_, feature_names_in_: As in every scikit-learn estimator.

    Example:
        >>> reg = KerasRegressor(layers=[Dense(32, activation="relu")], optimizer="adam", epochs=50)
        >>> cross_val_score(make_pipeline(StandardScaler(), reg), X, y, cv=5)  # doctest: +SKIP
    """
