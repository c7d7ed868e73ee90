"""Exception types raised by nnkit.

Each one also derives from the built-in exception a caller would naturally catch, so
``except ValueError`` keeps working for bad configuration or data.
"""


class NnkitError(Exception):
    """Base class of every error nnkit raises on purpose."""


class ConfigError(NnkitError, ValueError):
    """An argument, name or configuration value is invalid."""


class DataError(NnkitError, ValueError):
    """Training or prediction data has the wrong shape, type, length or values."""


class NotReadyError(NnkitError, RuntimeError):
    """The model is used before a required step (build, compile, fit)."""
