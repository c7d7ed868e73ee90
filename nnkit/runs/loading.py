"""Reading run configs (YAML with PyYAML's safe loader only, or JSON) and applying ``--set`` overrides.

A config path names one value inside a config: ``fit.epochs``, ``model.layers[0].units``. ``--set`` and
the keys of ``search.params`` use this syntax. Values given on the command line are parsed as YAML, so
``fit.epochs=5`` sets an int, ``data.reshape=[8, 8, 1]`` a list and ``data.limit=null`` ``None``.

YAML is read by :class:`ConfigLoader`, PyYAML's ``SafeLoader`` (plain types only: no Python objects, no
code) taught one thing of YAML 1.2: ``1e-3`` is a number. Plain ``yaml.safe_load`` reads it as the text
``'1e-3'``, a classic trap for learning rates.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import os
import re
from collections.abc import Iterable
from typing import Any

from nnkit.errors import ConfigError

#: Deepest nesting a config may have; real configs stay below 10 levels.
MAX_DEPTH = 64

#: Largest config read (a file, a text or a --set value); real configs are a few kilobytes. PyYAML reads
#: about 150 KB a second, so a larger document would take long before any other check could refuse it.
MAX_BYTES = 2**20

#: Most values a config may hold once YAML aliases are expanded; real configs hold a few hundred. A
#: "billion laughs" document of a few hundred bytes expands to billions of values.
MAX_VALUES = 100_000

#: ``compile.optimizer`` when a config gives none (Keras's ``compile`` default is rmsprop; runs use adam).
DEFAULT_OPTIMIZER = "adam"

#: Layer arguments that hold an object entry (a name or ``{type: ..., <argument>: ...}``).
OBJECT_ARGUMENT_SUFFIXES = ("_initializer", "_regularizer", "_constraint")
#: Layer arguments that hold another layer entry (Bidirectional, TimeDistributed).
NESTED_LAYER_ARGS = ("layer", "backward_layer")

_KEY = r"[A-Za-z_][A-Za-z0-9_\-]*"
_TOKEN = re.compile(rf"\.?({_KEY})|\[(-?\d+)\]")

PathPart = str | int

_FLOAT = re.compile(r"""^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$""")


class DuplicateKey(ValueError):
    """A config mapping names the same key twice."""


class TooManyValues(ValueError):
    """A YAML document holds more than :data:`MAX_VALUES` values (refused while it is read)."""


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json.loads`` hook refusing a key written twice in one object (JSON would keep the last)."""
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise DuplicateKey(f"the key {key!r} is written twice in one object; JSON would silently keep only "
                               "the last. Remove or rename one of them.")
        seen[key] = value
    return seen


@functools.lru_cache(maxsize=1)
def _config_loader() -> type:
    import yaml

    class ConfigLoader(yaml.SafeLoader):
        """``yaml.SafeLoader`` that also reads exponents without a dot (``1e-3``) as floats and refuses a key
        written twice in one mapping (YAML would keep the last silently: a second ``data:`` would train on
        another dataset)."""

        def compose_node(self, parent: Any, index: Any) -> Any:
            # counted while the document is read, so a huge list is refused after MAX_VALUES values, not parsed whole
            self.values_read = getattr(self, "values_read", 0) + 1
            if self.values_read > MAX_VALUES:
                raise TooManyValues(f"the config holds more than {MAX_VALUES} values (line {self.line + 1} is past "
                                    "that); real configs hold a few hundred. Put data in a .csv, .npy or .npz file "
                                    "and name it in data.path.")
            return super().compose_node(parent, index)

        def construct_mapping(self, node: Any, deep: bool = False) -> dict:
            if isinstance(node, yaml.MappingNode):
                lines: dict[Any, int] = {}
                for key_node, _ in node.value:
                    if key_node.tag == "tag:yaml.org,2002:merge":
                        continue  # keys from a `<<: *alias` merge may be overridden, as YAML intends
                    key = self.construct_object(key_node, deep=True)
                    try:
                        first = lines.get(key)
                    except TypeError:
                        continue  # an unhashable key: the base class reports it
                    if first is None:
                        lines[key] = key_node.start_mark.line + 1
                    else:
                        raise DuplicateKey(f"the key {key!r} is written twice in one mapping (lines {first} and "
                                           f"{key_node.start_mark.line + 1}); YAML would silently keep only the "
                                           "last. Remove or rename one of them.")
            return super().construct_mapping(node, deep=deep)

    ConfigLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789"))
    return ConfigLoader


def yaml_load(text: str) -> Any:
    """Parse YAML text with the safe loader (plus ``1e-3`` as a float); raises ``yaml.YAMLError``."""
    import yaml

    return yaml.load(text, Loader=_config_loader())  # a SafeLoader subclass: plain types only


def parse_path(path: str) -> list[PathPart]:
    """Split a config path into keys (str) and list indices (int).

    Example:
        >>> parse_path("model.layers[0].units")
        ['model', 'layers', 0, 'units']

    Raises:
        ConfigError: ``path`` is not of the form ``key(.key|[index])*``.
    """
    if not isinstance(path, str) or not path:
        raise ConfigError(f"Expected a config path such as 'fit.epochs' or 'model.layers[0].units'. Received: {path!r}.")
    parts: list[PathPart] = []
    position = 0
    while position < len(path):
        match = _TOKEN.match(path, position)
        if match is None or (position == 0 and path[0] in ".["):
            raise ConfigError(
                f"Invalid config path {path!r} at character {position + 1}: expected keys joined by dots and list "
                "indices in brackets, e.g. 'fit.epochs' or 'model.layers[0].units'."
            )
        if match.group(0).startswith(".") and position == 0:
            raise ConfigError(f"Invalid config path {path!r}: it cannot start with a dot.")
        parts.append(match.group(1) if match.group(1) is not None else int(match.group(2)))
        position = match.end()
    return parts


def format_path(parts: Iterable[PathPart]) -> str:
    """The inverse of :func:`parse_path`: ``['model', 'layers', 0]`` -> ``'model.layers[0]'``."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _index(container: list, index: int, where: str) -> int:
    if not -len(container) <= index < len(container):
        raise ConfigError(
            f"{where}: index {index} is out of range; the list has {len(container)} items "
            f"(indices 0 to {len(container) - 1})." if container else f"{where}: the list is empty."
        )
    return index


def get_path(config: Any, path: str | list[PathPart]) -> Any:
    """The value at ``path`` in ``config``.

    Raises:
        ConfigError: a key or index along the path does not exist (with a did-you-mean).
    """
    from nnkit.registry import closest

    parts = parse_path(path) if isinstance(path, str) else path
    node = config
    for depth, part in enumerate(parts):
        where = format_path(parts[:depth + 1])
        if isinstance(part, int):
            if not isinstance(node, list):
                raise ConfigError(f"{where}: {format_path(parts[:depth]) or 'the config'} is not a list.")
            node = node[_index(node, part, where)]
        else:
            if not isinstance(node, dict):
                raise ConfigError(f"{where}: {format_path(parts[:depth]) or 'the config'} is not a mapping.")
            if part not in node:
                hint = closest(part, [str(k) for k in node])
                raise ConfigError(f"{where}: there is no such key." + (f" Did you mean '{hint}'?" if hint else ""))
            node = node[part]
    return node


def is_entry_path(parts: list[PathPart]) -> bool:
    """Whether ``parts`` names an entry written as a name or ``{type: <name>, ...}``: the optimizer, the loss,
    a metric, a callback, a layer (nested ones too) or a layer's initializer, regularizer or constraint."""
    if parts in (["compile", "optimizer"], ["compile", "loss"]):
        return True
    if len(parts) < 3 or not isinstance(parts[2], int):
        return False
    if parts[:2] in (["compile", "metrics"], ["fit", "callbacks"]):
        return len(parts) == 3
    if parts[:2] != ["model", "layers"]:
        return False
    rest = parts[3:]
    while rest and rest[0] in NESTED_LAYER_ARGS:
        rest = rest[1:]
    return not rest or (len(rest) == 1 and isinstance(rest[0], str) and rest[0].endswith(OBJECT_ARGUMENT_SUFFIXES))


def set_path(config: dict[str, Any], path: str | list[PathPart], value: Any) -> None:
    """Set the value at ``path``, creating missing mappings along the way (list indices must exist).

    An entry given by name becomes ``{type: <name>}`` when the path goes inside it, so
    ``compile.optimizer.learning_rate=0.1`` works on ``optimizer: adam`` (and on a config without an
    optimizer, which gets ``{type: adam}``, the default).

    Raises:
        ConfigError: the path crosses a value that is not a mapping or list, or an index is out of range.
    """
    parts = parse_path(path) if isinstance(path, str) else path
    if not parts:
        raise ConfigError("An override needs a config path, e.g. fit.epochs=5.")
    node: Any = config
    for depth, part in enumerate(parts):
        where = format_path(parts[:depth + 1])
        last = depth == len(parts) - 1
        if isinstance(part, int):
            if not isinstance(node, list):
                raise ConfigError(f"{where}: {format_path(parts[:depth]) or 'the config'} is not a list, so it "
                                  "has no index; use a key instead.")
            part = _index(node, part, where)
        elif not isinstance(node, dict):
            raise ConfigError(f"{where}: {format_path(parts[:depth]) or 'the config'} is "
                              f"{_describe(node)}, not a mapping, so it has no key {part!r}.")
        if last:
            node[part] = value
            return
        inside = isinstance(parts[depth + 1], str) and is_entry_path([*parts[:depth], part])
        if isinstance(node, dict) and (part not in node or node[part] is None):
            default = DEFAULT_OPTIMIZER if [*parts[:depth], part] == ["compile", "optimizer"] else None
            node[part] = {"type": default} if default else [] if isinstance(parts[depth + 1], int) else {}
        elif inside and isinstance(node[part], str) and node[part]:
            node[part] = {"type": node[part]}
        node = node[part]


def parse_override(text: str) -> tuple[str, Any]:
    """``'fit.epochs=5'`` -> ``('fit.epochs', 5)``; the value is parsed as YAML (safe loader).

    Raises:
        ConfigError: no ``=``, an invalid path, or a value that is not valid YAML.
    """
    import yaml

    if not isinstance(text, str) or "=" not in text:
        raise ConfigError(f"--set expects PATH=VALUE, e.g. --set fit.epochs=5. Received: {text!r}.")
    path, _, raw = text.partition("=")
    path = path.strip()
    parse_path(path)
    if len(raw) > MAX_BYTES:
        raise ConfigError(f"--set {path}: {_too_large(len(raw))}")
    try:
        value = yaml_load(raw) if raw.strip() else ""
    except TooManyValues as exc:
        raise ConfigError(f"--set {path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {path}: the value {raw!r} is not valid YAML ({_first_line(exc)}). "
                          "Quote strings that contain ':' or brackets.") from None
    check_tree(value, f"--set {path}")
    return path, value


def apply_overrides(config: dict[str, Any], overrides: Iterable[str | tuple[str, Any]] | dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``config`` with overrides applied in order.

    Args:
        config: The config as read from its file.
        overrides: ``'path=value'`` strings (as given to ``--set``), ``(path, value)`` pairs or a
            ``{path: value}`` dict.

    Returns:
        The new config; ``config`` is left unchanged.
    """
    result = copy.deepcopy(config)
    items = overrides.items() if isinstance(overrides, dict) else overrides
    for item in items:
        path, value = parse_override(item) if isinstance(item, str) else item
        set_path(result, path, copy.deepcopy(value))
    return result


def read_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a config file: JSON for ``.json``, else YAML with the safe loader (never Python objects).

    Raises:
        ConfigError: the file is missing, unreadable, not valid YAML/JSON, or not a mapping at the top.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ConfigError(f"Config file {path!r} does not exist" + (" (it is a folder)" if os.path.isdir(path) else "")
                          + ". Pass the path of a .yaml or .json file, e.g. configs/iris_mlp.yaml.")
    if os.path.getsize(path) > MAX_BYTES:
        raise ConfigError(f"{path}: {_too_large(os.path.getsize(path))}")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read config file {path!r}: {exc}. It must be a UTF-8 text file.") from None
    return parse_config_text(text, path, json_format=path.lower().endswith(".json"))


def parse_config_text(text: str, source: str = "<config>", json_format: bool = False) -> dict[str, Any]:
    """Parse config text (YAML with the safe loader, or JSON) into a plain dict.

    Raises:
        ConfigError: invalid syntax (with the line), or a document that is not a mapping of settings.
    """
    import yaml

    size = len(text) if len(text) > MAX_BYTES else len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_BYTES:
        raise ConfigError(f"{source}: {_too_large(size)}")
    try:
        if json_format:
            data = json.loads(text, object_pairs_hook=_no_duplicate_keys)
        else:
            data = yaml_load(text)
    except (DuplicateKey, TooManyValues) as exc:
        raise ConfigError(f"{source}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}.") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: invalid YAML: {_first_line(exc)}.") from None
    except RecursionError:
        raise ConfigError(f"{source}: the config is nested too deeply to read.") from None
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. yaml's timestamp or base64 constructors
        raise ConfigError(f"{source}: cannot read a value: {exc}.") from None
    if data is None:
        raise ConfigError(f"{source}: the config is empty. It needs at least the sections data, model and compile "
                          "(see configs/README.md).")
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: a config must be a mapping of sections (data:, model:, ...) at the top level, "
                          f"but it is {_describe(data)}.")
    check_tree(data, source)
    return data


def check_tree(value: Any, source: str) -> None:
    """Refuse what a config cannot hold: self-references, absurd depth or size, dates, binary data, sets.

    The walk stops after :data:`MAX_VALUES` values, so a document whose aliases expand to billions of
    values ("billion laughs") is refused at once instead of walked.

    Raises:
        ConfigError: naming the first offending path.
    """
    stack: list[tuple[Any, list[PathPart], frozenset[int]]] = [(value, [], frozenset())]
    seen = 0
    while stack:
        node, parts, ancestors = stack.pop()
        seen += 1
        if seen > MAX_VALUES:
            raise ConfigError(f"{source}: the config expands to more than {MAX_VALUES} values (YAML aliases?); "
                              "a config holds a few hundred. Write the values out instead of repeating aliases.")
        where = format_path(parts) or "the top level"
        if len(parts) > MAX_DEPTH:
            raise ConfigError(f"{source}: {where} is nested more than {MAX_DEPTH} levels deep.")
        if isinstance(node, (dict, list)):
            if id(node) in ancestors:
                raise ConfigError(f"{source}: {where} refers to itself (a YAML alias to its own parent).")
            inner = ancestors | {id(node)}
            if isinstance(node, dict):
                for key, child in node.items():
                    if not (key is None or isinstance(key, (str, int, float))):
                        raise ConfigError(f"{source}: {where} has the key {key!r:.60} of type {type(key).__name__}; "
                                          "keys must be text or numbers. Quote it to make it text.")
                    stack.append((child, [*parts, str(key)], inner))
            else:
                stack.extend((child, [*parts, i], inner) for i, child in enumerate(node))
        elif isinstance(node, float) and not math.isfinite(node):
            continue  # checked where a number is expected
        elif not (node is None or isinstance(node, (str, bool, int, float))):
            raise ConfigError(f"{source}: {where} is a {type(node).__name__} ({node!r:.60}); a config holds only "
                              "text, numbers, true/false, null, lists and mappings. Quote it to make it text.")


def _too_large(size: int) -> str:
    return (f"the config is {size / 2**20:.1f} MB, more than the {MAX_BYTES // 2**20} MB a config may be; a config is "
            "a short text file (real ones are a few kilobytes). Put data in a .csv, .npy or .npz file and name it in "
            "data.path.")


def _describe(value: Any) -> str:
    """``a list``, ``the number 3``, ... for error messages."""
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, str):
        return f"the text {value!r:.60}"
    if value is None:
        return "empty (null)"
    return f"{value!r:.60} ({type(value).__name__})"


def _first_line(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text[:300]
