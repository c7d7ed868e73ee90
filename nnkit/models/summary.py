"""The text of ``Sequential.summary()``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nnkit.models.model import Model


def _size(count: int) -> str:
    size = count * 4.0
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} GB"


def summary_text(model: Model, width: int = 72) -> str:
    """A Keras-style table: layer (type), output shape, parameter count (and, for graphs, the tensors
    feeding each layer as ``layer[node][tensor]``), then the totals."""
    model.build()  # no-op when built; shapes and counts need the modules
    graph = model._is_graph()
    columns = [0.33, 0.25, 0.12] if graph else [0.45, 0.33]
    name_w, shape_w = (int(width * c) for c in columns[:2])
    count_w = int(width * columns[2]) if graph else width - name_w - shape_w
    rule, double = "_" * width, "=" * width
    header = f"{' Layer (type)':<{name_w}}{'Output Shape':<{shape_w}}{'Param #':>{count_w}}"
    rows = [f'Model: "{model.name}"', rule, header + ("  Connected to" if graph else ""), double]
    trainable = frozen = 0
    seen: set[int] = set()
    for layer in model.layers:
        # Weights as Keras counts them: parameters plus state such as BatchNormalization's moving
        # statistics, which are non-trainable.
        new = [w for w in layer.weights if id(w) not in seen]
        seen.update(id(w) for w in new)
        layer_trainable = sum(w.numel() for w in layer.trainable_weights)
        layer_frozen = sum(w.numel() for w in layer.non_trainable_weights)
        trainable += sum(w.numel() for w in new if getattr(w, "requires_grad", False))
        frozen += sum(w.numel() for w in new if not getattr(w, "requires_grad", False))
        shape = str(_output_shape(layer, graph))
        label, kind = f" {layer.name} ", f"({type(layer).__name__})"
        wraps = len(label) + len(kind) >= name_w  # like Keras: a long type goes on a line of its own
        sources = _sources(layer, model) if graph else []
        rows.append(f"{label + ('' if wraps else kind):<{name_w}}{shape:<{shape_w}}"
                    f"{layer_trainable + layer_frozen:>{count_w},}" + (f"  {sources[0] if sources else '-'}" if graph else ""))
        extra = [f" {kind}" if wraps and i == 0 else "" for i in range(max(int(wraps), len(sources) - 1))]
        for i, text in enumerate(extra):
            more = f"  {sources[i + 1]}" if graph and i + 1 < len(sources) else ""
            rows.append(f"{text:<{name_w + shape_w + count_w}}{more}".rstrip())
    rows += [double,
             f"Total params: {trainable + frozen:,} ({_size(trainable + frozen)})",
             f"Trainable params: {trainable:,} ({_size(trainable)})",
             f"Non-trainable params: {frozen:,} ({_size(frozen)})", rule]
    return "\n".join(rows)


def _output_shape(layer: Any, graph: bool) -> Any:
    if graph and layer._inbound_nodes:
        outputs = layer._inbound_nodes[0].output_tensors
        return outputs[0].shape if len(outputs) == 1 else [t.shape for t in outputs]
    shape = layer.output_shape
    if isinstance(shape, list):
        return [(None, *s) for s in shape]
    return shape if shape and shape[0] is None and hasattr(layer, "_is_graph") else (None, *shape)


def _sources(layer: Any, model: Any) -> list[str]:
    """``name[node][tensor]`` for each tensor feeding the layer's calls within ``model``."""
    own = {id(node) for node in model._nodes}
    sources = []
    for node in layer._inbound_nodes:
        if id(node) not in own:
            continue
        for tensor in node.input_tensors:
            source, index, position = tensor._keras_history
            sources.append(f"{source.name}[{index}][{position}]")
    return sources
