"""Keras's customization points of ``fit``: ``train_step``, ``test_step`` and ``predict_step`` overridden in a
``Model`` subclass, with ``compute_loss``, ``self.metrics`` (a ``loss`` tracker and the compiled metrics,
reset every epoch) and ``optimizer.apply``. nnkit's own loop runs when none is overridden; this module is
the step-by-step path a custom step takes, written as Keras's torch-backend guide writes it.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from nnkit import metrics as metrics_module
from nnkit.errors import ConfigError
from nnkit.metrics.base import result_entries

# On Keras's torch backend ``variable.value`` is the torch tensor; a torch Parameter is its own value, so the
# guide's ``[v.value.grad for v in self.trainable_weights]`` runs unchanged on nnkit's weights.
if not hasattr(nn.Parameter, "value"):
    nn.Parameter.value = property(lambda self: self, doc="The parameter itself (Keras's ``variable.value``).")


class CompileMetrics(metrics_module.Metric):
    """The metrics given to ``compile`` as one tracker (Keras's ``compile_metrics``): ``update_state(y,
    y_pred)`` updates each, ``result()`` is a dict of their results."""

    def __init__(self, model: Any) -> None:
        super().__init__(name="compile_metrics")
        self.model = model
        self.reset_state()

    def reset_state(self) -> None:
        for metric, _ in self.model._metrics or []:
            metric.reset_state()
        self._updated = False

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Tensor | None = None) -> None:
        y_true, y_pred = torch.as_tensor(y_true).detach(), torch.as_tensor(y_pred).detach()
        if self.model.loss is not None and y_true.dtype != y_pred.dtype:
            y_true = self.model.loss.prepare_targets(y_true, tuple(y_pred.shape[1:]))
        for metric, weighted in self.model._resolve_metrics(tuple(y_true.shape[1:])):
            if not self._updated:
                metric.reset_state()
            metric.update_state(y_true, y_pred, sample_weight if weighted else None)
        self._updated = True

    def result(self) -> dict[str, float]:
        results: dict[str, float] = {}
        for metric, _ in (self.model._metrics or []) if self._updated else []:
            results.update(result_entries(metric.name, metric.result()))
        return results


def unpack(data: Any) -> tuple[Any, Any, Any]:
    """``data`` as ``(x, y, sample_weight)``: a tensor is ``x`` alone, a tuple of two or three is split."""
    if isinstance(data, (tuple, list)) and len(data) in (2, 3):
        return data[0], data[1], data[2] if len(data) == 3 else None
    return data, None, None


def pack(x: Any, y: Any, sample_weight: Any) -> Any:
    """What a custom step receives, as in Keras: ``x``, ``(x, y)`` or ``(x, y, sample_weight)``."""
    if y is None and sample_weight is None:
        return x
    return (x, y) if sample_weight is None else (x, y, sample_weight)


def train_step(model: Any, data: Any) -> dict[str, Any]:
    """Keras's default step: forward, ``compute_loss``, backward, ``optimizer.apply``, metrics."""
    x, y, sample_weight = unpack(data)
    model.zero_grad()
    y_pred = model(x, training=True)
    loss = model.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight)
    loss.backward()
    weights = model.trainable_weights
    with torch.no_grad():
        model.optimizer.apply([w.grad for w in weights], weights)
    return update_metrics(model, loss, y, y_pred, sample_weight)


def test_step(model: Any, data: Any) -> dict[str, Any]:
    """Keras's default evaluation step: forward, ``compute_loss``, metrics."""
    x, y, sample_weight = unpack(data)
    with torch.no_grad():
        y_pred = model(x, training=False)
        loss = model.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=False)
    return update_metrics(model, loss, y, y_pred, sample_weight)


def update_metrics(model: Any, loss: Tensor, y: Any, y_pred: Any, sample_weight: Any) -> dict[str, Any]:
    for metric in model.metrics:
        if metric.name == "loss":
            metric.update_state(loss.detach())
        elif y is not None:
            metric.update_state(y, y_pred, sample_weight)
    logs: dict[str, Any] = {}
    for metric in model.metrics:
        value = metric.result()  # a vector result becomes one entry per element, as in fit's logs
        logs.update({metric.name: value} if isinstance(value, dict) else result_entries(metric.name, value))
    return logs


def scalar_logs(logs: Any, method: str, model: str) -> dict[str, float]:
    """A step's returned logs as Python floats (nested dicts such as ``compile_metrics`` flattened), in
    Keras's order: a training step's by name, an evaluation step's as returned.

    Raises:
        ConfigError: the step returned something other than a dict of scalars.
    """
    if not isinstance(logs, dict):
        raise ConfigError(f"Model '{model}'.{method} must return a dict of scalar logs, e.g. {{'loss': loss}}; it "
                          f"returned {type(logs).__name__}.")
    flat: dict[str, float] = {}
    for key, value in sorted(logs.items()) if method == "train_step" else logs.items():
        if isinstance(value, dict):
            flat.update(scalar_logs(value, method, model))
            continue
        tensor = torch.as_tensor(value.detach() if isinstance(value, Tensor) else value)
        if tensor.numel() != 1:
            raise ConfigError(f"Model '{model}'.{method} returned log {key!r} of shape {tuple(tensor.shape)}; logs "
                              "must be scalars (reduce it, e.g. ops.mean(value), or track it with a Mean metric).")
        flat[key] = float(tensor)
    return flat


def _step_data(model: Any, x: Any, y: Any, sample_weight: Any, batch_size: int, shuffle: bool) -> Any:
    """Arrays (checked and converted once) or a Dataset/DataLoader, without the compiled loss's conversions:
    a custom step receives the targets as given."""
    from nnkit.models import preparation
    from nnkit.training.data import ArrayData, LoaderData, as_inputs, is_loader_input, to_tensor

    if is_loader_input(x):
        return LoaderData(x, batch_size, shuffle, model.device)
    inputs = preparation.model_inputs(model, x, "x")
    targets = None
    if y is not None:
        targets = to_tensor(y, "y")
        targets = as_inputs(targets) if targets.is_floating_point() else targets
    weights = None if sample_weight is None else to_tensor(sample_weight, "sample_weight").to(torch.float32)
    return ArrayData(inputs, targets, weights).to(model.device)


def _stepper(model: Any, method: str) -> Any:
    step = getattr(model, method)

    def run(batch: tuple[Any, Any, Any]) -> dict[str, float]:
        return scalar_logs(step(pack(*batch)), method, model.name)

    return run


def _loop(model: Any) -> Any:
    from nnkit.training.loop import Loop, StepFunctions

    functions = StepFunctions(model, None, None, None, None, model.optimizer, [],
                              train_step=_stepper(model, "train_step"), test_step=_stepper(model, "test_step"),
                              reset_metrics=model.reset_metrics)
    return Loop(functions, control=model)


def _require_compiled(model: Any, action: str) -> None:
    from nnkit.errors import NotReadyError

    if not model.compiled:
        raise NotReadyError(f"You must call model.compile(...) before model.{action}() (a custom train_step too: "
                            "its optimizer comes from compile).")


def fit(model: Any, x: Any, y: Any, *, batch_size: Any, epochs: int, verbose: Any, callbacks: Any,
        validation_split: float, validation_data: Any, shuffle: bool, sample_weight: Any, initial_epoch: int,
        validation_batch_size: Any, validation_freq: Any) -> Any:
    """``fit`` of a model with its own ``train_step``: every batch goes through it; the epoch's logs are what
    its last call returned, as in Keras."""
    from nnkit.callbacks.history import History
    from nnkit.errors import DataError
    from nnkit.models import preparation
    from nnkit.training.data import ArrayData, is_loader_input

    _require_compiled(model, "fit")
    batch_size = preparation.batch_size(batch_size, x)
    verbose = preparation.verbosity(verbose)
    preparation.check_epochs(epochs, initial_epoch)
    preparation.check_validation_freq(validation_freq)
    x = preparation.py_dataset_input(x, y, sample_weight, None, validation_split)
    data = _step_data(model, x, y, sample_weight, batch_size, shuffle)
    if validation_split and validation_data is None:
        if not isinstance(data, ArrayData):
            raise DataError("validation_split is not supported for a Dataset or DataLoader; pass validation_data.")
        data, held_out = data.split(validation_split)
    else:
        held_out = None
        if is_loader_input(validation_data):
            held_out = _step_data(model, validation_data, None, None, validation_batch_size or batch_size, False)
        elif validation_data is not None:
            val_x, val_y, val_w = preparation.unpack_validation(validation_data)
            held_out = _step_data(model, val_x, val_y, val_w, validation_batch_size or batch_size, False)
    steps = data.steps(batch_size) if isinstance(data, ArrayData) else data.steps()
    batches = (lambda: data.batches(batch_size, shuffle)) if isinstance(data, ArrayData) else data.batches
    validation = None
    if held_out is not None:
        size = validation_batch_size or batch_size
        validation = (lambda: held_out.batches(size)) if isinstance(held_out, ArrayData) else held_out.batches
    cbs = model._callbacks(callbacks, verbose, {"verbose": verbose, "epochs": epochs, "steps": steps}, history=True)
    history = next(cb for cb in cbs if isinstance(cb, History))
    _loop(model).fit(batches, epochs=epochs, initial_epoch=initial_epoch, callbacks=cbs, validation=validation,
                     validation_freq=validation_freq)
    model.history = history
    return history


def evaluate(model: Any, x: Any, y: Any, *, batch_size: Any, verbose: Any, sample_weight: Any, callbacks: Any,
             return_dict: bool) -> Any:
    """``evaluate`` of a model with its own ``test_step``: the logs its last call returned."""
    from nnkit.models import preparation
    from nnkit.training.data import ArrayData

    _require_compiled(model, "evaluate")
    batch_size = preparation.batch_size(batch_size, x)
    verbose = preparation.verbosity(verbose)
    x = preparation.py_dataset_input(x, y, sample_weight)
    data = _step_data(model, x, y, sample_weight, batch_size, False)
    steps = data.steps(batch_size) if isinstance(data, ArrayData) else data.steps()
    cbs = model._callbacks(callbacks, verbose, {"verbose": verbose, "epochs": 1, "steps": steps})
    batches = data.batches(batch_size) if isinstance(data, ArrayData) else data.batches()
    logs = _loop(model).test_pass(batches, cbs)
    if return_dict:
        return logs
    values = [logs[key] for key in ("loss",) if key in logs] + [v for k, v in logs.items() if k != "loss"]
    return values[0] if len(values) == 1 else values


def predict(model: Any, x: Any, *, batch_size: Any, verbose: Any, callbacks: Any) -> Any:
    """``predict`` of a model with its own ``predict_step``: its results for every batch, joined."""
    import numpy as np

    from nnkit.models import preparation
    from nnkit.training.data import ArrayData, concatenate

    batch_size = preparation.batch_size(batch_size, x)
    verbose = preparation.verbosity(verbose)
    data = _step_data(model, x, None, None, batch_size, False)
    steps = data.steps(batch_size) if isinstance(data, ArrayData) else data.steps()
    cbs = model._callbacks(callbacks, verbose, {"verbose": verbose, "epochs": 1, "steps": steps})
    cbs.on_predict_begin()
    model.train(False)
    outputs = []
    with torch.no_grad():
        for index, (x_batch, _, _) in enumerate(data.batches(batch_size) if isinstance(data, ArrayData)
                                                else data.batches()):
            cbs.on_predict_batch_begin(index)
            result = model.predict_step(x_batch)
            outputs.append(tuple(result) if isinstance(result, (list, tuple)) else result)
            cbs.on_predict_batch_end(index, {"outputs": outputs[-1]})
    cbs.on_predict_end()
    joined = concatenate(outputs)
    if isinstance(joined, tuple):
        return [np.asarray(part.detach().cpu()) for part in joined]
    return np.asarray(joined.detach().cpu())
