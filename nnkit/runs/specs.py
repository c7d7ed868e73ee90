"""Config entries -> nnkit objects: layers, optimizers, losses, metrics and callbacks, with path errors.

An entry is a registered name (``adam``, ``Flatten``) or a mapping ``{type: <name>, <argument>: <value>,
...}``; Keras's ``{class_name: ..., config: {...}}`` form is accepted too. A layer's initializers, regularizers and
constraints are entries too (``kernel_regularizer: {type: l2, l2: 0.01}``). Argument names are checked
against the constructor's signature before anything is built, and every error starts with the config
path of the entry (``model.layers[2].units: expected a positive integer, got -3``).
"""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import Callable
from typing import Any

from nnkit.errors import ConfigError, NnkitError
from nnkit.registry import Registry, closest
from nnkit.runs.checks import check_value, is_number, received
from nnkit.runs.loading import NESTED_LAYER_ARGS, OBJECT_ARGUMENT_SUFFIXES

#: Callback arguments naming files or folders; relative ones are placed in the run folder.
FILE_ARGUMENTS = ("filepath", "filename", "log_dir", "backup_dir")

#: Layer arguments ending in these hold initializers, regularizers or constraints: (kind, example).
OBJECT_KINDS = {"_initializer": ("initializer", "{type: he_normal, seed: 1}"),
                "_regularizer": ("regularizer", "{type: l2, l2: 0.01}"),
                "_constraint": ("constraint", "{type: max_norm, max_value: 2}")}


def _a(word: str) -> str:
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


def split_entry(entry: Any, where: str, kind: str, example: str) -> tuple[str, dict[str, Any]]:
    """``'adam'`` -> ``('adam', {})``; ``{type: adam, learning_rate: 0.1}`` -> ``('adam', {'learning_rate': 0.1})``.

    Raises:
        ConfigError: the entry is neither a name nor a mapping with a text ``type``.
    """
    if isinstance(entry, str):
        return entry, {}
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected {_a(kind)} name or a mapping such as {example}, got {received(entry)}.")
    if "class_name" in entry and "type" not in entry:
        args = entry.get("config") or {}
        extra = [k for k in entry if k not in ("class_name", "config", "module", "registered_name")]
        if extra or not isinstance(args, dict):
            raise ConfigError(f"{where}: a {{class_name, config}} entry has only those two keys, with config a "
                              f"mapping; received keys {sorted(map(str, entry))}. Or write it as {example}.")
        name = entry["class_name"]
        args = dict(args)
    else:
        if "type" not in entry:
            hint = closest("type", [str(k) for k in entry])
            raise ConfigError(f"{where}: the {kind} needs a `type`, e.g. {example}."
                              + (f" Did you mean 'type' instead of '{hint}'?" if hint else ""))
        name = entry["type"]
        args = {k: v for k, v in entry.items() if k != "type"}
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}.type: expected the name of {_a(kind)}, got {received(name)}.")
    for key in args:
        if not isinstance(key, str):
            raise ConfigError(f"{where}: argument names must be text, got {received(key)}.")
    return name, args


def name_path(entry: Any, where: str) -> str:
    """The path of an entry's name: the entry itself when it is just a name, else its ``type`` (or
    ``class_name``) key: ``compile.loss`` for ``loss: mse``, ``compile.loss.type`` for ``{type: mse}``."""
    if not isinstance(entry, dict):
        return where
    return f"{where}.class_name" if "class_name" in entry and "type" not in entry else f"{where}.type"


def lookup(registry: Registry, name: str, where: str) -> Any:
    """``registry.get(name)`` with ``where`` (the path of the name, see :func:`name_path`) in front of its
    did-you-mean message."""
    try:
        return registry.get(name)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def accepted_arguments(target: Callable[..., Any], extra: tuple[str, ...] = ()) -> tuple[dict[str, Any], bool]:
    """``{name: default}`` of the keyword arguments ``target`` takes, and whether it takes ``**kwargs``."""
    try:
        parameters = list(inspect.signature(target).parameters.values())
    except (TypeError, ValueError):
        return {}, True
    if parameters and parameters[0].name == "self":
        parameters = parameters[1:]
    names = {p.name: p.default for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    takes_kwargs = any(p.kind is p.VAR_KEYWORD for p in parameters)
    if takes_kwargs and extra:
        names.update({name: inspect.Parameter.empty for name in extra})
        takes_kwargs = False
    return names, takes_kwargs


def check_arguments(target: Callable[..., Any], args: dict[str, Any], where: str, owner: str,
                    extra: tuple[str, ...] = (), skip: tuple[str, ...] = ()) -> None:
    """Check argument names against ``target``'s signature, then common types and ranges.

    Raises:
        ConfigError: an unknown argument (with a did-you-mean), a missing required one, or a bad value.
    """
    names, takes_kwargs = accepted_arguments(target, extra)
    for key, value in args.items():
        if key not in names and not takes_kwargs:
            hint = closest(key, sorted(names))
            raise ConfigError(f"{where}.{key}: {owner} has no argument {key!r}." + (f" Did you mean '{hint}'?" if hint
                              else "") + f" Its arguments: {', '.join(sorted(names)) or 'none'}.")
        if key in skip:
            continue
        check_value(key, value, f"{where}.{key}")
        default = names.get(key, inspect.Parameter.empty)
        if isinstance(default, bool) and not isinstance(value, bool):
            raise ConfigError(f"{where}.{key}: expected true or false, got {received(value)}.")
    missing = [name for name, default in names.items() if default is inspect.Parameter.empty and name not in args
               and name not in extra]
    if missing:
        raise ConfigError(f"{where}: {owner} needs the argument {missing[0]!r}, e.g. {{type: {owner}, {missing[0]}: "
                          "...}.")


def named_argument(message: str, names: Any) -> str | None:
    """The argument among ``names`` an error message is about: the first one it quotes as `` `name` `` or
    shows as ``Received: name=`` / ``got name=`` / ``has name=``; ``None`` when it names none of them."""
    found = []
    for name in names:
        if not isinstance(name, str) or not name:
            continue
        key = re.escape(name)
        match = re.search(rf"`{key}`|(?:Received: |got |has ){key}=", message)
        if match:
            found.append((match.start(), name))
    return min(found)[1] if found else None


def located(where: str, owner: str, message: str, names: Any) -> str:
    """``'<where>.<argument>: <message>'`` when the message names one of the entry's arguments, else
    ``'<where> (<owner>): <message>'``."""
    key = named_argument(message, names)
    return f"{where}.{key}: {message}" if key else f"{where} ({owner}): {message}"


def construct(factory: Callable[..., Any], args: dict[str, Any], where: str, owner: str) -> Any:
    """``factory(**args)``, turning any failure into a ``ConfigError`` that names the entry (and the
    argument, when the message names one: ``model.layers[0].padding: Conv2D expects `padding` ...``).

    A constructor fed from a config can only fail because of the config, so every exception is
    reported as a config error (the original stays chained for ``--debug``).
    """
    try:
        return factory(**args)
    except Exception as exc:
        message = str(exc) if isinstance(exc, NnkitError) else f"{type(exc).__name__}: {exc}"
        raise ConfigError(located(where, owner, message, args)) from exc


# -- layers ------------------------------------------------------------------------------------------


class LayerNames:
    """Keras-style names (``dense``, ``dense_1``) counted per model, not per process, so a config builds
    the same layer names every time; names given in the config are never reused."""

    def __init__(self, taken: list[str] | None = None) -> None:
        self.taken = set(taken or [])
        self.counts: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"LayerNames(taken={sorted(self.taken)!r})"

    def next(self, class_name: str) -> str:
        """The next free name for a layer of ``class_name`` (``Conv2D`` -> ``conv2d``, ``conv2d_1``, ...)."""
        from nnkit.layers.base import keras_layer_name

        base = keras_layer_name(class_name)
        while True:
            count = self.counts.get(base, 0)
            self.counts[base] = count + 1
            name = base if count == 0 else f"{base}_{count}"
            if name not in self.taken:
                self.taken.add(name)
                return name


def given_layer_names(entries: Any) -> list[str]:
    """The ``name`` arguments written in a list of layer entries."""
    if not isinstance(entries, list):
        return []
    return [e["name"] for e in entries if isinstance(e, dict) and isinstance(e.get("name"), str)]


MODEL_INPUT = "input"  # what `inputs:` calls the model's input (after any data preprocessing)


def layer_inputs(entries: list[Any], where: str) -> list[list[str] | None]:
    """The ``inputs:`` of each layer entry (``None`` where a layer reads the one before it), checked: each
    names the model ``input`` or an earlier layer's ``name``. The key is removed from the entries.

    Raises:
        ConfigError: an unknown or later layer name (with a did-you-mean), or a value that is not names.
    """
    seen = [MODEL_INPUT]
    result: list[list[str] | None] = []
    for i, entry in enumerate(entries):
        value = entry.pop("inputs", None) if isinstance(entry, dict) else None
        if value is None:
            result.append(None)
        else:
            names = [value] if isinstance(value, str) else value
            if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
                raise ConfigError(f"{where}[{i}].inputs: expected a layer name or a list of them, e.g. "
                                  f"[{MODEL_INPUT}, dense_1], got {received(value)}.")
            for name in names:
                if name not in seen:
                    hint = closest(name, seen)
                    later = name in given_layer_names(entries[i:])
                    raise ConfigError(
                        f"{where}[{i}].inputs: {name!r} is not the model {MODEL_INPUT!r} or an earlier layer's name"
                        + (" (a layer can only read layers listed before it)" if later else "")
                        + (f". Did you mean '{hint}'?" if hint and not later else ".")
                        + f" Names so far: {', '.join(seen)}.")
            result.append(names)
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            seen.append(entry["name"])
    return result


def make_layer(entry: Any, where: str, names: LayerNames | None = None) -> Any:
    """A layer spec from ``{type: Dense, units: 16, activation: relu}`` (or ``'Flatten'``).

    Args:
        entry: The config entry.
        where: Its config path, for errors.
        names: Names layers without a ``name`` (a fresh :class:`LayerNames` when ``None``).

    Raises:
        ConfigError: unknown type or argument, a bad value, or a constructor error, prefixed with ``where``.
    """
    from nnkit.layers.base import LAYERS, Layer

    names = names if names is not None else LayerNames()
    name, args = split_entry(entry, where, "layer", "{type: Dense, units: 16}")
    cls = lookup(LAYERS, name, name_path(entry, where))
    check_arguments(cls.__init__, args, where, cls.__name__, extra=Layer._BASE_ARGS, skip=NESTED_LAYER_ARGS)
    _check_dtype(args.get("dtype"), f"{where}.dtype")
    for key, value in args.items():
        if key.endswith(OBJECT_ARGUMENT_SUFFIXES):
            args[key] = make_object(value, f"{where}.{key}", key[key.rindex("_"):])
    if args.get("name") is None and "name" in accepted_arguments(cls.__init__, Layer._BASE_ARGS)[0]:
        args["name"] = names.next(cls.__name__)
    for key in NESTED_LAYER_ARGS:
        if isinstance(args.get(key), (dict, str)):
            args[key] = make_layer(args[key], f"{where}.{key}", names)
    return construct(cls, args, where, cls.__name__)


def _check_dtype(dtype: Any, where: str) -> None:
    """A layer's ``dtype`` may only repeat the float type every layer uses (``nnkit.config.floatx()``)."""
    from nnkit import config

    if dtype is not None and dtype != config.floatx():
        raise ConfigError(f"{where}: nnkit layers compute in the global float type {config.floatx()!r} "
                          f"(nnkit.config.floatx()), so a layer cannot have its own dtype; got {received(dtype)}. "
                          f"Remove dtype (or set it to {config.floatx()}).")


def make_object(entry: Any, where: str, suffix: str) -> Any:
    """Check a layer's initializer, regularizer or constraint entry (``suffix`` ``'_initializer'``, ...) and
    return what the layer's ``get()`` takes: a name as it is, ``{type: l2, l2: 0.01}`` as
    ``{"class_name": "l2", "config": {"l2": 0.01}}``; ``null`` stays ``None``.

    Raises:
        ConfigError: an unknown name or argument, or a bad value, at ``where``.
    """
    from nnkit import constraints, initializers, regularizers

    if entry is None:
        return None
    kind, example = OBJECT_KINDS[suffix]
    registry = {"initializer": initializers.INITIALIZERS, "regularizer": regularizers.REGULARIZERS,
                "constraint": constraints.CONSTRAINTS}[kind]
    name, args = split_entry(entry, where, kind, example)
    cls = lookup(registry, name, name_path(entry, where))
    if isinstance(entry, str):
        return entry
    check_arguments(cls.__init__, args, where, cls.__name__)
    construct(cls, dict(args), where, cls.__name__)
    return {"class_name": name, "config": args}


# -- compile -----------------------------------------------------------------------------------------
def make_optimizer(entry: Any, where: str = "compile.optimizer") -> Any:
    """An optimizer from ``'adam'`` or ``{type: adam, learning_rate: 0.01}``; ``learning_rate`` may be a
    schedule entry such as ``{type: ExponentialDecay, initial_learning_rate: 0.1, decay_steps: 100, decay_rate: 0.9}``."""
    from nnkit.optimizers import OPTIMIZERS
    from nnkit.optimizers.schedules import SCHEDULES

    name, args = split_entry(entry, where, "optimizer", "{type: adam, learning_rate: 0.001}")
    cls = lookup(OPTIMIZERS, name, name_path(entry, where))
    check_arguments(cls.__init__, args, where, cls.__name__, extra=("lr",))
    rate = args.get("learning_rate")
    if isinstance(rate, dict):
        sched_name, sched_args = split_entry(rate, f"{where}.learning_rate", "learning rate schedule",
                                             "{type: ExponentialDecay, initial_learning_rate: 0.01, ...}")
        schedule = lookup(SCHEDULES, sched_name, name_path(rate, f"{where}.learning_rate"))
        check_arguments(schedule.__init__, sched_args, f"{where}.learning_rate", schedule.__name__)
        args["learning_rate"] = construct(schedule, sched_args, f"{where}.learning_rate", schedule.__name__)
    elif "learning_rate" in args and not (is_number(rate) and rate >= 0):
        raise ConfigError(f"{where}.learning_rate: expected a non-negative number (e.g. 0.001), got {received(rate)}.")
    return construct(cls, args, where, cls.__name__)


def make_loss(entry: Any, where: str = "compile.loss") -> Any:
    """A loss from ``'mse'`` or ``{type: categorical_crossentropy, label_smoothing: 0.1}``."""
    from nnkit.losses import LOSSES

    name, args = split_entry(entry, where, "loss", "{type: categorical_crossentropy, label_smoothing: 0.1}")
    factory = lookup(LOSSES, name, name_path(entry, where))
    check_arguments(factory.__init__ if isinstance(factory, type) else factory, args, where, name)
    return construct(factory, args, where, name)


def make_metric(entry: Any, where: str) -> Any:
    """What ``compile(metrics=[...])`` receives for one entry: a name (checked now), or a Metric built
    from ``{type: F1Score, average: macro}``."""
    from nnkit import metrics
    from nnkit.metrics.base import METRICS

    if isinstance(entry, str):
        if entry not in ("accuracy", "acc"):
            try:
                metrics.get(entry)
            except ConfigError as exc:
                raise ConfigError(f"{where}: {exc}") from None
        return entry
    name, args = split_entry(entry, where, "metric", "{type: F1Score, average: macro}")
    factory = lookup(METRICS, name, name_path(entry, where))
    if not isinstance(factory, type):
        raise ConfigError(f"{where}: the metric {name!r} takes no arguments; write it as a plain name, or use its "
                          "class with arguments, e.g. {type: F1Score, average: macro}.")
    check_arguments(factory.__init__, args, where, factory.__name__)
    return construct(factory, args, where, factory.__name__)


# -- callbacks ---------------------------------------------------------------------------------------
def make_callback(entry: Any, where: str, run_dir: str | None = None) -> Any:
    """A callback from ``'TerminateOnNaN'`` or ``{type: EarlyStopping, patience: 5}`` (names as
    :func:`nnkit.callbacks.get` knows them). Relative paths in ``filepath``/``filename``/``log_dir``/
    ``backup_dir`` are placed inside ``run_dir``."""
    from nnkit.callbacks import CALLBACKS

    name, args = split_entry(entry, where, "callback", "{type: EarlyStopping, monitor: val_loss, patience: 5}")
    cls = lookup(CALLBACKS, name, name_path(entry, where))
    check_arguments(cls.__init__, args, where, cls.__name__)
    for key in FILE_ARGUMENTS:
        value = args.get(key)
        if isinstance(value, str) and run_dir is not None and value and not os.path.isabs(value):
            args[key] = os.path.join(run_dir, value)
    for key in function_arguments(cls.__init__):
        if key in args:
            args[key] = registered_function(args[key], f"{where}.{key}")
    callback = construct(cls, args, where, cls.__name__)
    if hasattr(callback, "monitor"):
        callback.config_path = where  # its errors during fit name the config entry (fit.callbacks[0].monitor)
    return callback


def function_arguments(target: Callable[..., Any]) -> list[str]:
    """The arguments of ``target`` annotated as functions (``LearningRateScheduler``'s ``schedule``, ...)."""
    try:
        parameters = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in parameters if "Callable" in str(p.annotation)]


def registered_function(value: Any, where: str) -> Any:
    """A function named in a config: ``my_schedule`` or ``{class_name: __function__, config: my_schedule}``
    (Keras's saved form) must name a function registered with ``@nnkit.saving.register_serializable()``;
    a function (from Python) is kept.

    Raises:
        ConfigError: the name is not registered, or the value is not a name, at ``where``.
    """
    from nnkit.saving import get_custom_object

    name = value
    if isinstance(value, dict) and value.get("class_name") == "__function__":
        name = value.get("config")
    if value is None or callable(value):  # no function, or one given from Python
        return value
    if not isinstance(name, str):
        raise ConfigError(f"{where}: expected the name of a function registered with "
                          f"@nnkit.saving.register_serializable(), got {received(value)}.")
    found = get_custom_object(name)
    if callable(found) and not isinstance(found, type):
        return found
    raise ConfigError(f"{where}: {name!r} is not a registered function. A config can name a function only if it "
                      "is decorated with @nnkit.saving.register_serializable() in code imported before the run "
                      "(nnkit.runs from Python). From the command line, use a schedule on the optimizer instead, "
                      "e.g. compile.optimizer.learning_rate: {type: ExponentialDecay, initial_learning_rate: 0.01, "
                      "decay_steps: 100, decay_rate: 0.9}.")
