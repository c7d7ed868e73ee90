"""The metric protocol: state on the model's device; ``result()`` returns a float32 tensor, as Keras does on
the torch backend, and the training loop turns results into Python floats once per epoch
(:func:`result_entries`)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor

from nnkit.registry import Registry, snake_case

METRICS: Registry[Callable[[], Metric]] = Registry("metric")


def accumulator_dtype(device: torch.device) -> torch.dtype:
    """float64 sums where the device has them (exact counts past 2**24 samples), else float32."""
    return torch.float32 if device.type == "mps" else torch.float64


class Metric:
    """A streaming metric: ``reset_state()``, ``update_state(y_true, y_pred, sample_weight)``,
    ``result()``.

    State tensors are created lazily on the device of the first batch, so updates never copy to the
    host. Calling a metric updates it and returns the running result, as in Keras.

    During ``fit`` the same object serves the training and validation passes (``reset_state()`` between
    them) and ``update_state`` receives concatenated chunks of many batches: ``y_pred`` are the model's
    outputs (probabilities when the model ends in softmax/sigmoid) and ``y_true`` the targets as the loss
    prepared them. A custom metric subclasses this class, or is a plain function
    ``fn(y_true, y_pred) -> per-sample values`` (see :class:`MeanMetricWrapper`).

    Args:
        name: Name shown in logs and History (default: the class name in snake_case).
        dtype: Accepted for Keras compatibility.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "update_state" in cls.__dict__:
            cls.update_state = _takes_arrays(cls.__dict__["update_state"])

    def __init__(self, name: str | None = None, dtype: Any = None) -> None:
        self.name = name or snake_case(type(self).__name__)
        self.dtype = dtype or "float32"

    def add_variable(self, shape: Any = (), initializer: Any = "zeros", dtype: Any = None, aggregation: str = "sum",
                     name: str | None = None) -> MetricVariable:
        """A state variable for a custom metric (Keras's API): a tensor with ``assign``/``assign_add``, put back
        to its initial value by the default :meth:`reset_state`."""
        from nnkit import initializers
        from nnkit.ops.core import dtype_of

        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        fill = initializers.get(initializer)
        variable = MetricVariable(fill(torch.empty(shape, dtype=dtype_of(dtype or self.dtype))))
        self.__dict__.setdefault("_variables", []).append((variable, fill))
        return variable

    add_weight = add_variable

    @property
    def variables(self) -> list[MetricVariable]:
        """The state variables made with :meth:`add_variable`."""
        return [v for v, _ in self.__dict__.get("_variables", [])]

    def reset_state(self) -> None:
        """Forget all accumulated values (by default: every :meth:`add_variable` back to its initial value)."""
        variables = self.__dict__.get("_variables")
        if variables is None:
            raise NotImplementedError(f"{type(self).__name__} must define reset_state() or keep its state in "
                                      "variables made with self.add_variable(...).")
        with torch.no_grad():
            for variable, fill in variables:
                fill(variable)

    def update_state(self, y_true: Tensor, y_pred: Tensor, sample_weight: Tensor | None = None) -> None:
        """Accumulate one batch."""
        raise NotImplementedError

    def result(self) -> Tensor | dict[str, float]:
        """The metric value for everything accumulated since the last reset.

        Built-in metrics return a float32 tensor, as Keras does on the torch backend: a scalar, or a vector
        (one value per class or threshold) logged as ``name_0``, ``name_1``, ... A ``dict`` is merged into
        the logs key by key; a Python number is logged as it is.
        """
        raise NotImplementedError

    def check_compatible(self, output_shape: tuple[int, ...], integer_labels: bool) -> None:
        """Raise a :class:`~nnkit.errors.ConfigError` now if this metric cannot work with the model.

        Called when ``fit``/``evaluate`` resolve the metrics, so a mismatch surfaces before training
        rather than at the first epoch's end. The default accepts everything.

        Args:
            output_shape: The model output shape without the batch axis.
            integer_labels: Whether the targets are integer class labels (one per output row).
        """

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Tensor | dict[str, float]:
        self.update_state(*(torch.as_tensor(v) if v is not None else None for v in (y_true, y_pred, sample_weight)))
        return self.result()

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments of this metric."""
        return {"name": self.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Metric:
        """Rebuild a metric from :meth:`get_config` output."""
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _takes_arrays(update_state: Any) -> Any:
    """``update_state`` accepting Python lists and NumPy arrays, as Keras's metrics do (labels keep their
    integer dtype; sample weights become float32). Tensors pass through untouched."""

    @functools.wraps(update_state)
    def update(self: Metric, *args: Any, **kwargs: Any) -> Any:
        if all(map(_ready, args)) and all(map(_ready, kwargs.values())):
            return update_state(self, *args, **kwargs)
        from nnkit.ops.core import convert_to_tensor

        args = tuple(a if _ready(a) else convert_to_tensor(a) for a in args)
        kwargs = {k: v if _ready(v) else convert_to_tensor(v, "float32" if k == "sample_weight" else None)
                  for k, v in kwargs.items()}
        return update_state(self, *args, **kwargs)

    return update


def _ready(value: Any) -> bool:
    """Whether a metric argument needs no conversion: a tensor, ``None``, or a tuple of them (several outputs)."""
    return value is None or isinstance(value, Tensor) or (
        isinstance(value, tuple) and all(v is None or isinstance(v, Tensor) for v in value))


class MetricVariable(torch.Tensor):
    """A metric's state tensor with Keras's variable methods (``assign``, ``assign_add``, ``value``)."""

    def __new__(cls, data: Tensor) -> MetricVariable:
        return torch.Tensor._make_subclass(cls, data.detach(), False)

    def assign(self, value: Any) -> MetricVariable:
        """Set the value in place (shape kept)."""
        with torch.no_grad():
            self.copy_(torch.as_tensor(value, dtype=self.dtype, device=self.device).detach())
        return self

    def assign_add(self, value: Any) -> MetricVariable:
        return self.assign(self + torch.as_tensor(value))

    def assign_sub(self, value: Any) -> MetricVariable:
        return self.assign(self - torch.as_tensor(value))

    @property
    def value(self) -> Tensor:
        """The current value as a plain tensor."""
        return self.as_subclass(Tensor).clone()


class Mean(Metric):
    """The (weighted) mean of every value passed to ``update_state(values, sample_weight)``."""

    def __init__(self, name: str | None = "mean", dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)
        self.reset_state()

    def reset_state(self) -> None:
        self.total: Tensor | None = None
        self.count: Tensor | None = None

    def _accumulate(self, values: Tensor, sample_weight: Tensor | None) -> None:
        if self.total is None:
            dtype = accumulator_dtype(values.device)
            self.total = torch.zeros((), dtype=dtype, device=values.device)
            self.count = torch.zeros((), dtype=dtype, device=values.device)
        values = values.to(self.total.dtype)
        if sample_weight is None:
            self.total += values.sum()
            self.count += values.numel()
            return
        weight = sample_weight.to(self.total.dtype)
        while weight.ndim > values.ndim and weight.shape[-1] == 1:
            weight = weight.squeeze(-1)
        weight = torch.broadcast_to(weight.reshape(weight.shape + (1,) * (values.ndim - weight.ndim)), values.shape)
        self.total += (values * weight).sum()
        self.count += weight.sum()

    def update_state(self, values: Tensor, sample_weight: Tensor | None = None) -> None:  # type: ignore[override]
        values = values.detach() if isinstance(values, Tensor) else torch.as_tensor(values)  # a loss with its graph
        self._accumulate(values, sample_weight)

    def __call__(self, values: Any, sample_weight: Any = None) -> Tensor:  # type: ignore[override]
        self.update_state(torch.as_tensor(values), None if sample_weight is None else torch.as_tensor(sample_weight))
        return self.result()

    def result(self) -> Tensor:
        """The weighted mean so far, a float32 scalar tensor (0 when nothing, or only zero weight, was seen)."""
        if self.total is None:
            return torch.zeros((), dtype=torch.float32)
        count = torch.where(self.count == 0, torch.ones_like(self.count), self.count)
        return torch.where(self.count == 0, torch.zeros_like(self.total), self.total / count).to(torch.float32)


class MeanMetricWrapper(Mean):
    """Averages a per-sample function ``fn(y_true, y_pred, **kwargs)`` over all samples.

    Any plain function works, so ``metrics=[my_fn]`` in ``compile`` is a valid custom metric.
    """

    def __init__(self, fn: Callable[..., Tensor], name: str | None = None, dtype: Any = None, **kwargs: Any) -> None:
        super().__init__(name=name or getattr(fn, "__name__", "metric"), dtype=dtype)
        self.fn = fn
        self.fn_kwargs = kwargs

    def update_state(self, y_true: Tensor, y_pred: Tensor, sample_weight: Tensor | None = None) -> None:  # type: ignore[override]
        values = self.fn(y_true, y_pred, **self.fn_kwargs)
        values = values.detach() if isinstance(values, Tensor) else torch.as_tensor(values)  # a loss with its graph
        self._accumulate(values, sample_weight)

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Tensor:  # type: ignore[override]
        return Metric.__call__(self, y_true, y_pred, sample_weight)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, **self.fn_kwargs}


def result_entries(name: str, value: Any) -> dict[str, Any]:
    """A metric's result as log entries: ``{name: value}`` for a scalar, ``{name_0: v0, name_1: v1, ...}``
    (Python floats, one host read) for a vector, a dict as it is.

    Keras's History holds a NumPy array for a vector result; nnkit logs one float per entry instead, so
    History, CSVLogger, EarlyStopping and checkpoint file names can use each of them.
    """
    if isinstance(value, dict):
        return value
    if isinstance(value, (Tensor, np.ndarray)) and value.ndim > 0:
        flat = value.detach().cpu().reshape(-1) if isinstance(value, Tensor) else value.reshape(-1)
        return {f"{name}_{i}": float(v) for i, v in enumerate(flat.tolist())}
    return {name: value}
