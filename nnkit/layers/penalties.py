"""A layer's ``losses`` as Keras lists them: the values ``add_loss`` added in the last call, the activity
penalty of the last call, then the penalties of the trainable weights (computed when read).

Activity penalties cost nothing on the call path of layers without an ``activity_regularizer``: a layer
with one gets a forward hook on its module (an :class:`ActivityRecorder`) that keeps a reference to the
output of the module's last call; the penalty ``regularizer(output) / batch_size`` is computed when
``losses`` is read, so a training step pays one reference per call, not a second penalty computation.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn


class ActivityRecorder:
    """Forward hook keeping the output of its module's last call (an eager call, a training step or a
    ``predict`` batch, as Keras records them). A copy or an unpickled model starts without one."""

    def __init__(self) -> None:
        self.output: Any = None

    def __call__(self, module: nn.Module, inputs: Any, output: Any) -> None:
        self.output = output

    def __deepcopy__(self, memo: dict[int, Any]) -> ActivityRecorder:
        return ActivityRecorder()

    def __reduce__(self) -> tuple[type, tuple[()]]:
        return ActivityRecorder, ()

    def __repr__(self) -> str:
        return f"ActivityRecorder(recorded={self.output is not None})"


def watch_activity(layer: Any) -> None:
    """Give a built layer with an ``activity_regularizer`` a recorder on its module (once)."""
    module = None if layer.activity_regularizer is None else getattr(layer, "module", None)
    if module is None:
        return
    if not any(isinstance(hook, ActivityRecorder) for hook in module._forward_hooks.values()):
        module.register_forward_hook(ActivityRecorder())


def activity_losses(layer: Any) -> list[Tensor]:
    """Keras's activity penalty of the layer's last call: ``regularizer(output) / batch_size`` per output."""
    regularizer = layer.activity_regularizer
    module = None if regularizer is None else getattr(layer, "module", None)
    if module is None:
        return []
    recorder = next((h for h in module._forward_hooks.values() if isinstance(h, ActivityRecorder)), None)
    if recorder is None or recorder.output is None:
        return []
    outputs = recorder.output if isinstance(recorder.output, (list, tuple)) else [recorder.output]
    losses = []
    for output in outputs:
        if isinstance(output, Tensor):
            loss = regularizer(output)
            if output.ndim > 0:  # Keras divides by the batch size (0 for an empty batch)
                loss = loss / output.shape[0] if output.shape[0] else torch.zeros_like(loss)
            losses.append(loss)
    return losses


def _layers_in(layer: Any) -> list[Any]:
    """``layer`` and every layer inside it (a model's layers, a custom layer's sublayers), each once, in order."""
    from nnkit.layers.base import Layer

    found: list[Any] = []
    seen: set[int] = set()

    def visit(current: Any) -> None:
        if id(current) in seen:
            return
        seen.add(id(current))
        found.append(current)
        for inner in [*getattr(current, "layers", ()), *current.modules()]:
            if isinstance(inner, Layer):
                visit(inner)

    visit(layer)
    return found


def layer_losses(layer: Any) -> list[Tensor]:
    """Keras's ``layer.losses``: each layer's added losses and activity penalties of the last call (the layer
    first, then those inside it), then the penalties of the trainable weights."""
    losses = []
    for inner in _layers_in(layer):
        losses += inner.__dict__.get("_added_losses", [])
        losses += activity_losses(inner)
    if layer.built:
        losses += [regularizer(tensor) for tensor, regularizer in layer.regularization_terms() if tensor.requires_grad]
    return losses
