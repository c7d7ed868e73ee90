"""The :class:`Loss` protocol: per-sample values reduced to a scalar with Keras's reductions, the registry of
loss names, and the wrappers that turn functions and ``torch.nn`` losses into losses."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from nnkit.config import float_dtype
from nnkit.errors import ConfigError, DataError
from nnkit.registry import Configurable, Registry

EPSILON = 1e-7  # the default of nnkit.config.epsilon(), which the losses read when they run
LOSSES: Registry[Callable[..., Loss]] = Registry("loss", "losses")
REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


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


def _check_range(y: Tensor, low: float, high: float, loss: str, hint: str) -> None:
    if y.numel() and (bool(y.min() < low) or bool(y.max() > high)):
        raise DataError(
            f"Loss '{loss}' expects targets in [{low:g}, {high:g}], but the targets range from "
            f"{y.min().item():g} to {y.max().item():g}. {hint}"
        )


def _integer_labels(y: Tensor, loss: str, hint: str) -> Tensor:
    """``y`` as int64 class labels; float arrays holding whole numbers are accepted, as Keras casts them."""
    if y.is_floating_point() and y.numel() and not bool(torch.all(y == torch.round(y))):
        raise DataError(f"Loss '{loss}' needs integer class labels, but y holds non-integer values. {hint}")
    return y.long()


class Loss(Configurable):
    """A loss: ``loss(y_true, y_pred, sample_weight=None) -> scalar``.

    Args:
        name: Name used in logs.
        reduction: ``"sum_over_batch_size"`` (mean over all values, the default), ``"sum"``,
            ``"mean"`` (same as the default), ``"mean_with_sample_weight"`` (the weighted sum divided by the
            sum of the sample weights) or ``"none"``.
    """

    def __init__(self, name: str | None = None, reduction: str | None = "sum_over_batch_size", dtype: Any = None) -> None:
        if reduction not in REDUCTIONS:
            raise ConfigError(f"Unknown reduction {reduction!r}. Use one of: {', '.join(map(str, REDUCTIONS))}.")
        self.name = name or _default_name(type(self))
        self.reduction = reduction

    # A fused torch call giving the mean of ``call`` for same-shaped 2-D float inputs (the common
    # training case), one kernel instead of several; ``None`` where there is none.
    _mean_of: Callable[[Tensor, Tensor], Tensor] | None = None
    # Whether integer targets stay integers (class labels) when the loss is given lists or arrays.
    _integer_targets = False

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
        return self._reduce(self.call(y_true, y_pred), sample_weight)

    def _reduce(self, values: Tensor, sample_weight: Tensor | None) -> Tensor:
        """``values`` weighted by ``sample_weight`` (broadcast over trailing axes) and reduced."""
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
        if self.reduction == "mean_with_sample_weight" and sample_weight is not None:
            total, weight = values.sum(), sample_weight.sum()
            return torch.where(weight == 0, torch.zeros_like(total), total / weight)  # Keras's divide_no_nan
        return values.mean()

    def _tensors(self, y_true: Any, y_pred: Any, sample_weight: Any) -> tuple[Tensor, Tensor, Tensor | None]:
        """Lists and arrays given to a loss directly, as tensors (as Keras takes them)."""
        from nnkit.ops.core import convert_to_tensor, floating

        y_pred = floating(y_pred).to(float_dtype())  # a loss object computes in floatx, as Keras's do
        y_true = convert_to_tensor(y_true)
        if y_true.is_floating_point() or not self._integer_targets:
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
    """A Loss subclass around a per-sample function with no options, registered under the function's name."""

    def __init__(self, name: str | None = None, reduction: str | None = "sum_over_batch_size") -> None:
        LossFunctionWrapper.__init__(self, fn, name=name or fn.__name__, reduction=reduction)

    cls = type(class_name, (LossFunctionWrapper,), {
        "__init__": __init__, "__doc__": f"Loss object for :func:`{fn.__name__}`.", "__module__": fn.__module__,
    })
    LOSSES.add(fn.__name__, cls, (class_name, *aliases))
    return cls


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
