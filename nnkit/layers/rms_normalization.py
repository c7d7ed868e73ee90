"""``RMSNormalization``: scales each sample by the reciprocal root mean square of its values over ``axis``.

Axes are counted as in Keras, batch axis included: ``axis=-1`` is the features (channels-last) axis.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from nnkit import config
from nnkit.errors import ConfigError
from nnkit.layers.axes import axes_layout, resolve_axes
from nnkit.layers.base import LAYERS, Layer, Shape


class RMSNorm(nn.Module):
    """``x * rsqrt(mean(x ** 2 over axes) + eps) * weight``; torch's fused ``rms_norm`` when ``axes`` are
    the trailing axes, which is what Keras calls on the torch backend."""

    def __init__(self, sizes: Shape, axes: tuple[int, ...], rank: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(sizes, dtype=config.float_dtype()))  # Keras's `scale`
        self.sizes, self.axes, self.eps = tuple(sizes), axes, eps
        self.trailing, self.broadcast = axes_layout(axes, sizes, rank)

    def forward(self, x: Tensor) -> Tensor:
        if self.trailing:
            return F.rms_norm(x, self.sizes, self.weight, self.eps)
        inverse = torch.rsqrt(torch.mean(torch.square(x), dim=self.axes, keepdim=True) + self.eps)
        return x * inverse * self.weight.view(self.broadcast)

    def extra_repr(self) -> str:
        return f"axes={self.axes}, eps={self.eps}"


@LAYERS.register("rms_normalization", aliases=("rmsnormalization", "rms_norm"))
class RMSNormalization(Layer):
    """Root mean square normalization (Zhang & Sennrich, 2019): ``x * rsqrt(mean(x ** 2) + epsilon) * scale``.

    Unlike ``LayerNormalization`` it subtracts no mean and has no offset. The learned ``scale`` (one weight,
    Keras's name and shape, initialized to ones) has the shape of the normalized axes.

    Args:
        axis: Axis or list of axes to normalize over (batch axis counted); ``-1`` by default.
        epsilon: Added to the mean square before the square root (Keras default ``1e-6``).

    Keras on the torch backend only handles trailing axes (it calls torch's ``rms_norm``); nnkit also
    normalizes over other axes, e.g. ``axis=1`` of ``(batch, steps, features)``, with ``scale`` along them.

    Example:
        >>> RMSNormalization(epsilon=1e-5)
        RMSNormalization(epsilon=1e-05)
    """

    def __init__(self, axis: int | list[int] = -1, epsilon: float = 1e-6, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or epsilon < 0:
            raise ConfigError(f"RMSNormalization expects `epsilon` to be a number >= 0. Received: epsilon={epsilon!r}.")
        self.axis, self.epsilon = axis, float(epsilon)

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        axes = resolve_axes(self.axis, input_shape, f"RMSNormalization layer '{self.name}'")
        sizes = tuple(input_shape[a - 1] for a in axes)
        if any(size is None for size in sizes):
            raise ConfigError(
                f"RMSNormalization layer '{self.name}' needs a known size on the normalized axes {list(axes)}, but "
                f"received inputs of shape {(None, *input_shape)}. Give the Input that size or normalize other axes."
            )
        return RMSNorm(sizes, axes, len(input_shape) + 1, self.epsilon), input_shape
