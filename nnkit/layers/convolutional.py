"""Convolution layers: Conv1D, Conv2D, Conv3D with Keras arguments, shapes and weight layout.

The built module is a plain ``torch.nn.Conv{1,2,3}d`` (preceded by a zero-padding module only when
Keras's ``'same'`` padding is asymmetric, which torch's own ``padding=`` cannot express) and followed
by the activation. Kernels are exchanged in Keras layout ``(*kernel_size, in_channels / groups, filters)``
by ``get_weights`` / ``set_weights``; torch stores ``(filters, in_channels / groups, *kernel_size)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import Tensor, nn

from nnkit import activations, config, constraints, initializers, regularizers
from nnkit.errors import ConfigError
from nnkit.layers.base import LAYERS, Shape, regularizer_terms
from nnkit.layers.spatial import (
    SpatialLayer,
    activation_module,
    assemble,
    check_strides_dilation,
    find_part,
    int_tuple,
    is_symmetric,
    keras_names,
    pad_module,
    padding_mode,
    positive_int,
    window_padding,
)

CONV_MODULES: dict[int, type[nn.Module]] = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}


def kernel_to_keras(array: np.ndarray, rank: int) -> np.ndarray:
    """A torch kernel ``(out, in, *k)`` in Keras layout ``(*k, in, out)``."""
    return np.transpose(array, (*range(2, 2 + rank), 1, 0))


def kernel_from_keras(array: np.ndarray, rank: int) -> np.ndarray:
    """A Keras kernel ``(*k, in, out)`` in torch layout ``(out, in, *k)``."""
    return np.ascontiguousarray(np.transpose(array, (rank + 1, rank, *range(rank))))


def keras_kernel_dims(rank: int) -> tuple[int, ...]:
    """The permutation taking a torch kernel to Keras layout (for constraints, which see Keras layout)."""
    return (*range(2, 2 + rank), 1, 0)


class Conv(SpatialLayer):
    """Base of Conv1D, Conv2D and Conv3D: ``activation(conv(inputs, kernel) + bias)``.

    Args:
        filters: Number of output channels.
        kernel_size: Window size: an int or one int per spatial axis.
        strides: Step of the window: an int or one int per spatial axis.
        padding: ``'valid'`` (no padding) or ``'same'`` (output size ``ceil(input / strides)``, padded
            as TensorFlow does, the extra pixel after); Conv1D also takes ``'causal'``.
        data_format: ``'channels_last'`` (Keras's default) or ``'channels_first'``; ``None`` uses
            ``nnkit.config.image_data_format()``.
        dilation_rate: Spacing between kernel elements; strides and dilation cannot both exceed 1.
        groups: Split the input channels into this many groups convolved separately.
        activation: Activation name or callable; ``None`` means linear.
        use_bias: Whether to add a bias.
        kernel_initializer: Initializer of the kernel (Keras default ``'glorot_uniform'``).
        bias_initializer: Initializer of the bias (default ``'zeros'``).
        kernel_regularizer: Penalty on the kernel added to the loss, e.g. ``'l2'`` or ``L2(0.01)``.
        bias_regularizer: Penalty on the bias.
        kernel_constraint: Projection of the kernel (in Keras layout) after every optimizer step.
        bias_constraint: Projection of the bias after every optimizer step.

    Raises:
        ConfigError: an argument is invalid (named in the message).
        DataError: at build, inputs of the wrong rank or smaller than the kernel with ``padding='valid'``.
    """

    paddings: tuple[str, ...] = ("valid", "same")

    def __init__(self, filters: int, kernel_size: int | tuple[int, ...], strides: int | tuple[int, ...] = 1,
                 padding: str = "valid", data_format: str | None = None, dilation_rate: int | tuple[int, ...] = 1,
                 groups: int = 1, activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None, kernel_constraint: Any = None,
                 bias_constraint: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        layer = type(self).__name__
        self.filters = positive_int(filters, "filters", layer)
        self.kernel_size = int_tuple(kernel_size, self.rank, "kernel_size", layer)
        self.strides = int_tuple(strides, self.rank, "strides", layer)
        self.padding = padding_mode(padding, layer, self.paddings)
        self._set_data_format(data_format)
        self.dilation_rate = int_tuple(dilation_rate, self.rank, "dilation_rate", layer)
        check_strides_dilation(self.strides, self.dilation_rate, layer)
        self.groups = positive_int(groups, "groups", layer)
        if self.filters % self.groups:
            raise ConfigError(
                f"{layer} expects `filters` to be a multiple of `groups`. Received: filters={filters}, groups={groups}."
            )
        activations.get(activation)
        self.activation = activation
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = kernel_regularizer
        self.bias_regularizer = bias_regularizer
        regularizer_terms([(Tensor(), kernel_regularizer), (Tensor(), bias_regularizer)])
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)

    @property
    def conv(self) -> nn.Module:
        """The ``nn.Conv{1,2,3}d`` inside the built module."""
        return find_part(self.module, "conv", CONV_MODULES[self.rank])

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        channels, spatial = self._split(input_shape)
        if channels % self.groups:
            raise ConfigError(
                f"{self._label} has groups={self.groups}, which must divide the number of input channels, "
                f"but its inputs have {channels} channels."
            )
        pads, sizes = window_padding(self._label, self.padding, spatial, self.kernel_size, self.strides,
                                     self.dilation_rate)
        symmetric = is_symmetric(pads)
        conv = CONV_MODULES[self.rank](
            channels, self.filters, self.kernel_size, stride=self.strides,
            padding=tuple(p[0] for p in pads) if symmetric else 0, dilation=self.dilation_rate,
            groups=self.groups, bias=self.use_bias, dtype=config.float_dtype())
        self.kernel_initializer(conv.weight)
        if self.use_bias:
            self.bias_initializer(conv.bias)
        module = assemble([("pad", None if symmetric else pad_module(pads)), ("conv", conv),
                           ("activation", activation_module(self.activation, self.layout == "torch"))])
        return module, self._join(self.filters, sizes)

    def regularization_terms(self) -> list[tuple[Tensor, Any]]:
        conv = self.conv
        kernel = regularizers.in_keras_layout(self.kernel_regularizer, keras_kernel_dims(self.rank))
        return regularizer_terms([(conv.weight, kernel), (conv.bias, self.bias_regularizer)])

    def constraint_terms(self) -> list[tuple[Tensor, Any]]:
        conv = self.conv
        kernel = constraints.permuted(self.kernel_constraint, keras_kernel_dims(self.rank))
        return constraints.constraint_terms([(conv.weight, kernel), (conv.bias, self.bias_constraint)])

    def _to_keras(self, index: int, array: np.ndarray) -> np.ndarray:
        return kernel_to_keras(array, self.rank) if index == 0 else array

    def _from_keras(self, index: int, array: np.ndarray) -> np.ndarray:
        if index == 0 and array.ndim == self.rank + 2:
            return kernel_from_keras(array, self.rank)
        return array


@LAYERS.register(*keras_names("Conv1D", "Convolution1D"))
class Conv1D(Conv):
    """1-D convolution over ``(batch, steps, channels)`` (e.g. time series); ``padding='causal'`` pads
    only the past so output step ``t`` sees inputs up to ``t``.

    Example:
        >>> Conv1D(32, 5, activation="relu", input_shape=(100, 8))
        Conv1D(filters=32, kernel_size=5, activation='relu', input_shape=(100, 8))
    """

    rank = 1
    paddings = ("valid", "same", "causal")


@LAYERS.register(*keras_names("Conv2D", "Convolution2D"))
class Conv2D(Conv):
    """2-D convolution over images ``(batch, height, width, channels)``.

    Example:
        >>> Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1))
        Conv2D(filters=32, kernel_size=(3, 3), activation='relu', input_shape=(28, 28, 1))
    """

    rank = 2


@LAYERS.register(*keras_names("Conv3D", "Convolution3D"))
class Conv3D(Conv):
    """3-D convolution over volumes ``(batch, depth, height, width, channels)``."""

    rank = 3
