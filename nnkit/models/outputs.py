"""Several outputs: ``compile`` arguments per output, the summed loss and the per-output metrics.

With one output nothing here is used and ``y``, losses and metrics stay single tensors and objects.
With several, ``y`` is a tuple in output order and the loss is :class:`OutputLosses`, whose per-output
values are logged as ``<output>_loss`` next to metrics named ``<output>_<metric>``, as Keras 3 does.
"""

from __future__ import annotations

import numbers
from typing import Any

import torch
from torch import Tensor

from nnkit import losses
from nnkit import metrics as metrics_module
from nnkit.errors import ConfigError, DataError


def per_output(value: Any, names: list[str], argument: str) -> list[Any]:
    """A ``compile`` argument as one entry per output: a dict by output name, a list in output order, or
    one value for every output."""
    if isinstance(value, dict):
        unknown = [key for key in value if key not in names]
        if unknown:
            raise ConfigError(f"`{argument}` names output {unknown[0]!r}, but the model's outputs are {names}.")
        return [value.get(name) for name in names]
    if isinstance(value, (list, tuple)):
        if len(value) != len(names):
            raise ConfigError(f"`{argument}` as a list needs one entry per output ({len(names)}: {names}); "
                              f"received {len(value)}. Pass a dict keyed by output name to leave outputs out.")
        return list(value)
    return [value for _ in names]


class OutputLosses(losses.Loss):
    """The loss of a model with several outputs: ``sum(weight_i * loss_i(y_i, output_i))``.

    Outputs without a loss are skipped. After each call, :attr:`parts` holds the (unweighted) loss of each
    output that has one, for the logs.
    """

    def __init__(self, output_losses: list[losses.Loss | None], weights: list[float], names: list[str]) -> None:
        super().__init__(name="loss")
        self.output_losses, self.weights, self.names = output_losses, weights, names
        self.active = [i for i, loss in enumerate(output_losses) if loss is not None]
        if not self.active:
            raise ConfigError(f"compile(loss=...) gives none of the outputs {names} a loss; give at least one.")
        self.parts: Tensor | None = None

    @property
    def part_names(self) -> list[str]:
        """``<output>_loss`` for each output with a loss, in output order."""
        return [f"{self.names[i]}_loss" for i in self.active]

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Tensor | None = None) -> Tensor:
        weights = sample_weight if isinstance(sample_weight, tuple) else (sample_weight,) * len(y_pred)
        values = [self.output_losses[i](y_true[i], y_pred[i], weights[i]) for i in self.active]
        parts = torch.stack(values)
        self.parts = parts.detach()
        weights = self.weights
        if all(weights[i] == 1.0 for i in self.active):
            return parts.sum()
        return sum(weights[i] * value for i, value in zip(self.active, values))

    def prepare_targets(self, y: Any, output_shape: Any) -> Any:
        """Each output's targets converted by its loss (``None`` where an output has no loss)."""
        return tuple(None if loss is None else loss.prepare_targets(y[i], output_shape[i])
                     for i, loss in enumerate(self.output_losses))

    def get_config(self) -> dict[str, Any]:
        return {"losses": dict(zip(self.names, self.output_losses)), "weights": dict(zip(self.names, self.weights))}


class OutputMetric(metrics_module.Metric):
    """A metric of one output: reads ``y[index]`` and logs as ``<output>_<metric>``."""

    def __init__(self, metric: metrics_module.Metric, index: int, output: str) -> None:
        super().__init__(name=f"{output}_{metric.name}")
        self.metric, self.index, self.output = metric, index, output

    def reset_state(self) -> None:
        self.metric.reset_state()

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Tensor | None = None) -> None:
        if isinstance(sample_weight, tuple):  # weights per output
            sample_weight = sample_weight[self.index]
        self.metric.update_state(y_true[self.index], y_pred[self.index], sample_weight)

    def result(self) -> float | dict[str, float]:
        value = self.metric.result()
        if isinstance(value, dict):
            return {f"{self.output}_{key}": v for key, v in value.items()}
        return value


def compile_losses(model: Any, loss: Any, loss_weights: Any) -> OutputLosses:
    """The summed loss of a model with several outputs from ``compile``'s ``loss`` and ``loss_weights``."""
    names = model.output_names
    entries = per_output(loss, names, "loss")
    weights = per_output(1.0 if loss_weights is None else loss_weights, names, "loss_weights")
    checked = []
    for name, weight in zip(names, weights):
        weight = 1.0 if weight is None else weight
        if isinstance(weight, bool) or not isinstance(weight, numbers.Real):
            raise ConfigError(f"loss_weights for output '{name}' must be a number. Received: {weight!r}.")
        checked.append(float(weight))
    return OutputLosses([None if entry is None else losses.get(entry) for entry in entries], checked, names)


def resolve_metrics(model: Any, args: dict[str, Any], loss: OutputLosses, target_shapes: tuple[Any, ...],
                    output_shapes: list[tuple[int, ...]]) -> list[tuple[metrics_module.Metric, bool]]:
    """Per-output metric objects for ``compile(metrics=..., weighted_metrics=...)``."""
    names = model.output_names
    resolved = []
    for weighted, key in ((False, "metrics"), (True, "weighted_metrics")):
        entries = per_output(args[key], names, key) if args[key] else [None] * len(names)
        for index, (name, entry) in enumerate(zip(names, entries)):
            identifiers = [] if entry is None else [entry] if isinstance(entry, str) or callable(entry) \
                else list(entry)
            shape = target_shapes[index] if target_shapes[index] is not None else output_shapes[index]
            for identifier in identifiers:
                metric = metrics_module.get(identifier, loss=loss.output_losses[index], target_shape=shape,
                                            output_shape=output_shapes[index])
                if weighted:
                    metric.name = f"weighted_{metric.name}" if any(
                        m.name == f"{name}_{metric.name}" for m, _ in resolved) else metric.name
                resolved.append((OutputMetric(metric, index, name), weighted))
    return resolved


def ordered(value: Any, names: list[str], what: str) -> list[Any]:
    """``y`` (or ``x``) given as a dict by name, a list in order, or one array (one entry), as a list."""
    if isinstance(value, dict):
        unknown = [key for key in value if key not in names]
        if unknown:
            raise DataError(f"`{what}` has key {unknown[0]!r}, which names no model {what.split()[0]}put; "
                            f"the names are {names}.")
        return [value.get(name) for name in names]
    if isinstance(value, (list, tuple)) and len(value) == len(names) and len(names) > 1:
        return list(value)
    if len(names) == 1:
        return [value]
    raise DataError(f"`{what}` must hold {len(names)} arrays, one per {names}: a list in that order or a dict "
                    f"keyed by name. Received: {type(value).__name__}"
                    + (f" of length {len(value)}" if isinstance(value, (list, tuple)) else "") + ".")
