"""Losses with Keras names and semantics.

Functions (``mean_squared_error(y_true, y_pred)``) return one value per sample, reducing the last
axis; ``Loss`` objects reduce that to a scalar with the Keras default ``"sum_over_batch_size"``.
Probabilities are expected unless ``from_logits=True``. When a model ends in a softmax or sigmoid,
training computes its cross-entropy from the pre-activation logits (as Keras on TensorFlow does), so
saturated outputs neither lose precision nor produce inf.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F

from nnkit.config import epsilon, float_dtype
from nnkit.errors import ConfigError, DataError
from nnkit.registry import Configurable, Registry, serializers

EPSILON = 1e-7  # the default of nnkit.config.epsilon(), which the losses read when they run
LOSSES: Registry[Callable[..., Loss]] = Registry("loss", "losses")
REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "none", None)


def _takes_arrays(fn: Callable[..., Tensor] | None = None, *, sparse: bool = False) -> Any:
    """A loss function accepting Python lists and NumPy arrays, as Keras's do: ``y_pred`` as a float tensor,
    ``y_true`` cast to its dtype (integer class labels for a sparse loss)."""

    def decorate(fn: Callable[..., Tensor]) -> Callable[..., Tensor]:
        @functools.wraps(fn)
        def loss(y_true: Any, y_pred: Any, *args: Any, **kwargs: Any) -> Tensor:
            if not isinstance(y_pred, Tensor) or not isinstance(y_true, Tensor):
                from nnkit.ops.core import convert_to_tensor, floating

                y_pred = floating(y_pred)
                y_true = convert_to_tensor(y_true)
                y_true = y_true.long() if sparse else y_true.to(y_pred.dtype)
            return fn(y_true, y_pred, *args, **kwargs)

        return loss

    return decorate(fn) if fn is not None else decorate


def align_ranks(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """Make ``y_true`` the rank of ``y_pred`` when they differ only by a trailing axis of 1."""
    if y_true.ndim == y_pred.ndim - 1 and y_pred.shape[-1] == 1:
        return y_true.unsqueeze(-1)
    if y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
        return y_true.squeeze(-1)
    return y_true


def _same_shape(y_true: Tensor, y_pred: Tensor, loss: str) -> Tensor:
    y_true = align_ranks(y_true, y_pred)
    if y_true.shape != y_pred.shape:
        raise DataError(
            f"Loss '{loss}' needs targets shaped like the model output {tuple(y_pred.shape)}, "
            f"but received targets of shape {tuple(y_true.shape)}. Reshape y or change the output layer."
        )
    if y_true.dtype != y_pred.dtype:
        y_true = y_true.to(y_pred.dtype)
    return y_true


# --- per-sample functions (Keras's functional API) ---------------------------------------------

@_takes_arrays
def mean_squared_error(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """``mean((y_true - y_pred) ** 2, axis=-1)``."""
    y_true = _same_shape(y_true, y_pred, "mean_squared_error")
    return torch.square(y_pred - y_true).mean(dim=-1)


@_takes_arrays
def mean_absolute_error(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """``mean(|y_true - y_pred|, axis=-1)``."""
    y_true = _same_shape(y_true, y_pred, "mean_absolute_error")
    return (y_pred - y_true).abs().mean(dim=-1)


@_takes_arrays
def mean_absolute_percentage_error(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """``100 * mean(|(y_true - y_pred) / max(|y_true|, eps)|, axis=-1)``."""
    y_true = _same_shape(y_true, y_pred, "mean_absolute_percentage_error")
    diff = (y_true - y_pred).abs() / y_true.abs().clamp_min(epsilon())
    return 100.0 * diff.mean(dim=-1)


@_takes_arrays
def mean_squared_logarithmic_error(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """``mean((log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1)) ** 2, axis=-1)``."""
    y_true = _same_shape(y_true, y_pred, "mean_squared_logarithmic_error")
    first = torch.log1p(y_pred.clamp_min(epsilon()))
    second = torch.log1p(y_true.clamp_min(epsilon()))
    return torch.square(first - second).mean(dim=-1)


@_takes_arrays
def huber(y_true: Tensor, y_pred: Tensor, delta: float = 1.0) -> Tensor:
    """Quadratic for ``|error| <= delta``, linear beyond, averaged over the last axis."""
    y_true = _same_shape(y_true, y_pred, "huber")
    return F.huber_loss(y_pred, y_true, reduction="none", delta=delta).mean(dim=-1)


@_takes_arrays
def log_cosh(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """``mean(log(cosh(y_pred - y_true)), axis=-1)``, computed without overflow."""
    y_true = _same_shape(y_true, y_pred, "log_cosh")
    x = y_pred - y_true
    return (x + F.softplus(-2.0 * x) - math.log(2.0)).mean(dim=-1)


@_takes_arrays
def binary_crossentropy(y_true: Tensor, y_pred: Tensor, from_logits: bool = False,
                        label_smoothing: float = 0.0) -> Tensor:
    """Binary cross-entropy averaged over the last axis; ``y_pred`` are probabilities unless
    ``from_logits``."""
    y_true = _same_shape(y_true, y_pred, "binary_crossentropy")
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        return F.binary_cross_entropy_with_logits(y_pred, y_true, reduction="none").mean(dim=-1)
    p = y_pred.clamp(epsilon(), 1.0 - epsilon())
    return -(y_true * torch.log(p) + (1.0 - y_true) * torch.log1p(-p)).mean(dim=-1)


@_takes_arrays
def categorical_crossentropy(y_true: Tensor, y_pred: Tensor, from_logits: bool = False,
                             label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy between one-hot (or soft) targets and class probabilities on the last axis."""
    y_true = _same_shape(y_true, y_pred, "categorical_crossentropy")
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_pred.shape[-1]
    if from_logits:
        return F.cross_entropy(y_pred.movedim(-1, 1), y_true.movedim(-1, 1), reduction="none")
    p = y_pred / y_pred.sum(dim=-1, keepdim=True)
    return -(y_true * torch.log(p.clamp(epsilon(), 1.0 - epsilon()))).sum(dim=-1)


@_takes_arrays(sparse=True)
def sparse_categorical_crossentropy(y_true: Tensor, y_pred: Tensor, from_logits: bool = False) -> Tensor:
    """Cross-entropy between integer class labels and class probabilities on the last axis."""
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true.squeeze(-1)
    if y_true.shape != y_pred.shape[:-1]:
        raise DataError(
            f"Loss 'sparse_categorical_crossentropy' needs one integer label per output row: targets "
            f"of shape {tuple(y_pred.shape[:-1])} for outputs of shape {tuple(y_pred.shape)}, but "
            f"received targets of shape {tuple(y_true.shape)}. One-hot targets need "
            f"'categorical_crossentropy'."
        )
    labels = y_true.long()
    if from_logits:
        return F.cross_entropy(y_pred.movedim(-1, 1), labels, reduction="none")
    p = y_pred / y_pred.sum(dim=-1, keepdim=True)
    log_p = torch.log(p.clamp(epsilon(), 1.0 - epsilon()))
    return -log_p.gather(-1, labels.unsqueeze(-1)).squeeze(-1)


@_takes_arrays
def kl_divergence(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """``sum(y_true * log(y_true / y_pred), axis=-1)`` with both clipped to ``[eps, 1]``."""
    y_true = _same_shape(y_true, y_pred, "kl_divergence").clamp(epsilon(), 1.0)
    y_pred = y_pred.clamp(epsilon(), 1.0)
    return (y_true * torch.log(y_true / y_pred)).sum(dim=-1)


@_takes_arrays
def poisson(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """``mean(y_pred - y_true * log(y_pred + eps), axis=-1)``."""
    y_true = _same_shape(y_true, y_pred, "poisson")
    return (y_pred - y_true * torch.log(y_pred + epsilon())).mean(dim=-1)


def _hinge_labels(y_true: Tensor) -> Tensor:
    """Keras converts 0/1 labels to -1/1 for hinge losses."""
    is_binary = torch.all((y_true == 0) | (y_true == 1))
    return torch.where(is_binary, 2.0 * y_true - 1.0, y_true)


@_takes_arrays
def hinge(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """``mean(max(1 - y_true * y_pred, 0), axis=-1)``; 0/1 labels are read as -1/1."""
    y_true = _hinge_labels(_same_shape(y_true, y_pred, "hinge"))
    return F.relu(1.0 - y_true * y_pred).mean(dim=-1)


@_takes_arrays
def squared_hinge(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """``mean(max(1 - y_true * y_pred, 0) ** 2, axis=-1)``; 0/1 labels are read as -1/1."""
    y_true = _hinge_labels(_same_shape(y_true, y_pred, "squared_hinge"))
    return torch.square(F.relu(1.0 - y_true * y_pred)).mean(dim=-1)


@_takes_arrays
def categorical_hinge(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """``max(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0)``."""
    y_true = _same_shape(y_true, y_pred, "categorical_hinge")
    positive = (y_true * y_pred).sum(dim=-1)
    negative = ((1.0 - y_true) * y_pred).amax(dim=-1)
    return F.relu(negative - positive + 1.0)


@_takes_arrays
def cosine_similarity(y_true: Tensor, y_pred: Tensor, axis: int = -1) -> Tensor:
    """Negative cosine similarity along ``axis`` (so minimising it aligns the vectors)."""
    y_true = _same_shape(y_true, y_pred, "cosine_similarity")
    return -(F.normalize(y_true, dim=axis) * F.normalize(y_pred, dim=axis)).sum(dim=axis)


# --- Loss objects ------------------------------------------------------------------------------

def _check_range(y: Tensor, low: float, high: float, loss: str, hint: str) -> None:
    if y.numel() and (bool(y.min() < low) or bool(y.max() > high)):
        raise DataError(
            f"Loss '{loss}' expects targets in [{low:g}, {high:g}], but the targets range from "
            f"{y.min().item():g} to {y.max().item():g}. {hint}"
        )


class Loss(Configurable):
    """A loss: ``loss(y_true, y_pred, sample_weight=None) -> scalar``.

    Args:
        name: Name used in logs.
        reduction: ``"sum_over_batch_size"`` (mean over all values, the default), ``"sum"``,
            ``"mean"`` (same as the default) or ``"none"``.
    """

    def __init__(self, name: str | None = None, reduction: str | None = "sum_over_batch_size", dtype: Any = None) -> None:
        if reduction not in REDUCTIONS:
            raise ConfigError(f"Unknown reduction {reduction!r}. Use one of: {', '.join(map(str, REDUCTIONS))}.")
        self.name = name or _default_name(type(self))
        self.reduction = reduction

    # A fused torch call giving the mean of ``call`` for same-shaped 2-D float inputs (the common
    # training case), one kernel instead of several; ``None`` where there is none.
    _mean_of: Callable[[Tensor, Tensor], Tensor] | None = None

    def call(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        """Per-sample loss values."""
        raise NotImplementedError

    def __call__(self, y_true: Tensor, y_pred: Tensor, sample_weight: Tensor | None = None) -> Tensor:
        if not isinstance(y_pred, Tensor) or not isinstance(y_true, Tensor) or not (
                sample_weight is None or isinstance(sample_weight, Tensor)):
            y_true, y_pred, sample_weight = self._tensors(y_true, y_pred, sample_weight)
        if (sample_weight is None and self._mean_of is not None and self.reduction in ("sum_over_batch_size", "mean")
                and y_pred.ndim == 2 and y_true.dtype == y_pred.dtype and y_true.shape == y_pred.shape):
            return self._mean_of(y_true, y_pred)
        values = self.call(y_true, y_pred)
        if sample_weight is not None:
            sample_weight = sample_weight.to(values.dtype)
            while sample_weight.ndim > values.ndim and sample_weight.shape[-1] == 1:
                sample_weight = sample_weight.squeeze(-1)
            while sample_weight.ndim < values.ndim:
                sample_weight = sample_weight.unsqueeze(-1)
            values = values * sample_weight
        if self.reduction in ("none", None):
            return values
        if self.reduction == "sum":
            return values.sum()
        return values.mean()

    def _tensors(self, y_true: Any, y_pred: Any, sample_weight: Any) -> tuple[Tensor, Tensor, Tensor | None]:
        """Lists and arrays given to a loss directly, as tensors (as Keras takes them)."""
        from nnkit.ops.core import convert_to_tensor, floating

        y_pred = floating(y_pred).to(float_dtype())  # a loss object computes in floatx, as Keras's do
        y_true = convert_to_tensor(y_true)
        if y_true.is_floating_point() or not isinstance(self, SparseCategoricalCrossentropy):
            y_true = y_true.to(y_pred.dtype)
        weights = None if sample_weight is None else floating(sample_weight).to(y_pred.dtype)
        return y_true, y_pred, weights

    def prepare_targets(self, y: Tensor, output_shape: tuple[int, ...]) -> Tensor:
        """Check and convert a whole target array once, before training.

        ``output_shape`` is the model output shape without the batch axis.
        """
        if y.dtype != float_dtype():
            y = y.to(float_dtype())
        if y.ndim == len(output_shape) and output_shape[-1:] == (1,):
            y = y.unsqueeze(-1)
        if tuple(y.shape[1:]) != tuple(output_shape):
            raise DataError(
                f"Loss '{self.name}' needs targets shaped like the model output (None, "
                f"{', '.join(map(str, output_shape))}), but y has shape {tuple(y.shape)}. Reshape y or "
                f"change the last layer."
            )
        return y

    def with_logits_of(self, activation: str) -> Loss | None:
        """An equivalent loss on the logits feeding ``activation``, or ``None`` if there is none."""
        return None

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments of this loss."""
        return {"name": self.name, "reduction": self.reduction}


def _default_name(cls: type) -> str:
    from nnkit.registry import snake_case

    return snake_case(cls.__name__)


class LossFunctionWrapper(Loss):
    """A per-sample function ``fn(y_true, y_pred, **kwargs)`` used as a :class:`Loss`."""

    def __init__(self, fn: Callable[..., Tensor], name: str | None = None,
                 reduction: str | None = "sum_over_batch_size", **kwargs: Any) -> None:
        super().__init__(name=name or getattr(fn, "__name__", "loss"), reduction=reduction)
        self.fn = fn
        self.fn_kwargs = kwargs

    def call(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        return self.fn(y_true, y_pred, **self.fn_kwargs)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), **self.fn_kwargs}


def _simple_loss(class_name: str, fn: Callable[..., Tensor], aliases: tuple[str, ...] = ()) -> type[Loss]:
    """A Loss subclass around a per-sample function with no options."""

    def __init__(self, name: str | None = None, reduction: str | None = "sum_over_batch_size") -> None:
        LossFunctionWrapper.__init__(self, fn, name=name or fn.__name__, reduction=reduction)

    cls = type(class_name, (LossFunctionWrapper,), {
        "__init__": __init__, "__doc__": f"Loss object for :func:`{fn.__name__}`.",
    })
    LOSSES.add(fn.__name__, cls, (class_name, *aliases))
    return cls


MeanSquaredError = _simple_loss("MeanSquaredError", mean_squared_error, ("mse",))
MeanSquaredError._mean_of = staticmethod(lambda y_true, y_pred: F.mse_loss(y_pred, y_true))
MeanAbsoluteError = _simple_loss("MeanAbsoluteError", mean_absolute_error, ("mae",))
MeanAbsoluteError._mean_of = staticmethod(lambda y_true, y_pred: F.l1_loss(y_pred, y_true))
MeanAbsolutePercentageError = _simple_loss("MeanAbsolutePercentageError", mean_absolute_percentage_error, ("mape",))
MeanSquaredLogarithmicError = _simple_loss("MeanSquaredLogarithmicError", mean_squared_logarithmic_error, ("msle",))
LogCosh = _simple_loss("LogCosh", log_cosh, ("logcosh",))
KLDivergence = _simple_loss("KLDivergence", kl_divergence, ("kld", "kullback_leibler_divergence"))
Poisson = _simple_loss("Poisson", poisson)
Hinge = _simple_loss("Hinge", hinge)
SquaredHinge = _simple_loss("SquaredHinge", squared_hinge)
CategoricalHinge = _simple_loss("CategoricalHinge", categorical_hinge)


@LOSSES.register("huber", aliases=("huber_loss", "Huber"))
class Huber(LossFunctionWrapper):
    """Huber loss with threshold ``delta`` (default 1.0)."""

    def __init__(self, delta: float = 1.0, name: str | None = "huber_loss",
                 reduction: str | None = "sum_over_batch_size") -> None:
        super().__init__(huber, name=name, reduction=reduction, delta=delta)


@LOSSES.register("cosine_similarity", aliases=("CosineSimilarity",))
class CosineSimilarity(LossFunctionWrapper):
    """Negative cosine similarity along ``axis``."""

    def __init__(self, axis: int = -1, name: str | None = "cosine_similarity",
                 reduction: str | None = "sum_over_batch_size") -> None:
        super().__init__(cosine_similarity, name=name, reduction=reduction, axis=axis)


@LOSSES.register("binary_crossentropy", aliases=("BinaryCrossentropy", "bce"))
class BinaryCrossentropy(LossFunctionWrapper):
    """Binary cross-entropy for 0/1 (or soft) targets and sigmoid probabilities.

    Args:
        from_logits: Whether ``y_pred`` holds logits rather than probabilities.
        label_smoothing: Pull targets towards 0.5 by this fraction.
    """

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0,
                 name: str | None = "binary_crossentropy", reduction: str | None = "sum_over_batch_size") -> None:
        super().__init__(binary_crossentropy, name=name, reduction=reduction, from_logits=from_logits,
                         label_smoothing=label_smoothing)
        if from_logits and not label_smoothing:
            self._mean_of = lambda y_true, y_pred: F.binary_cross_entropy_with_logits(y_pred, y_true)

    def prepare_targets(self, y: Tensor, output_shape: tuple[int, ...]) -> Tensor:
        y = super().prepare_targets(y, output_shape)
        _check_range(y, 0.0, 1.0, self.name, "Binary cross-entropy needs 0/1 labels or probabilities.")
        return y

    def with_logits_of(self, activation: str) -> Loss | None:
        if activation != "sigmoid" or self.fn_kwargs["from_logits"]:
            return None
        return type(self)(**{**self.get_config(), "from_logits": True})


@LOSSES.register("categorical_crossentropy", aliases=("CategoricalCrossentropy", "cce"))
class CategoricalCrossentropy(LossFunctionWrapper):
    """Cross-entropy for one-hot (or soft) targets and class probabilities.

    Args:
        from_logits: Whether ``y_pred`` holds logits rather than probabilities.
        label_smoothing: Mix targets with the uniform distribution by this fraction.
    """

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0,
                 name: str | None = "categorical_crossentropy",
                 reduction: str | None = "sum_over_batch_size") -> None:
        super().__init__(categorical_crossentropy, name=name, reduction=reduction, from_logits=from_logits,
                         label_smoothing=label_smoothing)
        if from_logits:
            self._mean_of = lambda y_true, y_pred: F.cross_entropy(y_pred, y_true, label_smoothing=label_smoothing)

    def prepare_targets(self, y: Tensor, output_shape: tuple[int, ...]) -> Tensor:
        if y.ndim == len(output_shape) or (y.ndim == len(output_shape) + 1 and y.shape[-1] == 1 != output_shape[-1]):
            raise DataError(
                f"Loss '{self.name}' needs one-hot targets of shape (n, {output_shape[-1]}), but y has shape "
                f"{tuple(y.shape)}. Convert integer labels with nnkit.utils.to_categorical(y, "
                f"{output_shape[-1]}) or use loss='sparse_categorical_crossentropy'."
            )
        y = super().prepare_targets(y, output_shape)
        _check_range(y, 0.0, 1.0, self.name, "Categorical cross-entropy needs one-hot rows or probabilities.")
        return y

    def with_logits_of(self, activation: str) -> Loss | None:
        if activation != "softmax" or self.fn_kwargs["from_logits"]:
            return None
        return type(self)(**{**self.get_config(), "from_logits": True})


@LOSSES.register("sparse_categorical_crossentropy", aliases=("SparseCategoricalCrossentropy",))
class SparseCategoricalCrossentropy(LossFunctionWrapper):
    """Cross-entropy for integer class labels and class probabilities.

    Args:
        from_logits: Whether ``y_pred`` holds logits rather than probabilities.
    """

    def __init__(self, from_logits: bool = False, name: str | None = "sparse_categorical_crossentropy",
                 reduction: str | None = "sum_over_batch_size") -> None:
        super().__init__(sparse_categorical_crossentropy, name=name, reduction=reduction, from_logits=from_logits)

    def __call__(self, y_true: Tensor, y_pred: Tensor, sample_weight: Tensor | None = None) -> Tensor:
        if not isinstance(y_pred, Tensor) or not isinstance(y_true, Tensor) or not (
                sample_weight is None or isinstance(sample_weight, Tensor)):
            y_true, y_pred, sample_weight = self._tensors(y_true, y_pred, sample_weight)
        if (sample_weight is None and self.fn_kwargs["from_logits"] and y_pred.ndim == 2 and y_true.ndim == 1
                and y_true.dtype == torch.int64 and self.reduction in ("sum_over_batch_size", "mean")):
            return F.cross_entropy(y_pred, y_true)
        return super().__call__(y_true, y_pred, sample_weight)

    def prepare_targets(self, y: Tensor, output_shape: tuple[int, ...]) -> Tensor:
        if y.ndim == len(output_shape) + 1 and y.shape[-1] == 1:
            y = y.squeeze(-1)
        n_classes = output_shape[-1]
        if tuple(y.shape[1:]) != tuple(output_shape[:-1]):
            raise DataError(
                f"Loss '{self.name}' needs one integer label per sample (shape (n,)), but y has shape "
                f"{tuple(y.shape)}. For one-hot targets use loss='categorical_crossentropy'."
            )
        if y.is_floating_point() and y.numel() and not bool(torch.all(y == torch.round(y))):
            raise DataError(
                f"Loss '{self.name}' needs integer class labels, but y holds non-integer values. "
                "For probabilities use loss='categorical_crossentropy'."
            )
        y = y.long()
        if y.numel() and (bool(y.min() < 0) or bool(y.max() >= n_classes)):
            raise DataError(
                f"Loss '{self.name}' got labels from {y.min().item()} to {y.max().item()}, but the model "
                f"outputs {n_classes} classes, so labels must be in [0, {n_classes - 1}]. Give the last "
                f"layer one unit per class or re-encode the labels."
            )
        return y

    def with_logits_of(self, activation: str) -> Loss | None:
        if activation != "softmax" or self.fn_kwargs["from_logits"]:
            return None
        return type(self)(**{**self.get_config(), "from_logits": True})


class TorchLoss(Loss):
    """A ``torch.nn`` loss module (called as ``module(y_pred, y_true)``, torch's order)."""

    def __init__(self, module: torch.nn.Module, name: str | None = None) -> None:
        super().__init__(name=name or _default_name(type(module)), reduction="sum_over_batch_size")
        self.module = module

    def __call__(self, y_true: Tensor, y_pred: Tensor, sample_weight: Tensor | None = None) -> Tensor:
        if sample_weight is not None:
            raise ConfigError(
                f"The torch loss {type(self.module).__name__} cannot apply sample weights. Use an nnkit "
                "loss (e.g. loss='mse') with sample_weight or class_weight."
            )
        return self.module(y_pred, y_true)

    def prepare_targets(self, y: Tensor, output_shape: tuple[int, ...]) -> Tensor:
        return y.to(float_dtype()) if y.is_floating_point() else y

    def get_config(self) -> dict[str, Any]:
        return {"module": self.module, "name": self.name}


def get(identifier: str | dict | Loss | Callable | torch.nn.Module) -> Loss:
    """A :class:`Loss` from a Keras name, a ``{"class_name", "config"}`` dict, an instance, a
    per-sample function ``fn(y_true, y_pred)`` or a ``torch.nn`` loss module."""
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


_FUNCTIONS = {mean_squared_error, mean_absolute_error, mean_absolute_percentage_error,
              mean_squared_logarithmic_error, huber, log_cosh, binary_crossentropy, categorical_crossentropy,
              sparse_categorical_crossentropy, kl_divergence, poisson, hinge, squared_hinge,
              categorical_hinge, cosine_similarity}

# Keras's short functional aliases.
mse, mae, mape, msle = (mean_squared_error, mean_absolute_error, mean_absolute_percentage_error,
                        mean_squared_logarithmic_error)
kld = kullback_leibler_divergence = kl_divergence
logcosh = log_cosh


serialize, deserialize = serializers(get, "loss")
