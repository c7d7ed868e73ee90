"""Objects to JSON and back: the configs inside saved models, ``to_json`` and run configs.

An object with a config becomes ``{"class_name": ..., "config": {...}}`` (plus ``"registered_name"`` for
classes registered with :func:`~nnkit.saving.register_serializable`), the form every nnkit ``get()``
(layers, optimizers, losses, metrics, regularizers, initializers, constraints, schedules, callbacks)
accepts. Values JSON has no form for are tagged:

- ``__function__``: a function by name (nnkit's, ``torch``'s, or a registered/``custom_objects`` one);
- ``__lambda__``: the bytecode of an anonymous function, which only ``safe_mode=False`` ever loads;
- ``__ndarray__``: an array as nested lists with its dtype;
- ``__type__``: a class by name (a ``torch.optim`` optimizer class, a registered class);
- ``__torch_module__``: a plain ``torch.nn`` module (see :mod:`nnkit.saving.torch_modules`).
"""

from __future__ import annotations

import base64
import builtins
import marshal
import sys
import types
from typing import Any

import numpy as np
import torch

from nnkit.errors import ConfigError
from nnkit.saving import torch_modules
from nnkit.saving.object_registration import get_custom_object, get_registered_name, known_custom_names

_TORCH_FUNCTION_MODULES = {"torch": torch, "torch.nn.functional": torch.nn.functional, "torch.special": torch.special}


def serialize(value: Any, where: str = "value", allow_bytecode: bool = False) -> Any:
    """A JSON-ready form of ``value`` (see the module docstring).

    Args:
        value: What to store.
        where: Its place, for error messages.
        allow_bytecode: Store anonymous functions (lambdas) as bytecode, which only
            ``safe_mode=False`` loads; otherwise they are refused.

    Raises:
        ConfigError: ``value`` (found at ``where``) has no saved form.
    """
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [serialize(v, f"{where}[{i}]", allow_bytecode) for i, v in enumerate(value)]
    if isinstance(value, dict):
        bad = [k for k in value if not isinstance(k, str)]
        if bad:
            raise ConfigError(f"Cannot save {where}: its keys must be strings. Received key {bad[0]!r}.")
        return {k: serialize(v, f"{where}.{k}", allow_bytecode) for k, v in value.items()}
    if isinstance(value, (np.ndarray, torch.Tensor)):
        array = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else value
        if array.dtype.kind not in "biuf":
            raise ConfigError(f"Cannot save {where}: an array of dtype {array.dtype} (only numbers are saved).")
        return {"class_name": "__ndarray__", "config": {"value": array.tolist(), "dtype": str(array.dtype)}}
    if isinstance(value, torch.nn.Module) and not hasattr(value, "get_config"):
        return torch_modules.serialize_module(value, where)
    if isinstance(value, torch.optim.Optimizer):  # an instance given to compile(): its class and settings
        defaults = {k: v for k, v in value.defaults.items() if isinstance(v, (bool, int, float, str, type(None)))}
        return {"class_name": "TorchOptimizer", "config": {"optimizer": serialize(type(value), where), **defaults}}
    if isinstance(value, type):
        return {"class_name": "__type__", "config": get_registered_name(value) or value.__name__,
                "module": value.__module__}
    if hasattr(value, "get_config"):
        return _serialize_object(value, where, allow_bytecode)
    if callable(value):
        return serialize_function(value, where, allow_bytecode)
    raise ConfigError(f"Cannot save {where}: a {type(value).__name__} ({value!r}) has no config to store.")


def _serialize_object(value: Any, where: str, allow_bytecode: bool) -> Any:
    from nnkit import losses, metrics

    # A user function wrapped by compile(): store the function, compile() wraps it again on loading.
    if type(value) is losses.LossFunctionWrapper and not value.fn_kwargs:
        return serialize_function(value.fn, where, allow_bytecode)
    if type(value) is metrics.MeanMetricWrapper and not value.fn_kwargs and value.name == value.fn.__name__:
        return serialize_function(value.fn, where, allow_bytecode)
    entry = {"class_name": type(value).__name__,
             "config": serialize(value.get_config(), f"{where}.config", allow_bytecode)}
    registered = get_registered_name(value)
    if registered is not None:
        entry["registered_name"] = registered
    return entry


def serialize_function(fn: Any, where: str = "function", allow_bytecode: bool = False) -> Any:
    """A function by name (found on loading through the registry or ``custom_objects``); with
    ``allow_bytecode`` an anonymous ``lambda`` as bytecode, which only ``safe_mode=False`` loads."""
    from nnkit import activations

    registered = get_registered_name(fn)
    if registered is not None:
        return {"class_name": "__function__", "config": registered}
    name = activations.serialize(fn)
    if isinstance(name, str):
        return name
    module, name = getattr(fn, "__module__", None), getattr(fn, "__name__", None)
    if module in _TORCH_FUNCTION_MODULES and getattr(_TORCH_FUNCTION_MODULES[module], str(name), None) is fn:
        return {"class_name": "__function__", "config": name, "module": module}
    if _is_function_module(module) and getattr(sys.modules.get(module), str(name), None) is fn:
        return {"class_name": "__function__", "config": name, "module": module}
    if allow_bytecode and name == "<lambda>" and isinstance(fn, types.FunctionType) and not fn.__closure__:
        code = base64.b64encode(marshal.dumps(fn.__code__)).decode("ascii")
        return {"class_name": "__lambda__", "config": {"name": fn.__name__, "bytecode": code,
                                                       "python": list(sys.version_info[:2])}}
    if not isinstance(name, str) or name == "<lambda>":
        raise ConfigError(
            f"Cannot save {where}: {fn!r} is an anonymous function"
            + (" that uses variables of its enclosing function" if getattr(fn, "__closure__", None) else "")
            + ". Give it a name with def and decorate it with @nnkit.saving.register_serializable(), so a loaded "
            "model can find it."
        )
    return {"class_name": "__function__", "config": name}  # found on loading via custom_objects


def _is_function_module(module: Any) -> bool:
    """nnkit modules whose functions a model may name: activations, losses and metrics only."""
    return isinstance(module, str) and (module in ("nnkit.activations", "nnkit.losses")
                                        or module.startswith("nnkit.metrics."))


def deserialize(value: Any, safe_mode: bool = True, where: str = "config") -> Any:
    """Undo :func:`serialize`: tagged values become functions, arrays, classes and torch modules;
    ``{"class_name", "config"}`` dicts of registered or ``custom_objects`` classes become instances; the
    others stay dicts for nnkit's ``get()`` functions to resolve.

    Raises:
        ConfigError: a name is unknown (the message lists the custom names it knows and how to add one),
            or the config holds bytecode and ``safe_mode`` is on.
    """
    if isinstance(value, list):
        return [deserialize(v, safe_mode, f"{where}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, dict):
        return value
    tag = value.get("class_name")
    if tag == "__function__":
        return _function(value, where)
    if tag == "__lambda__":
        return _bytecode_function(value.get("config"), safe_mode, where)
    if tag == "__ndarray__":
        config = value.get("config") or {}
        try:
            return np.asarray(config["value"], dtype=np.dtype(config["dtype"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: malformed array entry ({exc}).") from exc
    if tag == "__type__":
        return _class(value, where)
    if tag == torch_modules.TAG:
        return torch_modules.deserialize_module(value.get("config"), where)
    resolved = {k: deserialize(v, safe_mode, f"{where}.{k}") for k, v in value.items()}
    if isinstance(tag, str) and isinstance(resolved.get("config"), dict):
        custom = get_custom_object(value.get("registered_name"), tag)
        if custom is not None and isinstance(custom, type):
            return _instantiate(custom, resolved["config"], where)
        builtin = _unregistered_builtin(tag)
        if builtin is not None:
            return _instantiate(builtin, resolved["config"], where)
    return resolved


def _instantiate(cls: type, config: dict[str, Any], where: str) -> Any:
    try:
        return cls.from_config(config) if hasattr(cls, "from_config") else cls(**config)
    except TypeError as exc:
        raise ConfigError(f"{where}: cannot rebuild {cls.__name__} from its config: {exc}") from exc


def _unregistered_builtin(class_name: str) -> type | None:
    """nnkit classes that wrap torch objects and so are not in a name registry."""
    from nnkit.losses import TorchLoss
    from nnkit.optimizers import TorchOptimizer

    return {"TorchOptimizer": TorchOptimizer, "TorchLoss": TorchLoss}.get(class_name)


def _missing(kind: str, name: Any, where: str) -> ConfigError:
    known = known_custom_names()
    return ConfigError(
        f"{where}: the saved model uses the {kind} {name!r}, which is not registered. Pass "
        f"custom_objects={{{str(name).split('>')[-1]!r}: ...}} to load_model, or decorate it with "
        "@nnkit.saving.register_serializable() in code that runs before loading."
        + (f" Custom objects known now: {', '.join(known)}." if known else "")
    )


def _function(value: dict[str, Any], where: str) -> Any:
    name, module = value.get("config"), value.get("module")
    custom = get_custom_object(name) if isinstance(name, str) else None
    if custom is not None:
        return custom
    if module in _TORCH_FUNCTION_MODULES:
        found = getattr(_TORCH_FUNCTION_MODULES[module], str(name), None)
        if callable(found) and not isinstance(found, type):
            return found
    if _is_function_module(module) and module in sys.modules:
        found = getattr(sys.modules[module], str(name), None)
        if isinstance(found, types.FunctionType):
            return found
    raise _missing("function", name, where)


def _class(value: dict[str, Any], where: str) -> type:
    name, module = value.get("config"), value.get("module")
    custom = get_custom_object(name) if isinstance(name, str) else None
    if isinstance(custom, type):
        return custom
    candidate = getattr(torch.optim, str(name), None)
    if isinstance(module, str) and module.startswith("torch.optim") and isinstance(candidate, type) \
            and issubclass(candidate, torch.optim.Optimizer):
        return candidate
    from nnkit.metrics.base import Metric

    metric = _metric_class(str(name))
    if metric is not None and issubclass(metric, Metric):
        return metric
    raise _missing("class", name, where)


def _metric_class(name: str) -> type | None:
    from nnkit.metrics import _CLASSES

    return _CLASSES.get(name)


def _bytecode_function(config: Any, safe_mode: bool, where: str) -> Any:
    name = config.get("name") if isinstance(config, dict) else None
    custom = get_custom_object(name) if isinstance(name, str) and name != "<lambda>" else None
    if custom is not None:
        return custom
    if safe_mode:
        raise ConfigError(
            f"{where}: the model holds Python bytecode for an anonymous function ({name}, e.g. in a Lambda "
            "layer). Loading it would run code from the file, which safe mode refuses. If you trust the file, pass "
            "safe_mode=False (load_model, model_from_json and from_config take it)"
            + (f", or pass the function as custom_objects={{{name!r}: {name}}}" if name and name != "<lambda>" else "")
            + "; better, give the function a name, decorate it with @nnkit.saving.register_serializable() and save "
            "the model again."
        )
    if not isinstance(config, dict) or list(config.get("python") or []) != list(sys.version_info[:2]):
        saved = config.get("python") if isinstance(config, dict) else None
        raise ConfigError(f"{where}: the Lambda function's bytecode was saved by Python {saved}, this is Python "
                          f"{'.'.join(map(str, sys.version_info[:2]))}; bytecode only loads in the same version.")
    try:
        code = marshal.loads(base64.b64decode(config["bytecode"]))
    except (KeyError, TypeError, ValueError, EOFError) as exc:
        raise ConfigError(f"{where}: the Lambda function's bytecode is corrupted ({exc}).") from exc
    scope = {"__builtins__": builtins, "torch": torch, "np": np, "F": torch.nn.functional}
    return types.FunctionType(code, scope, name)
