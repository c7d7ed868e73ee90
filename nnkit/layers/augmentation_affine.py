"""Random geometric augmentation layers that resample the image: RandomRotation, RandomZoom and
RandomTranslation, active only while the model trains.

Each draws one transform per image and resamples the whole batch with one ``grid_sample`` (see
``image_ops.affine_sample``), with Keras's transforms, fill modes and interpolations. Seeding works as for
the other augmentation layers (see ``nnkit.layers.augmentation``).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from nnkit.errors import ConfigError
from nnkit.layers import image_ops
from nnkit.layers.augmentation import _is_number, keras_factor
from nnkit.layers.base import LAYERS, Shape
from nnkit.layers.image_preprocessing import ImageLayer, ImageModule, _choice, _number


def _signed_factor(factor: Any, layer: str, arg: str, low_open: bool = False) -> tuple[float, float]:
    """RandomZoom's and RandomTranslation's factors: a number ``f`` is ``(-|f|, |f|)``, a pair is sorted;
    every value in [-1, 1] (``(-1, 1]`` for zoom, which cannot shrink an axis to nothing)."""
    values = list(factor) if isinstance(factor, (tuple, list)) and len(factor) == 2 else [factor]
    inside = all(_is_number(v) and (v > -1 if low_open else v >= -1) and v <= 1 for v in values)
    if not inside:
        interval = "(-1, 1]" if low_open else "[-1, 1]"
        raise ConfigError(
            f"{layer} expects `{arg}` to be a number in {interval} or a pair (lower, upper) of such numbers. "
            f"Received: {arg}={factor!r}."
        )
    if len(values) == 2:
        lower, upper = sorted(values)
        return float(lower), float(upper)
    return -abs(float(factor)), abs(float(factor))


class AffineLayer(ImageLayer):
    """Shared arguments of the resampling layers: fill mode, fill value, interpolation, seed, data format."""

    training_by_default = True

    def _set_resampling(self, fill_mode: str, interpolation: str, fill_value: float, seed: int | None,
                        data_format: str | None) -> None:
        kind = type(self).__name__
        self.fill_mode = _choice(fill_mode, "fill_mode", kind, image_ops.FILL_MODES)
        self.interpolation = _choice(interpolation, "interpolation", kind, image_ops.AFFINE_INTERPOLATIONS)
        self.fill_value = _number(fill_value, "fill_value", kind)
        self._set_seed(seed)
        self._set_data_format(data_format)

    def _resampling(self) -> dict[str, Any]:
        return {"channels_last": self._channels_last, "generator": self._torch_generator,
                "interpolation": self.interpolation, "fill_mode": self.fill_mode, "fill_value": self.fill_value}


class RandomAffine(ImageModule):
    """Resamples each image through the affine map :meth:`matrix` draws for it (output pixel -> input pixel)."""

    augments = True

    def __init__(self, channels_last: bool, generator: torch.Generator | None, interpolation: str, fill_mode: str,
                 fill_value: float) -> None:
        super().__init__(channels_last, generator)
        self.interpolation, self.fill_mode, self.fill_value = interpolation, fill_mode, fill_value

    def transform(self, images: Tensor) -> Tensor:
        return image_ops.affine_sample(images, self.matrix(images), self.interpolation, self.fill_mode,
                                       self.fill_value)

    def matrix(self, images: Tensor) -> Tensor:
        """``(batch, 2, 3)`` maps from output to input pixel coordinates ``(x, y)``."""
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"fill_mode={self.fill_mode!r}, interpolation={self.interpolation!r}"


def _affine(a0: Tensor, a1: Tensor, a2: Tensor, b0: Tensor, b1: Tensor, b2: Tensor) -> Tensor:
    """``(batch, 2, 3)`` from the six per-image coefficients of Keras's transform vectors."""
    return torch.stack((a0, a1, a2, b0, b1, b2), dim=-1).view(-1, 2, 3)


class Rotate(RandomAffine):
    """Rotation about the image centre by an angle drawn in ``[low, high]`` turns."""

    def __init__(self, low: float, high: float, **resampling: Any) -> None:
        super().__init__(**resampling)
        self.low, self.high = low, high

    def matrix(self, images: Tensor) -> Tensor:
        height, width = images.shape[-2:]
        angle = self.uniform((images.shape[0],), self.low * 2 * math.pi, self.high * 2 * math.pi, images)
        cos, sin = torch.cos(angle), torch.sin(angle)
        cx, cy = (width - 1) / 2, (height - 1) / 2
        return _affine(cos, -sin, cx - cx * cos + cy * sin, sin, cos, cy - cx * sin - cy * cos)


@LAYERS.register("random_rotation")
class RandomRotation(AffineLayer):
    """Rotates images about their centre by a random angle while training.

    Args:
        factor: Fraction of a full turn: ``0.1`` rotates by up to 36 degrees either way (a number ``f`` means
            ``[-f, f]``), a pair ``(lower, upper)`` sets both ends; positive angles turn counter-clockwise.
        fill_mode: Points outside the input: ``'reflect'``, ``'wrap'``, ``'constant'`` or ``'nearest'``.
        interpolation: ``'bilinear'`` or ``'nearest'``.
        seed: Seed of the layer's own stream of draws; ``None`` draws from torch's global generator.
        fill_value: The value outside the image for ``fill_mode='constant'``.
        data_format: ``'channels_last'`` or ``'channels_first'``; the global default when ``None``.
    """

    def __init__(self, factor: float | tuple[float, float], fill_mode: str = "reflect",
                 interpolation: str = "bilinear", seed: int | None = None, fill_value: float = 0.0,
                 data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.factor = factor
        self._bounds = keras_factor(factor, (-1.0, 1.0), "RandomRotation")
        self._set_resampling(fill_mode, interpolation, fill_value, seed, data_format)

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        self._split(input_shape)
        return Rotate(*self._bounds, **self._resampling()), input_shape


class Zoom(RandomAffine):
    """Scaling about the image centre: an output pixel reads the input ``zoom`` times farther from it."""

    def __init__(self, height: tuple[float, float], width: tuple[float, float] | None, **resampling: Any) -> None:
        super().__init__(**resampling)
        self.height, self.width = height, width

    def matrix(self, images: Tensor) -> Tensor:
        batch, (rows, cols) = images.shape[0], images.shape[-2:]
        zoom_y = self.uniform((batch,), 1.0 + self.height[0], 1.0 + self.height[1], images)
        zoom_x = zoom_y if self.width is None else self.uniform((batch,), 1.0 + self.width[0], 1.0 + self.width[1],
                                                                images)
        zero = torch.zeros_like(zoom_x)
        return _affine(zoom_x, zero, (cols - 1) / 2 * (1 - zoom_x), zero, zoom_y, (rows - 1) / 2 * (1 - zoom_y))


@LAYERS.register("random_zoom")
class RandomZoom(AffineLayer):
    """Zooms images in or out by a random factor per axis while training.

    Args:
        height_factor: Fraction in ``(-1, 1]``: ``0.2`` draws the vertical zoom from ``[-20%, +20%]``; a
            pair ``(lower, upper)`` sets both ends. Positive values zoom out (the image shrinks, with
            filled borders), negative ones zoom in, as in Keras.
        width_factor: The same for the horizontal axis; ``None`` keeps the aspect ratio (one draw for both).
        fill_mode: Points outside the input: ``'reflect'``, ``'wrap'``, ``'constant'`` or ``'nearest'``.
        interpolation: ``'bilinear'`` or ``'nearest'``.
        seed: Seed of the layer's own stream of draws; ``None`` draws from torch's global generator.
        fill_value: The value outside the image for ``fill_mode='constant'``.
        data_format: ``'channels_last'`` or ``'channels_first'``; the global default when ``None``.
    """

    def __init__(self, height_factor: float | tuple[float, float], width_factor: float | tuple[float, float] | None = None,
                 fill_mode: str = "reflect", interpolation: str = "bilinear", seed: int | None = None,
                 fill_value: float = 0.0, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.height_factor, self.width_factor = height_factor, width_factor
        self._height = _signed_factor(height_factor, "RandomZoom", "height_factor", low_open=True)
        self._width = None if width_factor is None else _signed_factor(width_factor, "RandomZoom", "width_factor",
                                                                       low_open=True)
        self._set_resampling(fill_mode, interpolation, fill_value, seed, data_format)

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        self._split(input_shape)
        return Zoom(self._height, self._width, **self._resampling()), input_shape


class Translate(RandomAffine):
    """Shifts by fractions of the height and width drawn in the given ranges."""

    def __init__(self, height: tuple[float, float], width: tuple[float, float], **resampling: Any) -> None:
        super().__init__(**resampling)
        self.height, self.width = height, width

    def matrix(self, images: Tensor) -> Tensor:
        batch, (rows, cols) = images.shape[0], images.shape[-2:]
        dy = self.uniform((batch,), *self.height, images) * rows  # Keras draws the rows' shift first
        dx = self.uniform((batch,), *self.width, images) * cols
        one, zero = torch.ones_like(dx), torch.zeros_like(dx)
        return _affine(one, zero, -dx, zero, one, -dy)


@LAYERS.register("random_translation")
class RandomTranslation(AffineLayer):
    """Shifts images by a random fraction of their height and width while training.

    Args:
        height_factor: Fraction in [-1, 1]: ``0.2`` shifts up or down by up to 20% of the height; a pair
            ``(lower, upper)`` sets both ends (positive values move the content down).
        width_factor: The same for the width (positive values move the content right).
        fill_mode: Points outside the input: ``'reflect'``, ``'wrap'``, ``'constant'`` or ``'nearest'``.
        interpolation: ``'bilinear'`` or ``'nearest'``.
        seed: Seed of the layer's own stream of draws; ``None`` draws from torch's global generator.
        fill_value: The value outside the image for ``fill_mode='constant'``.
        data_format: ``'channels_last'`` or ``'channels_first'``; the global default when ``None``.
    """

    def __init__(self, height_factor: float | tuple[float, float], width_factor: float | tuple[float, float],
                 fill_mode: str = "reflect", interpolation: str = "bilinear", seed: int | None = None,
                 fill_value: float = 0.0, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.height_factor, self.width_factor = height_factor, width_factor
        self._height = _signed_factor(height_factor, "RandomTranslation", "height_factor")
        self._width = _signed_factor(width_factor, "RandomTranslation", "width_factor")
        self._set_resampling(fill_mode, interpolation, fill_value, seed, data_format)

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        self._split(input_shape)
        return Translate(self._height, self._width, **self._resampling()), input_shape
