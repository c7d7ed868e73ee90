"""One candidate x fold fit, prepared for stacked training exactly as the estimator's ``fit`` would start it.

:func:`prepare` runs the first half of :meth:`nnkit.wrappers.base.BaseWrapper._train` (validation, targets,
class weights, the seeded build of the model) and keeps a copy of the random generator as ``fit`` would find
it, so a member trained in a stack starts from the same weights and draws the same batch orders and dropout
masks as it would alone. In a ``Pipeline``, the steps before the nnkit estimator are fitted on the fold here,
as scikit-learn's ``Pipeline.fit`` fits them. Whatever the stacked trainer cannot reproduce exactly is
refused here with a reason, and that fit runs one by one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import torch
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.utils import _safe_indexing
from sklearn.utils.metaestimators import _safe_split
from torch import Tensor, nn

from nnkit import distributed
from nnkit.callbacks import EarlyStopping
from nnkit.layers.core import Activation, Dense, Dropout
from nnkit.layers.preprocessing import Normalization, Rescaling
from nnkit.models import preparation, steps
from nnkit.models.sequential import Sequential
from nnkit.optimizers import SGD, Adam
from nnkit.regularizers import L1, L1L2, L2
from nnkit.wrappers.base import _training_dtype, check_sample_weight, seeded, validate_data
from nnkit.wrappers.building import output_units
from nnkit.wrappers.keras_api import KerasWrapper

#: Fit settings of the estimator that the stacked trainer reproduces (with these values, or any for None).
_FIT_SETTINGS = {"epochs": None, "batch_size": None, "shuffle": None, "verbose": 0, "validation_split": None,
                 "validation_freq": 1}
_LAYERS = (Dense, Activation, Dropout)
_PREPROCESSING = (Normalization, Rescaling)
#: Element-wise torch activations, which act on a stack of batches as on each batch.
_ELEMENTWISE = (nn.ReLU, nn.Tanh, nn.Sigmoid, nn.ELU, nn.LeakyReLU, nn.GELU, nn.SiLU, nn.Softplus, nn.Softsign,
                nn.SELU, nn.ReLU6, nn.Hardtanh, nn.Hardsigmoid, nn.Hardswish, nn.Mish, nn.LogSigmoid, nn.Identity,
                nn.Tanhshrink, nn.CELU)


class Unsupported(Exception):
    """A fit the stacked trainer cannot reproduce exactly; the message says why."""


@dataclass
class Member:
    """One fit ready to train in a stack: its estimator and model, data and own hyperparameters."""

    fitted: Any  # what the search receives: the estimator, or the Pipeline holding it
    estimator: KerasWrapper
    model: Sequential
    targets: Any
    body: nn.Module
    loss: Any
    x: Tensor
    y: Tensor
    sample_weight: Tensor | None  # the search's sample_weight times the class weights
    validation: tuple[Tensor, Tensor, Tensor | None] | None  # (x, y, weights) held out by validation_split
    generator: torch.Generator  # the global generator as the member's fit finds it
    shuffle: bool
    batch_size: int
    epochs: int
    optimizer: tuple[float, ...]  # per run: Adam's (learning_rate, beta_1, beta_2, epsilon), SGD's (learning_rate, momentum)
    penalties: list[tuple[float, float]]  # (l1, l2) per parameter of ``body``
    rates: list[float]  # per dropout of ``body``
    early_stopping: list[EarlyStopping]
    key: tuple  # what the members of a group share
    data_key: tuple  # what identifies the training rows (inputs, targets, weights) and the held-out ones
    losses: dict[str, list[float]] = field(default_factory=dict)


def prepare(base: Any, params: dict[str, Any], X: Any, y: Any, train: Any, sample_weight: Any = None) -> Member:
    """The fit of ``base`` (an nnkit estimator, or a ``Pipeline`` ending in one) with ``params`` on the
    ``train`` rows of ``(X, y)`` (and of ``sample_weight``, given to the search's ``fit``), built and seeded
    as its own ``fit`` would build it.

    Raises:
        Unsupported: the fit needs something the stacked trainer does not reproduce.
    """
    fitted = clone(base).set_params(**clone(params, safe=False))
    X_train, y_train = _safe_split(fitted, X, y, train)
    estimator = fitted
    if isinstance(fitted, Pipeline):
        if sample_weight is not None:
            raise Unsupported("sample_weight with a Pipeline")
        estimator, X_train = _fit_earlier_steps(fitted, X_train, y_train)
    settings, early_stopping = _check_estimator(estimator)
    x, y_checked = validate_data(estimator, X_train, y_train, reset=True, dtype=_training_dtype(), allow_nd=True,
                                 multi_output=True, y_numeric=estimator._y_numeric)
    targets = estimator._targets_class.fit(y_checked, **estimator._target_options())
    encoded = targets.indices(y_checked)
    # the wrapper's fit: the rows' own weights times their classes' weights
    weights = None if sample_weight is None else check_sample_weight(_safe_indexing(sample_weight, train), len(x))
    class_weights = targets.sample_weights(encoded, estimator._class_weight())
    if class_weights is not None:
        weights = class_weights if weights is None else weights * class_weights
    if weights is not None:
        targets.check_weighted(encoded, weights)
    epochs = settings["epochs"]
    with seeded(estimator._random_state()):
        model = estimator._new_model(x, y_checked, targets)
        body, preprocessing, loss = _check_model(model)
        units = output_units(model)
        data = model._array_data(x, targets.for_model(encoded, units, model.loss), sample_weight=weights)
        if preprocessing is not None:
            with torch.no_grad():
                data = type(data)(preprocessing(data.x), data.y, data.sample_weight)
        split = settings["validation_split"]
        validation = None
        if split:  # Keras's split: the last rows, before shuffling
            data, held_out = data.split(split)
            validation = (held_out.x, held_out.y, held_out.sample_weight)
        generator = _copy_of_global_generator(data.x.device)
        batch_size = preparation.batch_size(settings["batch_size"], data.x)
        rates = [leaf.p for leaf in _leaves(body) if isinstance(leaf, nn.Dropout)]
        if estimator._random_state() is None:  # the next fit draws after this one's draws, as one by one
            _advance(data.x.shape[0], batch_size, epochs, settings["shuffle"], dropout_widths(body), rates,
                     data.x.device)
    optimizer, optimizer_key = _check_optimizer(model.optimizer)
    penalties = _penalties(model, body)
    key = (optimizer_key, type(loss), repr(_config(loss)), tuple(_leaf_signature(body)), str(data.x.device),
           tuple(data.x.shape[1:]), data.x.dtype, tuple(data.y.shape[1:]), data.y.dtype, batch_size,
           settings["shuffle"], weights is not None, validation is not None,
           tuple(repr(callback.get_config()) for callback in early_stopping))  # rows, epochs: per member
    data_key = (fingerprint(data.x), fingerprint(data.y), fingerprint(data.sample_weight),
                *(fingerprint(part) for part in (validation or ())))
    return Member(fitted, estimator, model, targets, body, loss, data.x, data.y, data.sample_weight, validation,
                  generator, settings["shuffle"], batch_size, epochs, optimizer, penalties, rates,
                  early_stopping, key, data_key)


def finish(member: Member) -> Any:
    """The member's estimator (or Pipeline), fitted: its model holds the trained weights, as after its own
    ``fit``; ``history_`` holds the losses (``loss``, and ``val_loss`` with a validation split)."""
    estimator = member.estimator
    estimator.model_, estimator._targets = member.model, member.targets
    estimator.history_ = {name: list(values) for name, values in member.losses.items()}
    estimator._fitted_attributes(member.targets)
    return member.fitted


def fingerprint(tensor: Tensor | None) -> Any:
    """What identifies a tensor's contents (a cryptographic digest: equal fingerprints mean equal tensors)."""
    if tensor is None:
        return None
    digest = hashlib.blake2b(tensor.detach().cpu().contiguous().numpy().tobytes(), digest_size=20).digest()
    return tuple(tensor.shape), tensor.dtype, str(tensor.device), digest


def _advance(n_rows: int, batch_size: int, epochs: int, shuffle: bool, widths: list[int], rates: list[float],
             device: torch.device) -> None:
    """Draw from the global generator what the fit draws (orders, masks), as a fit one by one leaves it."""
    if not shuffle and not any(rates):
        return
    for _ in range(epochs):
        if shuffle:
            torch.randperm(n_rows, device=device)
        for start in range(0, n_rows, batch_size):
            for width, rate in zip(widths, rates):
                if rate:  # nn.Dropout's draw (a rate of 0 draws nothing)
                    torch.empty((min(batch_size, n_rows - start), width), device=device).bernoulli_(1 - rate)


def _copy_of_global_generator(device: torch.device) -> torch.Generator:
    generator = torch.Generator(device=device)
    generator.set_state(torch.get_rng_state() if device.type == "cpu" else torch.cuda.get_rng_state(device))
    return generator


def _fit_earlier_steps(pipeline: Pipeline, X: Any, y: Any) -> tuple[KerasWrapper, Any]:
    """Fit the steps before the last on the fold, as ``Pipeline.fit`` does; the last step and its input."""
    if pipeline.memory is not None:
        raise Unsupported("a Pipeline with memory")
    *earlier, (_, last) = pipeline.steps
    if not isinstance(last, KerasWrapper):
        raise Unsupported(f"a Pipeline ending in {type(last).__name__}")
    for index, (name, step) in enumerate(earlier):
        if step is None or step == "passthrough":
            continue
        X = step.fit_transform(X, y) if hasattr(step, "fit_transform") else step.fit(X, y).transform(X)
        pipeline.steps[index] = (name, step)
    return last, X


def _check_estimator(estimator: Any) -> tuple[dict[str, Any], list[EarlyStopping]]:
    if not isinstance(estimator, KerasWrapper):
        raise Unsupported(f"{type(estimator).__name__} is not a KerasClassifier/KerasRegressor")
    if estimator.warm_start:
        raise Unsupported("warm_start")
    settings, callbacks = estimator._fit_settings()
    settings = dict(settings)
    callbacks = [*callbacks, *(settings.pop("callbacks", None) or [])]
    if any(type(callback) is not EarlyStopping for callback in callbacks):
        raise Unsupported("callbacks other than EarlyStopping")
    for name, value in settings.items():
        if name not in _FIT_SETTINGS:
            raise Unsupported(f"fit argument {name!r}")
        if _FIT_SETTINGS[name] is not None and value != _FIT_SETTINGS[name]:
            raise Unsupported(f"{name}={value!r}")
    settings.setdefault("validation_split", 0.0)
    if not isinstance(settings["shuffle"], bool):
        raise Unsupported(f"shuffle={settings['shuffle']!r}")
    preparation.check_epochs(settings["epochs"], 0)
    for callback in callbacks:
        if callback.monitor not in ("loss", "val_loss"):
            raise Unsupported(f"EarlyStopping on {callback.monitor!r} (stacked: loss or val_loss)")
        if callback.monitor == "val_loss" and not settings["validation_split"]:
            raise Unsupported("EarlyStopping on val_loss without a validation_split")
    return settings, callbacks


def _check_model(model: Any) -> tuple[nn.Module, nn.Module | None, Any]:
    """The module one training step of ``model`` computes after its leading fixed preprocessing (``Normalization``,
    ``Rescaling``: applied to the data once, as element-wise maps they give each row what they give it in a
    batch), that preprocessing (or ``None``), and the loss (as ``fit`` fuses them)."""
    if type(model) is not Sequential or model._custom_steps():
        raise Unsupported(f"model type {type(model).__name__}")
    args = model._compile_args
    if args is None or model.loss is None:
        raise Unsupported("an uncompiled model or one without a loss")
    if args["jit_compile"] or args["policy"].name != "float32" or args["loss_weight"] is not None:
        raise Unsupported("jit_compile, a mixed-precision policy or loss_weights")
    if distributed.world_size() > 1:
        raise Unsupported("distributed training")
    layers = list(model.layers)
    leading = 0
    while leading < len(layers) and type(layers[leading]) in _PREPROCESSING:
        leading += 1
    for layer in layers[leading:]:
        if type(layer) not in _LAYERS:
            raise Unsupported(f"layer {type(layer).__name__}")
        if layer.activity_regularizer is not None or layer.constraint_terms() or not layer.trainable:
            raise Unsupported(f"layer {layer.name}: activity regularizer, constraint or frozen weights")
    module = model.module
    body, _, loss = steps.loss_path(module, model.layers[-1], model.loss, model)
    preprocessing = None
    if leading:
        children = list(body) if type(body) is nn.Sequential else []
        if [id(c) for c in children[:leading]] != [id(layer.module) for layer in layers[:leading]]:
            raise Unsupported("preprocessing layers that do not lead the model's module")
        preprocessing, body = nn.Sequential(*children[:leading]).eval(), nn.Sequential(*children[leading:])
        if list(preprocessing.parameters()):
            raise Unsupported("preprocessing layers with weights")
    if list(body.buffers()) or not all(p.requires_grad for p in module.parameters()):
        raise Unsupported("buffers or frozen weights")
    for container in body.modules():
        if list(container.children()) and type(container) is not nn.Sequential:
            raise Unsupported(f"module {type(container).__name__}")
    for leaf in _leaves(body):
        if isinstance(leaf, (nn.Linear, _ELEMENTWISE)) or (type(leaf) is nn.Dropout and not leaf.inplace):
            continue
        if type(leaf) in (nn.Softmax, nn.LogSoftmax) and leaf.dim == -1:
            continue
        raise Unsupported(f"module {type(leaf).__name__}")
    if {id(p) for p in body.parameters()} != {id(p) for p in module.parameters()}:
        raise Unsupported("a model whose loss path does not hold every weight")
    return body, preprocessing, loss


def _check_optimizer(optimizer: Any) -> tuple[tuple[float, ...], tuple]:
    """The member's own optimizer settings, and what its group must share (the update rule)."""
    kind = type(optimizer)
    if kind not in (Adam, SGD) or optimizer.schedule is not None:
        raise Unsupported(f"optimizer {kind.__name__}" + (" with a schedule" if kind in (Adam, SGD) else ""))
    if optimizer.weight_decay or optimizer.clipnorm or optimizer.clipvalue or optimizer.global_clipnorm:
        raise Unsupported("weight_decay or gradient clipping")
    if kind is Adam:
        if optimizer.amsgrad:
            raise Unsupported("amsgrad")
        return (optimizer.learning_rate, optimizer.beta_1, optimizer.beta_2, optimizer.epsilon), ("adam",)
    # without momentum, torch's SGD keeps no buffer: a rule of its own
    return (optimizer.learning_rate, optimizer.momentum), ("sgd", bool(optimizer.momentum), optimizer.nesterov)


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


def dropout_widths(body: nn.Module) -> list[int]:
    """The features each dropout of ``body`` sees (the width of the last linear map before it, or the input's)."""
    leaves = _leaves(body)
    width = next((leaf.in_features for leaf in leaves if isinstance(leaf, nn.Linear)), 0)
    widths = []
    for leaf in leaves:
        if isinstance(leaf, nn.Linear):
            width = leaf.out_features
        elif isinstance(leaf, nn.Dropout):
            widths.append(width)
    return widths


def _leaf_signature(body: nn.Module) -> list[str]:
    leaves = ["Dropout" if isinstance(leaf, nn.Dropout) else repr(leaf) for leaf in _leaves(body)]
    return leaves + [f"{n}:{tuple(p.shape)}:{p.dtype}" for n, p in body.named_parameters()]


def _config(loss: Any) -> Any:
    get_config = getattr(loss, "get_config", None)
    return get_config() if callable(get_config) else loss


def run_bytes(member: Member) -> int:
    """Memory one run like ``member`` adds to a stack: weights, gradients and optimizer state (4 copies),
    and a batch's activations and their gradients."""
    weights = sum(p.numel() for p in member.body.parameters())
    widths = sum(leaf.out_features for leaf in _leaves(member.body) if isinstance(leaf, nn.Linear))
    return (4 * weights + 4 * member.batch_size * (member.x[0].numel() + widths)) * member.x.element_size()
