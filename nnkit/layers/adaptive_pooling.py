"""Adaptive pooling layers: ``AdaptiveAveragePooling1D/2D/3D`` and ``AdaptiveMaxPooling1D/2D/3D``.

The window and stride follow from the input and output sizes, so any input size pools to ``output_size``.
Output position ``i`` of an axis of size ``n`` pooled to ``m`` covers inputs
``[floor(i * n / m), ceil((i + 1) * n / m))``: neighbouring windows may overlap and may differ in size
by one. That is torch's ``adaptive_avg_pool`` / ``adaptive_max_pool``, which Keras 3 itself calls on the
torch backend, so the numbers are Keras's.
"""

from __future__ import annotations

from typing import Any, ClassVar

from torch import nn

from nnkit.errors import DataError
from nnkit.layers.base import LAYERS, Shape
from nnkit.layers.spatial import SpatialLayer, int_tuple, keras_names

_MODULES = {
    "average": {1: nn.AdaptiveAvgPool1d, 2: nn.AdaptiveAvgPool2d, 3: nn.AdaptiveAvgPool3d},
    "max": {1: nn.AdaptiveMaxPool1d, 2: nn.AdaptiveMaxPool2d, 3: nn.AdaptiveMaxPool3d},
}


class AdaptivePooling(SpatialLayer):
    """Base of the adaptive poolings (not used directly).

    Args:
        output_size: Spatial size of the output: an int (the same for every axis) or one int per axis.
        data_format: ``'channels_last'`` (default) or ``'channels_first'``; ``None`` uses the global setting.
    """

    kind: ClassVar[str] = "average"

    def __init__(self, output_size: int | tuple[int, ...], data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.output_size = int_tuple(output_size, self.rank, "output_size", type(self).__name__)
        self._set_data_format(data_format)

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        channels, spatial = self._split(input_shape)
        if any(n is None for n in spatial):
            raise DataError(
                f"{self._label} needs known spatial sizes to build, but received inputs of shape "
                f"{(None, *input_shape)}. Give the Input a full shape, e.g. Input(shape=(32, 32, 3))."
            )
        return _MODULES[self.kind][self.rank](self.output_size), self._join(channels, self.output_size)


@LAYERS.register(*keras_names("AdaptiveAveragePooling1D"))
class AdaptiveAveragePooling1D(AdaptivePooling):
    """Mean over adaptive windows of ``(batch, steps, channels)`` down to ``output_size`` steps.

    Example:
        >>> AdaptiveAveragePooling1D(4)  # (batch, 10, 3) -> (batch, 4, 3)
        AdaptiveAveragePooling1D(output_size=4)
    """

    rank = 1


@LAYERS.register(*keras_names("AdaptiveAveragePooling2D"))
class AdaptiveAveragePooling2D(AdaptivePooling):
    """Mean over adaptive windows of images ``(batch, height, width, channels)`` down to ``output_size``.

    Example:
        >>> AdaptiveAveragePooling2D((7, 7))  # (batch, 32, 30, 3) -> (batch, 7, 7, 3)
        AdaptiveAveragePooling2D(output_size=(7, 7))
    """

    rank = 2


@LAYERS.register(*keras_names("AdaptiveAveragePooling3D"))
class AdaptiveAveragePooling3D(AdaptivePooling):
    """Mean over adaptive windows of volumes ``(batch, depth, height, width, channels)``."""

    rank = 3


@LAYERS.register(*keras_names("AdaptiveMaxPooling1D"))
class AdaptiveMaxPooling1D(AdaptivePooling):
    """Maximum over adaptive windows of ``(batch, steps, channels)`` down to ``output_size`` steps."""

    rank, kind = 1, "max"


@LAYERS.register(*keras_names("AdaptiveMaxPooling2D"))
class AdaptiveMaxPooling2D(AdaptivePooling):
    """Maximum over adaptive windows of images ``(batch, height, width, channels)`` down to ``output_size``."""

    rank, kind = 2, "max"


@LAYERS.register(*keras_names("AdaptiveMaxPooling3D"))
class AdaptiveMaxPooling3D(AdaptivePooling):
    """Maximum over adaptive windows of volumes ``(batch, depth, height, width, channels)``."""

    rank, kind = 3, "max"
