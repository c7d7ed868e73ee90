"""``keras.backend``'s common names: ``clear_session``, ``floatx``, ``epsilon``, ``image_data_format``,
``backend``, unique ids and the dtype helpers (``standardize_dtype``, ``result_type``, ...)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from nnkit.config import backend, epsilon, floatx, image_data_format, set_epsilon, set_floatx, set_image_data_format
from nnkit.errors import ConfigError
from nnkit.layers.symbolic import DTYPES
from nnkit.utils import is_keras_tensor
from nnkit.utils.naming import _COUNTS, clear_session

_NAMES = {dtype: name for name, dtype in DTYPES.items()}
_PYTHON = {bool: "bool", int: "int32", float: "float32", complex: "complex64"}

# Keras's type promotion lattice (jax's): each type and the types it promotes to directly. "int" and "float"
# are the weak types of Python numbers, which take the width of the typed operand they meet.
_LATTICE = {
    "bool": ("int",), "int": ("uint8", "int8", "complex64"), "uint8": ("int16", "uint16"),
    "uint16": ("int32", "uint32"), "uint32": ("int64", "uint64"), "uint64": ("float",), "int8": ("int16",),
    "int16": ("int32",), "int32": ("int64",), "int64": ("float",), "float": ("bfloat16", "float16"),
    "bfloat16": ("float32",), "float16": ("float32",), "float32": ("float64", "complex64"),
    "float64": ("complex128",), "complex64": ("complex128",), "complex128": (),
}
_NARROW = {"int64": "int32", "uint64": "uint32", "float64": "float32", "complex128": "complex64"}  # as jax


def _upper_bounds(node: str) -> frozenset[str]:
    bounds, todo = {node}, [node]
    while todo:
        for higher in _LATTICE[todo.pop()]:
            if higher not in bounds:
                bounds.add(higher)
                todo.append(higher)
    return frozenset(bounds)


_UPPER_BOUNDS = {node: _upper_bounds(node) for node in _LATTICE}


def get_uid(prefix: str = "") -> int:
    """A counter per ``prefix``, starting at 1: the number automatic layer names are made from."""
    _COUNTS[prefix] += 1
    return _COUNTS[prefix]


def standardize_dtype(dtype: Any = None) -> str:
    """The Keras name (``'float32'``, ``'int64'``, ...) of a dtype given as a name, a NumPy or torch dtype,
    or a Python type; ``None`` is :func:`floatx`."""
    if dtype is None:
        return floatx()
    if isinstance(dtype, torch.dtype):
        if dtype in _NAMES:
            return _NAMES[dtype]
        raise ConfigError(f"nnkit does not support the dtype {dtype}. Supported: {', '.join(DTYPES)}.")
    if dtype in _PYTHON:
        return _PYTHON[dtype]
    try:
        name = np.dtype(getattr(dtype, "name", dtype)).name
    except TypeError:
        name = None
    if name not in DTYPES:
        raise ConfigError(f"Invalid dtype {dtype!r}. Supported: {', '.join(DTYPES)}.")
    return name


def is_float_dtype(dtype: Any) -> bool:
    """Whether ``dtype`` is a floating-point type."""
    return standardize_dtype(dtype).startswith(("float", "bfloat"))


def is_int_dtype(dtype: Any) -> bool:
    """Whether ``dtype`` is a (signed or unsigned) integer type."""
    return standardize_dtype(dtype).startswith(("int", "uint"))


def _least_upper_bound(nodes: set[str], dtypes: tuple) -> str:
    """The lowest type of the lattice that every one of ``nodes`` promotes to."""
    common = frozenset.intersection(*(_UPPER_BOUNDS[node] for node in nodes))
    least = [node for node in common if common <= _UPPER_BOUNDS[node]]
    if len(least) != 1:
        raise ConfigError(f"The dtypes {dtypes} have no implicit promotion path; cast them to one dtype first.")
    return least[0]


def _weak(name: str) -> str:
    return name if name == "bool" else "float" if "float" in name else "int" if "int" in name else name


def result_type(*dtypes: Any) -> str:
    """The dtype an operation on values of ``dtypes`` returns, by Keras's type promotion (``floatx()`` for none).

    Python ``int`` and ``float`` are weak: they take the width of the other operand. As in Keras (and jax),
    64-bit results narrow to 32 bits. ``result_type('int32', 'float32')`` is ``'float32'``,
    ``result_type('bfloat16', int)`` is ``'bfloat16'``, ``result_type('complex64', int)`` is ``'complex64'``.

    Raises:
        ValueError: A dtype is unknown, or the dtypes have no promotion path.
    """
    if not dtypes:
        return floatx()
    names = [standardize_dtype(floatx() if dtype is None else dtype) for dtype in dtypes]
    weak = [dtype is int or dtype is float for dtype in dtypes]
    if len(names) == 1:
        result, is_weak = names[0], weak[0]
    elif len(set(names)) == 1 and not all(weak):
        result, is_weak = names[0], False
    elif all(weak):
        result, is_weak = _least_upper_bound(set(names), dtypes), True
    else:
        result = _least_upper_bound({_weak(n) if w else n for n, w in zip(names, weak)}, dtypes)
        is_weak = result in ("int", "float")
    if is_weak and result != "bool":  # a weak type takes the precision of floatx()
        kind = "float" if result.startswith(("float", "bfloat")) else result.rstrip("0123456789")
        result = f"{kind}{floatx()[-2:]}"
    return _NARROW.get(result, result)


__all__ = ["backend", "clear_session", "epsilon", "floatx", "get_uid", "image_data_format", "is_float_dtype",
           "is_int_dtype", "is_keras_tensor", "result_type", "set_epsilon", "set_floatx", "set_image_data_format",
           "standardize_dtype"]
