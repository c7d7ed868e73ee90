"""Activation layers with arguments: ReLU, LeakyReLU, PReLU, ELU, Softmax.

For a plain activation by name use ``Activation('relu')`` or a layer's ``activation=`` argument.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from nnkit import config, constraints, initializers
from nnkit.errors import ConfigError
from nnkit.layers.axes import resolve_axes
from nnkit.layers.base import LAYERS, Layer, Shape, regularizer_terms


def _non_negative(value: Any, name: str, layer: str, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ConfigError(f"{layer} expects `{name}` to be a number >= 0. Received: {name}={value!r}.")
    return float(value)


class KerasReLU(nn.Module):
    """Keras's general ReLU: ``x`` above ``threshold`` (capped at ``max_value``), else
    ``negative_slope * (x - threshold)``."""

    def __init__(self, max_value: float | None = None, negative_slope: float = 0.0, threshold: float = 0.0) -> None:
        super().__init__()
        self.max_value, self.negative_slope, self.threshold = max_value, negative_slope, threshold

    def forward(self, x: Tensor) -> Tensor:
        out = torch.where(x > self.threshold, x, torch.zeros((), dtype=x.dtype, device=x.device))
        if self.max_value is not None:
            out = torch.clamp(out, max=self.max_value)
        if self.negative_slope:
            out = out - self.negative_slope * F.relu(self.threshold - x)
        return out

    def extra_repr(self) -> str:
        return f"max_value={self.max_value}, negative_slope={self.negative_slope}, threshold={self.threshold}"


@LAYERS.register("re_lu", aliases=("relu",))
class ReLU(Layer):
    """Rectified linear unit with Keras's options.

    ``f(x) = min(x, max_value)`` for ``x > threshold``, else ``negative_slope * (x - threshold)``.

    Args:
        max_value: Cap on the output; ``None`` for no cap.
        negative_slope: Slope below the threshold, ``>= 0``.
        threshold: Inputs at or below it are damped, ``>= 0``.
    """

    layout = "any"

    def __init__(self, max_value: float | None = None, negative_slope: float = 0.0, threshold: float = 0.0,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_value = _non_negative(max_value, "max_value", "ReLU", allow_none=True)
        self.negative_slope = _non_negative(negative_slope, "negative_slope", "ReLU")
        self.threshold = _non_negative(threshold, "threshold", "ReLU")

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        # Plain torch modules where one fits: they are faster and familiar to torch tools.
        if self.threshold == 0 and self.negative_slope == 0:
            if self.max_value is None:
                return nn.ReLU(), input_shape
            if self.max_value == 6:
                return nn.ReLU6(), input_shape
        if self.threshold == 0 and self.max_value is None:
            return nn.LeakyReLU(self.negative_slope), input_shape
        return KerasReLU(self.max_value, self.negative_slope, self.threshold), input_shape


@LAYERS.register("leaky_re_lu", aliases=("leaky_relu", "leakyrelu"))
class LeakyReLU(Layer):
    """``x`` for ``x >= 0``, else ``negative_slope * x``; Keras's layer default slope is 0.3.

    Args:
        negative_slope: Slope for negative inputs, ``>= 0``. ``alpha`` is the legacy spelling.
    """

    layout = "any"

    def __init__(self, negative_slope: float = 0.3, **kwargs: Any) -> None:
        if "alpha" in kwargs:  # Keras 2 spelling
            negative_slope = kwargs.pop("alpha")
            self._config = {"negative_slope": negative_slope, **kwargs}
        super().__init__(**kwargs)
        self.negative_slope = _non_negative(negative_slope, "negative_slope", "LeakyReLU")

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        return nn.LeakyReLU(self.negative_slope), input_shape


class ParametricReLU(nn.Module):
    """``relu(x) - alpha * relu(-x)`` with a learned ``alpha`` broadcast against each sample."""

    def __init__(self, alpha_shape: Shape) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.zeros(alpha_shape, dtype=config.float_dtype()))

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x) - self.alpha * F.relu(-x)

    def extra_repr(self) -> str:
        return f"alpha_shape={tuple(self.alpha.shape)}"


@LAYERS.register("p_re_lu", aliases=("prelu",))
class PReLU(Layer):
    """Leaky ReLU whose negative slope ``alpha`` is learned, one per input value unless shared.

    Args:
        alpha_initializer: Initial slopes (Keras default ``'zeros'``).
        alpha_regularizer: Penalty on ``alpha`` added to the loss.
        alpha_constraint: Projection of ``alpha`` after every optimizer step.
        shared_axes: Axes (batch axis counted) sharing one slope, e.g. ``[1, 2]`` for one slope per
            channel of ``(batch, height, width, channels)`` images.
    """

    def __init__(self, alpha_initializer: Any = "zeros", alpha_regularizer: Any = None, alpha_constraint: Any = None,
                 shared_axes: int | list[int] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = alpha_regularizer
        regularizer_terms([(torch.empty(0), alpha_regularizer)])
        self.alpha_constraint = constraints.get(alpha_constraint)
        shared = [shared_axes] if isinstance(shared_axes, int) else shared_axes
        if shared is not None and (not isinstance(shared, (list, tuple)) or any(
                isinstance(a, bool) or not isinstance(a, int) or a < 1 for a in shared)):
            raise ConfigError(
                "PReLU expects `shared_axes` to be positive axes (the batch axis 0 is always shared), e.g. [1, 2]. "
                f"Received: shared_axes={shared_axes!r}."
            )
        self.shared_axes = None if shared is None else tuple(shared)

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        shape = list(input_shape)
        for axis in self.shared_axes or ():
            if axis > len(shape):
                raise ConfigError(
                    f"PReLU layer '{self.name}' got shared_axes={list(self.shared_axes)} but its inputs "
                    f"{(None, *input_shape)} only have axes 1..{len(shape)}."
                )
            shape[axis - 1] = 1
        module = ParametricReLU(tuple(shape))
        self.alpha_initializer(module.alpha)
        return module, input_shape

    def regularization_terms(self) -> list[tuple[Tensor, Any]]:
        return regularizer_terms([(self.module.alpha, self.alpha_regularizer)])

    def constraint_terms(self) -> list[tuple[Tensor, Any]]:
        return constraints.constraint_terms([(self.module.alpha, self.alpha_constraint)])


@LAYERS.register("elu")
class ELU(Layer):
    """``x`` for ``x > 0``, else ``alpha * (exp(x) - 1)``.

    Args:
        alpha: Scale of the negative part (default 1).
    """

    layout = "any"

    def __init__(self, alpha: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)):
            raise ConfigError(f"ELU expects `alpha` to be a number. Received: alpha={alpha!r}.")
        self.alpha = float(alpha)

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        return nn.ELU(self.alpha), input_shape


class SoftmaxOver(nn.Module):
    """Softmax over several axes at once: ``exp(x - logsumexp(x, axes))``."""

    def __init__(self, axes: tuple[int, ...]) -> None:
        super().__init__()
        self.axes = axes

    def forward(self, x: Tensor) -> Tensor:
        return torch.exp(x - torch.logsumexp(x, dim=self.axes, keepdim=True))

    def extra_repr(self) -> str:
        return f"axes={self.axes}"


@LAYERS.register("softmax")
class Softmax(Layer):
    """Softmax over ``axis`` (batch axis counted; ``-1`` by default) or a list of axes.

    As the last layer before a cross-entropy loss it is trained on its logits, like
    ``Dense(..., activation='softmax')``.
    """

    def __init__(self, axis: int | list[int] = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = axis

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        if not input_shape and type(self.axis) is int and self.axis in (-1, 0):
            return nn.Softmax(dim=-1), input_shape  # a 1-D array: Keras's softmax runs over its only axis
        axes = resolve_axes(self.axis, input_shape, f"Softmax layer '{self.name}'")
        if len(axes) == 1:
            rank = len(input_shape) + 1
            return nn.Softmax(dim=-1 if axes[0] == rank - 1 else axes[0]), input_shape
        return SoftmaxOver(axes), input_shape
