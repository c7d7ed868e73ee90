"""Turning what the user gave (a build function, a model, a list of layers) into a compiled model.

Every fit works on a fresh model and fresh optimizer, loss and layer objects, so the estimator's
parameters are never touched by training and ``clone`` reproduces the estimator exactly.
"""

from __future__ import annotations

import copy
from typing import Any

import torch

from nnkit import losses, optimizers
from nnkit.errors import ConfigError, DataError, NotReadyError
from nnkit.layers.base import Layer
from nnkit.layers.core import Dense
from nnkit.models.model import Model
from nnkit.models.sequential import Sequential

#: Hidden layers used when neither a model nor ``layers`` is given: scikit-learn's MLP default.
DEFAULT_HIDDEN_UNITS = 100


def check_model(model: Any, source: str) -> Model:
    """``model`` if it is an nnkit model (Sequential or functional) of one input and one output, else a
    ``TypeError`` saying what came back."""
    if isinstance(model, Model):
        inputs, outputs = model._io_counts()
        if (inputs, outputs) != (1, 1):
            raise TypeError(f"{source} returned model '{model.name}' with {inputs} inputs and {outputs} outputs; "
                            "scikit-learn estimators take one array X and one y, so the model needs one input and "
                            "one output.")
        return model
    hint = ""
    if type(model).__module__.split(".")[0] in ("keras", "tensorflow", "tf_keras"):
        hint = " It is a Keras model: build it with nnkit.models.Sequential and nnkit.layers instead."
    raise TypeError(
        f"{source} must return an nnkit model (Sequential or Model), but it returned {type(model).__name__}: "
        f"{model!r:.100}.{hint}"
    )


def make_optimizer(spec: Any, overrides: dict[str, Any]) -> optimizers.Optimizer:
    """A new, unbuilt optimizer from a name, class, dict or instance, with ``optimizer__`` overrides."""
    if isinstance(spec, optimizers.Optimizer):
        return type(spec).from_config({**spec.get_config(), **overrides})
    if isinstance(spec, str):
        return optimizers.get({"class_name": spec, "config": overrides})
    if isinstance(spec, dict):
        return optimizers.get({**spec, "config": {**spec.get("config", {}), **overrides}})
    if isinstance(spec, type) and issubclass(spec, optimizers.Optimizer):
        return spec(**overrides)
    if isinstance(spec, type) and issubclass(spec, torch.optim.Optimizer):
        return optimizers.TorchOptimizer(spec, **overrides)
    if overrides:
        raise ConfigError(
            f"optimizer__{next(iter(overrides))} needs `optimizer` as a name, class or nnkit optimizer. "
            f"Received: optimizer={spec!r}."
        )
    return optimizers.get(spec)


def make_loss(spec: Any, overrides: dict[str, Any]) -> losses.Loss:
    """A loss from a name, dict, instance or function, with ``loss__`` overrides."""
    if isinstance(spec, str) and overrides:
        return losses.get({"class_name": spec, "config": overrides})
    if isinstance(spec, losses.Loss) and overrides:
        return type(spec).from_config({**spec.get_config(), **overrides})
    if overrides:
        raise ConfigError(
            f"loss__{next(iter(overrides))} needs `loss` as a name or an nnkit Loss. Received: loss={spec!r}."
        )
    return losses.get(spec)


def compile_config(model: Sequential) -> dict[str, Any]:
    """What ``model`` was compiled with besides optimizer and loss (from ``get_compile_config()``)."""
    config = model.get_compile_config() or {}
    return {"metrics": config.get("metrics") or None, "weighted_metrics": config.get("weighted_metrics") or None,
            "loss_weights": config.get("loss_weights"), "jit_compile": config.get("jit_compile", False),
            "auto_scale_loss": config.get("auto_scale_loss", True)}


def recompile(model: Sequential, **changes: Any) -> None:
    """Compile ``model`` again, replacing only the given compile arguments."""
    config = {"optimizer": model.optimizer, "loss": model.loss, **compile_config(model)}
    model.compile(**{**config, **changes})


def fresh_copy(model: Sequential, keep_weights: bool) -> Sequential:
    """A copy of a model given as a parameter: its current weights with ``keep_weights`` (warm start),
    else the same architecture with new weights; compiled like the original, with a new optimizer."""
    if keep_weights:
        return copy.deepcopy(model)
    new = type(model).from_config(model.get_config())
    new.to(model.device)
    if model.compiled:
        new.compile(optimizer=make_optimizer(model.optimizer, {}), loss=model.loss, **compile_config(model))
    return new


def ensure_built(model: Sequential, sample_shape: tuple[int, ...]) -> None:
    """Build ``model`` for its declared input shape, or else for the shape of the data."""
    if model.built:
        return
    try:
        model.build()
    except NotReadyError:  # no declared input shape: the data decides
        model.build((None, *sample_shape))


def output_units(model: Sequential) -> int:
    """Number of outputs per sample; the estimators need ``(n_samples, units)`` outputs."""
    shape = model.output_shape
    if len(shape) != 2:
        raise DataError(
            f"scikit-learn estimators need a model whose outputs have shape (n_samples, units), but "
            f"'{model.name}' outputs {shape}. End the model with a Dense layer (after Flatten if needed)."
        )
    return int(shape[1])


def _unique(name: str, taken: set[str]) -> str:
    candidate, count = name, 0
    while candidate in taken:
        count += 1
        candidate = f"{name}_{count}"
    taken.add(candidate)
    return candidate


def layers_model(hidden: list[Layer] | None, units: int, activation: str | None) -> Sequential:
    """A model of fresh ``hidden`` layer copies plus an output ``Dense(units, activation)``.

    Layer names are kept, except that repeats get a suffix (the same spec listed twice, or specs
    named before ``clear_session``), so the model is always valid.
    """
    if hidden is None:
        hidden = [Dense(DEFAULT_HIDDEN_UNITS, activation="relu")]
    taken: set[str] = set()
    layers = []
    for layer in hidden:
        name = _unique(layer.name, taken)
        layers.append(layer if name == layer.name else type(layer).from_config({**layer.get_config(), "name": name}))
    layers.append(Dense(units, activation=activation, name=_unique("output", taken)))
    return Sequential(layers)


def finalize_compile(model: Sequential, *, optimizer: Any, optimizer_kwargs: dict[str, Any], loss: Any,
                     loss_kwargs: dict[str, Any], metrics: Any, default_loss: str) -> None:
    """Compile an uncompiled model with the estimator's settings (``rmsprop``, Keras's default
    optimizer, when none is given); on a compiled one, replace only what the user set."""
    if not model.compiled:
        model.compile(optimizer=make_optimizer("rmsprop" if optimizer is None else optimizer, optimizer_kwargs),
                      loss=make_loss(default_loss if loss is None else loss, loss_kwargs), metrics=metrics)
        return
    changes: dict[str, Any] = {}
    if optimizer is not None or optimizer_kwargs:
        changes["optimizer"] = make_optimizer(model.optimizer if optimizer is None else optimizer, optimizer_kwargs)
    if loss is not None or loss_kwargs or model.loss is None:
        spec = loss if loss is not None else (model.loss if model.loss is not None else default_loss)
        changes["loss"] = make_loss(spec, loss_kwargs)
    if metrics is not None:
        changes["metrics"] = metrics
    if changes:
        recompile(model, **changes)
