"""Random image augmentation layers that act only while the model trains: RandomFlip, RandomCrop,
RandomContrast and RandomBrightness (the resampling ones are in ``augmentation_affine``).

In ``fit`` (or a call with ``training=True``) each image of a batch gets its own random draw, computed
for the whole batch with a few tensor operations; in ``evaluate``, ``predict`` and calls with
``training=False`` the layers are the identity (RandomCrop then crops deterministically, so shapes never
change). As in Keras 3, a call that nothing gives a mode (``layer(images)``, or ``augment(images)`` with
``augment`` a Sequential of these layers) augments: their ``training`` defaults to True, while the other
layers of such a call (Dropout, BatchNormalization) infer.

Random draws come from torch's global generator, which ``nnkit.utils.set_random_seed`` seeds, or, when a
layer is given ``seed=``, from the layer's own ``nnkit.random.SeedGenerator`` (one reproducible stream per
layer). The numbers cannot equal Keras's for the same seed: Keras draws from its own generators.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from nnkit.errors import ConfigError
from nnkit.layers import image_ops
from nnkit.layers.base import LAYERS, Shape
from nnkit.layers.image_preprocessing import ImageLayer, ImageModule, _positive_int

_MODES = ("horizontal", "vertical", "horizontal_and_vertical")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def keras_factor(factor: Any, bounds: tuple[float, float], layer: str, arg: str = "factor") -> tuple[float, float]:
    """``(lower, upper)`` from a number or pair, by the rule of Keras's image layers: a number ``f`` gives
    ``(max(-|f|, bounds[0]), |f|)``, a pair is sorted.

    Raises:
        ConfigError: not a number or pair, or outside ``bounds``.
    """
    pair = isinstance(factor, (tuple, list)) and len(factor) == 2 and all(_is_number(f) for f in factor)
    if pair and not (factor[0] > bounds[1] or factor[1] < bounds[0]):
        lower, upper = sorted(factor)
        return float(lower), float(upper)
    if _is_number(factor) and bounds[0] <= factor <= bounds[1]:
        return float(max(-abs(factor), bounds[0])), float(abs(factor))
    raise ConfigError(
        f"{layer} expects `{arg}` to be a number in [{bounds[0]}, {bounds[1]}] or a pair (lower, upper) of such "
        f"numbers. Received: {arg}={factor!r}."
    )


def value_range_of(value_range: Any, layer: str) -> tuple[float, float]:
    """A ``value_range`` checked to be two numbers."""
    if not isinstance(value_range, (tuple, list)) or len(value_range) != 2 or not all(
            _is_number(v) for v in value_range):
        raise ConfigError(
            f"{layer} expects `value_range` to be two numbers (low, high), e.g. (0, 255) for pixels or (0, 1) "
            f"after Rescaling(1/255). Received: value_range={value_range!r}."
        )
    return float(value_range[0]), float(value_range[1])


class Flip(ImageModule):
    """Flips each image with probability 1/2 (Keras: the same draw flips both axes in ``horizontal_and_vertical``)."""

    augments = True

    def __init__(self, channels_last: bool, generator: torch.Generator | None, mode: str) -> None:
        super().__init__(channels_last, generator)
        self.mode = mode
        self.axes = {"horizontal": (-1,), "vertical": (-2,), "horizontal_and_vertical": (-2, -1)}[mode]

    def transform(self, images: Tensor) -> Tensor:
        flips = self.uniform((images.shape[0], 1, 1, 1), 0.0, 1.0, images) <= 0.5
        return torch.where(flips, images.flip(self.axes), images)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"


@LAYERS.register("random_flip")
class RandomFlip(ImageLayer):
    """Flips images left-right and/or upside down at random while training.

    Args:
        mode: ``'horizontal'``, ``'vertical'`` or ``'horizontal_and_vertical'``. As in Keras 3, in the last
            mode one draw per image flips it on both axes (a half turn) or leaves it.
        seed: Seed of the layer's own stream of draws; ``None`` draws from torch's global generator.
        data_format: ``'channels_last'`` or ``'channels_first'``; the global default when ``None``.

    Example:
        >>> augment = Sequential([RandomFlip("horizontal"), RandomRotation(0.1)])  # doctest: +SKIP
    """

    training_by_default = True

    def __init__(self, mode: str = "horizontal_and_vertical", seed: int | None = None, data_format: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if mode not in _MODES:
            raise ConfigError(f"RandomFlip expects `mode` to be one of {', '.join(map(repr, _MODES))}. "
                              f"Received: mode={mode!r}.")
        self.mode = mode
        self._set_seed(seed)
        self._set_data_format(data_format)

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        self._split(input_shape)
        return Flip(self._channels_last, self._torch_generator, self.mode), input_shape


class Crop(ImageModule):
    """Keras's RandomCrop: one random ``height x width`` window per batch while training on images larger
    than it on both sides; otherwise the largest centred window of its aspect ratio, resized."""

    def __init__(self, channels_last: bool, generator: torch.Generator | None, height: int, width: int) -> None:
        super().__init__(channels_last, generator)
        self.height, self.width = height, width

    def transform(self, images: Tensor) -> Tensor:
        in_height, in_width = images.shape[-2:]
        if self.training and in_height > self.height and in_width > self.width:
            # Python ints for the slice: drawn on the CPU, so a GPU batch costs no device sync.
            top = int(torch.randint(0, in_height - self.height + 1, (), generator=self.generator))
            left = int(torch.randint(0, in_width - self.width + 1, (), generator=self.generator))
            return images[..., top:top + self.height, left:left + self.width]
        return image_ops.resize(images, (self.height, self.width), crop_to_aspect_ratio=True)

    def extra_repr(self) -> str:
        return f"height={self.height}, width={self.width}"


@LAYERS.register("random_crop")
class RandomCrop(ImageLayer):
    """Crops a random ``height x width`` window of the images while training.

    As in Keras 3, the whole batch shares one window. Outside training, and for images not larger than the
    crop on both sides, the output is the largest centred window of the target aspect ratio resized
    (bilinearly) to ``height x width`` (Keras's documented rule; Keras 3.15 itself returns uncropped images
    in inference, contradicting its own output shape).

    Args:
        height: Output height.
        width: Output width.
        seed: Seed of the layer's own stream of draws; ``None`` draws from torch's global generator.
        data_format: ``'channels_last'`` or ``'channels_first'``; the global default when ``None``.
    """

    training_by_default = True

    def __init__(self, height: int, width: int, seed: int | None = None, data_format: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.height = _positive_int(height, "height", "RandomCrop")
        self.width = _positive_int(width, "width", "RandomCrop")
        self._set_seed(seed)
        self._set_data_format(data_format)

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        _, _, channels = self._split(input_shape)
        return Crop(self._channels_last, self._torch_generator, self.height, self.width), \
            self._join(self.height, self.width, channels)


class Contrast(ImageModule):
    """``(x - mean) * c + mean`` per image and channel (mean over the pixels), clipped to the value range."""

    augments = True

    def __init__(self, channels_last: bool, generator: torch.Generator | None, low: float, high: float,
                 value_range: tuple[float, float]) -> None:
        super().__init__(channels_last, generator)
        self.low, self.high, self.value_range = low, high, value_range

    def transform(self, images: Tensor) -> Tensor:
        factor = self.uniform((images.shape[0], 1, 1, 1), self.low, self.high, images)
        mean = images.mean(dim=(-2, -1), keepdim=True)
        return ((images - mean) * factor + mean).clamp(*self.value_range)

    def extra_repr(self) -> str:
        return f"contrast=[{self.low}, {self.high}], value_range={self.value_range}"


@LAYERS.register("random_contrast")
class RandomContrast(ImageLayer):
    """Scales each image's deviations from its per-channel mean by a random factor while training.

    Args:
        factor: A number ``f`` in [0, 1] or a pair ``(lower, upper)``: contrast factors are drawn from
            ``[1 - lower, 1 + upper]``. As in Keras 3, a single number gives ``lower = 0`` (contrast only
            rises, up to ``1 + f``); pass ``(f, f)`` to lower it too.
        value_range: ``(low, high)`` the outputs are clipped to (Keras's default, pixels in [0, 255]).
        seed: Seed of the layer's own stream of draws; ``None`` draws from torch's global generator.
        data_format: ``'channels_last'`` or ``'channels_first'``; the global default when ``None``.
    """

    training_by_default = True

    def __init__(self, factor: float | tuple[float, float], value_range: tuple[float, float] = (0, 255),
                 seed: int | None = None, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.factor = factor
        self._bounds = keras_factor(factor, (0.0, 1.0), "RandomContrast")
        self.value_range = value_range
        self._range = value_range_of(value_range, "RandomContrast")
        self._set_seed(seed)
        self._set_data_format(data_format)

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        self._split(input_shape)
        lower, upper = self._bounds
        return Contrast(self._channels_last, self._torch_generator, 1.0 - lower, 1.0 + upper, self._range), \
            input_shape


class Brightness(ImageModule):
    """Adds one random offset per image (all pixels and channels), clipped to the value range."""

    augments = True

    def __init__(self, channels_last: bool, generator: torch.Generator | None, low: float, high: float,
                 value_range: tuple[float, float]) -> None:
        super().__init__(channels_last, generator)
        self.low, self.high, self.value_range = low, high, value_range

    def transform(self, images: Tensor) -> Tensor:
        delta = self.uniform((images.shape[0], 1, 1, 1), self.low, self.high, images)
        return (images + delta).clamp(*self.value_range)

    def extra_repr(self) -> str:
        return f"delta=[{self.low}, {self.high}], value_range={self.value_range}"


@LAYERS.register("random_brightness")
class RandomBrightness(ImageLayer):
    """Adds a random brightness offset to each image while training.

    Args:
        factor: A number ``f`` in [-1, 1] (offsets in ``[-|f|, |f|]``) or a pair ``(lower, upper)``, as
            fractions of the value range: ``0.2`` with pixels in [0, 255] shifts by up to 51.
        value_range: ``(low, high)`` of the inputs; outputs are clipped to it.
        seed: Seed of the layer's own stream of draws; ``None`` draws from torch's global generator.
        data_format: ``'channels_last'`` or ``'channels_first'``; the global default when ``None``.
    """

    training_by_default = True

    def __init__(self, factor: float | tuple[float, float], value_range: tuple[float, float] = (0, 255),
                 seed: int | None = None, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.factor = factor
        self._bounds = keras_factor(factor, (-1.0, 1.0), "RandomBrightness")
        self.value_range = value_range
        self._range = tuple(sorted(value_range_of(value_range, "RandomBrightness")))
        self._set_seed(seed)
        self._set_data_format(data_format)

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        self._split(input_shape)
        span = self._range[1] - self._range[0]
        lower, upper = self._bounds
        return Brightness(self._channels_last, self._torch_generator, lower * span, upper * span, self._range), \
            input_shape
