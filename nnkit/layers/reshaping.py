"""Spatial reshaping layers: ZeroPadding1D/2D/3D, Cropping1D/2D/3D, UpSampling1D/2D/3D.

Like the convolutions, a channels-last layer here runs its module on ``(batch, channels, *spatial)``
tensors (``layout = "torch"``), so placing it between convolutions costs no axis move.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from nnkit.errors import ConfigError, DataError
from nnkit.layers.base import LAYERS, Shape
from nnkit.layers.spatial import (
    CropModule,
    SpatialLayer,
    int_tuple,
    keras_names,
    pad_module,
    pair_tuple,
)

_INTERPOLATIONS = ("nearest", "bilinear", "bicubic")


class ZeroPadding(SpatialLayer):
    """Base of ZeroPadding1D/2D/3D: adds rows/columns of zeros around each sample.

    Args:
        padding: An int (the same on every side), one int per spatial axis (symmetric), or one
            ``(before, after)`` pair per spatial axis; ZeroPadding1D also takes ``(before, after)``.
        data_format: ``'channels_last'`` (default) or ``'channels_first'``; ``None`` uses the global setting.
    """

    keeps_integers = True  # integer inputs stay integers, as in Keras

    def __init__(self, padding: Any = 1, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.padding = pair_tuple(padding, self.rank, "padding", type(self).__name__)
        self._set_data_format(data_format)

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        channels, spatial = self._split(input_shape)
        sizes = tuple(n + before + after for n, (before, after) in zip(spatial, self.padding))
        return pad_module(self.padding), self._join(channels, sizes)


@LAYERS.register(*keras_names("ZeroPadding1D"))
class ZeroPadding1D(ZeroPadding):
    """Zeros before and after the steps of ``(batch, steps, channels)``."""

    rank = 1


@LAYERS.register(*keras_names("ZeroPadding2D"))
class ZeroPadding2D(ZeroPadding):
    """Zeros around images ``(batch, height, width, channels)``.

    Example:
        >>> ZeroPadding2D(((1, 0), (2, 2)))
        ZeroPadding2D(padding=((1, 0), (2, 2)))
    """

    rank = 2

    def __init__(self, padding: Any = (1, 1), data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(padding, data_format, **kwargs)


@LAYERS.register(*keras_names("ZeroPadding3D"))
class ZeroPadding3D(ZeroPadding):
    """Zeros around volumes ``(batch, depth, height, width, channels)``."""

    rank = 3

    def __init__(self, padding: Any = (1, 1, 1), data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(padding, data_format, **kwargs)


class Cropping(SpatialLayer):
    """Base of Cropping1D/2D/3D: removes rows/columns at the edges of each sample.

    Args:
        cropping: An int (the same on every side), one int per spatial axis (symmetric), or one
            ``(before, after)`` pair per spatial axis; Cropping1D also takes ``(before, after)``.
        data_format: ``'channels_last'`` (default) or ``'channels_first'``; Cropping1D is always
            channels-last, as in Keras.
    """

    keeps_integers = True  # integer inputs stay integers, as in Keras

    def __init__(self, cropping: Any = 1, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cropping = pair_tuple(cropping, self.rank, "cropping", type(self).__name__)
        self._set_data_format(data_format)

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        channels, spatial = self._split(input_shape)
        sizes = tuple(n - before - after for n, (before, after) in zip(spatial, self.cropping))
        if min(sizes) < 1:
            raise DataError(
                f"{self._label} cannot crop {self.cropping} from inputs of spatial size {spatial}: nothing would be "
                "left. Use smaller `cropping` values."
            )
        return CropModule(self.cropping, spatial), self._join(channels, sizes)


@LAYERS.register(*keras_names("Cropping1D"))
class Cropping1D(Cropping):
    """Removes steps at the start and end of ``(batch, steps, channels)``."""

    rank = 1

    def __init__(self, cropping: Any = (1, 1), **kwargs: Any) -> None:
        super().__init__(cropping, "channels_last", **kwargs)


@LAYERS.register(*keras_names("Cropping2D"))
class Cropping2D(Cropping):
    """Removes rows and columns at the edges of images ``(batch, height, width, channels)``.

    Example:
        >>> Cropping2D(((2, 2), (4, 4)))
        Cropping2D(cropping=((2, 2), (4, 4)))
    """

    rank = 2

    def __init__(self, cropping: Any = ((0, 0), (0, 0)), data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(cropping, data_format, **kwargs)


@LAYERS.register(*keras_names("Cropping3D"))
class Cropping3D(Cropping):
    """Removes slices at the edges of volumes ``(batch, depth, height, width, channels)``."""

    rank = 3

    def __init__(self, cropping: Any = ((1, 1), (1, 1), (1, 1)), data_format: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(cropping, data_format, **kwargs)


class NearestUpsample(nn.Upsample):
    """torch's nearest upsampling by whole factors, also of integer and boolean tensors (which its kernel
    refuses): those repeat each element, which is what nearest upsampling by a whole factor computes."""

    def forward(self, x: Tensor) -> Tensor:
        if x.is_floating_point():
            return super().forward(x)
        for axis, factor in enumerate(self.scale_factor, start=2):
            x = x.repeat_interleave(int(factor), dim=axis)
        return x


class UpSampling(SpatialLayer):
    """Base of UpSampling1D/2D/3D: repeats each step/pixel ``size`` times along each spatial axis.

    Args:
        size: Upsampling factor: an int or one int per spatial axis.
        data_format: ``'channels_last'`` (default) or ``'channels_first'``; UpSampling1D is always
            channels-last, as in Keras.
        interpolation: ``'nearest'`` (repeat), or for UpSampling2D also ``'bilinear'`` or ``'bicubic'``
            (torch's, as Keras computes them on its torch backend).
    """

    def __init__(self, size: int | tuple[int, ...] = 2, data_format: str | None = None,
                 interpolation: str = "nearest", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        layer = type(self).__name__
        self.size = int_tuple(size, self.rank, "size", layer)
        self._set_data_format(data_format)
        allowed = _INTERPOLATIONS if self.rank == 2 else ("nearest",)
        if interpolation not in allowed:
            raise ConfigError(
                f"{layer} expects `interpolation` to be one of {', '.join(map(repr, allowed))}. "
                f"Received: interpolation={interpolation!r}."
            )
        self.interpolation = interpolation

    @property
    def keeps_integers(self) -> bool:
        """Integer inputs stay integers with ``'nearest'`` (a repeat), as in Keras."""
        return self.interpolation == "nearest"

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        channels, spatial = self._split(input_shape)
        smooth = self.interpolation != "nearest"
        upsample = NearestUpsample if not smooth else nn.Upsample
        module = upsample(scale_factor=tuple(float(s) for s in self.size), mode=self.interpolation,
                          align_corners=False if smooth else None)
        return module, self._join(channels, tuple(n * s for n, s in zip(spatial, self.size)))


@LAYERS.register(*keras_names("UpSampling1D"))
class UpSampling1D(UpSampling):
    """Repeats each step ``size`` times: ``(batch, steps, channels)`` -> ``(batch, steps * size, channels)``."""

    rank = 1

    def __init__(self, size: int = 2, **kwargs: Any) -> None:
        super().__init__(size, "channels_last", "nearest", **kwargs)


@LAYERS.register(*keras_names("UpSampling2D"))
class UpSampling2D(UpSampling):
    """Enlarges images ``(batch, height, width, channels)`` by ``size`` (rows, columns).

    Example:
        >>> UpSampling2D(2, interpolation="bilinear")
        UpSampling2D(size=2, interpolation='bilinear')
    """

    rank = 2

    def __init__(self, size: int | tuple[int, int] = (2, 2), data_format: str | None = None,
                 interpolation: str = "nearest", **kwargs: Any) -> None:
        super().__init__(size, data_format, interpolation, **kwargs)


@LAYERS.register(*keras_names("UpSampling3D"))
class UpSampling3D(UpSampling):
    """Enlarges volumes ``(batch, depth, height, width, channels)`` by ``size``."""

    rank = 3

    def __init__(self, size: int | tuple[int, int, int] = (2, 2, 2), data_format: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(size, data_format, "nearest", **kwargs)
