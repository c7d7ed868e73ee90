"""Configs for plain ``torch.nn`` modules (``TorchModule`` layers, torch losses) without pickle.

A torch module does not record its constructor arguments, but the modules of ``torch.nn`` keep them as
attributes of the same names (``Conv2d.out_channels``, ``LSTM.hidden_size``, ...). Saving reads them back
and checks that a module rebuilt from them prints and shapes its weights exactly like the original, so a
config that would rebuild something else is refused at save time, never discovered at load time. Loading
only ever looks classes up in ``torch.nn`` or in the explicitly registered custom objects.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn

from nnkit.errors import ConfigError
from nnkit.saving.object_registration import get_custom_object, get_registered_name

TAG = "__torch_module__"
_SKIPPED = {"self", "device", "dtype"}
_SCALARS = (bool, int, float, str, type(None))


def serialize_module(module: nn.Module, where: str) -> dict[str, Any]:
    """``{"class_name": "__torch_module__", "config": {"class": ..., "args": [...], "kwargs": {...}}}``.

    Raises:
        ConfigError: the module's class is neither in ``torch.nn`` nor registered, or its arguments
            cannot be read back from its attributes.
    """
    cls = type(module)
    registered = get_registered_name(cls)
    if registered is None and getattr(nn, cls.__name__, None) is not cls:
        raise ConfigError(
            f"Cannot save {where}: {cls.__module__}.{cls.__qualname__} is not a torch.nn module, so nnkit cannot "
            "rebuild it without running code from the file. Decorate the class with "
            "@nnkit.saving.register_serializable() (storing its constructor arguments as attributes of the same "
            "names, or giving it get_config()) and pass it to load_model through the registry or custom_objects."
        )
    class_name = registered or cls.__name__
    if registered is not None and hasattr(module, "get_config"):
        args, kwargs = [], dict(module.get_config())
    elif isinstance(module, (nn.Sequential, nn.ModuleList)):
        args, kwargs = [serialize_module(child, f"{where}[{i}]") for i, child in enumerate(module)], {}
    else:
        args, kwargs = [], _constructor_arguments(module, where)
    config = {"class_name": TAG, "config": {"class": class_name, "args": args, "kwargs": kwargs}}
    _check_rebuilds(module, config, where)
    return config


def _signature(cls: type) -> inspect.Signature:
    """The first constructor in the MRO with named parameters (``nn.LSTM`` takes ``*args`` and passes on)."""
    for klass in cls.__mro__:
        if "__init__" not in klass.__dict__:
            continue
        signature = inspect.signature(klass.__dict__["__init__"])
        named = [p for p in signature.parameters.values()
                 if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.name not in _SKIPPED]
        if named:
            return signature
    return inspect.signature(cls.__init__)


def _constructor_arguments(module: nn.Module, where: str) -> dict[str, Any]:
    arguments: dict[str, Any] = {}
    for param in _signature(type(module)).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD) or param.name in _SKIPPED or param.name == "mode":
            continue
        if not hasattr(module, param.name):
            if param.default is param.empty:
                raise ConfigError(f"Cannot save {where}: {type(module).__name__} does not keep its argument "
                                  f"'{param.name}' as an attribute, so it cannot be rebuilt from a config.")
            continue
        value = getattr(module, param.name)
        if isinstance(value, torch.Tensor) or (value is None and param.name == "bias"):
            value = value is not None  # ``bias=True`` is stored as the bias tensor itself
        if isinstance(value, tuple):
            value = list(value)
        if isinstance(value, _SCALARS) or (isinstance(value, list) and all(isinstance(v, _SCALARS) for v in value)):
            arguments[param.name] = value
    return arguments


def _check_rebuilds(module: nn.Module, config: dict[str, Any], where: str) -> None:
    rebuilt = deserialize_module(config["config"], where)
    same_weights = {k: tuple(v.shape) for k, v in rebuilt.state_dict().items()} == {
        k: tuple(v.shape) for k, v in module.state_dict().items()}
    if repr(rebuilt) != repr(module) or not same_weights:
        raise ConfigError(
            f"Cannot save {where}: rebuilding {type(module).__name__} from the arguments it keeps gives "
            f"{rebuilt!r} instead of {module!r}. Register a class with get_config() for it "
            "(nnkit.saving.register_serializable)."
        )


def deserialize_module(config: dict[str, Any], where: str) -> nn.Module:
    """Rebuild a module from :func:`serialize_module`'s ``config`` (fresh weights; the model file's
    weights are loaded afterwards)."""
    if not isinstance(config, dict) or not isinstance(config.get("class"), str):
        raise ConfigError(f"{where}: a torch module entry needs a 'class' name. Received: {config!r}.")
    name = config["class"]
    cls = get_custom_object(name)
    if cls is None and ">" not in name:
        candidate = getattr(nn, name, None)
        cls = candidate if isinstance(candidate, type) and issubclass(candidate, nn.Module) else None
    if cls is None:
        raise ConfigError(
            f"{where}: unknown torch module class '{name}'. Only torch.nn classes and classes registered with "
            f"nnkit.saving.register_serializable or passed in custom_objects are loaded."
        )
    args = [deserialize_module(a["config"], f"{where}[{i}]") if isinstance(a, dict) and a.get("class_name") == TAG
            else a for i, a in enumerate(config.get("args") or [])]
    kwargs = dict(config.get("kwargs") or {})
    try:
        if hasattr(cls, "from_config") and not args:
            return cls.from_config(kwargs)
        return cls(*args, **kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: cannot rebuild torch module {name} from {kwargs!r}: {exc}") from exc
