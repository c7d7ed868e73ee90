"""Arithmetic shared by image-like layers: argument tuples, data formats, Keras 'same' padding, shape checks.

Keras reports image shapes channels-last by default, while torch's convolutions and poolings want the
channels at axis 1. A channels-last layer here therefore declares ``layout = "torch"``: its module runs
on ``(batch, channels, *spatial)`` tensors and the model moves the channel axis once at its boundaries.
A channels-first layer already sees torch's layout and keeps ``layout = "keras"``.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from torch import Tensor, nn

from nnkit import activations, config
from nnkit.errors import ConfigError, DataError
from nnkit.layers.base import Layer, keras_layer_name

_SPATIAL_NAMES = {1: ("steps",), 2: ("height", "width"), 3: ("depth", "height", "width")}
_PADS = {1: nn.ConstantPad1d, 2: nn.ConstantPad2d, 3: nn.ConstantPad3d}


# -- arguments ---------------------------------------------------------------------------------------
def int_tuple(value: Any, rank: int, arg: str, layer: str, minimum: int = 1) -> tuple[int, ...]:
    """``value`` (an int or a sequence of ``rank`` ints, each >= ``minimum``) as a ``rank``-tuple.

    Raises:
        ConfigError: naming ``layer``, the argument and the value received.
    """
    items = (value,) * rank if _is_int(value) else tuple(value) if isinstance(value, Sequence) else None
    if items is None or len(items) != rank or not all(_is_int(v) and v >= minimum for v in items):
        kind = "positive" if minimum == 1 else "non-negative"
        example = ", ".join(["3"] * rank) if minimum == 1 else ", ".join(["0"] * rank)
        raise ConfigError(
            f"{layer} expects `{arg}` to be a {kind} int or a tuple of {rank} {kind} ints, e.g. "
            f"{arg}=({example}{',' if rank == 1 else ''}). Received: {arg}={value!r}."
        )
    return tuple(int(v) for v in items)


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def positive_int(value: Any, arg: str, layer: str) -> int:
    """``value`` checked to be a positive int."""
    if not _is_int(value) or value < 1:
        raise ConfigError(f"{layer} expects `{arg}` to be a positive int. Received: {arg}={value!r}.")
    return int(value)


def check_strides_dilation(strides: tuple[int, ...], dilation: tuple[int, ...], layer: str) -> None:
    """Keras refuses strides > 1 together with dilation_rate > 1; so does this."""
    if max(strides) > 1 and max(dilation) > 1:
        raise ConfigError(
            f"{layer} cannot combine strides > 1 with dilation_rate > 1 (Keras refuses it too). "
            f"Received: strides={strides}, dilation_rate={dilation}."
        )


def padding_mode(value: Any, layer: str, allowed: tuple[str, ...] = ("valid", "same")) -> str:
    """The ``padding`` argument, lower-cased and checked against ``allowed``."""
    mode = value.lower() if isinstance(value, str) else None
    if mode not in allowed:
        options = " or ".join(repr(a) for a in allowed)
        raise ConfigError(f"{layer} expects `padding` to be {options}. Received: padding={value!r}.")
    return mode  # type: ignore[return-value]


def pair_tuple(value: Any, rank: int, arg: str, layer: str) -> tuple[tuple[int, int], ...]:
    """Keras's padding/cropping amounts: an int, one int per axis, or a ``(before, after)`` pair per axis."""
    if _is_int(value) and value >= 0:
        return ((int(value), int(value)),) * rank
    if isinstance(value, Sequence) and len(value) == rank:
        if all(_is_int(v) and v >= 0 for v in value):
            return tuple((int(v), int(v)) for v in value)
        if all(isinstance(v, Sequence) and len(v) == 2 and all(_is_int(p) and p >= 0 for p in v) for v in value):
            return tuple((int(v[0]), int(v[1])) for v in value)
    if rank == 1 and isinstance(value, Sequence) and len(value) == 2 and all(_is_int(v) and v >= 0 for v in value):
        return ((int(value[0]), int(value[1])),)
    examples = {1: "1 or (1, 2)", 2: "1, (1, 2) or ((1, 1), (2, 2))", 3: "1, (1, 2, 3) or ((1, 1), (2, 2), (3, 3))"}
    raise ConfigError(
        f"{layer} expects `{arg}` as non-negative ints: {examples[rank]}. Received: {arg}={value!r}."
    )


# -- shapes --------------------------------------------------------------------------------------------
def layout_of(data_format: str) -> str:
    """The module layout of a layer in ``data_format`` (see ``Layer.layout``)."""
    return "torch" if data_format == "channels_last" else "keras"


def describe(rank: int, data_format: str) -> str:
    """The expected input layout in words, e.g. ``(batch, height, width, channels)``."""
    names = ", ".join(_SPATIAL_NAMES[rank])
    return f"(batch, {names}, channels)" if data_format == "channels_last" else f"(batch, channels, {names})"


def split_shape(input_shape: tuple[int, ...], rank: int, data_format: str, layer: str) -> tuple[int, tuple[int, ...]]:
    """``(channels, spatial sizes)`` of one sample, after checking its rank.

    Raises:
        DataError: the input is not ``rank``-dimensional images/sequences; names the expected layout.
    """
    if len(input_shape) != rank + 1:
        raise DataError(
            f"{layer} expects inputs of shape {describe(rank, data_format)} but received inputs of shape "
            f"{(None, *input_shape)}. {_reshape_hint(input_shape, rank, data_format)}If your channels come "
            "first, pass data_format='channels_first' (or call nnkit.config.set_image_data_format)."
        )
    if data_format == "channels_last":
        return input_shape[-1], tuple(input_shape[:-1])
    return input_shape[0], tuple(input_shape[1:])


def _reshape_hint(input_shape: tuple[int, ...], rank: int, data_format: str) -> str:
    if len(input_shape) > rank:
        return ""
    names = [*_SPATIAL_NAMES[rank], "channels"] if data_format == "channels_last" else ["channels", *_SPATIAL_NAMES[rank]]
    size, side = math.prod(input_shape), math.isqrt(math.prod(input_shape))
    example = ""
    if rank == 2 and side * side == size:
        square = (side, side, 1) if data_format == "channels_last" else (1, side, side)
        example = f", e.g. Reshape({square}) for {side}x{side} single-channel images"
    return f"Add a Reshape(({', '.join(names)})) layer first{example}. "


def join_shape(channels: int, spatial: tuple[int, ...], data_format: str) -> tuple[int, ...]:
    """One sample's shape from its channels and spatial sizes."""
    return (*spatial, channels) if data_format == "channels_last" else (channels, *spatial)


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow/Keras ``'same'`` padding of one axis: output ``ceil(size / stride)``, extra pixel after."""
    effective = (kernel - 1) * dilation + 1
    out = -(-size // stride)
    total = max(0, (out - 1) * stride + effective - size)
    return total // 2, total - total // 2


def output_length(size: int, kernel: int, stride: int, dilation: int, pads: tuple[int, int]) -> int:
    """Length of one axis after a convolution or pooling window slides over it."""
    effective = (kernel - 1) * dilation + 1
    return (size + pads[0] + pads[1] - effective) // stride + 1


def window_padding(layer: str, mode: str, spatial: tuple[int, ...], kernel: tuple[int, ...],
                   strides: tuple[int, ...], dilation: tuple[int, ...], what: str = "kernel"
                   ) -> tuple[tuple[tuple[int, int], ...], tuple[int, ...]]:
    """``((before, after) per axis, output sizes)`` of a sliding window under ``mode``.

    Raises:
        DataError: with ``padding='valid'`` the input is smaller than the (dilated) window.
    """
    if mode == "same":
        pads = tuple(same_padding(n, k, s, d) for n, k, s, d in zip(spatial, kernel, strides, dilation))
    elif mode == "causal":
        pads = tuple(((k - 1) * d, 0) for k, d in zip(kernel, dilation))
    else:
        pads = ((0, 0),) * len(spatial)
    effective = tuple((k - 1) * d + 1 for k, d in zip(kernel, dilation))
    if any(n + p[0] + p[1] < e for n, p, e in zip(spatial, pads, effective)):
        dilated = f" (dilated to {_x(effective)})" if effective != kernel else ""
        raise DataError(
            f"{layer} with padding='{mode}' needs inputs at least as large as its {what} {_x(kernel)}{dilated}, "
            f"but the input's spatial size is {_x(spatial)}. Use padding='same', a smaller {what}_size, or "
            "larger inputs."
        )
    sizes = tuple(output_length(n, k, s, d, p) for n, k, s, d, p in zip(spatial, kernel, strides, dilation, pads))
    return pads, sizes


def _x(sizes: tuple[int, ...]) -> str:
    return "x".join(map(str, sizes))


def is_symmetric(pads: tuple[tuple[int, int], ...]) -> bool:
    """Whether every axis pads as much before as after (torch's own ``padding=`` argument can do it)."""
    return all(before == after for before, after in pads)


def pad_module(pads: tuple[tuple[int, int], ...], value: float = 0.0) -> nn.Module:
    """A module padding the trailing ``len(pads)`` axes of a torch-layout tensor by ``(before, after)``."""
    flat = tuple(p for pair in reversed(pads) for p in pair)  # torch lists the last axis first
    return _PADS[len(pads)](flat, value)


def assemble(parts: list[tuple[str, nn.Module | None]]) -> nn.Module:
    """The single module when only one part exists, else an ``nn.Sequential`` of the named parts."""
    present = [(name, module) for name, module in parts if module is not None]
    return present[0][1] if len(present) == 1 else nn.Sequential(OrderedDict(present))


def find_part(module: nn.Module | None, name: str, kind: type[nn.Module]) -> nn.Module:
    """The part called ``name`` of a module built by :func:`assemble` (or the module itself)."""
    if isinstance(module, kind):
        return module
    return getattr(module, name)


# -- activations ---------------------------------------------------------------------------------------
class ChannelsLastActivation(nn.Module):
    """Applies a user activation with the channels last, as Keras does, to a torch-layout tensor."""

    def __init__(self, fn: Any) -> None:
        super().__init__()
        self.fn = fn if isinstance(fn, nn.Module) else activations.Function(fn)

    def forward(self, x: Tensor) -> Tensor:
        return self.fn(x.movedim(1, -1)).movedim(-1, 1)


def activation_module(activation: Any, torch_layout: bool) -> nn.Module | None:
    """The activation of a layer whose module works in torch layout when ``torch_layout``.

    Named activations are element-wise except the softmax family, which then runs over axis 1 (the
    channels, Keras's last axis); user functions see channels-last tensors as they would under Keras.
    """
    module = activations.module(activation)
    if module is None or not torch_layout:
        return module
    if isinstance(activation, str):
        if isinstance(module, (nn.Softmax, nn.LogSoftmax)):
            module.dim = 1
        return module
    return ChannelsLastActivation(activation)


class CropModule(nn.Module):
    """Keeps ``[before, size - after)`` of each trailing axis of a torch-layout tensor (a view, no copy)."""

    def __init__(self, crops: tuple[tuple[int, int], ...], sizes: tuple[int, ...]) -> None:
        super().__init__()
        self.crops, self.sizes = tuple(crops), tuple(sizes)
        self._index = (Ellipsis, *(slice(b, n - a) for (b, a), n in zip(self.crops, self.sizes)))

    def forward(self, x: Tensor) -> Tensor:
        return x[self._index]

    def extra_repr(self) -> str:
        return f"crops={self.crops}"


# -- the base of image-like layers ------------------------------------------------------------------
def keras_names(*class_names: str) -> tuple[str, tuple[str, ...]]:
    """Registry name and aliases for Keras class names: ``("MaxPooling2D", "MaxPool2D")`` ->
    ``("max_pooling2d", ("maxpooling2d", "max_pool2d", "maxpool2d"))``."""
    canonical = keras_layer_name(class_names[0])
    aliases = {keras_layer_name(n) for n in class_names} | {n.lower() for n in class_names}
    return canonical, tuple(sorted(aliases - {canonical}))


class SpatialLayer(Layer):
    """Base of convolution, pooling and padding layers over ``rank`` spatial axes.

    Resolves ``data_format`` once, at construction (as Keras does), and chooses the module layout.
    """

    rank: ClassVar[int] = 2

    def _set_data_format(self, data_format: str | None) -> None:
        if data_format not in (None, "channels_last", "channels_first"):
            raise ConfigError(
                f"{type(self).__name__} expects `data_format` to be 'channels_last', 'channels_first' or None "
                f"(nnkit.config.image_data_format()). Received: data_format={data_format!r}."
            )
        self.data_format = config.resolve_data_format(data_format)
        self.layout = layout_of(self.data_format)

    @property
    def _label(self) -> str:
        return f"{type(self).__name__} layer '{self.name}'"

    def _split(self, input_shape: tuple[int, ...]) -> tuple[int, tuple[int, ...]]:
        return split_shape(input_shape, self.rank, self.data_format, self._label)

    def _join(self, channels: int, spatial: tuple[int, ...]) -> tuple[int, ...]:
        return join_shape(channels, spatial, self.data_format)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments, with ``data_format`` resolved as Keras reports it."""
        config_ = super().get_config()
        if "data_format" in config_:
            config_["data_format"] = self.data_format
        return config_
