"""Normalization layers: BatchNormalization, LayerNormalization, GroupNormalization, UnitNormalization.

Axes are counted as in Keras, batch axis included: ``axis=-1`` is the features (channels-last) axis.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from nnkit import config, constraints, initializers
from nnkit.errors import ConfigError
from nnkit.layers.axes import axes_layout, resolve_axes
from nnkit.layers.base import LAYERS, Layer, Shape, regularizer_terms


def _number(value: Any, name: str, layer: str, low: float = 0.0, high: float | None = None) -> float:
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and value >= low
    if ok and high is not None:
        ok = value <= high
    if not ok:
        bounds = f"in [{low:g}, {high:g}]" if high is not None else f">= {low:g}"
        raise ConfigError(f"{layer} expects `{name}` to be a number {bounds}. Received: {name}={value!r}.")
    return float(value)


class _AffineNorm(Layer):
    """Shared handling of the learned scale ``gamma`` (torch ``weight``) and offset ``beta`` (``bias``)."""

    def _set_affine(self, center: bool, scale: bool, beta_initializer: Any, gamma_initializer: Any,
                    beta_regularizer: Any, gamma_regularizer: Any, beta_constraint: Any, gamma_constraint: Any) -> None:
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer, self.gamma_regularizer = beta_regularizer, gamma_regularizer
        regularizer_terms([(torch.empty(0), beta_regularizer), (torch.empty(0), gamma_regularizer)])
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)

    @property
    def gamma(self) -> nn.Parameter | None:
        """The learned scale, as Keras names it (torch's ``weight``); ``None`` with ``scale=False``."""
        return self._affine_part("weight")

    @property
    def beta(self) -> nn.Parameter | None:
        """The learned offset, as Keras names it (torch's ``bias``); ``None`` with ``center=False``."""
        return self._affine_part("bias")

    def _affine_part(self, name: str) -> nn.Parameter | None:
        if self.module is None:  # as in Keras, an AttributeError (so hasattr() says False) until built
            raise AttributeError(f"Layer '{self.name}' is not built yet, so it has no gamma or beta: call it on "
                                 "data or build it with layer.build(input_shape) first.")
        return getattr(self.module, name)

    def _add_affine(self, module: nn.Module, shape: Shape) -> None:
        """Give ``module`` its ``weight`` (gamma) and ``bias`` (beta), ``None`` when disabled."""
        dtype = config.float_dtype()
        module.weight = nn.Parameter(self.gamma_initializer(torch.empty(shape, dtype=dtype))) if self.scale else None
        module.bias = nn.Parameter(self.beta_initializer(torch.empty(shape, dtype=dtype))) if self.center else None

    def regularization_terms(self) -> list[tuple[Tensor, Any]]:
        pairs = [(self.module.weight, self.gamma_regularizer), (self.module.bias, self.beta_regularizer)]
        return regularizer_terms([(t, r) for t, r in pairs if t is not None])

    def constraint_terms(self) -> list[tuple[Tensor, Any]]:
        return constraints.constraint_terms([(self.module.weight, self.gamma_constraint),
                                             (self.module.bias, self.beta_constraint)])


# -- BatchNormalization ------------------------------------------------------------------------------------
class BatchNorm(nn.Module):
    """Batch normalization with Keras's statistics, on channels at ``axis`` (1 unless told otherwise).

    Training normalizes with the batch mean and biased variance and updates
    ``running = momentum * running + (1 - momentum) * batch`` with the *biased* variance, as Keras
    does (``torch.nn.BatchNorm*`` stores the unbiased one). Inference, and training while ``frozen``
    (Keras's ``trainable=False``), normalizes with the running statistics and leaves them alone.
    """

    def __init__(self, num_features: int, momentum: float = 0.99, eps: float = 1e-3, axis: int = 1) -> None:
        super().__init__()
        dtype = config.float_dtype()
        self.register_parameter("weight", None)  # gamma and beta, set by the layer spec
        self.register_parameter("bias", None)
        self.register_buffer("running_mean", torch.zeros(num_features, dtype=dtype))
        self.register_buffer("running_var", torch.ones(num_features, dtype=dtype))
        self.num_features, self.momentum, self.eps, self.axis = num_features, momentum, eps, axis
        self.frozen = False

    def forward(self, x: Tensor) -> Tensor:
        if self.axis == 1:
            return self._normalize(x)
        return self._normalize(x.movedim(self.axis, 1)).movedim(1, self.axis)

    def _normalize(self, x: Tensor) -> Tensor:
        if not self.training or self.frozen:
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps)
        count = x.numel() // max(1, x.shape[1])
        if count > 1:
            # torch's fused kernel computes the batch statistics anyway: with momentum 1 it stores them in
            # these scratch buffers (the variance unbiased), which costs nothing beyond the normalization.
            mean = torch.zeros_like(self.running_mean)
            var = torch.zeros_like(self.running_var)
            out = F.batch_norm(x, mean, var, self.weight, self.bias, True, 1.0, self.eps)
            var = var * ((count - 1) / count)
        else:  # one value per channel: torch refuses it, Keras normalizes it to `beta`
            out = (x - x.mean(dim=0, keepdim=True)) * (1.0 / math.sqrt(self.eps))
            shape = (1, -1, *([1] * (x.ndim - 2)))
            if self.weight is not None:
                out = out * self.weight.view(shape)
            if self.bias is not None:
                out = out + self.bias.view(shape)
            mean, var = x.reshape(-1), torch.zeros_like(self.running_var)
        with torch.no_grad():
            self.running_mean.lerp_(mean.detach(), 1.0 - self.momentum)
            self.running_var.lerp_(var.detach(), 1.0 - self.momentum)
        return out

    def extra_repr(self) -> str:
        axis = "" if self.axis == 1 else f", axis={self.axis}"
        return (f"{self.num_features}, momentum={self.momentum}, eps={self.eps}, scale={self.weight is not None}, "
                f"center={self.bias is not None}{axis}, frozen={self.frozen}")


@LAYERS.register("batch_normalization", aliases=("batchnorm", "batch_norm"))
class BatchNormalization(_AffineNorm):
    """Normalizes each feature (channel) with batch statistics in training and moving averages otherwise.

    Keras semantics: ``moving = momentum * moving + (1 - momentum) * batch`` (so ``momentum=0.99``
    is torch's ``momentum=0.01``), biased batch variance, ``epsilon=1e-3``. A layer with
    ``trainable=False`` runs in inference mode even during ``fit``, as in Keras 3.

    Args:
        axis: The features axis (batch axis counted): ``-1`` for ``(batch, features)`` and channels-last
            images, ``1`` for channels-first images.
        momentum: Weight of the old value in the moving averages, in ``[0, 1]``.
        epsilon: Added to the variance before the square root.
        center: Whether to learn an offset ``beta``.
        scale: Whether to learn a scale ``gamma``.
        beta_initializer, gamma_initializer, moving_mean_initializer, moving_variance_initializer:
            Initial values (Keras defaults ``zeros``, ``ones``, ``zeros``, ``ones``).
        beta_regularizer, gamma_regularizer: Penalties added to the loss.
        beta_constraint, gamma_constraint: Projections applied after every optimizer step.
        renorm, renorm_clipping, renorm_momentum, synchronized: Only the defaults are supported.

    Example:
        >>> Sequential([Dense(64, input_dim=20), BatchNormalization(), Activation("relu")])  # doctest: +SKIP
    """

    def __init__(self, axis: int = -1, momentum: float = 0.99, epsilon: float = 1e-3, center: bool = True,
                 scale: bool = True, beta_initializer: Any = "zeros", gamma_initializer: Any = "ones",
                 moving_mean_initializer: Any = "zeros", moving_variance_initializer: Any = "ones",
                 beta_regularizer: Any = None, gamma_regularizer: Any = None, beta_constraint: Any = None,
                 gamma_constraint: Any = None, renorm: bool = False, renorm_clipping: Any = None,
                 renorm_momentum: float = 0.99, synchronized: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if renorm:
            raise ConfigError("BatchNormalization(renorm=True) is not supported; use the default renorm=False.")
        if synchronized:
            raise ConfigError(
                "BatchNormalization(synchronized=True) is not supported (Keras does not support it on torch "
                "either); use torch.nn.SyncBatchNorm through TorchModule for multi-process training."
            )
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise ConfigError(f"BatchNormalization expects `axis` to be an int. Received: axis={axis!r}.")
        self.axis = axis
        self.momentum = _number(momentum, "momentum", "BatchNormalization", 0.0, 1.0)
        self.epsilon = _number(epsilon, "epsilon", "BatchNormalization")
        self._set_affine(center, scale, beta_initializer, gamma_initializer, beta_regularizer, gamma_regularizer,
                         beta_constraint, gamma_constraint)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        (axis,) = resolve_axes(self.axis, input_shape, f"BatchNormalization layer '{self.name}'", allow_list=False)
        rank = len(input_shape) + 1
        # Channels-last images: let the model hand over channels at axis 1, torch's layout, so a convnet
        # pays no axis moves around its normalization layers.
        self.layout = "torch" if axis == rank - 1 and rank >= 3 else "keras"
        module = BatchNorm(input_shape[axis - 1], self.momentum, self.epsilon,
                           axis=1 if self.layout == "torch" or axis == 1 else axis)
        self._add_affine(module, (input_shape[axis - 1],))
        with torch.no_grad():
            self.moving_mean_initializer(module.running_mean)
            self.moving_variance_initializer(module.running_var)
        return module, input_shape

    @property
    def trainable(self) -> bool:
        """Whether training updates this layer; ``False`` also makes it normalize with its moving statistics."""
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        Layer.trainable.fset(self, value)  # type: ignore[attr-defined]
        if self.module is not None:
            self.module.frozen = not self._trainable


# -- LayerNormalization, GroupNormalization, UnitNormalization ---------------------------------------------------
class LayerNorm(nn.Module):
    """Normalizes each sample over ``axes`` with its own mean and variance (torch's ``layer_norm``
    when those are the trailing axes)."""

    def __init__(self, sizes: Shape, axes: tuple[int, ...], rank: int, eps: float) -> None:
        super().__init__()
        self.register_parameter("weight", None)  # gamma and beta, set by the layer spec
        self.register_parameter("bias", None)
        self.sizes, self.axes, self.eps = tuple(sizes), axes, eps
        self.trailing, self.broadcast = axes_layout(axes, sizes, rank)

    def forward(self, x: Tensor) -> Tensor:
        if self.trailing:
            return F.layer_norm(x, self.sizes, self.weight, self.bias, self.eps)
        var, mean = torch.var_mean(x, dim=self.axes, correction=0, keepdim=True)
        out = (x - mean) * torch.rsqrt(var + self.eps)
        if self.weight is not None:
            out = out * self.weight.view(self.broadcast)
        if self.bias is not None:
            out = out + self.bias.view(self.broadcast)
        return out

    def extra_repr(self) -> str:
        return f"axes={self.axes}, eps={self.eps}"


@LAYERS.register("layer_normalization", aliases=("layernorm", "layer_norm"))
class LayerNormalization(_AffineNorm):
    """Normalizes each sample over ``axis`` with the sample's own mean and variance.

    Args:
        axis: Axis or list of axes to normalize over (batch axis counted); ``-1`` by default.
        epsilon: Added to the variance before the square root (Keras default ``1e-3``).
        center, scale, beta_*, gamma_*: As in :class:`BatchNormalization`.
    """

    def __init__(self, axis: int | list[int] = -1, epsilon: float = 1e-3, center: bool = True, scale: bool = True,
                 beta_initializer: Any = "zeros", gamma_initializer: Any = "ones", beta_regularizer: Any = None,
                 gamma_regularizer: Any = None, beta_constraint: Any = None, gamma_constraint: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = axis
        self.epsilon = _number(epsilon, "epsilon", "LayerNormalization")
        self._set_affine(center, scale, beta_initializer, gamma_initializer, beta_regularizer, gamma_regularizer,
                         beta_constraint, gamma_constraint)

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        axes = resolve_axes(self.axis, input_shape, f"LayerNormalization layer '{self.name}'")
        sizes = tuple(input_shape[a - 1] for a in axes)
        module = LayerNorm(sizes, axes, len(input_shape) + 1, self.epsilon)
        self._add_affine(module, sizes)
        return module, input_shape


class GroupNorm(nn.Module):
    """torch's ``group_norm`` on channels at ``axis`` (moved to 1 and back when elsewhere)."""

    def __init__(self, groups: int, channels: int, eps: float, axis: int = 1) -> None:
        super().__init__()
        self.register_parameter("weight", None)  # gamma and beta, set by the layer spec
        self.register_parameter("bias", None)
        self.groups, self.channels, self.eps, self.axis = groups, channels, eps, axis

    def forward(self, x: Tensor) -> Tensor:
        if self.axis != 1:
            return self._norm(x.movedim(self.axis, 1)).movedim(1, self.axis)
        return self._norm(x)

    def _norm(self, x: Tensor) -> Tensor:
        return F.group_norm(x, self.groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"groups={self.groups}, channels={self.channels}, eps={self.eps}"


@LAYERS.register("group_normalization", aliases=("groupnorm", "group_norm"))
class GroupNormalization(_AffineNorm):
    """Splits the channels into ``groups`` and normalizes each group of each sample.

    Args:
        groups: Number of groups; must divide the number of channels. ``-1`` means one group per
            channel (instance normalization).
        axis: The channels axis (batch axis counted); ``-1`` by default.
        epsilon: Added to the variance before the square root (Keras default ``1e-3``).
        center, scale, beta_*, gamma_*: As in :class:`BatchNormalization`.
    """

    def __init__(self, groups: int = 32, axis: int = -1, epsilon: float = 1e-3, center: bool = True,
                 scale: bool = True, beta_initializer: Any = "zeros", gamma_initializer: Any = "ones",
                 beta_regularizer: Any = None, gamma_regularizer: Any = None, beta_constraint: Any = None,
                 gamma_constraint: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(groups, bool) or not isinstance(groups, int) or (groups < 1 and groups != -1):
            raise ConfigError(
                f"GroupNormalization expects `groups` to be a positive int (or -1 for one group per channel). "
                f"Received: groups={groups!r}."
            )
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise ConfigError(f"GroupNormalization expects `axis` to be an int. Received: axis={axis!r}.")
        self.groups, self.axis = groups, axis
        self.epsilon = _number(epsilon, "epsilon", "GroupNormalization")
        self._set_affine(center, scale, beta_initializer, gamma_initializer, beta_regularizer, gamma_regularizer,
                         beta_constraint, gamma_constraint)

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        where = f"GroupNormalization layer '{self.name}'"
        (axis,) = resolve_axes(self.axis, input_shape, where, allow_list=False)
        channels = input_shape[axis - 1]
        groups = channels if self.groups == -1 else self.groups
        if groups > channels or channels % groups:
            raise ConfigError(
                f"{where} cannot split {channels} channels (axis {self.axis} of inputs {(None, *input_shape)}) "
                f"into groups={self.groups}: the number of groups must divide the number of channels."
            )
        rank = len(input_shape) + 1
        self.layout = "torch" if axis == rank - 1 and rank >= 3 else "keras"
        module = GroupNorm(groups, channels, self.epsilon, axis=1 if self.layout == "torch" else axis)
        self._add_affine(module, (channels,))
        return module, input_shape


class UnitNorm(nn.Module):
    """Scales each vector along ``axes`` to unit L2 norm (zero vectors stay zero)."""

    def __init__(self, axes: tuple[int, ...]) -> None:
        super().__init__()
        self.axes = axes

    def forward(self, x: Tensor) -> Tensor:
        # Keras's formula: x * min(1 / ||x||, 1e12), so an all-zero vector maps to zeros, not NaN.
        inverse = torch.rsqrt(torch.sum(torch.square(x), dim=self.axes, keepdim=True))
        return x * torch.clamp(inverse, max=1e12)

    def extra_repr(self) -> str:
        return f"axes={self.axes}"


@LAYERS.register("unit_normalization", aliases=("unitnorm",))
class UnitNormalization(Layer):
    """Scales each sample's vectors along ``axis`` to unit L2 norm.

    Args:
        axis: Axis or list of axes (batch axis counted); ``-1`` by default.
    """

    def __init__(self, axis: int | list[int] = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = axis

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        return UnitNorm(resolve_axes(self.axis, input_shape, f"UnitNormalization layer '{self.name}'")), input_shape
