"""Name -> object registries with aliases and did-you-mean errors."""

from __future__ import annotations

import difflib
import functools
import inspect
import re
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

from nnkit.errors import ConfigError

T = TypeVar("T")

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def snake_case(name: str) -> str:
    """``'MeanSquaredError'`` -> ``'mean_squared_error'``; already-snake names are unchanged."""
    return _CAMEL_BOUNDARY.sub("_", name).lower()


class Registry(Generic[T]):
    """Maps names (and aliases) to objects, forgiving about case and CamelCase spellings.

    Args:
        kind: What the registry holds, in the user's words ("optimizer", "loss", ...).
        plural: Plural of ``kind`` for error messages; ``kind + "s"`` by default.
    """

    def __init__(self, kind: str, plural: str | None = None) -> None:
        self.kind = kind
        self.plural = plural or kind + "s"
        self._entries: dict[str, T] = {}
        self._canonical: list[str] = []

    def register(self, name: str, aliases: Iterable[str] = ()) -> Callable[[T], T]:
        """Decorator that registers its target under ``name`` and ``aliases``."""

        def decorate(obj: T) -> T:
            self.add(name, obj, aliases)
            return obj

        return decorate

    def add(self, name: str, obj: T, aliases: Iterable[str] = ()) -> None:
        """Register ``obj`` under ``name`` and each alias."""
        for key in (name, *aliases):
            self._entries[key] = obj
        self._canonical.append(name)

    def names(self) -> list[str]:
        """Canonical names, sorted."""
        return sorted(self._canonical)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._find(name) is not None

    def _find(self, name: str) -> T | None:
        for key in (name, name.lower(), snake_case(name)):
            if key in self._entries:
                return self._entries[key]
        return None

    def get(self, name: str) -> T:
        """Return the object registered as ``name``.

        Raises:
            ConfigError: ``name`` is unknown; the message suggests the closest known name.
        """
        if not isinstance(name, str):
            raise ConfigError(
                f"Expected the name of a {self.kind} as a string. Received: {name!r} "
                f"of type {type(name).__name__}."
            )
        found = self._find(name)
        if found is None:
            raise ConfigError(self._unknown_message(name))
        return found

    def _unknown_message(self, name: str) -> str:
        close = closest(snake_case(name), list(self._entries))
        hint = f" Did you mean '{close}'?" if close else ""
        return f"Unknown {self.kind} '{name}'.{hint} Known {self.plural}: {', '.join(self.names())}."

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self._canonical)} entries)"


def _edit_distance(a: str, b: str) -> int:
    """Optimal-string-alignment distance: insertions, deletions, substitutions, swaps."""
    rows = [list(range(len(b) + 1))]
    for i, ca in enumerate(a, 1):
        row = [i]
        for j, cb in enumerate(b, 1):
            cost = min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cost = min(cost, rows[-2][j - 2] + 1)
            row.append(cost)
        rows.append(row)
    return rows[-1][-1]


def closest(name: str, candidates: list[str]) -> str | None:
    """The candidate a typo most likely meant, or ``None`` when nothing is close."""
    if not candidates:
        return None
    best = min(candidates, key=lambda c: (_edit_distance(name, c), -difflib.SequenceMatcher(None, name, c).ratio()))
    if _edit_distance(name, best) <= max(1, len(name) // 3):
        return best
    matches = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return matches[0] if matches else None


def capture_config(init: Callable) -> Callable:
    """Wrap ``__init__`` so the outermost call records its bound arguments in ``self._config``.

    Subclasses wrap their own ``__init__`` too; only the outermost call (the class the user named) records,
    so the config is exactly what the user passed.
    """
    signature = inspect.signature(init)

    @functools.wraps(init)
    def wrapper(self, *args, **kwargs):
        if "_config" not in self.__dict__:
            try:
                bound = signature.bind(self, *args, **kwargs)
            except TypeError as exc:
                raise TypeError(f"{type(self).__name__}: {exc}") from None
            config: dict[str, Any] = {}
            for key, value in list(bound.arguments.items())[1:]:
                if signature.parameters[key].kind is inspect.Parameter.VAR_KEYWORD:
                    config.update(value)
                else:
                    config[key] = value
            self._config = config
        init(self, *args, **kwargs)

    return wrapper


class Configurable:
    """Objects whose config is their constructor arguments: ``from_config`` and ``__repr__`` for free.

    Subclasses return those arguments from ``get_config`` (by default, the instance attributes).
    """

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments of this object."""
        return dict(vars(self))

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Any:
        """Rebuild an object from :meth:`get_config` output."""
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def serializers(get: Callable[[Any], Any], what: str) -> tuple[Callable[[Any], Any], Callable[..., Any]]:
    """Keras's ``serialize``/``deserialize`` pair for a module whose objects ``get`` resolves: an object to its
    ``{"class_name", "config"}`` form, and such a form (or a name) back to an object."""

    def serialize(obj: Any) -> Any:
        """``obj`` as the config a saved model stores for it."""
        from nnkit.saving import serialize as serialize_value

        return serialize_value(obj, what)

    def deserialize(config: Any, custom_objects: dict[str, Any] | None = None) -> Any:
        """The object a :func:`serialize` config (or a name) describes."""
        from nnkit.saving import custom_object_scope
        from nnkit.saving import deserialize as deserialize_value

        with custom_object_scope(custom_objects):
            return get(deserialize_value(config) if isinstance(config, dict) else config)

    return serialize, deserialize
