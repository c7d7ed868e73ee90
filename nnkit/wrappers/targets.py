"""Targets as scikit-learn users give them, and as the network trains on them.

A classifier accepts labels of any type (strings, objects, booleans, integers), one-hot rows (read
as multiclass, predicted back as one-hot rows) and multilabel indicator matrices. Internally the
network sees class indices, one-hot rows or a 0/1 column, whichever its output layer and loss need.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse
from scipy.special import expit, softmax
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
from sklearn.utils.validation import column_or_1d

from nnkit import losses
from nnkit.errors import DataError
from nnkit.training.data import check_class_weight

SINGLE_OUTPUT = ("binary", "multiclass", "multiclass-onehot")


def _dense(y: Any) -> np.ndarray:
    return y.toarray() if sparse.issparse(y) else np.asarray(y)


def _is_one_hot(y: np.ndarray) -> bool:
    return y.ndim == 2 and y.shape[1] > 1 and bool(np.all((y == 0) | (y == 1))) and bool(np.all(y.sum(axis=1) == 1))


class ClassTargets:
    """Class labels <-> what the network trains on and outputs, fitted on the first ``y``.

    Attributes:
        target_type: ``'binary'``, ``'multiclass'``, ``'multiclass-onehot'`` or ``'multilabel-indicator'``.
        classes: The labels (column indices for one-hot and multilabel targets).
        y_dtype: dtype of the ``y`` seen in fit; one-hot and multilabel predictions use it.
    """

    def __init__(self, target_type: str, classes: np.ndarray, y_dtype: np.dtype) -> None:
        self.target_type, self.classes, self.y_dtype = target_type, classes, y_dtype

    @classmethod
    def fit(cls, y: Any, classes: Any = None, allowed: tuple[str, ...] = (*SINGLE_OUTPUT, "multilabel-indicator"),
            owner: str = "Classifier") -> ClassTargets:
        """Read the target type and classes from ``y`` (and ``classes`` for ``partial_fit``).

        Raises:
            ValueError: regression targets, unsupported target types, or a single class.
        """
        y = _as_labels(y)
        check_classification_targets(y)
        kind = type_of_target(y, input_name="y", raise_unknown=True)
        if kind == "multilabel-indicator" and _is_one_hot(_dense(y)):
            kind = "multiclass-onehot"
        if kind not in allowed:
            raise ValueError(
                f"{owner} supports {', '.join(allowed)} targets, but y is {kind}. "
                + ("Only binary and multiclass target types are supported." if "multilabel-indicator" not in allowed
                   else "Train one classifier per output, e.g. with sklearn.multioutput.MultiOutputClassifier.")
            )
        dense = _dense(y)
        if kind in ("multiclass-onehot", "multilabel-indicator"):
            labels = np.arange(dense.shape[1])
        else:
            source = dense if classes is None else np.asarray(classes)
            labels = unique_labels(source)  # validates (no mix of strings and numbers)
            if source.dtype == object:  # keep the exact strings: a fixed-width str array drops trailing NULs
                labels = np.unique(source)
            if classes is not None:
                targets = cls(kind, labels, dense.dtype)
                targets.indices(dense)  # every label in y must be one of `classes`
            if len(labels) < 2:
                raise ValueError("Classifier can't train when only one class is present.")
            if kind == "binary" and len(labels) > 2:
                kind = "multiclass"
        return cls(kind, labels, dense.dtype)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def multilabel(self) -> bool:
        return self.target_type == "multilabel-indicator"

    # -- training ----------------------------------------------------------------------------
    def indices(self, y: Any) -> np.ndarray:
        """Class index per sample, or the 0/1 matrix of a multilabel target.

        Raises:
            ValueError: ``y`` holds labels the classifier was not fitted with, or has the wrong shape.
        """
        y = _dense(_as_labels(y))
        if self.target_type in ("multiclass-onehot", "multilabel-indicator"):
            if y.ndim != 2 or y.shape[1] != self.n_classes:
                raise DataError(f"y must have {self.n_classes} columns, as in fit. Received shape {y.shape}.")
            if self.multilabel:
                return y.astype(np.float32)
            if not _is_one_hot(y):
                raise DataError("y must hold one-hot rows (exactly one 1 per row), as in fit.")
            return y.argmax(axis=1)
        if y.ndim != 1:
            raise DataError(f"y must be 1-D class labels, as in fit. Received shape {y.shape}.")
        position = np.searchsorted(self.classes, y)
        known = (position < self.n_classes) & (self.classes[np.minimum(position, self.n_classes - 1)] == y)
        if not known.all():
            unseen = list(dict.fromkeys(y[~known].tolist()))[:5]
            raise ValueError(
                f"y contains labels the classifier was not fitted with: {unseen}. Known classes: "
                f"{self.classes.tolist()}. Refit (or pass every class to the first partial_fit as classes=...)."
            )
        return position

    def sample_weights(self, indices: np.ndarray, class_weight: Any) -> np.ndarray | None:
        """Per-sample weights from scikit-learn's ``class_weight`` (``'balanced'`` or ``{label: weight}``)."""
        if class_weight is None:
            return None
        if self.multilabel:
            raise DataError("class_weight is not supported for multilabel targets; pass sample_weight to fit.")
        from sklearn.utils.class_weight import compute_sample_weight

        if isinstance(class_weight, dict):
            check_class_weight(class_weight)
        return compute_sample_weight(class_weight, self.classes[indices]).astype(np.float32)

    def check_weighted(self, indices: np.ndarray, weights: np.ndarray) -> None:
        """Refuse weights that leave fewer than two classes to learn from."""
        if self.multilabel:
            return
        present = np.unique(indices[weights > 0])
        if len(present) < 2:
            raise ValueError(
                f"Classifier can't train when only one class ({self.classes[present[0]]!r}) has non-zero sample "
                "weight; give samples of at least two classes a positive weight."
            )

    def meta(self) -> dict[str, Any]:
        """What a build function taking ``meta`` learns about the targets."""
        return {"target_type_": self.target_type, "classes_": self.classes, "n_classes_": self.n_classes,
                "n_outputs_": self.n_classes if self.multilabel else 1}

    def default_loss(self, units: int) -> str:
        """The loss for a model with ``units`` outputs when none was compiled or given."""
        if self.multilabel or units == 1:
            return "binary_crossentropy"
        return "sparse_categorical_crossentropy"

    def output_layer(self, loss: Any) -> tuple[int, str]:
        """``(units, activation)`` of the output layer added to a ``layers=[...]`` list."""
        if self.multilabel:
            return self.n_classes, "sigmoid"
        categorical = loss is not None and isinstance(
            losses.get(loss) if not isinstance(loss, losses.Loss) else loss,
            (losses.CategoricalCrossentropy, losses.SparseCategoricalCrossentropy))
        if self.n_classes == 2 and not categorical:
            return 1, "sigmoid"
        return self.n_classes, "softmax"

    def for_model(self, indices: np.ndarray, units: int, loss: losses.Loss | None) -> np.ndarray:
        """The encoding the network trains on: indices for sparse cross-entropy, a 0/1 column for a
        single output unit, else one-hot rows (or the multilabel matrix)."""
        if self.multilabel:
            if units != self.n_classes:
                raise DataError(f"The model has {units} outputs but y has {self.n_classes} labels (columns); give "
                                f"the last layer {self.n_classes} units with a sigmoid activation.")
            return indices
        if units == 1 and self.n_classes == 2 and not isinstance(loss, losses.SparseCategoricalCrossentropy):
            return indices.astype(np.float32)[:, None]
        if units != self.n_classes:
            raise DataError(
                f"The model has {units} outputs but y has {self.n_classes} classes. Give the last layer "
                f"{self.n_classes} units with a softmax activation" + (" (or 1 sigmoid unit)" if self.n_classes == 2
                                                                      else "") + "."
            )
        if isinstance(loss, losses.SparseCategoricalCrossentropy):
            return indices.astype(np.int64)
        return np.eye(self.n_classes, dtype=np.float32)[indices]

    # -- prediction -----------------------------------------------------------------------------
    def probabilities(self, values: np.ndarray, activation: str | None) -> np.ndarray:
        """Class probabilities from network outputs (or logits before ``activation``), in float64."""
        if activation == "softmax":
            proba = softmax(values, axis=1)
        elif activation == "sigmoid":
            proba = expit(values)
        else:
            proba = values
        if not self.multilabel and proba.shape[1] == 1:
            proba = np.hstack([1.0 - proba, proba])
        return proba

    def decision(self, values: np.ndarray, activation: str | None) -> np.ndarray:
        """Scores ordered like the probabilities: logits, or the log-odds margin of binary problems."""
        if activation is None:
            proba = self.probabilities(values, None)
            if self.multilabel:
                return proba - 0.5
            return proba[:, 1] - proba[:, 0] if self.n_classes == 2 else proba
        if self.multilabel:
            return values
        if self.n_classes == 2:
            return values[:, 0] if values.shape[1] == 1 else values[:, 1] - values[:, 0]
        return values

    def labels(self, proba: np.ndarray) -> np.ndarray:
        """Predicted labels in the format of the ``y`` given to fit (never a label not seen there)."""
        if self.multilabel:
            return (proba > 0.5).astype(self.y_dtype)
        index = proba.argmax(axis=1)
        if self.target_type == "multiclass-onehot":
            return np.eye(self.n_classes, dtype=self.y_dtype)[index]
        return self.classes[index]


def _as_labels(y: Any) -> Any:
    """A column vector becomes 1-D (with scikit-learn's DataConversionWarning); the rest is unchanged."""
    if sparse.issparse(y):
        return y
    array = np.asarray(y)
    if array.ndim == 2 and array.shape[1] == 1:
        return column_or_1d(array, warn=True)
    return array


class RegressionTargets:
    """Targets of a regressor: 1-D (one output) or 2-D (several outputs), predicted in the same shape."""

    def __init__(self, ndim: int, n_outputs: int) -> None:
        self.ndim, self.n_outputs = ndim, n_outputs

    @classmethod
    def fit(cls, y: np.ndarray, **_: Any) -> RegressionTargets:
        y = np.asarray(y)
        return cls(y.ndim, 1 if y.ndim == 1 else y.shape[1])

    def indices(self, y: Any) -> np.ndarray:
        """``y`` as float32, checked against the number of outputs seen in fit."""
        y = np.asarray(y, dtype=np.float32)
        outputs = 1 if y.ndim == 1 else y.shape[1]
        if outputs != self.n_outputs:
            raise DataError(f"y has {outputs} outputs per sample but the regressor was fitted with {self.n_outputs}.")
        return y

    def sample_weights(self, indices: np.ndarray, class_weight: Any) -> None:
        return None

    def check_weighted(self, y: np.ndarray, weights: np.ndarray) -> None:
        """Any positive weights will do for regression."""

    def meta(self) -> dict[str, Any]:
        return {"target_type_": "continuous" if self.ndim == 1 else "continuous-multioutput",
                "n_outputs_": self.n_outputs}

    def default_loss(self, units: int) -> str:
        return "mean_squared_error"

    def output_layer(self, loss: Any) -> tuple[int, None]:
        return self.n_outputs, None

    def for_model(self, y: np.ndarray, units: int, loss: losses.Loss | None) -> np.ndarray:
        if units != self.n_outputs:
            raise DataError(f"The model has {units} outputs but y has {self.n_outputs} per sample; give the last "
                            f"layer {self.n_outputs} units.")
        return y.reshape(len(y), -1)

    def predictions(self, values: np.ndarray) -> np.ndarray:
        """Network outputs shaped like the ``y`` given to fit."""
        return values[:, 0] if self.ndim == 1 else values
