"""Pooling layers: MaxPooling1D/2D/3D, AveragePooling1D/2D/3D, GlobalAveragePooling2D/3D, GlobalMaxPooling2D/3D.

``padding='same'`` follows Keras/TensorFlow: the output has ``ceil(input / strides)`` positions, the
window is padded with the extra pixel after, padded positions never win a max, and an average is taken
over the valid (unpadded) inputs of its window only. The 1-D global poolings, which honour masks, live
with the recurrent layers.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nnkit.layers.base import LAYERS, Shape
from nnkit.layers.spatial import (
    SpatialLayer,
    assemble,
    int_tuple,
    is_symmetric,
    keras_names,
    pad_module,
    padding_mode,
    window_padding,
)

_MAX = {1: nn.MaxPool1d, 2: nn.MaxPool2d, 3: nn.MaxPool3d}
_AVG = {1: nn.AvgPool1d, 2: nn.AvgPool2d, 3: nn.AvgPool3d}
_AVG_FN = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


class AveragePoolValidOnly(nn.Module):
    """Average pooling with asymmetric zero padding that divides each window's sum by its count of
    unpadded inputs (TensorFlow's ``'same'``), which torch's ``count_include_pad=False`` only does for
    symmetric padding."""

    def __init__(self, pool_size: tuple[int, ...], strides: tuple[int, ...],
                 pads: tuple[tuple[int, int], ...]) -> None:
        super().__init__()
        self.pool_size, self.strides, self.pads = tuple(pool_size), tuple(strides), tuple(pads)
        self._flat = tuple(p for pair in reversed(self.pads) for p in pair)
        self._pool = _AVG_FN[len(self.pool_size)]

    def forward(self, x: Tensor) -> Tensor:
        pooled = self._pool(F.pad(x, self._flat), self.pool_size, self.strides)
        ones = x.new_ones((1, 1, *x.shape[2:]))
        fraction_valid = self._pool(F.pad(ones, self._flat), self.pool_size, self.strides)
        return pooled / fraction_valid

    def extra_repr(self) -> str:
        return f"pool_size={self.pool_size}, strides={self.strides}, pads={self.pads}"


class Pooling(SpatialLayer):
    """Base of the max and average poolings.

    Args:
        pool_size: Window size: an int or one int per spatial axis.
        strides: Step of the window; ``None`` means ``pool_size``.
        padding: ``'valid'`` or ``'same'`` (Keras/TensorFlow semantics).
        data_format: ``'channels_last'`` (default) or ``'channels_first'``; ``None`` uses the global setting.
    """

    kind: ClassVar[str] = "max"

    def __init__(self, pool_size: int | tuple[int, ...] = 2, strides: int | tuple[int, ...] | None = None,
                 padding: str = "valid", data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        layer = type(self).__name__
        self.pool_size = int_tuple(pool_size, self.rank, "pool_size", layer)
        self.strides = self.pool_size if strides is None else int_tuple(strides, self.rank, "strides", layer)
        self.padding = padding_mode(padding, layer)
        self._set_data_format(data_format)

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        channels, spatial = self._split(input_shape)
        pads, sizes = window_padding(self._label, self.padding, spatial, self.pool_size, self.strides,
                                     (1,) * self.rank, what="pool")
        symmetric = is_symmetric(pads)
        padding = tuple(p[0] for p in pads)
        if self.kind == "max":
            pool = _MAX[self.rank](self.pool_size, self.strides, padding=padding if symmetric else 0)
            module = assemble([("pad", None if symmetric else pad_module(pads, float("-inf"))), ("pool", pool)])
        elif symmetric:
            module = _AVG[self.rank](self.pool_size, self.strides, padding=padding, count_include_pad=False)
        else:
            module = AveragePoolValidOnly(self.pool_size, self.strides, pads)
        return module, self._join(channels, sizes)


@LAYERS.register(*keras_names("MaxPooling1D", "MaxPool1D"))
class MaxPooling1D(Pooling):
    """Maximum over windows of ``pool_size`` steps of ``(batch, steps, channels)``."""

    rank = 1


@LAYERS.register(*keras_names("MaxPooling2D", "MaxPool2D"))
class MaxPooling2D(Pooling):
    """Maximum over ``pool_size`` windows of images ``(batch, height, width, channels)``.

    Example:
        >>> MaxPooling2D((2, 2))
        MaxPooling2D(pool_size=(2, 2))
    """

    rank = 2


@LAYERS.register(*keras_names("MaxPooling3D", "MaxPool3D"))
class MaxPooling3D(Pooling):
    """Maximum over ``pool_size`` windows of volumes ``(batch, depth, height, width, channels)``."""

    rank = 3


@LAYERS.register(*keras_names("AveragePooling1D", "AvgPool1D"))
class AveragePooling1D(Pooling):
    """Mean over windows of ``pool_size`` steps of ``(batch, steps, channels)``."""

    rank, kind = 1, "average"


@LAYERS.register(*keras_names("AveragePooling2D", "AvgPool2D"))
class AveragePooling2D(Pooling):
    """Mean over ``pool_size`` windows of images ``(batch, height, width, channels)``."""

    rank, kind = 2, "average"


@LAYERS.register(*keras_names("AveragePooling3D", "AvgPool3D"))
class AveragePooling3D(Pooling):
    """Mean over ``pool_size`` windows of volumes ``(batch, depth, height, width, channels)``."""

    rank, kind = 3, "average"


class GlobalPoolModule(nn.Module):
    """Mean or maximum over the spatial axes of a ``(batch, channels, *spatial)`` tensor."""

    def __init__(self, kind: str, rank: int, keepdims: bool) -> None:
        super().__init__()
        self.kind, self.keepdims = kind, keepdims
        self.dims = tuple(range(2, 2 + rank))

    def forward(self, x: Tensor) -> Tensor:
        if self.kind == "max":
            return torch.amax(x, dim=self.dims, keepdim=self.keepdims)
        return torch.mean(x, dim=self.dims, keepdim=self.keepdims)

    def extra_repr(self) -> str:
        return f"{self.kind} over dims {self.dims}, keepdims={self.keepdims}"


class GlobalPooling(SpatialLayer):
    """Base of the 2-D and 3-D global poolings: one value per channel.

    Args:
        data_format: ``'channels_last'`` (default) or ``'channels_first'``; ``None`` uses the global setting.
        keepdims: Keep the spatial axes with size 1 (``(batch, 1, 1, channels)``) instead of
            returning ``(batch, channels)``.
    """

    kind: ClassVar[str] = "average"

    def __init__(self, data_format: str | None = None, keepdims: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._set_data_format(data_format)
        self.keepdims = bool(keepdims)

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        channels, _ = self._split(input_shape)
        shape = self._join(channels, (1,) * self.rank) if self.keepdims else (channels,)
        return GlobalPoolModule(self.kind, self.rank, self.keepdims), shape


@LAYERS.register(*keras_names("GlobalAveragePooling2D", "GlobalAvgPool2D"))
class GlobalAveragePooling2D(GlobalPooling):
    """Mean of each channel over the height and width: ``(batch, h, w, c)`` -> ``(batch, c)``."""

    rank = 2


@LAYERS.register(*keras_names("GlobalMaxPooling2D", "GlobalMaxPool2D"))
class GlobalMaxPooling2D(GlobalPooling):
    """Maximum of each channel over the height and width: ``(batch, h, w, c)`` -> ``(batch, c)``."""

    rank, kind = 2, "max"


@LAYERS.register(*keras_names("GlobalAveragePooling3D", "GlobalAvgPool3D"))
class GlobalAveragePooling3D(GlobalPooling):
    """Mean of each channel over a volume: ``(batch, d, h, w, c)`` -> ``(batch, c)``."""

    rank = 3


@LAYERS.register(*keras_names("GlobalMaxPooling3D", "GlobalMaxPool3D"))
class GlobalMaxPooling3D(GlobalPooling):
    """Maximum of each channel over a volume: ``(batch, d, h, w, c)`` -> ``(batch, c)``."""

    rank, kind = 3, "max"
