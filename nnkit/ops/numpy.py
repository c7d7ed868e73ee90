"""``keras.ops``'s NumPy-like functions on torch tensors: element-wise arithmetic, reductions, shapes, joins,
creation and search. Inputs may be tensors, NumPy arrays or Python numbers; integer inputs of functions
whose results are fractions (``mean``, ``sqrt``, ``divide``, ...) are computed in ``float32``, as Keras does."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from nnkit.ops.core import NARROWED as _NARROW
from nnkit.ops.core import SMALL_INTS as _SMALL_INTS
from nnkit.ops.core import convert_to_tensor, dtype_of, floating, tensors

Axis = int | Sequence[int] | None


def _axes(axis: Axis, x: Tensor) -> tuple[int, ...] | None:
    if axis is None:
        return None
    return (axis,) if isinstance(axis, int) else tuple(axis)


def _sum_dtype(x: Tensor) -> torch.dtype:
    return torch.int32 if x.dtype in _SMALL_INTS else x.dtype


def _reduce(fn: Any, x: Tensor, axis: Axis, keepdims: bool) -> Tensor:
    axes = _axes(axis, x)
    if axes == ():  # NumPy's empty axis tuple reduces nothing (torch's would reduce everything)
        return x
    return fn(x, dim=axes, keepdim=keepdims) if axes is not None else fn(x)


# -- element-wise ----------------------------------------------------------------------------------------
def add(x1: Any, x2: Any) -> Tensor:
    a, b = tensors(x1, x2)
    return a + b


def subtract(x1: Any, x2: Any) -> Tensor:
    a, b = tensors(x1, x2)
    return a - b


def multiply(x1: Any, x2: Any) -> Tensor:
    a, b = tensors(x1, x2)
    return a * b


def divide(x1: Any, x2: Any) -> Tensor:
    """True division (integers give ``float32``)."""
    a, b = tensors(x1, x2)
    return torch.true_divide(a if a.is_floating_point() or b.is_floating_point() else a.float(), b)


true_divide = divide


def power(x1: Any, x2: Any) -> Tensor:
    a, b = tensors(x1, x2)
    return torch.pow(a, b)


def maximum(x1: Any, x2: Any) -> Tensor:
    a, b = tensors(x1, x2)
    dtype = torch.promote_types(a.dtype, b.dtype)
    return torch.maximum(a.to(dtype), b.to(dtype))


def minimum(x1: Any, x2: Any) -> Tensor:
    a, b = tensors(x1, x2)
    dtype = torch.promote_types(a.dtype, b.dtype)
    return torch.minimum(a.to(dtype), b.to(dtype))


def negative(x: Any) -> Tensor:
    return -convert_to_tensor(x)


def abs(x: Any) -> Tensor:
    return torch.abs(convert_to_tensor(x))


absolute = abs


def sign(x: Any) -> Tensor:
    return torch.sign(convert_to_tensor(x))


def square(x: Any) -> Tensor:
    return torch.square(convert_to_tensor(x))


def sqrt(x: Any) -> Tensor:
    return torch.sqrt(floating(x))


def exp(x: Any) -> Tensor:
    return torch.exp(floating(x))


def log(x: Any) -> Tensor:
    return torch.log(floating(x))


def log1p(x: Any) -> Tensor:
    return torch.log1p(floating(x))


def expm1(x: Any) -> Tensor:
    return torch.expm1(floating(x))


def floor(x: Any) -> Tensor:
    return torch.floor(floating(x))


def ceil(x: Any) -> Tensor:
    return torch.ceil(floating(x))


def round(x: Any, decimals: int = 0) -> Tensor:
    return torch.round(floating(x), decimals=decimals)


def sin(x: Any) -> Tensor:
    return torch.sin(floating(x))


def cos(x: Any) -> Tensor:
    return torch.cos(floating(x))


def tanh(x: Any) -> Tensor:
    return torch.tanh(floating(x))


def clip(x: Any, x_min: Any, x_max: Any) -> Tensor:
    return torch.clamp(convert_to_tensor(x), x_min, x_max)


def where(condition: Any, x1: Any = None, x2: Any = None) -> Tensor | tuple[Tensor, ...]:
    """Elements of ``x1`` where ``condition`` holds, else of ``x2``; with one argument, the indices."""
    cond = convert_to_tensor(condition).bool()
    if x1 is None and x2 is None:
        return torch.where(cond)
    a, b = tensors(x1, x2)
    dtype = torch.promote_types(a.dtype, b.dtype)
    return torch.where(cond, a.to(dtype), b.to(dtype))


def isnan(x: Any) -> Tensor:
    return torch.isnan(convert_to_tensor(x))


def isfinite(x: Any) -> Tensor:
    return torch.isfinite(convert_to_tensor(x))


def equal(x1: Any, x2: Any) -> Tensor:
    a, b = tensors(x1, x2)
    return a == b


def not_equal(x1: Any, x2: Any) -> Tensor:
    a, b = tensors(x1, x2)
    return a != b


def greater(x1: Any, x2: Any) -> Tensor:
    a, b = tensors(x1, x2)
    return a > b


def greater_equal(x1: Any, x2: Any) -> Tensor:
    a, b = tensors(x1, x2)
    return a >= b


def less(x1: Any, x2: Any) -> Tensor:
    a, b = tensors(x1, x2)
    return a < b


def less_equal(x1: Any, x2: Any) -> Tensor:
    a, b = tensors(x1, x2)
    return a <= b


def logical_and(x1: Any, x2: Any) -> Tensor:
    a, b = tensors(x1, x2)
    return torch.logical_and(a, b)


def logical_or(x1: Any, x2: Any) -> Tensor:
    a, b = tensors(x1, x2)
    return torch.logical_or(a, b)


def logical_not(x: Any) -> Tensor:
    return torch.logical_not(convert_to_tensor(x))


# -- products --------------------------------------------------------------------------------------------
def matmul(x1: Any, x2: Any) -> Tensor:
    a, b = tensors(x1, x2)
    dtype = torch.promote_types(a.dtype, b.dtype)
    return torch.matmul(a.to(dtype), b.to(dtype))


def dot(x1: Any, x2: Any) -> Tensor:
    """NumPy's ``dot``: a product over the last axis of ``x1`` and the second-to-last of ``x2``."""
    a, b = tensors(x1, x2)
    dtype = torch.promote_types(a.dtype, b.dtype)
    a, b = a.to(dtype), b.to(dtype)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    return torch.tensordot(a, b, dims=([-1], [-2 if b.ndim >= 2 else 0]))


def einsum(subscripts: str, *operands: Any) -> Tensor:
    values = tensors(*operands)
    dtype = values[0].dtype
    for value in values[1:]:
        dtype = torch.promote_types(dtype, value.dtype)
    return torch.einsum(subscripts, *(v.to(dtype) for v in values))


# -- reductions ------------------------------------------------------------------------------------------
def sum(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Sum over ``axis`` (all axes for None); integers keep their width, booleans and small ints give int32."""
    x = convert_to_tensor(x)
    axes = _axes(axis, x)
    if axes == ():
        return x
    out = torch.sum(x, dtype=_sum_dtype(x)) if axes is None else torch.sum(x, dim=axes, keepdim=keepdims)
    return out.to(_sum_dtype(x))


def mean(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    return _reduce(torch.mean, floating(x), axis, keepdims)


def var(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    x = floating(x)
    axes = _axes(axis, x)
    return torch.var(x, dim=axes, unbiased=False, keepdim=keepdims)


def std(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    return torch.sqrt(var(x, axis, keepdims))


def prod(x: Any, axis: Axis = None, keepdims: bool = False, dtype: Any = None) -> Tensor:
    """Product over ``axis`` in ``dtype`` (default as Keras: int32 for booleans and integers up to 32 bits,
    64-bit types narrowed to 32-bit)."""
    x = convert_to_tensor(x)
    if dtype is None:
        out_dtype = torch.int32 if x.dtype in _SMALL_INTS else _NARROW.get(x.dtype, x.dtype)
    else:
        out_dtype = dtype_of(dtype)
    axes = _axes(axis, x)
    if axes is None:
        return torch.prod(x, dtype=out_dtype)
    for a in sorted((a % x.ndim for a in axes), reverse=True):
        x = torch.prod(x, dim=a, keepdim=keepdims, dtype=out_dtype)
    return x


def max(x: Any, axis: Axis = None, keepdims: bool = False, initial: Any = None) -> Tensor:
    result = _reduce(torch.amax, convert_to_tensor(x), axis, keepdims)
    return result if initial is None else torch.clamp(result, min=initial)


def min(x: Any, axis: Axis = None, keepdims: bool = False, initial: Any = None) -> Tensor:
    result = _reduce(torch.amin, convert_to_tensor(x), axis, keepdims)
    return result if initial is None else torch.clamp(result, max=initial)


def all(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Whether every element along ``axis`` (all axes for None) is true; ``keepdims`` keeps them as size 1."""
    x = convert_to_tensor(x).bool()
    axes = _axes(axis, x)
    return x if axes == () else torch.all(x, dim=axes, keepdim=keepdims)


def any(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Whether some element along ``axis`` (all axes for None) is true; ``keepdims`` keeps them as size 1."""
    x = convert_to_tensor(x).bool()
    axes = _axes(axis, x)
    return x if axes == () else torch.any(x, dim=axes, keepdim=keepdims)


def argmax(x: Any, axis: int | None = None, keepdims: bool = False) -> Tensor:
    return torch.argmax(convert_to_tensor(x), dim=axis, keepdim=keepdims).to(torch.int32)


def argmin(x: Any, axis: int | None = None, keepdims: bool = False) -> Tensor:
    return torch.argmin(convert_to_tensor(x), dim=axis, keepdim=keepdims).to(torch.int32)


def cumsum(x: Any, axis: int | None = None, dtype: Any = None) -> Tensor:
    x = convert_to_tensor(x)
    if axis is None:
        x, axis = x.reshape(-1), 0
    out_dtype = dtype_of(dtype) if dtype is not None else x.dtype  # Keras: result_type(dtype or x.dtype)
    out_dtype = torch.int32 if out_dtype == torch.bool else _NARROW.get(out_dtype, out_dtype)
    return torch.cumsum(x, dim=axis, dtype=out_dtype)


def sort(x: Any, axis: int = -1) -> Tensor:
    return torch.sort(convert_to_tensor(x), dim=axis).values


def argsort(x: Any, axis: int = -1) -> Tensor:
    return torch.argsort(convert_to_tensor(x), dim=axis, stable=True).to(torch.int32)


# -- shapes and joins ------------------------------------------------------------------------------------
def reshape(x: Any, newshape: Sequence[int]) -> Tensor:
    return convert_to_tensor(x).reshape(tuple(newshape) if not isinstance(newshape, int) else (newshape,))


def transpose(x: Any, axes: Sequence[int] | None = None) -> Tensor:
    x = convert_to_tensor(x)
    return x.permute(*(axes if axes is not None else reversed(range(x.ndim))))


def expand_dims(x: Any, axis: int) -> Tensor:
    return torch.unsqueeze(convert_to_tensor(x), axis)


def squeeze(x: Any, axis: Axis = None) -> Tensor:
    x = convert_to_tensor(x)
    return torch.squeeze(x) if axis is None else torch.squeeze(x, dim=_axes(axis, x))


def concatenate(xs: Sequence[Any], axis: int = 0) -> Tensor:
    values = tensors(*xs)
    dtype = values[0].dtype
    for value in values[1:]:
        dtype = torch.promote_types(dtype, value.dtype)
    return torch.cat([v.to(dtype) for v in values], dim=axis)


def stack(xs: Sequence[Any], axis: int = 0) -> Tensor:
    values = tensors(*xs)
    return torch.stack([v.to(values[0].dtype) for v in values], dim=axis)


def split(x: Any, indices_or_sections: Any, axis: int = 0) -> list[Tensor]:
    """NumPy's split: a number of equal sections, or the indices to split before."""
    x = convert_to_tensor(x)
    if isinstance(indices_or_sections, int):
        return list(torch.tensor_split(x, indices_or_sections, dim=axis))
    return list(torch.tensor_split(x, list(indices_or_sections), dim=axis))


def tile(x: Any, repeats: Any) -> Tensor:
    return torch.tile(convert_to_tensor(x), (repeats,) if isinstance(repeats, int) else tuple(repeats))


def repeat(x: Any, repeats: Any, axis: int | None = None) -> Tensor:
    return torch.repeat_interleave(convert_to_tensor(x), convert_to_tensor(repeats) if not isinstance(repeats, int)
                                   else repeats, dim=axis)


def take(x: Any, indices: Any, axis: int | None = None) -> Tensor:
    x, idx = convert_to_tensor(x), convert_to_tensor(indices).long()
    if axis is None:
        return x.reshape(-1)[idx]
    return torch.index_select(x, axis, idx.reshape(-1)).reshape(
        *x.shape[:axis % x.ndim], *idx.shape, *x.shape[axis % x.ndim + 1:])


def flip(x: Any, axis: Axis = None) -> Tensor:
    x = convert_to_tensor(x)
    return torch.flip(x, dims=_axes(axis, x) or tuple(range(x.ndim)))


def roll(x: Any, shift: Any, axis: Axis = None) -> Tensor:
    x = convert_to_tensor(x)
    return torch.roll(x, shifts=shift, dims=_axes(axis, x))


# -- creation --------------------------------------------------------------------------------------------
def array(x: Any, dtype: Any = None) -> Tensor:
    """A tensor of ``x`` (a list, array, number or tensor), in ``dtype`` if given.

    Python ints become ``int32`` and floats ``float32``, as in Keras; NumPy arrays keep their dtype.
    Example: ``ops.array([1, 2, 3])`` is an ``int32`` tensor.
    """
    return convert_to_tensor(x, dtype=dtype)


def _dtype(dtype: Any, default: torch.dtype = torch.float32) -> torch.dtype:
    return default if dtype is None else dtype_of(dtype)


def arange(start: Any, stop: Any = None, step: Any = 1, dtype: Any = None) -> Tensor:
    if stop is None:
        start, stop = 0, start
    floats = builtins.any(isinstance(v, float) for v in (start, stop, step))
    return torch.arange(start, stop, step, dtype=_dtype(dtype, torch.float32 if floats else torch.int32))


def linspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, dtype: Any = None) -> Tensor:
    if endpoint:
        return torch.linspace(start, stop, num, dtype=_dtype(dtype))
    return torch.linspace(start, stop, num + 1, dtype=_dtype(dtype))[:-1]


def ones(shape: Any, dtype: Any = None) -> Tensor:
    return torch.ones(shape, dtype=_dtype(dtype))


def zeros(shape: Any, dtype: Any = None) -> Tensor:
    return torch.zeros(shape, dtype=_dtype(dtype))


def full(shape: Any, fill_value: Any, dtype: Any = None) -> Tensor:
    return torch.full(tuple(shape) if not isinstance(shape, int) else (shape,), fill_value, dtype=_dtype(dtype))


def ones_like(x: Any, dtype: Any = None) -> Tensor:
    x = convert_to_tensor(x)
    return torch.ones_like(x, dtype=None if dtype is None else dtype_of(dtype))


def zeros_like(x: Any, dtype: Any = None) -> Tensor:
    x = convert_to_tensor(x)
    return torch.zeros_like(x, dtype=None if dtype is None else dtype_of(dtype))


def full_like(x: Any, fill_value: Any, dtype: Any = None) -> Tensor:
    x = convert_to_tensor(x)
    return torch.full_like(x, fill_value, dtype=None if dtype is None else dtype_of(dtype))


def eye(N: int, M: int | None = None, k: int = 0, dtype: Any = None) -> Tensor:
    """Ones on the ``k``-th diagonal of an ``N`` x ``M`` matrix."""
    columns = N if M is None else M
    out = torch.zeros(N, columns, dtype=_dtype(dtype))
    rows = torch.arange(builtins.max(0, -k), builtins.min(N, columns - k))
    out[rows, rows + k] = 1
    return out


__all__ = [name for name in dir() if not name.startswith("_") and name not in (
    "Any", "Axis", "Sequence", "Tensor", "annotations", "torch", "tensors", "floating", "dtype_of",
    "builtins", "cast", "convert_to_tensor")]
