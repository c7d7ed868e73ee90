"""What a layer call does around the computation: the ``training`` flag nested calls inherit, data turned
into tensors, and per-sample shapes (one tuple, or a list of them for layers of several inputs)."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch
from torch import Tensor

from nnkit import config
from nnkit.errors import ConfigError, DataError


class TrainingFlag:
    """The ``training`` value of the outermost layer call in progress (nested calls inherit it), and how
    deep the layer calls in progress are nested (a call at depth 0 starts a new set of added losses)."""

    value: bool | None = None
    depth: int = 0
    logits_of: Any = None  # the layer whose final softmax/sigmoid a subclassed model's fused loss skips
    custom_layers: bool = False  # whether a custom layer (which may add_loss) exists in this process
    trains_by_default: bool = False  # whether a layer that trains when given no mode (augmentation) exists


TRAINING = TrainingFlag()


def training_by_default(layer: Any) -> list[Any]:
    """The layers in ``layer`` (itself included) whose calls train when nothing gives a mode (Keras's
    augmentation layers: their ``call`` defaults to ``training=True``); cached once the layer is built."""
    found = layer.__dict__.get("_by_default_cache")
    if found is None:
        found, seen, pending = [], set(), [layer]
        while pending:  # a model's layers are not its torch children (its module is), so walk both
            current = pending.pop()
            if id(current) in seen:
                continue
            seen.add(id(current))
            if current.training_by_default:
                found.append(current)
            pending += [*getattr(current, "layers", ()),
                        *(m for m in current.modules() if hasattr(m, "training_by_default"))]
        if layer.built:
            layer.__dict__["_by_default_cache"] = found
    return found


def call_with_defaults(layer: Any, defaults: list[Any], call: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``call(layer, *args, **kwargs)`` as Keras runs a call given no mode: every layer infers except
    ``defaults``, which train; the modes are restored afterwards."""
    before = [(m, m.training) for owner in (layer, *defaults) for m in owner.modules()]
    try:
        layer.train(False)
        for default in defaults:
            default.train(True)
        return call(layer, *args, **kwargs)
    finally:
        for module, mode in before:
            module.training = mode


def is_numeric_list(value: Any) -> bool:
    """Whether a (nested) list holds only numbers: one array, not a list of arrays."""
    if isinstance(value, (list, tuple)):
        return all(is_numeric_list(v) for v in value)
    return isinstance(value, (int, float, np.number, bool))


def channels_last(output: Any) -> Any:
    return output.movedim(1, -1) if isinstance(output, Tensor) and output.ndim >= 3 else output


def as_shapes(shape: Any) -> Any:
    """A sample shape as a tuple, or several as a list of tuples."""
    if isinstance(shape, (list, tuple)) and shape and all(isinstance(s, (list, tuple)) or s is None for s in shape):
        return [None if s is None else tuple(s) for s in shape]
    return tuple(shape)


def output_structure(shape: Any) -> Any:
    return [tuple(s) for s in shape] if isinstance(shape, list) else tuple(shape)


def has_unknown(shapes: Any) -> bool:
    if isinstance(shapes, list):
        return any(has_unknown(s) for s in shapes if s is not None)
    return any(d is None for d in shapes)


def compatible(built: Any, received: Any) -> bool:
    """Whether ``received`` fits a layer built for ``built`` (``None`` matches any size)."""
    if isinstance(built, list) or isinstance(received, list):
        return (isinstance(built, list) and isinstance(received, list) and len(built) == len(received)
                and all(compatible(b, r) for b, r in zip(built, received)))
    return len(built) == len(received) and all(b is None or r is None or b == r for b, r in zip(built, received))


def batch_shape(shape: Any) -> Any:
    if isinstance(shape, list):
        return [batch_shape(s) for s in shape]
    return (None, *shape)


def strip_batch(shape: Any) -> Any:
    if isinstance(shape, (list, tuple)) and shape and all(isinstance(s, (list, tuple)) for s in shape):
        return [tuple(s)[1:] for s in shape]
    return tuple(shape)[1:]


def as_data(value: Any, layer: Any) -> Any:
    """Call arguments as tensors: a list or dict of arrays stays a structure (merge layers), a nested list
    of numbers is one array."""
    if isinstance(value, dict):
        return {key: as_data(v, layer) for key, v in value.items()}
    if isinstance(value, (list, tuple)) and any(isinstance(v, (Tensor, np.ndarray, list, tuple, dict))
                                                and not is_numeric_list(v) for v in value):
        return type(value)(as_data(v, layer) for v in value)
    return as_tensor(value, layer)


def as_tensor(value: Any, layer: Any) -> Any:
    """Data as Keras's torch backend takes it: floats in the float type of the weights, ints for layers
    that read ids (``Embedding``), tensors passed through. Integer and boolean arrays keep their dtype for
    weight-free layers that compute on them as Keras does (a class attribute ``keeps_integers = True``:
    merging, cropping, padding, nearest upsampling, reshaping); other layers receive floats."""
    if isinstance(value, Tensor):  # float64 data meets float32 weights as in Keras: cast to the float type
        if value.is_floating_point() and layer.input_dtype is None and value.dtype != config.float_dtype():
            return value.to(config.float_dtype())
        return value
    if value is None or isinstance(value, (bool, str)):
        return value
    if hasattr(value, "to_numpy") and not isinstance(value, np.ndarray):
        value = value.to_numpy()
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise DataError(f"Layer '{layer.name}' takes numeric inputs; received an array of dtype {array.dtype}.")
    if array.dtype.kind != "f" and getattr(layer, "keeps_integers", False):
        if array.dtype.kind == "u" and array.itemsize > 1:  # torch lacks uint16/32/64 arithmetic: Keras uses int64
            array = array.astype(np.int64)
        elif array.dtype == np.int64 and isinstance(value, (list, tuple)):  # Python ints are int32 in Keras
            array = array.astype(np.int32)
        return torch.as_tensor(array)
    if array.dtype.kind == "f" or layer.input_dtype is None:
        return torch.as_tensor(array, dtype=layer.input_dtype or config.float_dtype())
    return torch.as_tensor(array, dtype=layer.input_dtype)


def marks_built(build: Any) -> Any:
    """Wrap a layer class's ``build`` so that calling it by hand, as Keras code does (``layer.build((None, 5))``,
    the batch axis included), leaves the layer built for that shape: a custom layer runs its build and becomes
    its own module, a built-in layer attaches its module. nnkit's own calls (:func:`build_module`) pass through."""

    @functools.wraps(build)
    def wrapper(self: Any, input_shape: Any = None, *args: Any, **kwargs: Any) -> Any:
        by_hand = not self.__dict__.get("_in_attach") and input_shape is not None
        if by_hand and not self._custom:
            self.attach(as_shapes(strip_batch(input_shape)))
            return None
        result = build(self, input_shape, *args, **kwargs)
        if by_hand and self.__dict__.get("module") is None:
            self._finish_custom_build(as_shapes(strip_batch(input_shape)))
        return result

    return wrapper


def build_module(layer: Any, input_shape: Any) -> Any:
    """A built-in layer's ``build`` as nnkit runs it: one sample's shape in, ``(module, output shape)`` out."""
    if layer.__dict__.get("_in_attach"):
        return layer.build(input_shape)
    layer.__dict__["_in_attach"] = True
    try:
        return layer.build(input_shape)
    finally:
        layer.__dict__.pop("_in_attach", None)


def dry_run_shape(layer: Any, input_shape: Any) -> Any:
    """The per-sample output shape of a custom layer, from one call on zeros (unknown sizes as 1; an output
    axis keeps ``None`` where the input had it at the same place)."""
    def zeros(shape: tuple[Any, ...]) -> Tensor:
        dtype = layer.input_dtype or config.float_dtype()
        return torch.zeros((2, *(1 if d is None else d for d in shape)), dtype=dtype)

    inputs = [zeros(s) for s in input_shape] if isinstance(input_shape, list) else zeros(input_shape)
    was_training = layer.training
    layer.train(False)
    # weights the call updates (variable.assign) get their values back, as Keras's symbolic call leaves them
    state = [(t, t.detach().clone()) for t in (*layer.parameters(), *layer.buffers())]
    try:
        with torch.no_grad():
            output = layer.call(inputs)
    except Exception as exc:
        raise DataError(f"Layer '{layer.name}' ({type(layer).__name__}) failed when called on zeros of its input "
                        f"shape {batch_shape(input_shape)} to find its output shape: {type(exc).__name__}: {exc}. "
                        "Fix call(), or define compute_output_shape(input_shape).") from exc
    finally:
        layer.train(was_training)
        with torch.no_grad():
            for tensor, value in state:
                tensor.copy_(value)
        for module in layer.modules():  # losses added by this test call are not a real call's
            module.__dict__.pop("_added_losses", None)
    return _output_shapes(output, input_shape, layer)


def _output_shapes(output: Any, input_shape: Any, layer: Any) -> Any:
    if isinstance(output, (list, tuple)):
        return [_output_shapes(part, input_shape, layer) for part in output]
    if not isinstance(output, Tensor):
        raise TypeError(f"Layer '{layer.name}' ({type(layer).__name__}).call must return a tensor or a list or "
                        f"tuple of tensors; it returned {type(output).__name__}.")
    shape = list(output.shape[1:])
    source = input_shape[0] if isinstance(input_shape, list) else input_shape
    if len(shape) == len(source):
        shape = [None if s is None else d for d, s in zip(shape, source)]
    return tuple(shape)


def declared_shape(kwargs: dict[str, Any], layer: str) -> tuple[int | None, ...] | None:
    """The per-sample input shape a layer's constructor was given (``input_shape``, ``input_dim`` or
    ``batch_input_shape``), checked; ``None`` when none was given.

    Raises:
        ConfigError: a size that is not a positive int or ``None``.
    """
    shape = kwargs.get("input_shape")
    if shape is None and kwargs.get("input_dim") is not None:
        shape = (kwargs["input_dim"],)
    if shape is None and kwargs.get("batch_input_shape") is not None:
        shape = tuple(kwargs["batch_input_shape"])[1:]
    if shape is None:
        return None
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    if not all(d is None or (isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d > 0) for d in shape):
        raise ConfigError(f"Layer '{layer}' expects `input_shape` to be positive ints (None for a size that varies), "
                          f"e.g. (20,) or (None, 8). Received: {shape!r}.")
    return tuple(None if d is None else int(d) for d in shape)


def check_layer_dtype(dtype: Any, layer: str) -> None:
    """Accept a layer's ``dtype`` only where nnkit honours it: ``'float32'`` (or the configured floatx)."""
    name = dtype.get("config", {}).get("name") if isinstance(dtype, dict) else getattr(dtype, "name", dtype)
    if name in ("float32", config.floatx()):
        return
    raise ConfigError(
        f"Layer '{layer}': dtype={dtype!r} per layer is not supported; nnkit computes a whole model under one "
        "dtype policy. Drop the argument and call nnkit.mixed_precision.set_global_policy('mixed_float16' or "
        "'mixed_bfloat16') before compile(), or nnkit.config.set_floatx('float64') for float64 weights."
    )


def config_value(value: Any) -> Any:
    """A constructor argument as a layer's config holds it: objects with a config (initializers,
    regularizers) become ``{"class_name", "config"}``, tuples lists."""
    if hasattr(value, "get_config") and not isinstance(value, type):
        return {"class_name": type(value).__name__, "config": value.get_config()}
    if isinstance(value, tuple):
        return list(value)
    return value
