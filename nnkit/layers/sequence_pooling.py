"""Global pooling over the steps of a sequence: ``GlobalAveragePooling1D`` and ``GlobalMaxPooling1D``."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from nnkit import config
from nnkit.errors import ConfigError
from nnkit.layers.base import LAYERS, Layer, Shape


class StepAverage(nn.Module):
    """Mean over the steps axis; with a mask, the mean of the unmasked steps only."""

    takes_mask = True

    def __init__(self, steps_axis: int, keepdims: bool) -> None:
        super().__init__()
        self.steps_axis, self.keepdims = steps_axis, keepdims

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        if mask is None:
            return x.mean(dim=self.steps_axis, keepdim=self.keepdims)
        valid = mask.to(torch.bool).unsqueeze(2 if self.steps_axis == 1 else 1)
        total = torch.where(valid, x, 0.0).sum(dim=self.steps_axis, keepdim=self.keepdims)
        count = valid.sum(dim=self.steps_axis, keepdim=self.keepdims).to(x.dtype)
        return total / count.clamp(min=1)  # an all-masked sample averages to 0 (Keras: 0 / 0 = NaN)

    def compute_mask(self, inputs: Tensor, mask: Tensor | None) -> None:
        """The steps axis is gone, and the mask with it."""
        return None

    def extra_repr(self) -> str:
        return f"steps_axis={self.steps_axis}, keepdims={self.keepdims}"


class StepMax(nn.Module):
    """Maximum over the steps axis (masks are not applied, as in Keras 3)."""

    def __init__(self, steps_axis: int, keepdims: bool) -> None:
        super().__init__()
        self.steps_axis, self.keepdims = steps_axis, keepdims

    def forward(self, x: Tensor) -> Tensor:
        return x.amax(dim=self.steps_axis, keepdim=self.keepdims)

    def compute_mask(self, inputs: Tensor, mask: Tensor | None) -> None:
        """The steps axis is gone, and the mask with it."""
        return None

    def extra_repr(self) -> str:
        return f"steps_axis={self.steps_axis}, keepdims={self.keepdims}"


class _GlobalPooling1D(Layer):
    """Shared arguments and shapes of the global 1D poolings."""

    _module: type[nn.Module]

    def __init__(self, data_format: str | None = None, keepdims: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data_format = config.resolve_data_format(data_format)
        self.keepdims = bool(keepdims)

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        if len(input_shape) != 2:
            layout = "(batch, steps, features)" if self.data_format == "channels_last" else "(batch, features, steps)"
            raise ConfigError(
                f"{type(self).__name__} layer '{self.name}' expects inputs of shape {layout} but received "
                f"{(None, *input_shape)}. Images take the 2D poolings; a flat vector needs no pooling."
            )
        channels_last = self.data_format == "channels_last"
        features = input_shape[1] if channels_last else input_shape[0]
        if self.keepdims:
            output_shape = (1, features) if channels_last else (features, 1)
        else:
            output_shape = (features,)
        return self._module(1 if channels_last else 2, self.keepdims), output_shape


@LAYERS.register("global_average_pooling1d",
                 aliases=("global_average_pooling1_d", "global_avg_pool1d", "global_avg_pool1_d"))
class GlobalAveragePooling1D(_GlobalPooling1D):
    """Average over the steps of each sequence: ``(batch, steps, features)`` -> ``(batch, features)``.

    With a mask (``Embedding(mask_zero=True)``, ``Masking``) only the unmasked steps are averaged, as in
    Keras; a sample whose steps are all masked gives zeros (Keras gives NaN).

    Args:
        data_format: ``'channels_last'`` (steps then features, the default) or ``'channels_first'``.
        keepdims: Keep the steps axis with length 1.
    """

    _module = StepAverage


@LAYERS.register("global_max_pooling1d", aliases=("global_max_pooling1_d", "global_max_pool1d", "global_max_pool1_d"))
class GlobalMaxPooling1D(_GlobalPooling1D):
    """Maximum over the steps of each sequence: ``(batch, steps, features)`` -> ``(batch, features)``.

    As in Keras 3 the mask is not applied: padded steps take part in the maximum (``Masking`` zeroes
    them first; an ``Embedding``'s padding id has its own learned vector). Use
    ``GlobalAveragePooling1D`` to pool only the valid steps.

    Args:
        data_format: ``'channels_last'`` (steps then features, the default) or ``'channels_first'``.
        keepdims: Keep the steps axis with length 1.
    """

    _module = StepMax
