"""``clone_model``: a model's architecture again, with new layers (and so new weights), as Keras defines it.

A Sequential model is cloned layer by layer; a functional model by replaying its recorded calls on new
inputs, each layer replaced by its clone (a layer shared by several calls stays shared in the clone).
``clone_function`` chooses the replacement of each layer and ``call_function`` how it is called, so a
clone can also change the architecture (wrap layers, insert layers, reuse the same layers).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from nnkit.errors import ConfigError
from nnkit.layers.base import Layer
from nnkit.layers.core import Input, InputLayer
from nnkit.layers.symbolic import KerasTensor, flatten, map_structure
from nnkit.models.functional import Functional
from nnkit.models.model import Model
from nnkit.models.sequential import Sequential

CloneFunction = Callable[[Layer], Layer]


def clone_model(model: Model, input_tensors: Any = None, clone_function: CloneFunction | None = None,
                call_function: Callable[..., Any] | None = None, recursive: bool = False, **kwargs: Any) -> Model:
    """A new model with the same architecture and freshly initialised weights (as ``keras.models.clone_model``).

    Args:
        model: A Sequential or functional model (a subclassed model is cloned through its config).
        input_tensors: Symbolic tensors to build the clone on, in the structure of ``model.input``;
            new ``Input`` s like the model's by default.
        clone_function: ``fn(layer) -> layer`` giving each layer of the clone (``Input`` s excepted);
            by default ``layer.__class__.from_config(layer.get_config())``. ``lambda layer: layer``
            reuses the layers (and their weights).
        call_function: ``fn(layer, *args, **kwargs) -> outputs`` calling each cloned layer in a functional
            model; by default ``layer(*args, **kwargs)``. It can add layers before or after a call.
        recursive: Clone nested Sequential and functional models with ``clone_model`` (and the same
            functions) rather than with ``clone_function``.

    Returns:
        The clone, named as the model and compiled as it is when it is compiled (with a new optimizer).

    Raises:
        ConfigError: ``call_function`` for a Sequential model, customisation of a subclassed model,
            ``input_tensors`` that do not match the model's inputs, or an unknown keyword argument.

    Example:
        >>> def clone_function(layer):
        ...     config = layer.get_config()
        ...     if "seed" in config:
        ...         config["seed"] = 1337
        ...     return layer.__class__.from_config(config)
        >>> new_model = clone_model(model, clone_function=clone_function)  # doctest: +SKIP
    """
    cache = kwargs.pop("cache", None)
    if kwargs:
        raise ConfigError(f"clone_model got unexpected keyword argument(s): {', '.join(kwargs)}.")
    if not isinstance(model, Model):
        raise ConfigError(f"clone_model expects an nnkit model. Received: {type(model).__name__}.")
    if isinstance(model, (Sequential, Functional)):
        clone_layer = _caching(clone_function, call_function, recursive, {} if cache is None else cache)
        if isinstance(model, Sequential):
            if call_function is not None:
                raise ConfigError(f"clone_model(call_function=...) works on functional models only; '{model.name}' "
                                  "is Sequential, whose layers are listed, not called, when the model is made. "
                                  "Use clone_function, or rebuild the model with the functional API.")
            clone = _clone_sequential(model, clone_layer, input_tensors)
        else:
            clone = _clone_functional(model, clone_layer, call_function, input_tensors)
        if model.compiled:
            _compile_like(clone, model)
        return clone
    if clone_function is not None or input_tensors is not None or call_function is not None:
        raise ConfigError(f"clone_model(clone_function=..., call_function=..., input_tensors=...) works on Sequential "
                          f"and functional models only; '{model.name}' is a {type(model).__name__} with its own "
                          "call(), whose layers and calls nnkit does not see. Call clone_model(model) alone.")
    return type(model).from_config(model.get_config())


def _caching(clone_function: CloneFunction | None, call_function: Callable[..., Any] | None, recursive: bool,
             cache: dict[int, Layer]) -> CloneFunction:
    """``clone_function`` (Keras's default when ``None``) made once per layer, so shared layers stay shared;
    nested models go through :func:`clone_model` when ``recursive``."""
    def clone(layer: Layer) -> Layer:
        if id(layer) not in cache:
            if recursive and isinstance(layer, (Sequential, Functional)):
                cache[id(layer)] = clone_model(
                    layer, clone_function=clone_function, recursive=True, cache=cache,
                    call_function=call_function if isinstance(layer, Functional) else None)
            elif clone_function is None:
                cache[id(layer)] = layer.__class__.from_config(layer.get_config())
            else:
                cache[id(layer)] = clone_function(layer)
        return cache[id(layer)]

    return clone


def _clone_sequential(model: Sequential, clone_layer: CloneFunction, input_tensors: Any) -> Sequential:
    layers: list[Any] = [clone_layer(layer) for layer in model.layers]
    first = model._layers[0] if model._layers else None
    if input_tensors is not None:
        if isinstance(input_tensors, (list, tuple)):
            if len(input_tensors) != 1:
                raise ConfigError("clone_model(input_tensors=...) of a Sequential model takes one symbolic tensor. "
                                  f"Received {len(input_tensors)}: {input_tensors!r}.")
            input_tensors = input_tensors[0]
        layers.insert(0, _as_input(input_tensors, first.name if isinstance(first, InputLayer) else None))
    elif isinstance(first, InputLayer):
        layers.insert(0, Input(shape=first.declared_input_shape, dtype=first.data_dtype, name=first.name))
    clone = Sequential(layers, name=model.name, trainable=model.trainable)
    if model.built and not clone.built:
        clone.build_from_config(model.get_build_config())
    return clone


def _as_input(tensor: Any, name: str | None) -> KerasTensor:
    """``tensor`` when it is an ``Input``, else a new ``Input`` of its shape and dtype (a chain starts there)."""
    if not isinstance(tensor, KerasTensor):
        raise ConfigError(f"clone_model(input_tensors=...) takes symbolic tensors (from keras.Input). Received: "
                          f"{tensor!r}.")
    if tensor._keras_history is not None and isinstance(tensor._keras_history[0], InputLayer):
        return tensor
    return Input(batch_shape=tensor.shape, dtype=tensor.dtype, name=name)


def _clone_functional(model: Functional, clone_layer: CloneFunction, call_function: Callable[..., Any] | None,
                      input_tensors: Any) -> Functional:
    if input_tensors is None:
        input_tensors = map_structure(lambda t: Input(batch_shape=t.shape, dtype=t.dtype, name=t.name), model.input)
    given = _matching_inputs(model, input_tensors)
    tensors: dict[int, Any] = {id(old): new for old, new in zip(model.inputs, given)}
    for node in model._nodes:
        if isinstance(node.layer, InputLayer):
            continue
        args, kwargs = map_structure(lambda v: tensors[id(v)] if isinstance(v, KerasTensor) else v,
                                     (node.args, node.kwargs))
        layer = clone_layer(node.layer)
        outputs = layer(*args, **kwargs) if call_function is None else call_function(layer, *args, **kwargs)
        made = flatten(outputs)
        if len(made) != len(node.output_tensors):
            raise ConfigError(f"clone_model: the call of layer '{node.layer.name}' gave {len(node.output_tensors)} "
                              f"output(s) in the model but {len(made)} in the clone; clone_function and call_function "
                              "must keep the number of outputs of each call.")
        tensors.update((id(old), new) for old, new in zip(node.output_tensors, made))
    outputs = map_structure(lambda t: tensors[id(t)], model.output)
    cls = type(model) if _functional_like(type(model)) else Functional
    return cls(input_tensors, outputs, name=model.name)


def _matching_inputs(model: Functional, input_tensors: Any) -> list[Any]:
    """``input_tensors`` in the order of ``model.inputs``, checked against the model's input structure."""
    reference = model.input
    if isinstance(reference, dict):
        matches = isinstance(input_tensors, dict) and set(input_tensors) == set(reference)
        ordered = [input_tensors[key] for key in reference] if matches else []
    elif isinstance(reference, list):
        matches = isinstance(input_tensors, (list, tuple)) and len(input_tensors) == len(reference)
        ordered = list(input_tensors) if matches else []
    else:
        matches, ordered = True, [input_tensors]
    if not matches or not all(isinstance(t, KerasTensor) for t in ordered):
        raise ConfigError(f"clone_model(input_tensors=...) must be symbolic tensors in the structure of the model's "
                          f"inputs, {reference!r}. Received: {input_tensors!r}.")
    return ordered


def _functional_like(cls: type) -> bool:
    """Whether ``cls`` is made as ``cls(inputs, outputs, name=...)``, as Keras checks before reusing it."""
    def arguments(init: Any) -> list[str]:
        return inspect.getfullargspec(init).args[1:]

    return arguments(cls.__init__) == arguments(Functional.__init__)


def _compile_like(clone: Model, model: Model) -> None:
    """Compile ``clone`` as ``model`` is, with new optimizer, loss and metric objects (through their configs)."""
    from nnkit.saving import deserialize, serialize

    config = serialize(model.get_compile_config(), "compile config", allow_bytecode=True)
    clone.compile_from_config(deserialize(config, safe_mode=False, where="compile config"))
