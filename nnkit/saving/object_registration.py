"""Where saved models find user code: an explicit registry of serializable objects and ``custom_objects``.

A saved model names its custom layers, losses, metrics and functions; it never contains their code. On
loading, a name is looked up in ``custom_objects=`` (or an active :func:`custom_object_scope`), then in
the objects registered with :func:`register_serializable`, then among nnkit's own. Nothing else is ever
imported or executed, so a file cannot smuggle code in by naming a module.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from nnkit.errors import ConfigError

T = TypeVar("T")

_REGISTERED: dict[str, Any] = {}
_NAMES: dict[int, str] = {}
_SCOPES = threading.local()


def register_serializable(package: str = "Custom", name: str | None = None) -> Callable[[T], T]:
    """Decorator that lets saved models refer to a custom class or function by ``'package>name'``.

    Args:
        package: A namespace that keeps your names apart from other libraries' (Keras's default too).
        name: The name to store; the class or function name by default.

    Raises:
        ConfigError: ``package`` contains ``'>'``, or the name is already taken by another object.

    Example:
        >>> @register_serializable(package="my_project")
        ... def scaled_tanh(x):
        ...     return 1.7159 * torch.tanh(2 * x / 3)
    """
    if not isinstance(package, str) or ">" in package:
        raise ConfigError(f"register_serializable expects a package name without '>'. Received: package={package!r}.")

    def decorate(obj: T) -> T:
        key = f"{package}>{name or getattr(obj, '__name__', '')}"
        if key.endswith(">"):
            raise ConfigError(f"register_serializable cannot name {obj!r}; pass name='...'.")
        existing = _REGISTERED.get(key)
        if existing is not None and existing is not obj and _qualname(existing) != _qualname(obj):
            raise ConfigError(f"'{key}' is already registered for {existing!r}; choose another name= or package=.")
        _REGISTERED[key] = obj
        _NAMES[id(obj)] = key
        return obj

    return decorate


def _qualname(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', repr(obj))}"


def get_registered_name(obj: Any) -> str | None:
    """The ``'package>name'`` an object (or its class) was registered under, or ``None``."""
    key = _NAMES.get(id(obj))
    if key is None and not isinstance(obj, type):
        key = _NAMES.get(id(type(obj)))
    return key


@contextlib.contextmanager
def custom_object_scope(custom_objects: dict[str, Any] | None) -> Iterator[None]:
    """Make ``custom_objects`` (name -> class or function) visible to deserialization inside the block.

    Example:
        >>> with custom_object_scope({"MyLayer": MyLayer}):   # doctest: +SKIP
        ...     model = load_model("model.keras")
    """
    if custom_objects is not None and not isinstance(custom_objects, dict):
        raise ConfigError(
            f"custom_objects must be a dict mapping names to classes or functions. Received: {custom_objects!r}."
        )
    stack = _stack()
    stack.append(dict(custom_objects or {}))
    try:
        yield
    finally:
        stack.pop()


def _stack() -> list[dict[str, Any]]:
    if not hasattr(_SCOPES, "stack"):
        _SCOPES.stack = []
    return _SCOPES.stack


def get_custom_object(*names: str | None) -> Any | None:
    """The user object for the first of ``names`` found in the active scopes, then the registry.

    A registered ``'package>name'`` is also found by its bare ``name`` when that is unambiguous.
    """
    wanted = [n for n in names if isinstance(n, str) and n]
    for scope in reversed(_stack()):
        for name in wanted:
            if name in scope:
                return scope[name]
            bare = name.split(">")[-1]
            if bare in scope:
                return scope[bare]
    for name in wanted:
        if name in _REGISTERED:
            return _REGISTERED[name]
    for name in wanted:
        matches = [obj for key, obj in _REGISTERED.items() if key.split(">")[-1] == name]
        if len(matches) == 1:
            return matches[0]
    return None


def known_custom_names() -> list[str]:
    """Names visible to :func:`get_custom_object` (for error messages)."""
    names = {name for scope in _stack() for name in scope}
    return sorted(names | set(_REGISTERED))


def get_custom_objects() -> dict[str, Any]:
    """The global registry of custom objects, as Keras's ``get_custom_objects()``: adding ``{name: obj}`` to it
    makes ``obj`` loadable by ``name``."""
    return _REGISTERED


def get_registered_object(name: str, custom_objects: dict[str, Any] | None = None,
                          module_objects: dict[str, Any] | None = None) -> Any | None:
    """The object registered (or passed in ``custom_objects``/``module_objects``) under ``name``, or ``None``."""
    with custom_object_scope({**(module_objects or {}), **(custom_objects or {})}):
        return get_custom_object(name)
