"""Checks of single config values: types and ranges, with messages that start with the value's path.

Every checker takes ``(value, where)`` and returns the value or raises :class:`~nnkit.errors.ConfigError`
such as ``model.layers[2].units: expected a positive integer, got -3.``
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from nnkit.errors import ConfigError
from nnkit.registry import closest

#: Arguments that count things, checked wherever they appear.
POSITIVE_INTS = ("units", "filters", "n", "output_dim", "input_dim", "epochs", "batch_size", "depth_multiplier",
                 "num_classes", "k", "groups")
#: Arguments that are sizes per spatial axis: a positive int or a list of them.
SIZES = ("kernel_size", "pool_size", "strides", "size", "dilation_rate")
#: Probabilities of dropping something.
RATES = ("rate", "dropout", "recurrent_dropout")
NON_NEGATIVE_INTS = ("patience", "verbose", "start_from_epoch", "cooldown")
ACTIVATION_ARGS = ("activation", "recurrent_activation")


def received(value: Any) -> str:
    """A value as a config user wrote it: ``-3``, ``'abc'``, ``true``, ``null``, ``a list``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return f"a list ({_short(value)})"
    if isinstance(value, dict):
        return f"a mapping ({_short(value)})"
    if isinstance(value, str):
        return f"the text {_short(value)}"
    return _short(value)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def is_int(value: Any) -> bool:
    """An int that is not a bool (YAML's ``true`` is not a count)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A finite int or float that is not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_value(name: str, value: Any, where: str) -> None:
    """Type and range checks for arguments whose meaning is the same everywhere (``units``, ``rate``, ...).

    Raises:
        ConfigError: ``'<where>: expected a positive integer, got -3'`` and the like.
    """
    if name in POSITIVE_INTS and not (is_int(value) and value > 0):
        raise ConfigError(f"{where}: expected a positive integer, got {received(value)}.")
    if name in NON_NEGATIVE_INTS and not (is_int(value) and value >= 0):
        raise ConfigError(f"{where}: expected a non-negative integer, got {received(value)}.")
    if name in SIZES and value is not None:
        values = value if isinstance(value, list) else [value]
        if not values or not all(is_int(v) and v > 0 for v in values):
            raise ConfigError(f"{where}: expected a positive integer or a list of them (e.g. 3 or [3, 3]), "
                              f"got {received(value)}.")
    if name in RATES and not (is_number(value) and 0 <= value < 1):
        raise ConfigError(f"{where}: expected a number in [0, 1), got {received(value)}.")
    if name in ACTIVATION_ARGS and value is not None:
        from nnkit.activations import ACTIVATIONS

        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected the name of an activation (e.g. relu), got {received(value)}.")
        if value not in ACTIVATIONS:
            hint = closest(value, ACTIVATIONS.names())
            raise ConfigError(f"{where}: unknown activation {value!r}." + (f" Did you mean '{hint}'?" if hint else "")
                              + f" Known activations: {', '.join(ACTIVATIONS.names())}.")


Checker = Callable[[Any, str], Any]


# -- value checkers: (value, where) -> value -----------------------------------------------------------
def positive_int(value: Any, where: str) -> int:
    """An int >= 1 (not a bool)."""
    if not (is_int(value) and value > 0):
        raise ConfigError(f"{where}: expected a positive integer, got {received(value)}.")
    return value


def non_negative_int(value: Any, where: str) -> int:
    """An int >= 0 (not a bool)."""
    if not (is_int(value) and value >= 0):
        raise ConfigError(f"{where}: expected a non-negative integer, got {received(value)}.")
    return value


def fraction(value: Any, where: str) -> float:
    """A number in [0, 1)."""
    if not (is_number(value) and 0 <= value < 1):
        raise ConfigError(f"{where}: expected a number in [0, 1), got {received(value)}.")
    return value


def boolean(value: Any, where: str) -> bool:
    """``true`` or ``false``."""
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: expected true or false, got {received(value)}.")
    return value


def text(value: Any, where: str) -> str:
    """Non-blank text."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: expected non-empty text, got {received(value)}.")
    return value


def mapping(value: Any, where: str) -> dict[str, Any]:
    """A mapping with text keys."""
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a mapping (key: value lines), got {received(value)}.")
    for key in value:
        if not isinstance(key, str):
            raise ConfigError(f"{where}: keys must be text, got the key {received(key)}.")
    return value


def optional(checker: Checker) -> Checker:
    """``checker``, letting ``null`` through."""
    return lambda value, where: None if value is None else checker(value, where)


def choice(options: tuple[str, ...]) -> Checker:
    """One of ``options``, with a did-you-mean."""
    def check(value: Any, where: str) -> str:
        if value not in options:
            hint = closest(value, list(options)) if isinstance(value, str) else None
            raise ConfigError(f"{where}: expected one of {', '.join(options)}, got {received(value)}."
                              + (f" Did you mean '{hint}'?" if hint else ""))
        return value
    return check


def check_keys(section: dict[str, Any], allowed: list[str] | tuple[str, ...], where: str) -> None:
    """Refuse keys a section does not have, suggesting the closest one.

    Raises:
        ConfigError: ``'fit.epocs: unknown setting. Did you mean 'epochs'? Settings of fit: ...'``.
    """
    for key in section:
        if key not in allowed:
            path = f"{where}.{key}" if where else str(key)
            hint = closest(str(key), list(allowed))
            owner = f"of {where}" if where else "at the top level"
            raise ConfigError(f"{path}: unknown setting." + (f" Did you mean '{hint}'?" if hint else "")
                              + f" Settings {owner}: {', '.join(allowed)}.")
