"""Transposed convolutions ("deconvolutions"): Conv1DTranspose, Conv2DTranspose, Conv3DTranspose.

Output sizes and padding follow Keras 3 exactly, including its ``'same'`` placement when the stride
exceeds 1 and ``output_padding``. torch's ``ConvTranspose`` trims the same amount from both ends, plus
``output_padding`` added back at the end; when Keras trims more at the end than at the start, the
remainder is cut off by a slicing view. Kernels are exchanged in Keras layout
``(*kernel_size, filters, in_channels)``; torch stores ``(in_channels, filters, *kernel_size)``.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from nnkit import config
from nnkit.errors import ConfigError, DataError
from nnkit.layers.base import LAYERS, Shape
from nnkit.layers.convolutional import Conv
from nnkit.layers.spatial import CropModule, activation_module, assemble, find_part, int_tuple, keras_names

TRANSPOSE_MODULES: dict[int, type[nn.Module]] = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d,
                                                 3: nn.ConvTranspose3d}


def keras_transpose_pads(kernel: int, stride: int, dilation: int, padding: str,
                         output_padding: int | None) -> tuple[int, int]:
    """Keras 3's ``(left, right)`` padding of the dilated input of a transposed convolution."""
    effective = (kernel - 1) * dilation + 1
    if padding == "valid":
        extra = max(effective, stride) - effective if output_padding is None else output_padding
        return effective - 1, effective - 1 + extra
    if output_padding is None:
        total = stride + effective - 2
    else:
        total = effective + effective % 2 - 2 + output_padding
    left = min(total // 2 + total % 2, effective - 1)
    return left, total - left


class ConvTranspose(Conv):
    """Base of the transposed convolutions: the gradient of a convolution, upsampling by ``strides``.

    Args:
        filters: Number of output channels.
        kernel_size: Window size: an int or one int per spatial axis.
        strides: Upsampling factor: an int or one int per spatial axis.
        padding: ``'valid'`` (output ``(input - 1) * strides + max(kernel, strides)``) or ``'same'``
            (output ``input * strides``).
        output_padding: Extra size added to the end of each axis (each less than its stride);
            ``None`` lets the padding mode decide, as in Keras.
        data_format: ``'channels_last'`` (default) or ``'channels_first'``; ``None`` uses the global setting.
        dilation_rate: Spacing between kernel elements (not together with strides > 1).
        activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
        kernel_constraint, bias_constraint: As for :class:`Conv2D`.
    """

    def __init__(self, filters: int, kernel_size: int | tuple[int, ...], strides: int | tuple[int, ...] = 1,
                 padding: str = "valid", output_padding: int | tuple[int, ...] | None = None,
                 data_format: str | None = None, dilation_rate: int | tuple[int, ...] = 1, activation: Any = None,
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None, kernel_constraint: Any = None,
                 bias_constraint: Any = None, **kwargs: Any) -> None:
        super().__init__(filters, kernel_size, strides=strides, padding=padding, data_format=data_format,
                         dilation_rate=dilation_rate, activation=activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                         kernel_constraint=kernel_constraint, bias_constraint=bias_constraint, **kwargs)
        layer = type(self).__name__
        self.output_padding = (None if output_padding is None
                               else int_tuple(output_padding, self.rank, "output_padding", layer, minimum=0))
        if self.output_padding is not None and any(op >= s for op, s in zip(self.output_padding, self.strides)):
            raise ConfigError(
                f"{layer} expects each `output_padding` to be smaller than its stride. Received: "
                f"output_padding={output_padding!r}, strides={strides!r}."
            )

    @property
    def conv(self) -> nn.Module:
        """The ``nn.ConvTranspose{1,2,3}d`` inside the built module."""
        return find_part(self.module, "conv", TRANSPOSE_MODULES[self.rank])

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        channels, spatial = self._split(input_shape)
        torch_pads, output_pads, crops, sizes = [], [], [], []
        for i, size in enumerate(spatial):
            k, s, d = self.kernel_size[i], self.strides[i], self.dilation_rate[i]
            left, right = keras_transpose_pads(k, s, d, self.padding,
                                               None if self.output_padding is None else self.output_padding[i])
            effective = (k - 1) * d + 1
            # torch's natural output, (size - 1) * s + effective, is cut by these amounts at each end.
            cut_left, cut_right = effective - 1 - left, effective - 1 - right
            torch_pads.append(cut_left)
            output_pads.append(max(0, cut_left - cut_right))
            crops.append((0, max(0, cut_right - cut_left)))
            sizes.append((size - 1) * s + effective - cut_left - cut_right)
        if min(sizes) < 1:
            raise DataError(
                f"{self._label} would produce an empty output from inputs of spatial size {spatial}; "
                "increase output_padding or use padding='valid'."
            )
        conv = TRANSPOSE_MODULES[self.rank](
            channels, self.filters, self.kernel_size, stride=self.strides, padding=tuple(torch_pads),
            output_padding=tuple(output_pads), dilation=self.dilation_rate, bias=self.use_bias,
            dtype=config.float_dtype())
        self.kernel_initializer(conv.weight)
        if self.use_bias:
            self.bias_initializer(conv.bias)
        natural = tuple(n + c[1] for n, c in zip(sizes, crops))
        crop = CropModule(tuple(crops), natural) if any(c[1] for c in crops) else None
        module = assemble([("conv", conv), ("crop", crop),
                           ("activation", activation_module(self.activation, self.layout == "torch"))])
        return module, self._join(self.filters, tuple(sizes))


@LAYERS.register(*keras_names("Conv1DTranspose", "Convolution1DTranspose"))
class Conv1DTranspose(ConvTranspose):
    """Transposed 1-D convolution over ``(batch, steps, channels)``."""

    rank = 1


@LAYERS.register(*keras_names("Conv2DTranspose", "Convolution2DTranspose"))
class Conv2DTranspose(ConvTranspose):
    """Transposed 2-D convolution over images ``(batch, height, width, channels)``, e.g. to upsample in
    a decoder.

    Example:
        >>> Conv2DTranspose(16, 3, strides=2, padding="same")
        Conv2DTranspose(filters=16, kernel_size=3, strides=2, padding='same')
    """

    rank = 2


@LAYERS.register(*keras_names("Conv3DTranspose", "Convolution3DTranspose"))
class Conv3DTranspose(ConvTranspose):
    """Transposed 3-D convolution over volumes ``(batch, depth, height, width, channels)``."""

    rank = 3
