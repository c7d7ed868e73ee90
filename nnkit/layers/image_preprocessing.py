"""Image preprocessing layers that always apply: Resizing and CenterCrop, and the base of every image layer.

An image layer takes batches ``(batch, height, width, channels)`` (or channels first with
``data_format='channels_first'``) and, called directly, single ``(height, width, channels)`` images, as
in Keras. Its module works on the layer's own layout (``layout = "keras"``) and moves the channels
itself where torch's image functions want them first: a view, not a copy.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from nnkit import config
from nnkit.errors import ConfigError, DataError
from nnkit.layers import image_ops
from nnkit.layers.base import LAYERS, Layer, Shape
from nnkit.random import SeedGenerator


def _positive_int(value: Any, arg: str, layer: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{layer} expects `{arg}` to be a positive int. Received: {arg}={value!r}.")
    return value


def _number(value: Any, arg: str, layer: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{layer} expects `{arg}` to be a number. Received: {arg}={value!r}.")
    return float(value)


def _choice(value: Any, arg: str, layer: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        options = ", ".join(repr(a) for a in allowed)
        raise ConfigError(f"{layer} expects `{arg}` to be one of {options}. Received: {arg}={value!r}.")
    return value


class ImageModule(nn.Module):
    """Runs :meth:`transform` on channels-first batches; single images become batches of one.

    Args:
        channels_last: Whether the tensors it receives have their channels last.
        generator: The stream random layers draw from; ``None`` for torch's global generator.

    Random layers set ``augments = True``: outside training they return their inputs unchanged.
    """

    augments: ClassVar[bool] = False

    def __init__(self, channels_last: bool, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.channels_last, self.generator = channels_last, generator

    def forward(self, x: Tensor) -> Tensor:
        if not x.is_floating_point():  # Keras computes on images in the float type (uint8 pixels too)
            x = x.to(config.float_dtype())
        if self.augments and not self.training:
            return x
        if x.ndim not in (3, 4):
            raise DataError(
                f"{type(self).__name__} expects images of rank 4 (batch, height, width, channels) or rank 3 (one "
                f"image). Received a tensor of shape {tuple(x.shape)}."
            )
        single = x.ndim == 3
        if single:
            x = x.unsqueeze(0)
        if self.channels_last:
            x = x.permute(0, 3, 1, 2)
        y = self.transform(x)
        if self.channels_last:
            y = y.permute(0, 2, 3, 1)
        return y.squeeze(0) if single else y

    def transform(self, images: Tensor) -> Tensor:
        """The computation on ``(batch, channels, height, width)`` float images."""
        raise NotImplementedError

    def uniform(self, shape: tuple[int, ...], low: float, high: float, like: Tensor) -> Tensor:
        """Draws from ``U[low, high)`` on ``like``'s device: from the layer's seed stream when it has one."""
        if self.generator is None:
            return torch.empty(shape, dtype=like.dtype, device=like.device).uniform_(low, high)
        draws = torch.empty(shape, dtype=like.dtype).uniform_(low, high, generator=self.generator)
        return draws.to(like.device, non_blocking=True)


class ImageLayer(Layer):
    """Base of the image layers: ``data_format``, single-image calls and the shape checks."""

    def _set_data_format(self, data_format: str | None) -> None:
        if data_format not in (None, "channels_last", "channels_first"):
            raise ConfigError(
                f"{type(self).__name__} expects `data_format` to be 'channels_last', 'channels_first' or None "
                f"(nnkit.config.image_data_format()). Received: data_format={data_format!r}."
            )
        self.data_format = config.resolve_data_format(data_format)  # fixed at construction, as in Keras

    def _set_seed(self, seed: int | None) -> None:
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not -2**63 <= seed < 2**63):
            raise ConfigError(f"{type(self).__name__} expects `seed` to be an int (64-bit) or None. "
                              f"Received: seed={seed!r}.")
        self.seed = seed
        #: The layer's own stream of draws when seeded (Keras's ``layer.generator``); None: torch's global one.
        self.generator = None if seed is None else SeedGenerator(seed)

    @property
    def _torch_generator(self) -> torch.Generator | None:
        return None if self.generator is None else self.generator.generator

    @property
    def _channels_last(self) -> bool:
        return self.data_format == "channels_last"

    def _build_for(self, inputs: Any) -> None:
        if isinstance(inputs, Tensor) and inputs.ndim == 3:  # one image, called directly (as Keras allows)
            self.attach(tuple(inputs.shape))
            return
        super()._build_for(inputs)

    def _split(self, input_shape: Shape) -> tuple[int, int, int]:
        """``(height, width, channels)`` of one image, after checking its rank."""
        if len(input_shape) != 3:
            layout = "(height, width, channels)" if self._channels_last else "(channels, height, width)"
            raise DataError(
                f"{type(self).__name__} layer '{self.name}' expects images {layout} in batches, but received "
                f"inputs of shape {(None, *input_shape)}. Reshape them to {layout}, e.g. Reshape((28, 28, 1)) for "
                "flat 28x28 grayscale images, or pass data_format='channels_first' if the channels come first."
            )
        if self._channels_last:
            return input_shape[0], input_shape[1], input_shape[2]
        return input_shape[1], input_shape[2], input_shape[0]

    def _join(self, height: int | None, width: int | None, channels: int) -> Shape:
        return (height, width, channels) if self._channels_last else (channels, height, width)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments, with ``data_format`` resolved as Keras reports it."""
        config_ = super().get_config()
        if "data_format" in config_:
            config_["data_format"] = self.data_format
        return config_


class Resize(ImageModule):
    """Keras's ``ops.image.resize`` with the layer's settings."""

    def __init__(self, channels_last: bool, size: tuple[int, int], interpolation: str, antialias: bool,
                 crop_to_aspect_ratio: bool, pad_to_aspect_ratio: bool, fill_value: float) -> None:
        super().__init__(channels_last)
        self.size, self.interpolation, self.antialias = size, interpolation, antialias
        self.crop, self.pad, self.fill_value = crop_to_aspect_ratio, pad_to_aspect_ratio, fill_value

    def transform(self, images: Tensor) -> Tensor:
        return image_ops.resize(images, self.size, self.interpolation, self.antialias, self.crop, self.pad,
                                self.fill_value)

    def extra_repr(self) -> str:
        return f"size={self.size}, interpolation={self.interpolation!r}"


@LAYERS.register("resizing")
class Resizing(ImageLayer):
    """Resizes images to ``height x width``, in training and inference alike.

    Args:
        height: Output height.
        width: Output width.
        interpolation: ``'bilinear'``, ``'nearest'`` or ``'bicubic'`` (Keras's torch backend has no
            Lanczos resizing either).
        crop_to_aspect_ratio: Resize the largest centred window of the target aspect ratio instead of
            distorting the image.
        pad_to_aspect_ratio: Pad the short side evenly to the target aspect ratio (with ``fill_value``)
            instead of distorting the image.
        fill_mode: How padded areas are filled; only ``'constant'``, as in Keras.
        fill_value: The value of padded areas.
        antialias: Low-pass filter when downsampling (bilinear and bicubic only).
        data_format: ``'channels_last'`` or ``'channels_first'``; the global default when ``None``.

    Example:
        >>> model = Sequential([Input((64, 48, 3)), Resizing(32, 32, crop_to_aspect_ratio=True)])  # doctest: +SKIP
    """

    def __init__(self, height: int, width: int, interpolation: str = "bilinear", crop_to_aspect_ratio: bool = False,
                 pad_to_aspect_ratio: bool = False, fill_mode: str = "constant", fill_value: float = 0.0,
                 antialias: bool = False, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._set_data_format(data_format)
        self.height, self.width = _positive_int(height, "height", "Resizing"), _positive_int(width, "width", "Resizing")
        if interpolation in ("lanczos3", "lanczos5", "area"):
            raise ConfigError(
                f"Resizing with interpolation={interpolation!r} is not supported on torch (Keras's torch backend "
                "refuses it too). Use 'bilinear' (with antialias=True when downsampling), 'bicubic' or 'nearest'."
            )
        self.interpolation = _choice(interpolation, "interpolation", "Resizing", tuple(image_ops.RESIZE_MODES))
        self.fill_mode = _choice(fill_mode, "fill_mode", "Resizing", ("constant",))
        self.fill_value = _number(fill_value, "fill_value", "Resizing")
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise ConfigError("Resizing takes crop_to_aspect_ratio=True or pad_to_aspect_ratio=True, not both.")
        self.crop_to_aspect_ratio, self.pad_to_aspect_ratio = bool(crop_to_aspect_ratio), bool(pad_to_aspect_ratio)
        self.antialias = bool(antialias)

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        _, _, channels = self._split(input_shape)
        module = Resize(self._channels_last, (self.height, self.width), self.interpolation, self.antialias,
                        self.crop_to_aspect_ratio, self.pad_to_aspect_ratio, self.fill_value)
        return module, self._join(self.height, self.width, channels)


class CenterCropping(ImageModule):
    """A centred ``height x width`` crop, or Keras's crop-to-aspect-ratio resize of smaller images."""

    def __init__(self, channels_last: bool, height: int, width: int) -> None:
        super().__init__(channels_last)
        self.height, self.width = height, width

    def transform(self, images: Tensor) -> Tensor:
        return image_ops.center_crop_or_resize(images, self.height, self.width)

    def extra_repr(self) -> str:
        return f"height={self.height}, width={self.width}"


@LAYERS.register("center_crop")
class CenterCrop(ImageLayer):
    """Crops the centre ``height x width`` of images, in training and inference alike.

    An image smaller than the crop on either side is instead resized (bilinearly) from its largest centred
    window of the target aspect ratio, as in Keras.

    Args:
        height: Output height.
        width: Output width.
        data_format: ``'channels_last'`` or ``'channels_first'``; the global default when ``None``.
    """

    def __init__(self, height: int, width: int, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._set_data_format(data_format)
        self.height = _positive_int(height, "height", "CenterCrop")
        self.width = _positive_int(width, "width", "CenterCrop")

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        _, _, channels = self._split(input_shape)
        return CenterCropping(self._channels_last, self.height, self.width), self._join(self.height, self.width,
                                                                                         channels)
