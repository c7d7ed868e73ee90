"""Global settings, mirroring ``keras.config``: float type and default device."""

from __future__ import annotations

import os

import torch

from nnkit.errors import ConfigError

_FLOATX = "float32"
_DEVICE: str | None = os.environ.get("NNKIT_DEVICE") or None
_FLOAT_TYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32,
                "float64": torch.float64}


def floatx() -> str:
    """The default float type of weights and inputs, ``'float32'`` unless changed."""
    return _FLOATX


def set_floatx(value: str) -> None:
    """Set the default float type (``'float16'``, ``'bfloat16'``, ``'float32'`` or ``'float64'``)."""
    global _FLOATX
    if value not in _FLOAT_TYPES:
        raise ConfigError(f"Unknown float type {value!r}. Use one of: {', '.join(_FLOAT_TYPES)}.")
    _FLOATX = value


def float_dtype() -> torch.dtype:
    """The torch dtype of :func:`floatx`."""
    return _FLOAT_TYPES[_FLOATX]


def default_device() -> torch.device:
    """CUDA when available, else Apple MPS, else CPU; overridden by :func:`set_device` or
    the ``NNKIT_DEVICE`` environment variable."""
    if _DEVICE is not None:
        return torch.device(_DEVICE)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def set_device(device: str | torch.device | None) -> None:
    """Choose the device new models train on (``None`` restores automatic choice)."""
    global _DEVICE
    if device is not None:
        try:
            torch.device(device)
        except (RuntimeError, TypeError) as exc:
            raise ConfigError(f"Invalid device {device!r}: {exc}.") from None
    _DEVICE = None if device is None else str(device)
