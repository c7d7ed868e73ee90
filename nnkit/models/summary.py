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
        params = list(layer.module.parameters())
        count = sum(p.numel() for p in params)
        trainable += sum(p.numel() for p in params if p.requires_grad)
        frozen += sum(p.numel() for p in params if not p.requires_grad)
        shape = str((None, *layer.output_shape))
        rows.append(f"{' ' + layer.name + ' (' + type(layer).__name__ + ')':<{name_w}}{shape:<{shape_w}}"
                    f"{count:>{width - name_w - shape_w},}")
    rows += [double,
             f"Total params: {trainable + frozen:,} ({_size(trainable + frozen)})",
             f"Trainable params: {trainable:,} ({_size(trainable)})",
             f"Non-trainable params: {frozen:,} ({_size(frozen)})", rule]
    return "\n".join(rows)
