"""KerasClassifier: an nnkit network as a scikit-learn classifier."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin

from nnkit.wrappers.keras_api import KerasWrapper
from nnkit.wrappers.targets import ClassTargets


class ClassifierMethods:
    """predict / predict_proba / decision_function / partial_fit of both classifier families."""

    _targets_class = ClassTargets
    _y_numeric = False
    _multilabel = True

    def _fitted_attributes(self, targets: ClassTargets) -> None:
        self.classes_ = targets.classes
        self.n_classes_ = targets.n_classes

    def partial_fit(self, X: Any, y: Any, classes: Any = None, sample_weight: Any = None,
                    **fit_params: Any) -> Any:
        """One epoch on ``(X, y)``, continuing from the previous calls.

        Args:
            classes: Every label the classifier will see; needed on the first call when that batch
                does not contain them all (later batches may not add labels).
        """
        return self._train(X, y, sample_weight, fit_params, keep_model=True, classes=classes, partial=True)

    def predict(self, X: Any) -> np.ndarray:
        """Predicted labels, in the format of the fitted ``y`` (labels, one-hot rows or a 0/1 matrix)."""
        values, activation = self._outputs(X, logits=True)
        return self._targets.labels(self._targets.probabilities(values, activation))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, ``(n_samples, n_classes)`` in ``classes_`` order (two columns for a binary
        problem); for multilabel targets the probability of each label, ``(n_samples, n_labels)``."""
        values, activation = self._outputs(X, logits=True)
        return self._targets.probabilities(values, activation)

    def decision_function(self, X: Any) -> np.ndarray:
        """Scores before the final softmax/sigmoid: ``(n_samples,)`` log-odds of ``classes_[1]`` for a
        binary problem, else ``(n_samples, n_classes)`` logits. A model without a final softmax/sigmoid
        (and no ``from_logits`` loss) gives its outputs (binary: the margin ``p1 - p0``)."""
        values, activation = self._outputs(X, logits=True)
        return self._targets.decision(values, activation)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = self._multilabel
        return tags

    def _more_tags(self) -> dict[str, Any]:  # scikit-learn < 1.6
        return {**super()._more_tags(), "multilabel": self._multilabel}


class KerasClassifier(ClassifierMethods, ClassifierMixin, KerasWrapper):
    """An nnkit model as a scikit-learn classifier, tunable with GridSearchCV and friends.

    Labels may be strings, objects, booleans or integers (binary or multiclass), one-hot rows (treated
    as multiclass and predicted as one-hot rows) or a multilabel indicator matrix.

    Args:
        class_weight: ``'balanced'`` or ``{label: weight}`` (labels as in ``y``; column indices for one-hot
            ``y``), multiplied into ``sample_weight``.
        (others): see :class:`~nnkit.wrappers.keras_api.KerasWrapper`.

    Attributes:
        model_: The fitted nnkit ``Sequential``.
        history_: ``{"loss": [...], ...}`` per epoch, accumulated over ``partial_fit`` and warm starts.
        classes_: The labels; ``n_classes_`` their number.
        n_features_in_, feature_names_in_: As in every scikit-learn estimator.

    Example:
        >>> clf = KerasClassifier(layers=[Dense(64, activation="relu"), Dropout(0.2)], optimizer="adam",
        ...                       epochs=20, random_state=0)
        >>> search = GridSearchCV(clf, {"layers__0__units": [32, 64], "optimizer__learning_rate": [1e-3, 1e-2]})
        >>> search.fit(X, y)  # doctest: +SKIP
    """

    def __init__(self, model: Any = None, *, build_fn: Any = None, layers: Any = None, optimizer: Any = None,
                 loss: Any = None, metrics: Any = None, epochs: int = 1, batch_size: int | None = None,
                 validation_split: float = 0.0, callbacks: Any = None, shuffle: bool = True, verbose: int = 0,
                 warm_start: bool = False, random_state: Any = None, class_weight: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(model, build_fn=build_fn, layers=layers, optimizer=optimizer, loss=loss, metrics=metrics,
                         epochs=epochs, batch_size=batch_size, validation_split=validation_split,
                         callbacks=callbacks, shuffle=shuffle, verbose=verbose, warm_start=warm_start,
                         random_state=random_state, **kwargs)
        self.class_weight = class_weight

    def _class_weight(self) -> Any:
        return self.class_weight
