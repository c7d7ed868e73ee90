"""The text of ``Sequential.summary()``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nnkit.models.sequential import Sequential


def _size(count: int) -> str:
    size = count * 4.0
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} GB"


def summary_text(model: Sequential, width: int = 72) -> str:
    """A Keras-style table: layer (type), output shape, parameter count, and totals."""
    model.build()  # no-op when built; shapes and counts need the modules
    name_w, shape_w = int(width * 0.45), int(width * 0.33)
    rule, double = "_" * width, "=" * width
    rows = [f'Model: "{model.name}"', rule,
            f"{' Layer (type)':<{name_w}}{'Output Shape':<{shape_w}}{'Param #':>{width - name_w - shape_w}}", double]
    trainable = frozen = 0
    for layer in model.layers:
        # Weights as Keras counts them: parameters plus state such as BatchNormalization's moving
        # statistics, which are non-trainable.
        layer_trainable = sum(w.numel() for w in layer.trainable_weights)
        layer_frozen = sum(w.numel() for w in layer.non_trainable_weights)
        count = layer_trainable + layer_frozen
        trainable += layer_trainable
        frozen += layer_frozen
        shape = str((None, *layer.output_shape))
        label, kind = f" {layer.name} ", f"({type(layer).__name__})"
        wraps = len(label) + len(kind) >= name_w  # like Keras: a long type goes on a line of its own
        rows.append(f"{label + ('' if wraps else kind):<{name_w}}{shape:<{shape_w}}"
                    f"{count:>{width - name_w - shape_w},}")
        if wraps:
            rows.append(f" {kind}")
    rows += [double,
             f"Total params: {trainable + frozen:,} ({_size(trainable + frozen)})",
             f"Trainable params: {trainable:,} ({_size(trainable)})",
             f"Non-trainable params: {frozen:,} ({_size(frozen)})", rule]
    return "\n".join(rows)
