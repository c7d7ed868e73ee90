"""More of ``keras.ops``: trigonometry and powers, triangles and diagonals, stacking and axes, and the
activation functions Keras lists beyond the common ones (hard, shrink and plus variants)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F

from nnkit.ops.core import NARROWED as _NARROW
from nnkit.ops.core import SMALL_INTS as _SMALL_INTS
from nnkit.ops.core import convert_to_tensor, dtype_of, floating, tensors


def _float_fn(fn: Any) -> Any:
    def op(x: Any) -> Tensor:
        return fn(floating(x))

    op.__name__ = fn.__name__
    op.__doc__ = f"``torch.{fn.__name__}`` of ``x`` (integers computed in float32)."
    return op


tan, sinh, cosh = _float_fn(torch.tan), _float_fn(torch.sinh), _float_fn(torch.cosh)
arcsin, arccos, arctan = _float_fn(torch.asin), _float_fn(torch.acos), _float_fn(torch.atan)
arcsinh, arccosh, arctanh = _float_fn(torch.asinh), _float_fn(torch.acosh), _float_fn(torch.atanh)
log2, log10, exp2 = _float_fn(torch.log2), _float_fn(torch.log10), _float_fn(torch.exp2)
rsqrt, erf, erfinv = _float_fn(torch.rsqrt), _float_fn(torch.erf), _float_fn(torch.erfinv)


def reciprocal(x: Any) -> Tensor:
    return 1.0 / floating(x)


def trunc(x: Any) -> Tensor:
    x = convert_to_tensor(x)
    return torch.trunc(x) if x.is_floating_point() else x


def arctan2(x1: Any, x2: Any) -> Tensor:
    return torch.atan2(floating(x1), floating(x2))


def floor_divide(x1: Any, x2: Any) -> Tensor:
    a, b = tensors(x1, x2)
    return torch.floor_divide(a, b)


def mod(x1: Any, x2: Any) -> Tensor:
    a, b = tensors(x1, x2)
    return torch.remainder(a, b)


def divide_no_nan(x1: Any, x2: Any) -> Tensor:
    """``x1 / x2``, and 0 where ``x2`` is 0."""
    a, b = floating(x1), floating(x2)
    return torch.where(b == 0, torch.zeros((), dtype=a.dtype), a / torch.where(b == 0, torch.ones_like(b), b))


def isinf(x: Any) -> Tensor:
    return torch.isinf(convert_to_tensor(x))


def logical_xor(x1: Any, x2: Any) -> Tensor:
    a, b = tensors(x1, x2)
    return torch.logical_xor(a, b)


def nan_to_num(x: Any, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None) -> Tensor:
    return torch.nan_to_num(convert_to_tensor(x), nan=nan, posinf=posinf, neginf=neginf)


def tril(x: Any, k: int = 0) -> Tensor:
    return torch.tril(convert_to_tensor(x), diagonal=k)


def triu(x: Any, k: int = 0) -> Tensor:
    return torch.triu(convert_to_tensor(x), diagonal=k)


def diag(x: Any, k: int = 0) -> Tensor:
    return torch.diag(convert_to_tensor(x), diagonal=k)


def diagonal(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
    return torch.diagonal(convert_to_tensor(x), offset=offset, dim1=axis1, dim2=axis2)


def trace(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
    """Sum of the ``offset`` diagonal; integers keep their width (booleans and small ints give int32)."""
    x = convert_to_tensor(x)
    dtype = torch.int32 if x.dtype in _SMALL_INTS else x.dtype
    return torch.diagonal(x, offset, axis1, axis2).sum(dim=-1, dtype=dtype)


def moveaxis(x: Any, source: Any, destination: Any) -> Tensor:
    return torch.movedim(convert_to_tensor(x), source, destination)


def swapaxes(x: Any, axis1: int, axis2: int) -> Tensor:
    return torch.swapaxes(convert_to_tensor(x), axis1, axis2)


def ravel(x: Any) -> Tensor:
    return convert_to_tensor(x).reshape(-1)


def broadcast_to(x: Any, shape: Sequence[int]) -> Tensor:
    return torch.broadcast_to(convert_to_tensor(x), tuple(shape))


def outer(x1: Any, x2: Any) -> Tensor:
    a, b = tensors(x1, x2)
    dtype = torch.promote_types(a.dtype, b.dtype)
    return torch.outer(a.reshape(-1).to(dtype), b.reshape(-1).to(dtype))


def tensordot(x1: Any, x2: Any, axes: Any = 2) -> Tensor:
    a, b = tensors(x1, x2)
    dtype = torch.promote_types(a.dtype, b.dtype)
    return torch.tensordot(a.to(dtype), b.to(dtype), dims=axes)


def hstack(xs: Sequence[Any]) -> Tensor:
    return torch.hstack(tensors(*xs))


def vstack(xs: Sequence[Any]) -> Tensor:
    return torch.vstack(tensors(*xs))


def unstack(x: Any, num: int | None = None, axis: int = 0) -> list[Tensor]:
    return list(torch.unbind(convert_to_tensor(x), dim=axis))


def cumprod(x: Any, axis: int | None = None, dtype: Any = None) -> Tensor:
    """Running product along ``axis`` (of the flattened ``x`` for None), in ``dtype`` or ``x``'s dtype as Keras
    narrows it: booleans give int32, 64-bit types their 32-bit kin."""
    x = convert_to_tensor(x)
    if axis is None:
        x, axis = x.reshape(-1), 0
    out_dtype = dtype_of(dtype) if dtype is not None else x.dtype
    out_dtype = torch.int32 if out_dtype == torch.bool else _NARROW.get(out_dtype, out_dtype)
    return torch.cumprod(x, dim=axis, dtype=out_dtype)


def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    x = floating(x)
    dims = tuple(range(x.ndim)) if axis is None else (axis,) if isinstance(axis, int) else tuple(axis)
    return torch.logsumexp(x, dim=dims, keepdim=keepdims)


def count_nonzero(x: Any, axis: Any = None) -> Tensor:
    return torch.count_nonzero(convert_to_tensor(x), dim=axis).to(torch.int32)


def take_along_axis(x: Any, indices: Any, axis: int | None = None) -> Tensor:
    x, idx = convert_to_tensor(x), convert_to_tensor(indices).long()
    if axis is None:
        return x.reshape(-1)[idx.reshape(-1)]
    return torch.take_along_dim(x, idx, dim=axis)


def identity(n: int, dtype: Any = None) -> Tensor:
    from nnkit.ops.numpy import eye

    return eye(n, dtype=dtype)


# -- activations Keras lists beyond the common ones -------------------------------------------------------
def hard_sigmoid(x: Any) -> Tensor:
    return F.relu6(floating(x) + 3.0) / 6.0


def hard_silu(x: Any) -> Tensor:
    x = floating(x)
    return x * hard_sigmoid(x)


hard_swish = hard_silu


def log_sigmoid(x: Any) -> Tensor:
    return F.logsigmoid(floating(x))


def softsign(x: Any) -> Tensor:
    return F.softsign(floating(x))


def hard_tanh(x: Any) -> Tensor:
    return F.hardtanh(floating(x))


def celu(x: Any, alpha: float = 1.0) -> Tensor:
    return F.celu(floating(x), alpha=alpha)


def glu(x: Any, axis: int = -1) -> Tensor:
    return F.glu(floating(x), dim=axis)


def soft_shrink(x: Any, threshold: float = 0.5) -> Tensor:
    return F.softshrink(floating(x), threshold)


def hard_shrink(x: Any, threshold: float = 0.5) -> Tensor:
    return F.hardshrink(floating(x), threshold)


def tanh_shrink(x: Any) -> Tensor:
    return F.tanhshrink(floating(x))


def squareplus(x: Any, b: float = 4.0) -> Tensor:
    x = floating(x)
    return (x + torch.sqrt(x * x + b)) / 2.0


def sparse_plus(x: Any) -> Tensor:
    x = floating(x)
    return torch.where(x <= -1.0, torch.zeros_like(x), torch.where(x >= 1.0, x, (x + 1.0) ** 2 / 4.0))


def normalize(x: Any, axis: int = -1, order: int = 2, epsilon: float | None = None) -> Tensor:
    """``x`` divided by its ``order``-norm along ``axis``."""
    return F.normalize(floating(x), p=order, dim=axis, eps=1e-12 if epsilon is None else epsilon)


def multi_hot(inputs: Any, num_classes: int, axis: int = -1, dtype: Any = None) -> Tensor:
    """Rows with a one at each listed index."""
    from nnkit.ops.nn import one_hot

    return torch.clamp(one_hot(inputs, num_classes, dtype=dtype).sum(dim=-2), max=1)


__all__ = sorted({name for name, value in dict(globals()).items() if callable(value) and not name.startswith("_")
                   and getattr(value, "__module__", "") == __name__} | {"hard_swish"})
