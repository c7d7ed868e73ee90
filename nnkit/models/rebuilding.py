"""Models from configs: a layer entry to a layer, and a functional config to its graph, replayed call by call."""

from __future__ import annotations

from typing import Any

from nnkit.errors import ConfigError
from nnkit.layers.base import LAYERS, Layer
from nnkit.layers.core import InputLayer


def layer_from_entry(entry: Any, where: str) -> Layer:
    """A layer from ``{"class_name": ..., "config": {...}}`` (custom classes found by registered name)."""
    if isinstance(entry, Layer):
        return entry
    if not isinstance(entry, dict) or not isinstance(entry.get("class_name"), str) \
            or not isinstance(entry.get("config", {}), dict):
        raise ConfigError(f"{where} must be a dict with 'class_name' and 'config'. Received: {entry!r}.")
    if entry["class_name"] not in LAYERS:
        raise ConfigError(
            f"{where}: unknown layer class '{entry['class_name']}'. "
            + LAYERS._unknown_message(entry["class_name"]).split(". ", 1)[-1]
            + " A custom layer is found through custom_objects={'" + entry["class_name"] + "': ...} or "
            "@nnkit.saving.register_serializable() on its class."
        )
    return LAYERS.get(entry["class_name"]).from_config(entry.get("config", {}))


def functional_from_config(cls: type, config: dict[str, Any], custom_objects: dict[str, Any] | None,
                           safe_mode: bool) -> Any:
    """Rebuild a functional model: make its layers, then replay their calls in an order that has every
    call's inputs ready (a shared layer's later calls may wait for other layers)."""
    from nnkit.saving import custom_object_scope, deserialize

    if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        raise ConfigError(f"A functional model config must be a dict with a 'layers' list. Received: {config!r}.")
    with custom_object_scope(custom_objects):
        config = deserialize(config, safe_mode)
    layers: dict[str, Layer] = {}
    pending: list[tuple[Layer, dict[str, Any]]] = []
    for i, entry in enumerate(config["layers"]):
        layer = layer_from_entry(entry, f"layers[{i}]")
        if layer.name in layers:
            raise ConfigError(f"layers[{i}]: a second layer named '{layer.name}'.")
        layers[layer.name] = layer
        for node in entry.get("inbound_nodes", []) if isinstance(entry, dict) else []:
            pending.append((layer, node))
    made: dict[str, list[Any]] = {name: [layer._inbound_nodes[0].outputs] if isinstance(layer, InputLayer) else []
                                  for name, layer in layers.items()}
    while pending:
        progress = False
        for item in list(pending):
            layer, node = item
            try:
                args = _decode(node.get("args", []), layers, made)
                kwargs = _decode(node.get("kwargs", {}), layers, made)
            except _NotYet:
                continue
            made[layer.name].append(layer(*args, **kwargs))
            pending.remove(item)
            progress = True
        if not progress:
            names = ", ".join(layer.name for layer, _ in pending)
            raise ConfigError(f"The model config's graph cannot be rebuilt: the calls of {names} read tensors that no "
                              "layer makes.")
    inputs = _decode_refs(config.get("input_layers"), layers, made)
    outputs = _decode_refs(config.get("output_layers"), layers, made)
    name = config.get("name")
    return cls(inputs, outputs, name=name if isinstance(name, str) else None)


class _NotYet(Exception):
    """A call reads a tensor whose layer call has not been replayed yet."""


def _tensor(ref: Any, layers: dict[str, Layer], made: dict[str, list[Any]]) -> Any:
    if not isinstance(ref, (list, tuple)) or len(ref) != 3 or ref[0] not in layers:
        raise ConfigError(f"A tensor reference must be [layer name, node index, tensor index] naming a layer of the "
                          f"model. Received: {ref!r}.")
    name, node_index, tensor_index = ref
    if node_index >= len(made[name]):
        raise _NotYet
    outputs = made[name][node_index]
    return outputs[tensor_index] if isinstance(outputs, list) else outputs


def _decode(value: Any, layers: dict[str, Layer], made: dict[str, list[Any]]) -> Any:
    if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
        return _tensor(value["config"]["keras_history"], layers, made)
    if isinstance(value, dict):
        return {k: _decode(v, layers, made) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v, layers, made) for v in value]
    return value


def _decode_refs(refs: Any, layers: dict[str, Layer], made: dict[str, list[Any]]) -> Any:
    if isinstance(refs, dict):
        return {k: _tensor(v, layers, made) for k, v in refs.items()}
    if isinstance(refs, list) and refs and isinstance(refs[0], list):
        return [_tensor(r, layers, made) for r in refs]
    return _tensor(refs, layers, made)
