"""Regularization layers: the dropout family, Gaussian noise and activity regularization.

Each one acts only while the model trains (``fit``, ``train_on_batch``); in ``evaluate`` and
``predict`` it is the identity, as in Keras. Random draws come from torch's global generator, so
``nnkit.utils.set_random_seed`` makes them reproducible; the Keras ``seed`` argument is accepted
for compatibility.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from nnkit import config, regularizers
from nnkit.errors import ConfigError
from nnkit.layers.base import LAYERS, Layer, Shape

# SELU's constants: AlphaDropout drops units to SELU's negative saturation value.
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _rate(value: Any, layer: str, name: str = "rate") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ConfigError(f"{layer} expects `{name}` in [0, 1). Received: {name}={value!r}.")
    return float(value)


class ChannelDropout(nn.Module):
    """Drops whole channels (all positions of a channel for one sample) and rescales the rest.

    Args:
        rate: Fraction of channels to drop.
        channel_axis: Axis of the channels in the tensors this module receives (``1`` or ``-1``).
    """

    def __init__(self, rate: float, channel_axis: int) -> None:
        super().__init__()
        self.rate, self.channel_axis = rate, channel_axis

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.rate == 0:
            return x
        shape = [1] * x.ndim
        shape[0], shape[self.channel_axis] = x.shape[0], x.shape[self.channel_axis]
        keep = torch.empty(shape, dtype=x.dtype, device=x.device).bernoulli_(1 - self.rate)
        return x * keep.div_(1 - self.rate)

    def extra_repr(self) -> str:
        return f"rate={self.rate}, channel_axis={self.channel_axis}"


class _SpatialDropout(Layer):
    """Shared body of SpatialDropout1D/2D/3D: ``spatial_dims`` image axes plus channels."""

    spatial_dims: int = 1

    def _setup(self, rate: float, data_format: str | None) -> None:
        self.rate = _rate(rate, type(self).__name__)
        self.data_format = config.resolve_data_format(data_format)  # fixed at construction, as in Keras

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        kind = type(self).__name__
        if len(input_shape) != self.spatial_dims + 1:
            axes = {1: "(batch, steps, channels)", 2: "(batch, height, width, channels)",
                    3: "(batch, depth, height, width, channels)"}[self.spatial_dims]
            raise ConfigError(
                f"{kind} layer '{self.name}' expects inputs shaped {axes} but received {(None, *input_shape)}. "
                "Use Dropout for other shapes, or Reshape the inputs."
            )
        if self.spatial_dims == 1:
            self.layout, axis = "keras", -1
        else:  # channels-last images arrive channels-first (torch layout), so the mask is (batch, C, 1, 1)
            self.layout, axis = ("torch" if self.data_format == "channels_last" else "keras"), 1
        return ChannelDropout(self.rate, axis), input_shape


@LAYERS.register("spatial_dropout1d", aliases=("spatialdropout1d",))
class SpatialDropout1D(_SpatialDropout):
    """Dropout of whole feature maps of ``(batch, steps, channels)`` inputs.

    Args:
        rate: Fraction of channels to drop, in ``[0, 1)``.
        seed: Accepted for Keras compatibility; use ``nnkit.utils.set_random_seed``.
    """

    spatial_dims = 1

    def __init__(self, rate: float, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._setup(rate, None)


@LAYERS.register("spatial_dropout2d", aliases=("spatialdropout2d",))
class SpatialDropout2D(_SpatialDropout):
    """Dropout of whole channels of images (``(batch, height, width, channels)`` by default).

    Args:
        rate: Fraction of channels to drop, in ``[0, 1)``.
        data_format: ``'channels_last'`` or ``'channels_first'``; the global default when ``None``.
        seed: Accepted for Keras compatibility; use ``nnkit.utils.set_random_seed``.
    """

    spatial_dims = 2

    def __init__(self, rate: float, data_format: str | None = None, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._setup(rate, data_format)


@LAYERS.register("spatial_dropout3d", aliases=("spatialdropout3d",))
class SpatialDropout3D(_SpatialDropout):
    """Dropout of whole channels of volumes (``(batch, depth, height, width, channels)`` by default).

    Args:
        rate: Fraction of channels to drop, in ``[0, 1)``.
        data_format: ``'channels_last'`` or ``'channels_first'``; the global default when ``None``.
        seed: Accepted for Keras compatibility; use ``nnkit.utils.set_random_seed``.
    """

    spatial_dims = 3

    def __init__(self, rate: float, data_format: str | None = None, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._setup(rate, data_format)


class MultiplicativeNoise(nn.Module):
    """``x * N(1, stddev)`` while training."""

    def __init__(self, stddev: float) -> None:
        super().__init__()
        self.stddev = stddev

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.stddev == 0:
            return x
        return x * torch.empty_like(x).normal_(1.0, self.stddev)

    def extra_repr(self) -> str:
        return f"stddev={self.stddev}"


class AdditiveNoise(nn.Module):
    """``x + N(0, stddev)`` while training."""

    def __init__(self, stddev: float) -> None:
        super().__init__()
        self.stddev = stddev

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.stddev == 0:
            return x
        return x + torch.empty_like(x).normal_(0.0, self.stddev)

    def extra_repr(self) -> str:
        return f"stddev={self.stddev}"


@LAYERS.register("gaussian_dropout")
class GaussianDropout(Layer):
    """Multiplies inputs by noise drawn from ``N(1, sqrt(rate / (1 - rate)))`` while training.

    Args:
        rate: Drop probability of the equivalent Dropout, in ``[0, 1)``.
        seed: Accepted for Keras compatibility; use ``nnkit.utils.set_random_seed``.
    """

    layout = "any"

    def __init__(self, rate: float, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rate = _rate(rate, "GaussianDropout")

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        return MultiplicativeNoise(math.sqrt(self.rate / (1.0 - self.rate))), input_shape


@LAYERS.register("gaussian_noise")
class GaussianNoise(Layer):
    """Adds noise drawn from ``N(0, stddev)`` while training, a data augmentation for real inputs.

    Args:
        stddev: Standard deviation of the noise, ``>= 0``.
        seed: Accepted for Keras compatibility; use ``nnkit.utils.set_random_seed``.
    """

    layout = "any"

    def __init__(self, stddev: float, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(stddev, bool) or not isinstance(stddev, (int, float)) or not stddev >= 0:
            raise ConfigError(f"GaussianNoise expects `stddev` to be a number >= 0. Received: stddev={stddev!r}.")
        self.stddev = float(stddev)

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        return AdditiveNoise(self.stddev), input_shape


class AlphaDrop(nn.Module):
    """Keras's AlphaDropout: dropped units take SELU's saturation value, then an affine map restores
    the mean and variance.

    Args:
        rate: Fraction of units to drop.
        noise_shape: Shape of the drop mask (batch axis included), ``None`` entries following the
            input; ``None`` for an independent draw per unit.
    """

    def __init__(self, rate: float, noise_shape: tuple[int | None, ...] | None = None) -> None:
        super().__init__()
        self.rate, self.noise_shape = rate, noise_shape
        alpha_p = -_SELU_ALPHA * _SELU_SCALE
        self.alpha_p = alpha_p
        self.a = ((1 - rate) * (1 + rate * alpha_p**2)) ** -0.5
        self.b = -self.a * alpha_p * rate

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.rate == 0:
            return x
        shape = x.shape if self.noise_shape is None else [
            d if n is None else n for d, n in zip(x.shape, self.noise_shape)]
        kept = (torch.rand(shape, dtype=x.dtype, device=x.device) >= self.rate).to(x.dtype)
        return self.a * (x * kept + self.alpha_p * (1 - kept)) + self.b

    def extra_repr(self) -> str:
        return f"rate={self.rate}" + ("" if self.noise_shape is None else f", noise_shape={self.noise_shape}")


@LAYERS.register("alpha_dropout")
class AlphaDropout(Layer):
    """Dropout that keeps the mean and variance of its inputs, for self-normalizing (SELU) networks.

    Args:
        rate: Fraction of units to drop, in ``[0, 1)``.
        noise_shape: Shape of the drop mask with the batch axis, e.g. ``(None, 1, features)`` to drop
            the same features at every step; ``None`` entries follow the input.
        seed: Accepted for Keras compatibility; use ``nnkit.utils.set_random_seed``.
    """

    layout = "any"

    def __init__(self, rate: float, noise_shape: Any = None, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rate = _rate(rate, "AlphaDropout")
        if noise_shape is not None:
            if not isinstance(noise_shape, (list, tuple)) or any(
                    n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1) for n in noise_shape):
                raise ConfigError(
                    "AlphaDropout expects `noise_shape` to be a tuple of positive ints or None, batch axis included, "
                    f"e.g. (None, 1, 8). Received: noise_shape={noise_shape!r}."
                )
            self.layout = "keras"
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        if self.noise_shape is not None:
            full = (None, *input_shape)
            if len(self.noise_shape) != len(full) or any(
                    n is not None and n not in (1, d) for n, d in zip(self.noise_shape, full)):
                raise ConfigError(
                    f"AlphaDropout layer '{self.name}' got noise_shape={self.noise_shape} for inputs {full}: it needs "
                    "one entry per input axis (batch included), each None, 1 or the input's size."
                )
        return AlphaDrop(self.rate, self.noise_shape), input_shape


@LAYERS.register("activity_regularization")
class ActivityRegularization(Layer):
    """Identity layer that adds ``l1 * sum|x| + l2 * sum(x**2)`` of its inputs (per sample) to the loss.

    Args:
        l1: L1 factor, ``>= 0``.
        l2: L2 factor, ``>= 0``.
    """

    layout = "any"

    def __init__(self, l1: float = 0.0, l2: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.l1, self.l2 = l1, l2
        self.activity_regularizer = regularizers.L1L2(l1=l1, l2=l2)

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        return nn.Identity(), input_shape
