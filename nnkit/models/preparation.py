"""Checking and converting what users pass to compile / fit / evaluate / predict."""

from __future__ import annotations

import itertools
import numbers
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from nnkit import losses
from nnkit import metrics as metrics_module
from nnkit.errors import ConfigError, DataError
from nnkit.layers.symbolic import DTYPES
from nnkit.models import outputs
from nnkit.training.data import (
    ArrayData,
    Batch,
    LoaderData,
    as_inputs,
    check_finite,
    check_same_length,
    class_weight_to_sample_weight,
    to_tensor,
)
from nnkit.utils.py_dataset import PyDataset, standardize_batch

if TYPE_CHECKING:
    from nnkit.layers.base import Layer
    from nnkit.models.model import Model


# -- compile arguments ---------------------------------------------------------------------------------
def metric_names(*entries: Any) -> list[str]:
    """The metric names in ``compile`` arguments, however nested (lists, dicts per output)."""
    if len(entries) != 1:
        return [name for entry in entries for name in metric_names(entry)]
    value = entries[0]
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict) and "class_name" not in value:  # per output (a class_name dict is one metric)
        return metric_names(*value.values())
    if isinstance(value, (list, tuple)):
        return metric_names(*value)
    return []


def metric_list(value: Any, argument: str) -> list[Any]:
    """``compile(metrics=...)`` as a flat list (one output: a dict or nested list is refused)."""
    if value is None:
        return []
    if isinstance(value, (str, metrics_module.Metric)) or callable(value):
        return [value]
    if isinstance(value, dict):
        raise ConfigError(f"`{argument}` as a dict is for models with several outputs; a Sequential model has "
                          "one. Pass a list such as ['accuracy'].")
    return list(value)


def loss_weight(value: Any) -> float | None:
    """The scalar loss weight of a single-output model."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)) and len(value) == 1:
        value = value[0]
    if isinstance(value, dict) and len(value) == 1:
        value = next(iter(value.values()))
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(f"loss_weights must be a number for a single-output model. Received: {value!r}.")
    return float(value)


def resolve_metrics(args: dict[str, Any], loss: losses.Loss | None, target_shape: tuple[int, ...],
                    output_shape: tuple[int, ...]) -> list[tuple[metrics_module.Metric, bool]]:
    """Metric objects for the compiled identifiers, given the shapes of ``y`` and of the outputs."""
    resolved = []
    names: set[str] = set()
    for weighted, key in ((False, "metrics"), (True, "weighted_metrics")):
        for identifier in args[key]:
            metric = metrics_module.get(identifier, loss=loss, target_shape=target_shape, output_shape=output_shape)
            if weighted and metric.name in names:
                metric.name = f"weighted_{metric.name}"
            names.add(metric.name)
            resolved.append((metric, weighted))
    return resolved


# -- fit arguments ---------------------------------------------------------------------------------------
def batch_size(value: Any, x: Any) -> int:
    """Keras's default batch size of 32, after checking the user's value."""
    if value is None:
        return 32
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ConfigError(f"batch_size must be a positive int. Received: batch_size={value!r}.")
    return int(value)


def verbosity(value: Any) -> int:
    """``'auto'`` -> 1, else 0, 1 or 2."""
    if value == "auto":
        return 1
    if value not in (0, 1, 2) or isinstance(value, bool):
        raise ConfigError(f"verbose must be 'auto', 0, 1 or 2. Received: verbose={value!r}.")
    return int(value)


def check_epochs(epochs: Any, initial_epoch: Any) -> None:
    """Reject negative or non-integer epoch counts."""
    for name, value in (("epochs", epochs), ("initial_epoch", initial_epoch)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
            raise ConfigError(f"{name} must be a non-negative int. Received: {name}={value!r}.")


def check_validation_freq(value: Any) -> None:
    """``validation_freq`` is a positive int or a collection of 1-based epoch numbers."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        if value >= 1:
            return
    elif isinstance(value, (list, tuple, set, range)) and all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1 for v in value
    ):
        return
    raise ConfigError(
        "validation_freq must be a positive int (validate every N epochs) or a list of 1-based epoch "
        f"numbers. Received: validation_freq={value!r}."
    )


def limited(steps: int, limit: int | None) -> int:
    """``steps`` capped by an optional user limit."""
    if limit is None:
        return steps
    if isinstance(limit, bool) or not isinstance(limit, numbers.Integral) or limit < 1:
        raise ConfigError(f"steps must be a positive int. Received: {limit!r}.")
    return min(steps, int(limit))


def take(batches: Iterator[Batch], steps: int | None) -> Iterator[Batch]:
    """At most ``steps`` batches."""
    return batches if steps is None else itertools.islice(batches, steps)


class ClassWeighted(PyDataset):
    """A PyDataset whose ``(x, y)`` batches gain per-sample weights from ``class_weight`` (``fit``'s argument)."""

    def __init__(self, dataset: PyDataset, class_weight: dict | str) -> None:
        super().__init__(dataset.workers, dataset.use_multiprocessing, dataset.max_queue_size)
        self.dataset, self.class_weight = dataset, class_weight

    @property
    def num_batches(self) -> int | None:
        return self.dataset.num_batches

    def __getitem__(self, index: int) -> Any:
        batch = standardize_batch(self.dataset[index])
        if len(batch) == 3:
            raise DataError("You cannot specify `class_weight` and `sample_weight` at the same time: the "
                            f"PyDataset {type(self.dataset).__name__} returns (x, y, sample_weight) batches. "
                            "Fold the class weights into its sample weights, or drop class_weight.")
        if len(batch) == 1:
            raise DataError(f"class_weight needs targets, but the PyDataset {type(self.dataset).__name__} returns "
                            "batches of x only. Return (x, y) from __getitem__.")
        return (*batch, class_weight_to_sample_weight(self.class_weight, to_tensor(batch[1], "y")))

    def on_epoch_begin(self) -> None:
        self.dataset.on_epoch_begin()

    def on_epoch_end(self) -> None:
        self.dataset.on_epoch_end()


def py_dataset_input(x: Any, y: Any, sample_weight: Any, class_weight: Any = None,
                     validation_split: float = 0.0) -> Any:
    """``x`` as ``fit``/``evaluate`` read it: a :class:`~nnkit.utils.PyDataset` carries its own targets and
    weights, so ``y``, ``sample_weight`` and ``validation_split`` are refused as in Keras; ``class_weight``
    weighs its ``(x, y)`` batches. Anything else is returned unchanged."""
    if not isinstance(x, PyDataset):
        return x
    for name, value, description in (("y", y, "the targets"), ("sample_weight", sample_weight, "the sample weights")):
        if value is not None:
            raise DataError(f"When providing `x` as a PyDataset, `{name}` should not be passed. Instead, {description} "
                            f"should be included as part of the PyDataset (returned by {type(x).__name__}.__getitem__).")
    if validation_split:
        raise DataError("Argument `validation_split` is only supported for tensors or NumPy arrays; `x` is the "
                        f"PyDataset {type(x).__name__} (validation_split={validation_split!r}). Pass "
                        "validation_data=<another PyDataset> instead.")
    return x if class_weight is None else ClassWeighted(x, class_weight)


def unpack_validation(value: Any) -> tuple[Any, Any, Any]:
    """``validation_data`` as ``(x, y, sample_weight)``."""
    if isinstance(value, (tuple, list)) and len(value) in (2, 3):
        return value[0], value[1], value[2] if len(value) == 3 else None
    raise DataError(
        "validation_data must be a tuple (x_val, y_val) or (x_val, y_val, val_sample_weight), a torch "
        f"Dataset/DataLoader or a PyDataset. Received: {type(value).__name__}."
    )


# -- data ---------------------------------------------------------------------------------------------------
def inputs(x: Any, what: str, first_layer: Layer | None = None, dtype: torch.dtype | None = None) -> Tensor:
    """Model inputs as a finite tensor, checked by and typed for the model's first layer (float unless
    the layer declares an ``input_dtype``, as ``Embedding`` does for token ids, or ``dtype`` says otherwise:
    an integer ``Input``)."""
    if x is None:
        raise DataError(f"`{what}` is required; received None.")
    tensor = to_tensor(x, what)
    dtype = dtype if dtype is not None else None if first_layer is None else first_layer.input_dtype
    if dtype is None:
        tensor = as_inputs(tensor)  # float64 values beyond float32's range become inf here and are caught
    check_finite(tensor, what)
    if first_layer is not None:
        first_layer.check_data(tensor, what)
    return as_inputs(tensor, dtype)


def model_inputs(model: Model, x: Any, what: str) -> Any:
    """The model's inputs as one checked tensor, or a tuple in input order for several inputs (``x`` a list
    in that order or a dict by input name)."""
    names = model.input_names if model._is_graph() else None
    if names is None or (len(names) == 1 and not isinstance(x, dict)):
        if names is not None and isinstance(x, (list, tuple)) and len(x) == 1 and not _is_numeric(x):
            x = x[0]
        return inputs(x, what, model._first_layer(), model.input_dtype)
    parts = outputs.ordered(x, names, what)
    tensors = []
    for name, part, source in zip(names, parts, model.inputs):
        if part is None:
            raise DataError(f"`{what}` has no array for input '{name}'; the model's inputs are {names}.")
        dtype = DTYPES.get(source.dtype) if source.dtype.startswith(("int", "uint")) else None
        tensor = to_tensor(part, f"{what}[{name!r}]")
        tensor = as_inputs(tensor) if dtype is None else tensor.to(torch.int64)
        check_finite(tensor, f"{what}[{name!r}]")
        tensors.append(tensor)
    check_same_length(**{f"{what}[{name!r}]": t for name, t in zip(names, tensors)})
    return tensors[0] if len(tensors) == 1 else tuple(tensors)


def _is_numeric(value: Any) -> bool:
    return isinstance(value, (int, float)) or (isinstance(value, (list, tuple)) and all(map(_is_numeric, value)))


def sample_shapes(value: Any) -> Any:
    """The per-sample shape of a tensor, or a tuple of them (``None`` for a missing part)."""
    if isinstance(value, tuple):
        return tuple(None if part is None else tuple(part.shape[1:]) for part in value)
    return tuple(value.shape[1:])


def _fits(expected: tuple[int | None, ...], received: tuple[int, ...]) -> bool:
    return len(expected) == len(received) and all(e is None or e == r for e, r in zip(expected, received))


def check_input_shape(model: Model, x: Any, what: str) -> None:
    """Raise a clear error when ``x`` does not match the model's input shape (``None`` sizes match any)."""
    if isinstance(x, tuple):
        for name, source, tensor in zip(model.input_names, model.inputs, x):
            if not _fits(source.sample_shape, tuple(tensor.shape[1:])):
                raise DataError(f"Input '{name}' of '{model.name}' expects arrays of shape {source.shape} but "
                                f"`{what}[{name!r}]` has shape {tuple(tensor.shape)}.")
        return
    expected = model._input_shape
    received = tuple(x.shape[1:])
    if _fits(expected, received):
        return
    first = model.layers[0]
    where = f"Layer 1 ({first.name}) of '{model.name}'"
    if x.ndim == 1 and len(expected) == 1:
        raise DataError(
            f"{where} expects 2-D input of shape (n_samples, {expected[0]}), but `{what}` is 1-D with shape "
            f"{tuple(x.shape)}. Use x.reshape(-1, 1) for one feature per sample, or x.reshape(1, -1) for a "
            "single sample."
        )
    if len(expected) == 1 and len(received) == 1:
        raise DataError(
            f"{where} expects inputs with {expected[0]} features but received `{what}` of shape {tuple(x.shape)}."
        )
    raise DataError(
        f"{where} expects inputs of shape (None, {', '.join(map(str, expected))}) but received `{what}` of shape "
        f"{tuple(x.shape)}."
    )


def targets(model: Model, y: Any) -> Any:
    """``y`` as checked tensors converted for the compiled loss: one tensor, or with several outputs a
    tuple in output order (``None`` for an output without a loss)."""
    if y is None:
        raise DataError("`y` is required to fit or evaluate on arrays; received None.")
    if not isinstance(model.loss, outputs.OutputLosses):
        if isinstance(y, dict) and hasattr(model, "output_names"):
            y = outputs.ordered(y, model.output_names, "y")[0]
        y_tensor = to_tensor(y, "y")
        check_finite(y_tensor, "y")
        return model.loss.prepare_targets(y_tensor, model._output_sample_shape)
    names = model.output_names
    parts = []
    for name, part, loss in zip(names, outputs.ordered(y, names, "y"), model.loss.output_losses):
        if loss is None:
            parts.append(None)
            continue
        if part is None:
            raise DataError(f"`y` has no targets for output '{name}', which has a loss. Give y for every output "
                            f"with a loss ({model.loss.part_names}), or compile without a loss for '{name}'.")
        tensor = to_tensor(part, f"y[{name!r}]")
        check_finite(tensor, f"y[{name!r}]")
        parts.append(tensor)
    check_same_length(**{f"y[{name!r}]": t for name, t in zip(names, parts) if t is not None})
    return model.loss.prepare_targets(tuple(parts), model._output_sample_shape)


def array_data(model: Model, x: Any, y: Any, sample_weight: Any, class_weight: Any) -> ArrayData:
    """Checked ``(x, y, weights)`` with targets converted for the compiled loss."""
    y_tensor = targets(model, y)
    check_same_length(x=x, y=y_tensor)
    if class_weight is not None and isinstance(y_tensor, tuple):
        raise DataError("class_weight is only supported for models with one output (as in Keras); pass "
                        "sample_weight instead.")
    weights = None
    per_output = isinstance(y_tensor, tuple) and isinstance(sample_weight, (list, tuple, dict)) and not (
        isinstance(sample_weight, (list, tuple)) and _is_numeric(sample_weight))
    if per_output:  # one array per output, by name or in order (None: that output's samples weigh 1)
        names = model.output_names
        parts = outputs.ordered(sample_weight, names, "sample_weight")
        weights = tuple(None if part is None else _sample_weights(part, y_tensor, f"sample_weight[{name!r}]")
                        for name, part in zip(names, parts))
        weights = None if all(w is None for w in weights) else weights
    elif sample_weight is not None:
        weights = _sample_weights(sample_weight, y_tensor, "sample_weight")
    if class_weight is not None:
        per_class = class_weight_to_sample_weight(class_weight, y_tensor)
        weights = per_class if weights is None else weights * per_class
    return ArrayData(x, y_tensor, weights)


def _sample_weights(value: Any, y: Any, what: str) -> Tensor:
    """One checked, non-negative float weight per sample."""
    raw = to_tensor(value, what)
    check_same_length(y=y, **{what: raw})
    if raw.numel() != len(raw):
        raise DataError(f"{what} must hold one weight per sample, shape ({len(raw)},). Received shape "
                        f"{tuple(raw.shape)}.")
    weights = raw.reshape(-1).to(torch.float32)
    check_finite(weights, what)
    negative = (weights < 0).nonzero()
    if len(negative):
        first = negative[0, 0].item()
        raise DataError(f"{what} must be non-negative, but sample {first} has weight {weights[first].item():g}.")
    return weights


def loader_batches(loader: LoaderData, loss: losses.Loss, output_shape: tuple[int, ...],
                   steps: int | None) -> Callable[[], Iterator[Batch]]:
    """Batches from a DataLoader with targets converted for ``loss`` (fully checked on the first)."""

    def generate() -> Iterator[Batch]:
        dtype = None
        for x, y, weight in take(loader.batches(), steps):
            if y is None:
                raise DataError("Training or evaluating on a Dataset needs (x, y) batches; this one yields x only.")
            if isinstance(y, tuple):
                y = loss.prepare_targets(y, output_shape)
            elif dtype is None:
                y = loss.prepare_targets(y, output_shape)
                dtype = y.dtype
            elif y.dtype != dtype:
                y = y.to(dtype)
            yield x, y, weight

    return generate


def result_like_keras(model: Model, logs: dict[str, float], return_dict: bool) -> Any:
    """``logs`` as Keras's ``*_on_batch`` methods return them."""
    if return_dict:
        return logs
    parts = getattr(model.loss, "part_names", [])
    if not model.metrics and not parts:
        return logs["loss"]
    if parts:  # Keras 3's order with several outputs: the total, each output's loss, then the rest by name
        named = ["loss", *parts]
        return [logs[name] for name in named] + [logs[key] for key in sorted(logs) if key not in named]
    values = []
    for name in model.metrics_names:  # a per-class metric logs name_0, name_1, ... instead of name
        values += [logs[name]] if name in logs else [v for k, v in logs.items() if k.startswith(name + "_")]
    return values
