"""Merge layers: combine a list of tensors into one (``Concatenate``, ``Add``, ``Subtract``, ``Multiply``,
``Average``, ``Maximum``, ``Minimum``, ``Dot``) and their function forms (``layers.add([a, b])``).

Element-wise merges broadcast as Keras does (shapes equal, or 1 where they differ) and keep the batch
axis; each builds a small torch module taking the list of tensors.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from nnkit.errors import ConfigError
from nnkit.layers.base import LAYERS, Layer, Shape


class ElementwiseModule(nn.Module):
    """Folds a list of tensors with one element-wise torch function."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def forward(self, inputs: list[Tensor]) -> Tensor:
        kind = self.kind
        if kind == "subtract":
            return inputs[0] - inputs[1]
        result = inputs[0]
        for other in inputs[1:]:
            if kind in ("add", "average"):
                result = result + other
            elif kind == "multiply":
                result = result * other
            elif kind == "maximum":
                result = torch.maximum(result, other)
            else:
                result = torch.minimum(result, other)
        return result / len(inputs) if kind == "average" else result

    def extra_repr(self) -> str:
        return self.kind


class _Merge(Layer):
    """Shared checks and shapes of the element-wise merges."""

    kind = ""
    layout = "any"  # element-wise: channels-first inputs stay channels-first
    min_inputs = 2
    max_inputs: int | None = None

    def _check_count(self, input_shape: Any) -> list[Shape]:
        if not isinstance(input_shape, list):
            raise ConfigError(f"{type(self).__name__} layer '{self.name}' merges a list of tensors, e.g. "
                              f"{type(self).__name__}()([a, b]). Received one input of shape {(None, *input_shape)}.")
        count = len(input_shape)
        if count < self.min_inputs or (self.max_inputs is not None and count > self.max_inputs):
            wanted = self.min_inputs if self.max_inputs == self.min_inputs else f"at least {self.min_inputs}"
            raise ConfigError(f"{type(self).__name__} layer '{self.name}' takes {wanted} inputs; received {count}.")
        return input_shape

    def build(self, input_shape: Any) -> tuple[nn.Module, Shape]:
        shapes = self._check_count(input_shape)
        return ElementwiseModule(self.kind), broadcast_shapes(shapes, self.name, type(self).__name__)


def broadcast_shapes(shapes: list[Shape], layer: str, kind: str) -> Shape:
    """The element-wise result shape of per-sample ``shapes`` (equal sizes, 1 or unknown broadcast)."""
    rank = max(len(s) for s in shapes)
    padded = [(1,) * (rank - len(s)) + tuple(s) for s in shapes]
    result = []
    for axis, sizes in enumerate(zip(*padded)):
        known = {d for d in sizes if d is not None and d != 1}
        if len(known) > 1:
            shown = ", ".join(str((None, *s)) for s in shapes)
            raise ConfigError(f"{kind} layer '{layer}' needs inputs of the same shape (or 1 where they differ), "
                              f"but received shapes {shown}, which differ at axis {axis + 1}.")
        result.append(known.pop() if known else (None if None in sizes else 1))
    return tuple(result)


@LAYERS.register("add")
class Add(_Merge):
    """Sums a list of tensors of the same shape: ``Add()([a, b])``."""

    kind = "add"
    keeps_integers = True  # integer inputs stay integers, as in Keras


@LAYERS.register("subtract")
class Subtract(_Merge):
    """``a - b`` for two tensors: ``Subtract()([a, b])``."""

    kind = "subtract"
    max_inputs = 2
    keeps_integers = True  # integer inputs stay integers, as in Keras


@LAYERS.register("multiply")
class Multiply(_Merge):
    """Element-wise product of a list of tensors."""

    kind = "multiply"
    keeps_integers = True  # integer inputs stay integers, as in Keras


@LAYERS.register("average")
class Average(_Merge):
    """Element-wise mean of a list of tensors."""

    kind = "average"


@LAYERS.register("maximum")
class Maximum(_Merge):
    """Element-wise maximum of a list of tensors."""

    kind = "maximum"


@LAYERS.register("minimum")
class Minimum(_Merge):
    """Element-wise minimum of a list of tensors."""

    kind = "minimum"


class ConcatenateModule(nn.Module):
    """``torch.cat`` of a list of tensors along ``axis``."""

    def __init__(self, axis: int) -> None:
        super().__init__()
        self.axis = axis

    def forward(self, inputs: list[Tensor]) -> Tensor:
        return torch.cat(inputs, dim=self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


@LAYERS.register("concatenate")
class Concatenate(_Merge):
    """Joins a list of tensors along ``axis`` (default the last); other axes must match.

    Args:
        axis: The axis to join along, counted with the batch axis (``-1``: the last).
    """

    layout = "keras"
    keeps_integers = True  # integer inputs stay integers, as in Keras

    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise ConfigError(f"Concatenate expects an int `axis`. Received: axis={axis!r}.")
        self.axis = axis

    def build(self, input_shape: Any) -> tuple[nn.Module, Shape]:
        shapes = self._check_count(input_shape)
        rank = len(shapes[0]) + 1
        axis = self.axis % rank if -rank <= self.axis < rank else None
        if axis is None or axis == 0 or any(len(s) + 1 != rank for s in shapes):
            raise ConfigError(f"Concatenate layer '{self.name}' cannot join inputs of shapes "
                              f"{', '.join(str((None, *s)) for s in shapes)} along axis {self.axis}: inputs need "
                              "the same rank and the axis must not be the batch axis.")
        for position in range(1, rank):
            sizes = {s[position - 1] for s in shapes} - {None}
            if position != axis and len(sizes) > 1:
                raise ConfigError(
                    f"Concatenate layer '{self.name}' joins along axis {self.axis}, so every other axis must "
                    f"match, but received shapes {', '.join(str((None, *s)) for s in shapes)} (they differ at "
                    f"axis {position})."
                )
        joined = [s[axis - 1] for s in shapes]
        size = None if None in joined else sum(joined)
        output = list(shapes[0])
        output[axis - 1] = size
        for position in range(1, rank):
            if position != axis and output[position - 1] is None:
                output[position - 1] = next((s[position - 1] for s in shapes if s[position - 1] is not None), None)
        return ConcatenateModule(axis), tuple(output)


_INTEGER_DOT = {torch.int64: torch.int32, torch.int8: torch.int32}


class DotModule(nn.Module):
    """Batched dot product of two tensors over ``axes`` (optionally of L2-normalised inputs)."""

    def __init__(self, axes: tuple[int, int], normalize: bool) -> None:
        super().__init__()
        self.axes, self.normalize = axes, normalize

    def forward(self, inputs: list[Tensor]) -> Tensor:
        a, b = inputs
        if a.is_floating_point():
            return self._dot(a, b)
        if self.normalize:
            return self._dot(a.float(), b.float())
        # Keras's integer dot: int64 and int8 give int32, other integer types (and bool) keep theirs
        dtype = _INTEGER_DOT.get(a.dtype, a.dtype)
        return self._dot(a.double(), b.double()).to(dtype)  # exact below 2**53, and on any device

    def _dot(self, a: Tensor, b: Tensor) -> Tensor:
        if self.normalize:
            a, b = F.normalize(a, dim=self.axes[0]), F.normalize(b, dim=self.axes[1])
        a = a.movedim(self.axes[0], -1)
        b = b.movedim(self.axes[1], 1) if b.ndim > 2 else b
        if a.ndim == 2 and b.ndim == 2:
            return (a * b).sum(dim=-1, keepdim=True)
        if b.ndim == 2:
            return torch.einsum("b...k,bk->b...", a, b)
        out = torch.matmul(a.reshape(a.shape[0], -1, a.shape[-1]), b.reshape(b.shape[0], b.shape[1], -1))
        return out.reshape(*a.shape[:-1], *b.shape[2:])

    def extra_repr(self) -> str:
        return f"axes={self.axes}, normalize={self.normalize}"


@LAYERS.register("dot")
class Dot(_Merge):
    """Dot product of two tensors along ``axes`` (Keras semantics: ``(batch, n)`` with ``(batch, n)``
    gives ``(batch, 1)``; ``normalize=True`` gives the cosine similarity).

    Args:
        axes: One axis for both inputs or a pair, counted with the batch axis.
        normalize: L2-normalise both inputs along the axes first.
    """

    layout = "keras"
    min_inputs = max_inputs = 2

    def __init__(self, axes: int | tuple[int, int], normalize: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        pair = tuple(axes) if isinstance(axes, (list, tuple)) else (axes, axes)
        if len(pair) != 2 or not all(isinstance(a, int) and not isinstance(a, bool) for a in pair):
            raise ConfigError(f"Dot expects `axes` to be an int or a pair of ints. Received: axes={axes!r}.")
        self.axes, self.normalize = pair, bool(normalize)

    @property
    def keeps_integers(self) -> bool:
        """Integer inputs stay integers (Keras's int32 result), unless normalized (then floats)."""
        return not self.normalize

    def build(self, input_shape: Any) -> tuple[nn.Module, Shape]:
        a, b = self._check_count(input_shape)
        axes = tuple(axis % (len(shape) + 1) for axis, shape in zip(self.axes, (a, b)))
        if 0 in axes:
            raise ConfigError(f"Dot layer '{self.name}' cannot sum over the batch axis; received axes={self.axes}.")
        if a[axes[0] - 1] is not None and b[axes[1] - 1] is not None and a[axes[0] - 1] != b[axes[1] - 1]:
            raise ConfigError(f"Dot layer '{self.name}' multiplies axis {axes[0]} of {(None, *a)} with axis {axes[1]} "
                              f"of {(None, *b)}, but their sizes differ ({a[axes[0] - 1]} != {b[axes[1] - 1]}).")
        rest = [d for i, d in enumerate(a) if i != axes[0] - 1] + [d for i, d in enumerate(b) if i != axes[1] - 1]
        return DotModule(axes, self.normalize), tuple(rest) or (1,)


def _function_form(layer: type[_Merge]) -> Any:
    """Keras's function form of a merge layer: ``add([a, b])`` is ``Add()([a, b])``."""

    def merge(inputs: list[Any], **kwargs: Any) -> Any:
        return layer(**kwargs)(inputs)

    merge.__name__ = merge.__qualname__ = layer.kind
    merge.__doc__ = f"``{layer.__name__}(**kwargs)(inputs)``."
    return merge


add, subtract, multiply = _function_form(Add), _function_form(Subtract), _function_form(Multiply)
average, maximum, minimum = _function_form(Average), _function_form(Maximum), _function_form(Minimum)


def concatenate(inputs: list[Any], axis: int = -1, **kwargs: Any) -> Any:
    """``Concatenate(axis=axis, **kwargs)(inputs)``."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs: list[Any], axes: int | tuple[int, int], normalize: bool = False, **kwargs: Any) -> Any:
    """``Dot(axes=axes, normalize=normalize, **kwargs)(inputs)``."""
    return Dot(axes=axes, normalize=normalize, **kwargs)(inputs)
