"""Depthwise and depthwise-separable convolutions: DepthwiseConv1D/2D, SeparableConv1D/2D.

A depthwise convolution filters each input channel on its own (``depth_multiplier`` filters per
channel): torch's ``Conv{1,2}d`` with ``groups=channels``. A separable convolution follows it with a
1x1 "pointwise" convolution mixing the channels. Weights are exchanged in Keras layout: the depthwise
kernel is ``(*kernel_size, channels, depth_multiplier)``, the pointwise kernel
``(*[1] * rank, channels * depth_multiplier, filters)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from nnkit import activations, config, constraints, initializers
from nnkit.layers.base import LAYERS, Shape, regularizer_terms
from nnkit.layers.convolutional import (
    CONV_MODULES,
    keras_kernel_dims,
    kernel_from_keras,
    kernel_to_keras,
)
from nnkit.layers.spatial import (
    SpatialLayer,
    activation_module,
    assemble,
    check_strides_dilation,
    int_tuple,
    is_symmetric,
    keras_names,
    pad_module,
    padding_mode,
    positive_int,
    window_padding,
)


def depthwise_to_keras(array: np.ndarray, rank: int, multiplier: int) -> np.ndarray:
    """A torch depthwise kernel ``(channels * multiplier, 1, *k)`` as Keras's ``(*k, channels, multiplier)``."""
    kernel = array.reshape(-1, multiplier, *array.shape[2:])
    return np.transpose(kernel, (*range(2, 2 + rank), 0, 1))


def depthwise_from_keras(array: np.ndarray, rank: int) -> np.ndarray:
    """A Keras depthwise kernel ``(*k, channels, multiplier)`` in torch layout ``(channels * multiplier, 1, *k)``."""
    kernel = np.transpose(array, (rank, rank + 1, *range(rank)))
    return np.ascontiguousarray(kernel.reshape(-1, 1, *kernel.shape[2:]))


class DepthwiseKernelView(constraints.Constraint):
    """Applies a Keras-layout constraint to a torch depthwise kernel (a reshape, not only a permutation)."""

    def __init__(self, constraint: constraints.Constraint, rank: int, multiplier: int) -> None:
        self.constraint, self.rank, self.multiplier = constraint, rank, multiplier

    def __call__(self, weight: Tensor) -> Tensor:
        spatial = tuple(weight.shape[2:])
        keras = weight.reshape(-1, self.multiplier, *spatial).permute(*range(2, 2 + self.rank), 0, 1)
        projected = self.constraint(keras).permute(self.rank, self.rank + 1, *range(self.rank))
        return projected.reshape(weight.shape)


def init_depthwise(initializer: Any, weight: Tensor, multiplier: int) -> None:
    """Initialize a torch depthwise kernel with Keras's fans (``fan_in = k * channels``,
    ``fan_out = k * multiplier``), which the torch shape ``(channels * multiplier, 1, *k)`` would not give."""
    channels = weight.shape[0] // multiplier
    scratch = torch.empty(multiplier, channels, *weight.shape[2:], dtype=weight.dtype, device=weight.device)
    initializer(scratch)
    with torch.no_grad():
        weight.copy_(scratch.transpose(0, 1).reshape(weight.shape))


class DepthwiseBase(SpatialLayer):
    """Shared arguments of the depthwise and separable convolutions."""

    def _common(self, kernel_size: Any, strides: Any, padding: str, data_format: str | None, dilation_rate: Any,
                depth_multiplier: int, activation: Any, use_bias: bool) -> None:
        layer = type(self).__name__
        self.kernel_size = int_tuple(kernel_size, self.rank, "kernel_size", layer)
        self.strides = int_tuple(strides, self.rank, "strides", layer)
        self.padding = padding_mode(padding, layer)
        self._set_data_format(data_format)
        self.dilation_rate = int_tuple(dilation_rate, self.rank, "dilation_rate", layer)
        self.depth_multiplier = positive_int(depth_multiplier, "depth_multiplier", layer)
        check_strides_dilation(self.strides, self.dilation_rate, layer)
        activations.get(activation)
        self.activation = activation
        self.use_bias = bool(use_bias)

    def _depthwise(self, input_shape: Shape, bias: bool, initializer: Any) -> tuple[list, nn.Module, tuple[int, ...]]:
        """``(parts before it, depthwise conv, output spatial sizes)`` for inputs of ``input_shape``."""
        channels, spatial = self._split(input_shape)
        pads, sizes = window_padding(self._label, self.padding, spatial, self.kernel_size, self.strides,
                                     self.dilation_rate)
        symmetric = is_symmetric(pads)
        conv = CONV_MODULES[self.rank](
            channels, channels * self.depth_multiplier, self.kernel_size, stride=self.strides,
            padding=tuple(p[0] for p in pads) if symmetric else 0, dilation=self.dilation_rate, groups=channels,
            bias=bias, dtype=config.float_dtype())
        init_depthwise(initializer, conv.weight, self.depth_multiplier)
        return [("pad", None if symmetric else pad_module(pads))], conv, sizes

    def _activation(self) -> tuple[str, nn.Module | None]:
        return "activation", activation_module(self.activation, self.layout == "torch")

    def _part(self, name: str) -> nn.Module:
        return self.module if isinstance(self.module, CONV_MODULES[self.rank]) else getattr(self.module, name)


class DepthwiseConv(DepthwiseBase):
    """Base of DepthwiseConv1D/2D: each input channel convolved with its own ``depth_multiplier`` filters.

    Args:
        kernel_size: Window size: an int or one int per spatial axis.
        strides: Step of the window.
        padding: ``'valid'`` or ``'same'`` (Keras/TensorFlow placement).
        depth_multiplier: Output channels per input channel.
        data_format: ``'channels_last'`` (default) or ``'channels_first'``; ``None`` uses the global setting.
        dilation_rate: Spacing between kernel elements (not together with strides > 1).
        activation: Activation name or callable; ``None`` means linear.
        use_bias: Whether to add a bias of ``channels * depth_multiplier`` values.
        depthwise_initializer, bias_initializer: Initializers (Keras defaults).
        depthwise_regularizer, bias_regularizer: Penalties added to the loss.
        depthwise_constraint, bias_constraint: Projections (Keras layout) after each optimizer step.
    """

    def __init__(self, kernel_size: int | tuple[int, ...], strides: int | tuple[int, ...] = 1,
                 padding: str = "valid", depth_multiplier: int = 1, data_format: str | None = None,
                 dilation_rate: int | tuple[int, ...] = 1, activation: Any = None, use_bias: bool = True,
                 depthwise_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 depthwise_regularizer: Any = None, bias_regularizer: Any = None, depthwise_constraint: Any = None,
                 bias_constraint: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._common(kernel_size, strides, padding, data_format, dilation_rate, depth_multiplier, activation,
                     use_bias)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.depthwise_regularizer, self.bias_regularizer = depthwise_regularizer, bias_regularizer
        regularizer_terms([(Tensor(), depthwise_regularizer), (Tensor(), bias_regularizer)])
        self.depthwise_constraint = constraints.get(depthwise_constraint)
        self.bias_constraint = constraints.get(bias_constraint)

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        parts, conv, sizes = self._depthwise(input_shape, self.use_bias, self.depthwise_initializer)
        if self.use_bias:
            self.bias_initializer(conv.bias)
        module = assemble([*parts, ("depthwise", conv), self._activation()])
        return module, self._join(conv.out_channels, sizes)

    def regularization_terms(self) -> list[tuple[Tensor, Any]]:
        conv = self._part("depthwise")
        return regularizer_terms([(conv.weight, self.depthwise_regularizer), (conv.bias, self.bias_regularizer)])

    def constraint_terms(self) -> list[tuple[Tensor, Any]]:
        conv = self._part("depthwise")
        kernel = (None if self.depthwise_constraint is None
                  else DepthwiseKernelView(self.depthwise_constraint, self.rank, self.depth_multiplier))
        return constraints.constraint_terms([(conv.weight, kernel), (conv.bias, self.bias_constraint)])

    def _to_keras(self, index: int, array: np.ndarray) -> np.ndarray:
        return depthwise_to_keras(array, self.rank, self.depth_multiplier) if index == 0 else array

    def _from_keras(self, index: int, array: np.ndarray) -> np.ndarray:
        return depthwise_from_keras(array, self.rank) if index == 0 and array.ndim == self.rank + 2 else array


class SeparableConv(DepthwiseBase):
    """Base of SeparableConv1D/2D: a depthwise convolution, then a 1x1 convolution to ``filters`` channels.

    Args:
        filters: Number of output channels.
        kernel_size, strides, padding, data_format, dilation_rate, depth_multiplier, activation, use_bias:
            As for :class:`DepthwiseConv2D`.
        depthwise_initializer, pointwise_initializer, bias_initializer: Initializers (Keras defaults).
        depthwise_regularizer, pointwise_regularizer, bias_regularizer: Penalties added to the loss.
        depthwise_constraint, pointwise_constraint, bias_constraint: Projections after each optimizer step.
    """

    def __init__(self, filters: int, kernel_size: int | tuple[int, ...], strides: int | tuple[int, ...] = 1,
                 padding: str = "valid", data_format: str | None = None, dilation_rate: int | tuple[int, ...] = 1,
                 depth_multiplier: int = 1, activation: Any = None, use_bias: bool = True,
                 depthwise_initializer: Any = "glorot_uniform", pointwise_initializer: Any = "glorot_uniform",
                 bias_initializer: Any = "zeros", depthwise_regularizer: Any = None,
                 pointwise_regularizer: Any = None, bias_regularizer: Any = None, depthwise_constraint: Any = None,
                 pointwise_constraint: Any = None, bias_constraint: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.filters = positive_int(filters, "filters", type(self).__name__)
        self._common(kernel_size, strides, padding, data_format, dilation_rate, depth_multiplier, activation,
                     use_bias)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.depthwise_regularizer = depthwise_regularizer
        self.pointwise_regularizer = pointwise_regularizer
        self.bias_regularizer = bias_regularizer
        regularizer_terms([(Tensor(), r) for r in (depthwise_regularizer, pointwise_regularizer, bias_regularizer)])
        self.depthwise_constraint = constraints.get(depthwise_constraint)
        self.pointwise_constraint = constraints.get(pointwise_constraint)
        self.bias_constraint = constraints.get(bias_constraint)

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        parts, depthwise, sizes = self._depthwise(input_shape, False, self.depthwise_initializer)
        pointwise = CONV_MODULES[self.rank](depthwise.out_channels, self.filters, 1, bias=self.use_bias,
                                            dtype=config.float_dtype())
        self.pointwise_initializer(pointwise.weight)
        if self.use_bias:
            self.bias_initializer(pointwise.bias)
        module = assemble([*parts, ("depthwise", depthwise), ("pointwise", pointwise), self._activation()])
        return module, self._join(self.filters, sizes)

    def regularization_terms(self) -> list[tuple[Tensor, Any]]:
        depthwise, pointwise = self.module.depthwise, self.module.pointwise
        return regularizer_terms([(depthwise.weight, self.depthwise_regularizer),
                                  (pointwise.weight, self.pointwise_regularizer),
                                  (pointwise.bias, self.bias_regularizer)])

    def constraint_terms(self) -> list[tuple[Tensor, Any]]:
        depthwise, pointwise = self.module.depthwise, self.module.pointwise
        kernel = (None if self.depthwise_constraint is None
                  else DepthwiseKernelView(self.depthwise_constraint, self.rank, self.depth_multiplier))
        return constraints.constraint_terms([
            (depthwise.weight, kernel),
            (pointwise.weight, constraints.permuted(self.pointwise_constraint, keras_kernel_dims(self.rank))),
            (pointwise.bias, self.bias_constraint)])

    def _to_keras(self, index: int, array: np.ndarray) -> np.ndarray:
        if index == 0:
            return depthwise_to_keras(array, self.rank, self.depth_multiplier)
        return kernel_to_keras(array, self.rank) if index == 1 else array

    def _from_keras(self, index: int, array: np.ndarray) -> np.ndarray:
        if index < 2 and array.ndim == self.rank + 2:
            return depthwise_from_keras(array, self.rank) if index == 0 else kernel_from_keras(array, self.rank)
        return array


@LAYERS.register(*keras_names("DepthwiseConv1D"))
class DepthwiseConv1D(DepthwiseConv):
    """Depthwise 1-D convolution over ``(batch, steps, channels)``."""

    rank = 1


@LAYERS.register(*keras_names("DepthwiseConv2D"))
class DepthwiseConv2D(DepthwiseConv):
    """Depthwise 2-D convolution over images ``(batch, height, width, channels)``.

    Example:
        >>> DepthwiseConv2D(3, depth_multiplier=2, padding="same")
        DepthwiseConv2D(kernel_size=3, padding='same', depth_multiplier=2)
    """

    rank = 2


@LAYERS.register(*keras_names("SeparableConv1D", "SeparableConvolution1D"))
class SeparableConv1D(SeparableConv):
    """Depthwise-separable 1-D convolution over ``(batch, steps, channels)``."""

    rank = 1


@LAYERS.register(*keras_names("SeparableConv2D", "SeparableConvolution2D"))
class SeparableConv2D(SeparableConv):
    """Depthwise-separable 2-D convolution over images: fewer weights than Conv2D for the same filters.

    Example:
        >>> SeparableConv2D(64, 3, activation="relu")
        SeparableConv2D(filters=64, kernel_size=3, activation='relu')
    """

    rank = 2
