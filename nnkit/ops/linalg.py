"""``keras.ops.linalg`` on torch tensors: norms, decompositions, inverses and solvers (``torch.linalg``).

Each name is also in :mod:`nnkit.ops`, as in Keras (``ops.norm`` is ``ops.linalg.norm``). Matrices are the
last two axes; the functions check the ranks and shapes Keras checks and raise a ``ValueError`` that says
which input is wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from nnkit.config import floatx
from nnkit.errors import ConfigError, DataError
from nnkit.ops.core import NARROWED, convert_to_tensor, dtype_of

__all__ = ["cholesky", "cholesky_inverse", "det", "eig", "eigh", "inv", "jvp", "lstsq", "lu_factor", "matrix_rank",
           "norm", "pinv", "qr", "solve", "solve_triangular", "svd"]


def _matrix(x: Any, name: str, square: bool = True) -> Tensor:
    x = convert_to_tensor(x)
    if x.ndim < 2:
        raise DataError(f"{name} expects a matrix (rank >= 2); received a tensor of shape {tuple(x.shape)}.")
    if square and x.shape[-1] != x.shape[-2]:
        raise DataError(f"{name} expects square matrices; received shape {tuple(x.shape)}.")
    return x


def _system(a: Any, b: Any, name: str) -> tuple[Tensor, Tensor]:
    """``a`` (square) and ``b`` of ``a @ x = b``, checked as Keras checks them."""
    a, b = _matrix(a, name), convert_to_tensor(b)
    if b.ndim < 1:
        raise DataError(f"{name} expects `b` of rank >= 1; received a scalar.")
    rows = a.shape[-2] if a.ndim == b.ndim else a.shape[-1] if a.ndim == b.ndim + 1 else None
    if rows is not None and b.shape[-2 if a.ndim == b.ndim else -1] != rows:
        raise DataError(f"{name}: `a` of shape {tuple(a.shape)} and `b` of shape {tuple(b.shape)} are incompatible; "
                        f"`b` needs {rows} rows.")
    return a, b


def norm(x: Any, ord: Any = None, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
    """The vector norm (one axis, or a 1-D ``x``) or matrix norm (two axes) of ``x``.

    Args:
        x: Input tensor; integers are computed in ``floatx()``, 64-bit floats in ``float32`` (as Keras).
        ord: ``None`` (2-norm / Frobenius), a number, ``inf``, ``-inf``, ``'fro'`` or ``'nuc'``.
        axis: The axis (vector norm) or pair of axes (matrix norm); None for all of a 1-D or 2-D ``x``.
        keepdims: Keep the reduced axes with size 1.

    Returns:
        The norm(s).

    Raises:
        ValueError: ``ord`` is a string other than ``'fro'`` and ``'nuc'``.

    Example: ``ops.linalg.norm(ops.reshape(ops.arange(9, dtype="float32") - 4, (3, 3)))`` is 7.745967.
    """
    if isinstance(ord, str) and ord not in ("fro", "nuc"):
        raise ConfigError(f"Invalid norm order ord={ord!r}: a number, inf, -inf, 'fro' or 'nuc'.")
    x = convert_to_tensor(x)
    if x.is_floating_point() or x.is_complex():
        x = x.to(NARROWED.get(x.dtype, x.dtype))
    else:
        x = x.to(dtype_of(floatx()))
    dim = tuple(axis) if isinstance(axis, (list, tuple)) else axis
    return torch.linalg.norm(x, ord=ord, dim=dim, keepdim=keepdims)


def cholesky(x: Any, upper: bool = False) -> Tensor:
    """The Cholesky factor ``L`` (``U`` with ``upper=True``) of a symmetric positive-definite matrix."""
    return torch.linalg.cholesky(_matrix(x, "cholesky"), upper=upper)


def cholesky_inverse(x: Any, upper: bool = False) -> Tensor:
    """The inverse of ``A`` from its Cholesky factor ``x`` (lower, or upper with ``upper=True``)."""
    return torch.cholesky_inverse(_matrix(x, "cholesky_inverse"), upper=upper)


def det(x: Any) -> Tensor:
    """The determinant of a square matrix (of each, for a batch)."""
    return torch.det(_matrix(x, "det"))


def eig(x: Any) -> tuple[Tensor, Tensor]:
    """Eigenvalues and eigenvectors (complex) of a square matrix."""
    return torch.linalg.eig(_matrix(x, "eig"))


def eigh(x: Any) -> tuple[Tensor, Tensor]:
    """Eigenvalues (ascending) and eigenvectors of a symmetric (Hermitian) matrix."""
    return torch.linalg.eigh(_matrix(x, "eigh"))


def inv(x: Any) -> Tensor:
    """The inverse of a square matrix."""
    return torch.linalg.inv(_matrix(x, "inv"))


def lu_factor(x: Any) -> tuple[Tensor, Tensor]:
    """The LU decomposition: ``L`` and ``U`` in one matrix, and the row pivots (0-based, as Keras)."""
    lu, pivots = torch.linalg.lu_factor(_matrix(x, "lu_factor", square=False))
    return lu, pivots - 1


def qr(x: Any, mode: str = "reduced") -> tuple[Tensor, Tensor]:
    """The QR decomposition ``x = q @ r``; ``mode`` is ``'reduced'`` or ``'complete'``."""
    if mode not in ("reduced", "complete"):
        raise ConfigError(f"qr: mode must be 'reduced' or 'complete'; received mode={mode!r}.")
    return torch.linalg.qr(convert_to_tensor(x), mode=mode)


def solve(a: Any, b: Any) -> Tensor:
    """``x`` with ``a @ x = b`` for a square ``a``."""
    return torch.linalg.solve(*_system(a, b, "solve"))


def solve_triangular(a: Any, b: Any, lower: bool = False) -> Tensor:
    """``x`` with ``a @ x = b`` for a triangular ``a`` (upper, or lower with ``lower=True``)."""
    a, b = _system(a, b, "solve_triangular")
    if b.ndim == a.ndim - 1:
        return torch.linalg.solve_triangular(a, b.unsqueeze(-1), upper=not lower).squeeze(-1)
    return torch.linalg.solve_triangular(a, b, upper=not lower)


def svd(x: Any, full_matrices: bool = True, compute_uv: bool = True) -> Tensor | tuple[Tensor, Tensor, Tensor]:
    """The singular value decomposition ``(u, s, vh)``, or only ``s`` with ``compute_uv=False``."""
    x = _matrix(x, "svd", square=False)
    if not compute_uv:
        return torch.linalg.svdvals(x)
    return torch.linalg.svd(x, full_matrices=full_matrices)


def lstsq(a: Any, b: Any, rcond: float | None = None) -> Tensor:
    """The least-squares solution ``x`` of ``a @ x = b`` (singular values below ``rcond`` times the largest
    count as zero, as in NumPy)."""
    a, b = convert_to_tensor(a), convert_to_tensor(b)
    if rcond is None:
        return torch.linalg.lstsq(a, b).solution
    if a.device.type == "cuda":  # CUDA's only driver has no cutoff: NumPy's semantics through the pseudo-inverse
        return torch.linalg.pinv(a, rtol=rcond) @ b
    return torch.linalg.lstsq(a, b, rcond=rcond, driver="gelsd").solution


def matrix_rank(x: Any, tol: float | None = None) -> Tensor:
    """The rank (``int32``): the number of singular values above ``tol`` (a default from the dtype for None)."""
    return torch.linalg.matrix_rank(convert_to_tensor(x), atol=tol).to(torch.int32)


def pinv(x: Any, rcond: float | None = None) -> Tensor:
    """The Moore-Penrose pseudo-inverse; singular values below ``rcond`` times the largest count as zero."""
    return torch.linalg.pinv(convert_to_tensor(x), rtol=rcond)


def jvp(fun: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any], has_aux: bool = False) -> tuple:
    """Forward-mode Jacobian-vector product: ``(fun(*primals), J @ tangents)`` (and ``aux`` with ``has_aux``)."""
    return torch.func.jvp(fun, tuple(primals), tuple(tangents), has_aux=has_aux)
