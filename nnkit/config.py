"""Global settings, mirroring ``keras.config``: float type, fuzz factor, image layout, dtype policy, backend
and default device."""

from __future__ import annotations

import os

import torch

from nnkit.errors import ConfigError

_FLOATX = "float32"
_IMAGE_DATA_FORMAT = "channels_last"
_DEVICE: str | None = os.environ.get("NNKIT_DEVICE") or None
_FLOAT_TYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32,
                "float64": torch.float64}


_EPSILON = 1e-7


def epsilon() -> float:
    """The fuzz factor losses and metrics use to avoid dividing by zero or taking log(0) (``1e-7``)."""
    return _EPSILON


def set_epsilon(value: float) -> None:
    """Set the fuzz factor returned by :func:`epsilon`."""
    global _EPSILON
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise ConfigError(f"epsilon must be a number in (0, 1). Received: {value!r}.")
    _EPSILON = float(value)


def backend() -> str:
    """The backend nnkit runs on: always ``'torch'``."""
    return "torch"


def dtype_policy() -> object:
    """The global dtype policy (see ``nnkit.mixed_precision``)."""
    from nnkit import mixed_precision

    return mixed_precision.global_policy()


def set_dtype_policy(policy: object) -> None:
    """Set the global dtype policy: ``'float32'``, ``'mixed_float16'`` or ``'mixed_bfloat16'``."""
    from nnkit import mixed_precision

    mixed_precision.set_global_policy(policy)


_INTERACTIVE_LOGGING = True


def enable_interactive_logging() -> None:
    """Show progress bars (``verbose=1``) again: the default."""
    global _INTERACTIVE_LOGGING
    _INTERACTIVE_LOGGING = True


def disable_interactive_logging() -> None:
    """Replace progress bars by one plain line per epoch (``verbose=1`` then prints as ``verbose=2``), for logs
    written to files or consoles that cannot redraw a line."""
    global _INTERACTIVE_LOGGING
    _INTERACTIVE_LOGGING = False


def is_interactive_logging_enabled() -> bool:
    """Whether ``verbose=1`` shows a progress bar (see :func:`disable_interactive_logging`)."""
    return _INTERACTIVE_LOGGING


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


def image_data_format() -> str:
    """Default layout of image-like data: ``'channels_last'`` (Keras's default) or ``'channels_first'``."""
    return _IMAGE_DATA_FORMAT


def set_image_data_format(data_format: str) -> None:
    """Set the default ``data_format`` of convolution, pooling and similar layers."""
    global _IMAGE_DATA_FORMAT
    if data_format not in ("channels_last", "channels_first"):
        raise ConfigError(
            f"data_format must be 'channels_last' or 'channels_first'. Received: {data_format!r}."
        )
    _IMAGE_DATA_FORMAT = data_format


def resolve_data_format(data_format: str | None) -> str:
    """A layer's ``data_format`` argument, with ``None`` meaning the global default."""
    if data_format is None:
        return _IMAGE_DATA_FORMAT
    if data_format not in ("channels_last", "channels_first"):
        raise ConfigError(
            f"data_format must be 'channels_last' or 'channels_first'. Received: {data_format!r}."
        )
    return data_format
