"""Metrics mirroring ``keras.metrics``: streaming, exact, on the model's device.

``get`` resolves what ``compile(metrics=[...])`` accepts: names (``'accuracy'`` picks the binary,
categorical or sparse variant from the shapes, as Keras does; ``'precision'``, ``'f1_macro'``,
``'auc'``, ``'rmse'``, ``'r2'``, ...; any loss name), ``Metric`` instances or classes, and plain
functions ``fn(y_true, y_pred)`` averaged over samples.

Classification metrics read every label format (integer labels, one-hot rows, probabilities, one
sigmoid unit or two softmax units); see :mod:`nnkit.metrics.labels`.

``result()`` returns a float32 tensor, as Keras does on the torch backend. A vector result (one value
per class with ``average=None``, the default of ``F1Score``; one per threshold) logs one float per
entry, e.g. ``f1_score_0``, ``f1_score_1`` (Keras's History holds the array instead); a dict result
(``ConfusionMatrix``) logs one entry per key. Logs, History and ``evaluate`` hold Python floats.

Keras's function forms (``mean_squared_error``, ``binary_crossentropy``, ... one value per sample) are
the functions of :mod:`nnkit.losses`, as in Keras.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from nnkit import losses
from nnkit.errors import ConfigError
from nnkit.losses import (
    binary_crossentropy,
    binary_focal_crossentropy,
    categorical_crossentropy,
    categorical_focal_crossentropy,
    categorical_hinge,
    hinge,
    huber,
    kl_divergence,
    log_cosh,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
    poisson,
    sparse_categorical_crossentropy,
    squared_hinge,
)
from nnkit.metrics.accuracy import (
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
    accuracy,
    binary_accuracy,
    categorical_accuracy,
    sparse_categorical_accuracy,
    sparse_top_k_categorical_accuracy,
    top_k_categorical_accuracy,
)
from nnkit.metrics.at_thresholds import (
    PrecisionAtRecall,
    RecallAtPrecision,
    SensitivityAtSpecificity,
    SpecificityAtSensitivity,
)
from nnkit.metrics.auc import AUC
from nnkit.metrics.base import METRICS, Mean, MeanMetricWrapper, Metric
from nnkit.metrics.confusion import (
    ConfusionMetric,
    FalseNegatives,
    FalsePositives,
    TrueNegatives,
    TruePositives,
)
from nnkit.metrics.confusion_matrix import ConfusionMatrix, ConfusionMatrixResult
from nnkit.metrics.correlation import (
    ConcordanceCorrelation,
    PearsonCorrelation,
    concordance_correlation,
    pearson_correlation,
)
from nnkit.metrics.fscores import F1Score, FBetaScore, Precision, Recall
from nnkit.metrics.iou import BinaryIoU, IoU, MeanIoU, OneHotIoU, OneHotMeanIoU
from nnkit.metrics.probabilistic import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    CategoricalHinge,
    Hinge,
    KLDivergence,
    Poisson,
    SparseCategoricalCrossentropy,
    SquaredHinge,
    Sum,
)
from nnkit.metrics.regression import (
    CosineSimilarity,
    LogCoshError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    R2Score,
    RootMeanSquaredError,
)
from nnkit.registry import closest, serializers, snake_case

__all__ = [
    "AUC",
    "Accuracy",
    "BinaryAccuracy",
    "BinaryCrossentropy",
    "BinaryIoU",
    "CategoricalAccuracy",
    "CategoricalCrossentropy",
    "CategoricalHinge",
    "ConcordanceCorrelation",
    "ConfusionMatrix",
    "ConfusionMatrixResult",
    "CosineSimilarity",
    "F1Score",
    "FBetaScore",
    "FalseNegatives",
    "FalsePositives",
    "Hinge",
    "IoU",
    "KLDivergence",
    "LogCoshError",
    "Mean",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanIoU",
    "MeanMetricWrapper",
    "MeanSquaredError",
    "MeanSquaredLogarithmicError",
    "Metric",
    "OneHotIoU",
    "OneHotMeanIoU",
    "PearsonCorrelation",
    "Poisson",
    "Precision",
    "PrecisionAtRecall",
    "R2Score",
    "Recall",
    "RecallAtPrecision",
    "RootMeanSquaredError",
    "SensitivityAtSpecificity",
    "SparseCategoricalAccuracy",
    "SparseCategoricalCrossentropy",
    "SparseTopKCategoricalAccuracy",
    "SpecificityAtSensitivity",
    "SquaredHinge",
    "Sum",
    "TopKCategoricalAccuracy",
    "TrueNegatives",
    "TruePositives",
    "accuracy",
    "binary_accuracy",
    "binary_crossentropy",
    "binary_focal_crossentropy",
    "categorical_accuracy",
    "categorical_crossentropy",
    "categorical_focal_crossentropy",
    "categorical_hinge",
    "concordance_correlation",
    "deserialize",
    "get",
    "hinge",
    "huber",
    "kl_divergence",
    "log_cosh",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_error",
    "mean_squared_logarithmic_error",
    "pearson_correlation",
    "poisson",
    "serialize",
    "sparse_categorical_accuracy",
    "sparse_categorical_crossentropy",
    "sparse_top_k_categorical_accuracy",
    "squared_hinge",
    "top_k_categorical_accuracy",
]

_CLASSES = {name: obj for name, obj in globals().items()
            if isinstance(obj, type) and issubclass(obj, Metric) and name in __all__}


def _accuracy_for(loss: losses.Loss | None, target_shape: tuple[int, ...], output_shape: tuple[int, ...]) -> Callable:
    """Keras's rule for the string 'accuracy': binary, sparse or categorical from the shapes."""
    if isinstance(loss, losses.BinaryCrossentropy) or output_shape[-1:] == (1,):
        return binary_accuracy
    if isinstance(loss, losses.SparseCategoricalCrossentropy):
        return sparse_categorical_accuracy
    sparse = len(target_shape) < len(output_shape) or (target_shape[-1:] == (1,) and output_shape[-1] > 1)
    return sparse_categorical_accuracy if sparse else categorical_accuracy


def _integer_labels(loss: losses.Loss | None, target_shape: tuple[int, ...], output_shape: tuple[int, ...]) -> bool:
    """Whether the targets are one class label per output row (not values shaped like the outputs)."""
    if isinstance(loss, losses.SparseCategoricalCrossentropy):
        return True
    return len(target_shape) < len(output_shape) or (target_shape[-1:] == (1,) and output_shape[-1:] != (1,))


def _fit_to_loss(metric: Metric, loss: losses.Loss | None, output_shape: tuple[int, ...]) -> None:
    """Read a compile() name the way the loss reads the outputs: logits if the loss takes logits, and
    several sigmoid outputs under binary cross-entropy as multi-label (threshold 0.5)."""
    from_logits = bool(getattr(loss, "fn_kwargs", {}).get("from_logits", False))
    multi_label = isinstance(loss, losses.BinaryCrossentropy) and output_shape[-1:] not in ((), (1,))
    if isinstance(metric, ConfusionMetric):
        metric.from_logits = from_logits
        if multi_label and metric.threshold is None:
            metric.threshold = 0.5
    elif isinstance(metric, AUC):
        metric.from_logits = from_logits
        metric.multi_label = multi_label


# nnkit's compile() shortcut 'f1' is one number (binary F1, else macro), not Keras's per-class default.
_NAME_DEFAULTS = {"f1": {"average": "auto"}}


def _check_no_required_arguments(identifier: str, factory: Callable) -> None:
    """Refuse a name whose metric needs arguments (``'mean_io_u'`` needs ``num_classes``), saying what to pass."""
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return
    required = [p.name for p in parameters if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD,
                                                                                  p.KEYWORD_ONLY)]
    if required:
        raise ConfigError(f"Metric '{identifier}' needs {', '.join(required)}, which a name cannot give. Pass an "
                          f"instance instead, e.g. metrics=[nnkit.metrics.{factory.__name__}("
                          f"{', '.join(f'{r}=...' for r in required)})].")


def _from_name(identifier: str, loss: losses.Loss | None, target_shape: tuple[int, ...],
               output_shape: tuple[int, ...]) -> Metric:
    if identifier in ("accuracy", "acc"):
        return MeanMetricWrapper(_accuracy_for(loss, target_shape, output_shape), name=identifier)
    if identifier in METRICS:
        factory = METRICS.get(identifier)
        _check_no_required_arguments(identifier, factory)
        metric = factory(**_NAME_DEFAULTS.get(identifier, {}))
        if identifier == snake_case(identifier):
            metric.name = identifier  # Keras logs a metric given by name under that name
        _fit_to_loss(metric, loss, output_shape)
        return metric
    if identifier in losses.LOSSES:
        fn = losses.LOSSES.get(identifier)()
        return MeanMetricWrapper(lambda y_true, y_pred: fn.call(y_true, y_pred), name=identifier)
    known = sorted({*METRICS.names(), *losses.LOSSES.names(), "accuracy", "acc"})
    guess = closest(snake_case(identifier), known)
    hint = f" Did you mean '{guess}'?" if guess else ""
    raise ConfigError(f"Unknown metric '{identifier}'.{hint} Known metrics: {', '.join(known)}.")


def get(identifier: str | dict | Metric | type | Callable[..., Any], *, loss: losses.Loss | None = None,
        target_shape: tuple[int, ...] = (), output_shape: tuple[int, ...] = ()) -> Metric:
    """A :class:`Metric` for a ``compile(metrics=...)`` entry.

    Args:
        identifier: A name, a Metric (instance or class), a ``{"class_name", "config"}`` dict, or a
            function ``fn(y_true, y_pred) -> per-sample values``.
        loss: The compiled loss (decides what ``'accuracy'`` means, and whether named classification
            metrics read logits or multi-label outputs).
        target_shape: Shape of ``y`` without the batch axis.
        output_shape: Shape of the model output without the batch axis; when given, the metric is
            checked against it (e.g. ``top_k`` larger than the number of classes).

    Raises:
        ConfigError: Unknown names (with a did-you-mean), or a metric that cannot work with the
            model's outputs and targets.
    """
    if isinstance(identifier, Metric):
        metric = identifier
    elif isinstance(identifier, str):
        metric = _from_name(identifier, loss, target_shape, output_shape)
    elif isinstance(identifier, type) and issubclass(identifier, Metric):
        metric = identifier()
    elif isinstance(identifier, dict):
        name = identifier.get("class_name")
        if name not in _CLASSES:
            guess = closest(str(name), list(_CLASSES))
            hint = f" Did you mean '{guess}'?" if guess else ""
            raise ConfigError(f"Unknown metric class {name!r} in {identifier!r}.{hint}")
        metric = _CLASSES[name].from_config(identifier.get("config", {}))
    elif callable(identifier):
        metric = MeanMetricWrapper(identifier)
    else:
        raise ConfigError(
            f"Expected a metric name, a Metric or a function fn(y_true, y_pred). Received: {identifier!r}."
        )
    if output_shape:
        metric.check_compatible(tuple(output_shape), _integer_labels(loss, tuple(target_shape), tuple(output_shape)))
    return metric


serialize, deserialize = serializers(get, "metric")
