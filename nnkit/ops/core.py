"""Tensors in and out, as ``keras.ops`` takes them on the torch backend: NumPy arrays, Python numbers and
(nested) lists become tensors (Python floats ``float32``, Python ints ``int32``; arrays keep their dtype);
shapes, casts, gradients stopped, and the conversions back to NumPy."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from nnkit.errors import ConfigError
from nnkit.layers.symbolic import DTYPES

# Keras's dtype rules for sums and products (jax's): booleans and small integers accumulate in int32, and
# ``result_type`` of a single dtype narrows 64-bit types to their 32-bit kin.
SMALL_INTS = (torch.bool, torch.uint8, torch.int8, torch.int16)
NARROWED = {torch.int64: torch.int32, torch.float64: torch.float32, torch.complex128: torch.complex64}


def dtype_of(name: Any) -> torch.dtype:
    """A torch dtype from a Keras dtype name (``'float32'``), a NumPy dtype or a torch dtype."""
    if isinstance(name, torch.dtype):
        return name
    key = np.dtype(name).name if not isinstance(name, str) else name
    if key not in DTYPES:
        raise ConfigError(f"Unknown dtype {name!r}. Known dtypes: {', '.join(DTYPES)}.")
    return DTYPES[key]


def convert_to_tensor(x: Any, dtype: Any = None, sparse: Any = None) -> Tensor:
    """``x`` as a tensor (no copy for a tensor of the right dtype)."""
    if isinstance(x, Tensor):
        return x if dtype is None else x.to(dtype_of(dtype))
    if isinstance(x, bool):
        tensor = torch.tensor(x)
    elif isinstance(x, int):
        tensor = torch.tensor(x, dtype=torch.int32)
    elif isinstance(x, float):
        tensor = torch.tensor(x, dtype=torch.float32)
    elif isinstance(x, np.ndarray) or np.isscalar(x):
        tensor = torch.as_tensor(np.asarray(x))
    elif isinstance(x, (list, tuple)) and any(isinstance(v, Tensor) for v in x):  # e.g. layer.losses: stacked
        tensor = torch.stack([convert_to_tensor(v) for v in x])  # as Keras does (gradients flow through)
    else:  # nested lists: Python numbers keep Keras's default widths
        array = np.asarray(x)
        if array.dtype == np.float64:
            array = array.astype(np.float32)
        elif array.dtype == np.int64:
            array = array.astype(np.int32)
        tensor = torch.as_tensor(array)
    return tensor if dtype is None else tensor.to(dtype_of(dtype))


def tensors(*values: Any) -> list[Tensor]:
    """Several values as tensors (used by every op)."""
    return [convert_to_tensor(v) for v in values]


def floating(x: Any) -> Tensor:
    """``x`` as a floating tensor: integers and booleans become ``float32``, as Keras computes them."""
    tensor = convert_to_tensor(x)
    return tensor if tensor.is_floating_point() else tensor.to(torch.float32)


def convert_to_numpy(x: Any) -> np.ndarray:
    """A tensor (or anything array-like) as a NumPy array (detached, on the CPU)."""
    if isinstance(x, Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def cast(x: Any, dtype: Any) -> Tensor:
    """``x`` converted to ``dtype``."""
    return convert_to_tensor(x).to(dtype_of(dtype))


def shape(x: Any) -> tuple[int, ...]:
    """The shape as a tuple of ints."""
    return tuple(convert_to_tensor(x).shape)


def ndim(x: Any) -> int:
    """Number of axes."""
    return convert_to_tensor(x).ndim


def size(x: Any) -> int:
    """Number of elements."""
    return convert_to_tensor(x).numel()


def stop_gradient(x: Any) -> Tensor:
    """``x`` without gradient flowing back through it."""
    return convert_to_tensor(x).detach()


def is_tensor(x: Any) -> bool:
    """Whether ``x`` is a tensor of this backend (torch)."""
    return isinstance(x, Tensor)


def dtype(x: Any) -> str:
    """The Keras name of ``x``'s dtype, e.g. ``'float32'``."""
    return str(convert_to_tensor(x).dtype).replace("torch.", "")
