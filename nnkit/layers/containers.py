"""Torch modules the model inserts between layers: axis moves and mask threading."""

from __future__ import annotations

from torch import Tensor, nn


class MoveChannels(nn.Module):
    """Moves the channel axis between last (Keras images) and 1 (torch convolutions).

    Sequential inserts one where consecutive layers work in different layouts, so a channels-last
    convnet pays one move at its input and one before ``Flatten``, not one per layer.
    """

    def __init__(self, to_first: bool) -> None:
        super().__init__()
        self.to_first = to_first

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim < 3:
            return x
        return x.movedim(-1, 1) if self.to_first else x.movedim(1, -1)

    def extra_repr(self) -> str:
        return "channels last -> first" if self.to_first else "channels first -> last"


def carry_mask(mask: Tensor | None, output: Tensor) -> Tensor | None:
    """Keras's default propagation: a mask over (batch, steps) survives while those axes do."""
    if mask is None or output.ndim < 2 or tuple(output.shape[: mask.ndim]) != tuple(mask.shape):
        return None
    return mask


class MaskedSequential(nn.Sequential):
    """``nn.Sequential`` that threads a Keras-style mask from layer to layer.

    A child that defines ``compute_mask(inputs, mask)`` sets the mask for the children after it; a
    child with ``takes_mask = True`` is called as ``child(x, mask)``. Any other child keeps the mask
    while its output keeps the masked axes. Used only when a layer produces a mask (``Embedding``
    with ``mask_zero=True``, ``Masking``).
    """

    def forward(self, x: Tensor) -> Tensor:  # type: ignore[override]
        mask: Tensor | None = None
        for child in self:
            output = child(x, mask) if getattr(child, "takes_mask", False) else child(x)
            compute = getattr(child, "compute_mask", None)
            mask = compute(x, mask) if compute is not None else carry_mask(mask, output)
            x = output
        return x
