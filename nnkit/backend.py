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
_PYTHON = {bool: "bool", int: "int32", float: "float32"}


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


def result_type(*dtypes: Any) -> str:
    """The dtype an operation on values of ``dtypes`` returns (``floatx()`` for none), by type promotion:
    ``result_type('int32', 'float32')`` is ``'float32'``."""
    if not dtypes:
        return floatx()
    result = DTYPES[standardize_dtype(dtypes[0])]
    for dtype in dtypes[1:]:
        result = torch.promote_types(result, DTYPES[standardize_dtype(dtype)])
    return _NAMES[result]


__all__ = ["backend", "clear_session", "epsilon", "floatx", "get_uid", "image_data_format", "is_float_dtype",
           "is_int_dtype", "is_keras_tensor", "result_type", "set_epsilon", "set_floatx", "set_image_data_format",
           "standardize_dtype"]
