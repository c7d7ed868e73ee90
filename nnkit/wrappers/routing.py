"""Which estimator parameter goes where: build function, optimizer, loss, callbacks, fit or predict.

Routed names follow scikeras and skorch: ``model__units`` reaches the build function (a bare ``units``
does too when the build function takes it), ``optimizer__learning_rate`` the optimizer, ``loss__...`` the
loss, ``callbacks__0__patience`` the first callback, ``fit__validation_freq`` ``Sequential.fit`` and
``predict__batch_size`` prediction. ``layers__0__units`` rebuilds layer 0 of a ``layers=[...]`` list.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nnkit.callbacks.callback import Callback
from nnkit.errors import ConfigError
from nnkit.layers.base import Layer
from nnkit.registry import closest

#: Prefixes of routed parameter names, ``prefix__name``.
ROUTES = ("model", "optimizer", "loss", "callbacks", "fit", "predict", "layers")

# Names a user may write bare by mistake, and the routed spelling that works.
_HINTS = {"learning_rate": "optimizer__learning_rate", "lr": "optimizer__learning_rate",
          "momentum": "optimizer__momentum", "patience": "callbacks__0__patience"}


@dataclass
class Routed:
    """Routed parameters sorted by destination (``callbacks`` and ``layers`` keyed by position)."""

    model: dict[str, Any] = field(default_factory=dict)
    optimizer: dict[str, Any] = field(default_factory=dict)
    loss: dict[str, Any] = field(default_factory=dict)
    callbacks: dict[str, dict[str, Any]] = field(default_factory=dict)
    fit: dict[str, Any] = field(default_factory=dict)
    predict: dict[str, Any] = field(default_factory=dict)
    layers: dict[str, dict[str, Any]] = field(default_factory=dict)


def build_fn_params(fn: Any) -> tuple[set[str], bool]:
    """The keyword names ``fn`` accepts, and whether it also takes ``**kwargs``."""
    if not callable(fn):
        return set(), False
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature
        return set(), True
    names = {p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return names, any(p.kind is p.VAR_KEYWORD for p in parameters)


def is_routed(name: str) -> bool:
    """Whether ``name`` has the form ``prefix__rest`` with a known prefix."""
    prefix, sep, rest = name.partition("__")
    return bool(sep and rest) and prefix in ROUTES


def unknown_parameter(name: str, owner: str, valid: list[str]) -> ConfigError:
    """An error for a parameter name nothing accepts, with a did-you-mean and the valid names."""
    hint = _HINTS.get(name) or closest(name, valid)
    shown = sorted(v for v in valid if "__" not in v)  # layers__0__units etc. only feed the did-you-mean
    routes = ", ".join(f"{prefix}__..." for prefix in ROUTES)
    return ConfigError(
        f"Invalid parameter {name!r} for {owner}." + (f" Did you mean {hint!r}?" if hint else "")
        + f" Valid parameters: {', '.join(shown)}; routed parameters: {routes}; and the arguments of "
        "the build function."
    )


def split(extra: dict[str, Any], build_names: set[str], takes_kwargs: bool, owner: str,
          valid: list[str]) -> Routed:
    """Sort the extra (``**kwargs``) parameters of an estimator by destination.

    Raises:
        ConfigError: a name is neither routed nor an argument of the build function.
    """
    routed = Routed()
    bare: dict[str, Any] = {}
    for name, value in extra.items():
        prefix, _, rest = name.partition("__")
        if is_routed(name):
            if prefix in ("callbacks", "layers"):
                key, sep, arg = rest.partition("__")
                if not (sep and arg):
                    raise ConfigError(f"{name!r} must name a position and an argument, e.g. '{prefix}__0__{rest}'.")
                getattr(routed, prefix).setdefault(key, {})[arg] = value
            else:
                getattr(routed, prefix)[rest] = value
        elif name in build_names or (takes_kwargs and "__" not in name):
            bare[name] = value
        else:
            raise unknown_parameter(name, owner, valid + sorted(build_names))
    routed.model = {**bare, **routed.model}  # an explicit model__x wins over a bare x
    return routed


def build_fn_kwargs(fn: Callable[..., Any], routed_model: dict[str, Any], explicit: dict[str, Any],
                    special: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments to call the build function with.

    Its own parameters are filled from ``model__`` parameters, then from the ``special`` values
    (``meta``), then from the estimator's explicit parameters that are set (not ``None``), the way the
    Keras 2 wrapper passed ``epochs`` or ``batch_size`` to a build function that declared them.
    """
    names, takes_kwargs = build_fn_params(fn)
    unknown = [k for k in routed_model if k not in names]
    if unknown and not takes_kwargs:
        hint = closest(unknown[0], sorted(names))
        raise ConfigError(
            f"The build function {getattr(fn, '__name__', fn)!r} has no argument {unknown[0]!r} (given as "
            f"model__{unknown[0]})." + (f" Did you mean {hint!r}?" if hint else "")
            + f" Its arguments: {', '.join(sorted(names)) or 'none'}."
        )
    kwargs = dict(routed_model)
    for name in names - set(kwargs):
        if name in special:
            kwargs[name] = special[name]
        elif explicit.get(name) is not None:
            kwargs[name] = explicit[name]
    return kwargs


# -- layers ----------------------------------------------------------------------------------------
def layer_params(layers: Any) -> dict[str, Any]:
    """``{"layers__0__units": 64, ...}`` for every argument of every layer spec in ``layers``."""
    if not isinstance(layers, (list, tuple)):
        return {}
    params = {}
    for i, layer in enumerate(layers):
        if isinstance(layer, Layer):
            params.update({f"layers__{i}__{key}": value for key, value in layer.get_config().items()})
    return params


def copy_layer(layer: Layer, overrides: dict[str, Any], where: str) -> Layer:
    """A fresh (unbuilt) copy of ``layer`` with some constructor arguments replaced."""
    try:
        return type(layer).from_config({**layer.get_config(), **overrides})
    except TypeError as exc:
        raise TypeError(f"{where}: {exc}") from None


def with_layer_overrides(layers: Any, overrides: dict[str, dict[str, Any]]) -> list[Layer]:
    """Fresh copies of the layer specs in ``layers`` with ``layers__<i>__<arg>`` overrides applied.

    Raises:
        ConfigError: ``layers`` is not a list of layer specs, or an index is out of range.
    """
    if not isinstance(layers, (list, tuple)) or not all(isinstance(layer, Layer) for layer in layers):
        raise ConfigError(
            "`layers` must be a list of nnkit layers such as [Dense(64, activation='relu'), Dropout(0.2)]. "
            f"Received: {layers!r}."
        )
    for key in overrides:
        if not (key.isdigit() and int(key) < len(layers)):
            raise ConfigError(
                f"layers__{key}__... does not name a layer: use an index from 0 to {len(layers) - 1} "
                f"(the model has {len(layers)} layers before its output layer)."
            )
    return [copy_layer(layer, overrides.get(str(i), {}), f"layers__{i}") for i, layer in enumerate(layers)]


# -- callbacks -------------------------------------------------------------------------------------
def _entries(spec: Any) -> list[tuple[str, Any]]:
    if spec is None:
        return []
    if isinstance(spec, dict):
        return [(str(key), value) for key, value in spec.items()]
    if isinstance(spec, (list, tuple)):
        return [(str(i), value) for i, value in enumerate(spec)]
    return [("0", spec)]


def build_callbacks(spec: Any, routed: dict[str, dict[str, Any]]) -> list[Callback]:
    """Fresh callbacks for one fit from the ``callbacks`` parameter and ``callbacks__<i>__<arg>``.

    ``spec`` is a callback, or a list (or ``{name: ...}`` dict) of callback instances or classes. A
    class is constructed with its routed arguments; an instance is copied, so state never leaks from
    one fit to the next, and rebuilt through its constructor when arguments are routed to it.
    """
    entries = _entries(spec)
    keys = [key for key, _ in entries]
    for key in routed:
        if key not in keys:
            raise ConfigError(
                f"callbacks__{key}__... does not name a callback; the callbacks are "
                f"{', '.join(keys) or 'none (callbacks=None)'}."
            )
    return [_make_callback(key, value, routed.get(key, {})) for key, value in entries]


def _make_callback(key: str, value: Any, kwargs: dict[str, Any]) -> Callback:
    where = f"callbacks__{key}"
    if isinstance(value, type) and issubclass(value, Callback):
        try:
            return value(**kwargs)
        except TypeError as exc:
            raise TypeError(f"{where}: {exc}") from None
    if not isinstance(value, Callback):
        raise TypeError(
            f"Each callback must be an nnkit.callbacks.Callback instance or class. {where} is {value!r}."
        )
    if not kwargs:
        return copy.deepcopy(value)
    parameters = inspect.signature(type(value).__init__).parameters
    names = [n for n, p in parameters.items() if n != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    unknown = [k for k in kwargs if k not in names]
    if unknown and not any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        hint = closest(unknown[0], names)
        raise ConfigError(
            f"{where}__{unknown[0]}: {type(value).__name__} has no argument {unknown[0]!r}."
            + (f" Did you mean {hint!r}?" if hint else "") + f" Its arguments: {', '.join(names) or 'none'}."
        )
    missing = [n for n in names if n not in kwargs and not hasattr(value, n)]
    if missing:
        raise ConfigError(
            f"{where}__...: cannot rebuild {type(value).__name__} with new arguments because it does not keep "
            f"its argument {missing[0]!r} as an attribute. Pass the class instead, e.g. "
            f"callbacks=[{type(value).__name__}] with callbacks__{key}__<argument>=... parameters."
        )
    args = {n: copy.deepcopy(getattr(value, n)) for n in names if n not in kwargs}
    return type(value)(**args, **kwargs)
