"""One candidate x fold fit, prepared for stacked training exactly as the estimator's ``fit`` would start it.

:func:`prepare` runs the first half of :meth:`nnkit.wrappers.base.BaseWrapper._train` (validation, targets,
the seeded build of the model) and draws the batch orders ``Sequential.fit`` would draw next, so a member
trained in a stack starts from the same weights and sees the same batches as it would alone. Whatever the
stacked trainer cannot reproduce exactly is refused here with a reason, and that fit runs one by one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from sklearn.base import clone
from sklearn.utils.metaestimators import _safe_split
from torch import Tensor, nn

from nnkit import distributed
from nnkit.layers.core import Activation, Dense
from nnkit.models import preparation, steps
from nnkit.models.sequential import Sequential
from nnkit.optimizers import SGD, Adam
from nnkit.regularizers import L1, L1L2, L2
from nnkit.wrappers.base import _training_dtype, seeded, validate_data
from nnkit.wrappers.building import output_units
from nnkit.wrappers.keras_api import KerasWrapper

#: Fit settings of the estimator that the stacked trainer reproduces (with these values, or any for None).
_FIT_SETTINGS = {"epochs": None, "batch_size": None, "shuffle": None, "verbose": 0, "validation_split": 0.0}
_LAYERS = (Dense, Activation)


class Unsupported(Exception):
    """A fit the stacked trainer cannot reproduce exactly; the message says why."""


@dataclass
class Member:
    """One fit ready to train in a stack: its estimator and model, data, batch orders and own hyperparameters."""

    estimator: KerasWrapper
    model: Sequential
    targets: Any
    body: nn.Module
    loss: Any
    x: Tensor
    y: Tensor
    orders: list[Tensor] | None
    batch_size: int
    epochs: int
    learning_rate: float
    penalties: list[tuple[float, float]]  # (l1, l2) per parameter of ``body``
    key: tuple  # what the members of a group share


def prepare(base: KerasWrapper, params: dict[str, Any], X: Any, y: Any, train: Any) -> Member:
    """The fit of ``base`` with ``params`` on the ``train`` rows of ``(X, y)``, built and seeded as its own
    ``fit`` would build it.

    Raises:
        Unsupported: the fit needs something the stacked trainer does not reproduce.
    """
    estimator = clone(base).set_params(**clone(params, safe=False))
    settings = _check_estimator(estimator)
    X_train, y_train = _safe_split(estimator, X, y, train)
    x, y_checked = validate_data(estimator, X_train, y_train, reset=True, dtype=_training_dtype(), allow_nd=True,
                                 multi_output=True, y_numeric=estimator._y_numeric)
    targets = estimator._targets_class.fit(y_checked, **estimator._target_options())
    encoded = targets.indices(y_checked)
    if targets.sample_weights(encoded, estimator._class_weight()) is not None:
        raise Unsupported("class_weight")
    epochs = settings["epochs"]
    batch_size = preparation.batch_size(settings["batch_size"], x)
    with seeded(estimator._random_state()):
        model = estimator._new_model(x, y_checked, targets)
        body, loss = _check_model(model)
        units = output_units(model)
        data = model._array_data(x, targets.for_model(encoded, units, model.loss))
        # Sequential.fit draws one permutation per epoch, and nothing else, after building the model
        orders = ([torch.randperm(len(data), device=data.x.device) for _ in range(epochs)]
                  if settings["shuffle"] else None)
    learning_rate, optimizer_key = _check_optimizer(model.optimizer)
    penalties = _penalties(model, body)
    key = (optimizer_key, type(loss), repr(_config(loss)), tuple(_leaf_signature(body)), str(data.x.device),
           tuple(data.x.shape), data.x.dtype, tuple(data.y.shape), data.y.dtype, batch_size,
           orders is not None)  # not epochs: members of fewer epochs are saved when theirs end
    return Member(estimator, model, targets, body, loss, data.x, data.y, orders, batch_size, epochs,
                  learning_rate, penalties, key)


def finish(member: Member, losses: list[float]) -> KerasWrapper:
    """The member's estimator, fitted: its model holds the trained weights, as after its own ``fit`` (its
    ``history_`` holds the loss only; a search scores the estimator and drops it)."""
    estimator = member.estimator
    estimator.model_, estimator._targets = member.model, member.targets
    estimator.history_ = {"loss": list(losses)}
    estimator._fitted_attributes(member.targets)
    return estimator


def _check_estimator(estimator: Any) -> dict[str, Any]:
    if not isinstance(estimator, KerasWrapper):
        raise Unsupported(f"{type(estimator).__name__} is not a KerasClassifier/KerasRegressor")
    if estimator.warm_start:
        raise Unsupported("warm_start")
    if estimator._class_weight() is not None:
        raise Unsupported("class_weight")
    settings, callbacks = estimator._fit_settings()
    if callbacks:
        raise Unsupported("callbacks")
    for name, value in settings.items():
        if name not in _FIT_SETTINGS:
            raise Unsupported(f"fit argument {name!r}")
        if _FIT_SETTINGS[name] is not None and value != _FIT_SETTINGS[name]:
            raise Unsupported(f"{name}={value!r}")
    preparation.check_epochs(settings["epochs"], 0)
    return settings


def _check_model(model: Any) -> tuple[nn.Module, Any]:
    """The module and loss one training step of ``model`` computes (as ``fit`` fuses them)."""
    if type(model) is not Sequential or model._custom_steps():
        raise Unsupported(f"model type {type(model).__name__}")
    args = model._compile_args
    if args is None or model.loss is None:
        raise Unsupported("an uncompiled model or one without a loss")
    if args["jit_compile"] or args["policy"].name != "float32" or args["loss_weight"] is not None:
        raise Unsupported("jit_compile, a mixed-precision policy or loss_weights")
    if distributed.world_size() > 1:
        raise Unsupported("distributed training")
    for layer in model.layers:
        if type(layer) not in _LAYERS:
            raise Unsupported(f"layer {type(layer).__name__}")
        if layer.activity_regularizer is not None or layer.constraint_terms() or not layer.trainable:
            raise Unsupported(f"layer {layer.name}: activity regularizer, constraint or frozen weights")
    module = model.module
    if list(module.buffers()) or not all(p.requires_grad for p in module.parameters()):
        raise Unsupported("buffers or frozen weights")
    body, _, loss = steps.loss_path(module, model.layers[-1], model.loss, model)
    for leaf in _leaves(body):
        if not type(leaf).__module__.startswith("torch.nn.modules"):
            raise Unsupported(f"module {type(leaf).__name__}")
    if {id(p) for p in body.parameters()} != {id(p) for p in module.parameters()}:
        raise Unsupported("a model whose loss path does not hold every weight")
    return body, loss


def _check_optimizer(optimizer: Any) -> tuple[float, tuple]:
    """The member's learning rate and what its group must share (the update rule and its other settings)."""
    kind = type(optimizer)
    if kind not in (Adam, SGD) or optimizer.schedule is not None:
        raise Unsupported(f"optimizer {kind.__name__}" + (" with a schedule" if kind in (Adam, SGD) else ""))
    if optimizer.weight_decay or optimizer.clipnorm or optimizer.clipvalue or optimizer.global_clipnorm:
        raise Unsupported("weight_decay or gradient clipping")
    if kind is Adam:
        if optimizer.amsgrad:
            raise Unsupported("amsgrad")
        return optimizer.learning_rate, ("adam", optimizer.beta_1, optimizer.beta_2, optimizer.epsilon)
    return optimizer.learning_rate, ("sgd", optimizer.momentum, optimizer.nesterov)


def _penalties(model: Sequential, body: nn.Module) -> list[tuple[float, float]]:
    """``(l1, l2)`` for every parameter of ``body`` (zeros where none), from the layers' weight penalties."""
    factors: dict[int, tuple[float, float]] = {}
    for layer in model.layers:
        for tensor, regularizer in layer.regularization_terms():
            kind = type(regularizer)
            if kind not in (L1, L2, L1L2):
                raise Unsupported(f"regularizer {kind.__name__}")
            l1, l2 = getattr(regularizer, "l1", 0.0), getattr(regularizer, "l2", 0.0)
            old = factors.get(id(tensor), (0.0, 0.0))
            factors[id(tensor)] = (old[0] + l1, old[1] + l2)
    return [factors.get(id(p), (0.0, 0.0)) for p in body.parameters()]


def _leaves(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if not list(m.children())]


def _leaf_signature(body: nn.Module) -> list[str]:
    return [repr(leaf) for leaf in _leaves(body)] + [f"{n}:{tuple(p.shape)}:{p.dtype}" for n, p in
                                                     body.named_parameters()]


def _config(loss: Any) -> Any:
    get_config = getattr(loss, "get_config", None)
    return get_config() if callable(get_config) else loss
