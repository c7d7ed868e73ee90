"""Keras ``axis`` arguments (batch axis counted, negative from the end) resolved against a layer's inputs."""

from __future__ import annotations

from typing import Any

from nnkit.errors import ConfigError
from nnkit.layers.base import Shape


def resolve_axes(axis: Any, input_shape: Shape, layer: str, *, allow_list: bool = True) -> tuple[int, ...]:
    """Keras ``axis`` (an int or, where allowed, a list) as sorted positive axes of the batched input.

    Args:
        axis: The user's argument, e.g. ``-1`` or ``[1, 2]``.
        input_shape: Shape of one sample (no batch axis).
        layer: How to name the layer in errors, e.g. ``"Softmax layer 'softmax'"``.
        allow_list: Whether a list of axes is accepted.

    Raises:
        ConfigError: an axis is not an int, is out of range for the input, or is the batch axis.
    """
    rank = len(input_shape) + 1
    many = isinstance(axis, (list, tuple))
    values = list(axis) if many and allow_list else [axis]
    expected = "an int or a list of ints" if allow_list else "an int"
    if not values or any(isinstance(a, bool) or not isinstance(a, int) for a in values):
        raise ConfigError(f"{layer} expects `axis` to be {expected}. Received: axis={axis!r}.")
    resolved = []
    for a in values:
        if not -rank <= a < rank or a % rank == 0:
            raise ConfigError(
                f"{layer} got axis={axis!r}, but its inputs of shape {(None, *input_shape)} have axes 1..{rank - 1} "
                f"(or -1..-{rank - 1}) besides the batch axis 0. Use axis=-1 for the last (features) axis."
            )
        resolved.append(a % rank)
    return tuple(sorted(set(resolved)))


def axes_layout(axes: tuple[int, ...], sizes: Shape, rank: int) -> tuple[bool, list[int]]:
    """For weights over ``axes`` (of ``sizes``) of a rank-``rank`` batch: whether those are the trailing axes
    (torch's fused normalizations take only those) and the shape that broadcasts the weights against the batch."""
    broadcast = [1] * rank
    for axis, size in zip(axes, sizes):
        broadcast[axis] = size
    return axes == tuple(range(rank - len(axes), rank)), broadcast
