"""A functional model from intermediate tensors: ``Model(processed, conv)`` cuts an existing graph there.

As in Keras (``clone_graph_nodes``), each given input that a layer made (not an ``Input``) gets a new
``Input`` of its shape and dtype, named ``<tensor name>CLONE``; the layer calls between the inputs and
the outputs are recorded again on the new tensors. The layers themselves (and so their weights) are
shared with the model the tensors come from; the layers before the cut are not part of the new model.
Only model construction pays for this: the result is an ordinary functional graph.
"""

from __future__ import annotations

from typing import Any

from nnkit.errors import ConfigError
from nnkit.layers.core import Input, InputLayer
from nnkit.layers.symbolic import KerasTensor, Node, flatten, map_structure


def is_input_tensor(tensor: KerasTensor) -> bool:
    """Whether ``tensor`` is the output of a ``keras.Input`` (its ``InputLayer``)."""
    return tensor._keras_history is not None and isinstance(tensor._keras_history[0], InputLayer)


def nodes_between(inputs: list[KerasTensor], outputs: list[KerasTensor]) -> list[Node]:
    """The recorded calls that compute ``outputs`` from ``inputs``, each after the calls it reads from.

    The walk back from the outputs stops at the given inputs that layers made (the graph is cut there);
    a given ``Input``'s own node is kept, as are the nodes of ``Input`` s it reaches that were not given.
    """
    stops = {id(t) for t in inputs if not is_input_tensor(t)}
    ordered: list[Node] = []
    seen: set[int] = set()

    def producer(tensor: KerasTensor) -> Node | None:
        if id(tensor) in stops or tensor._keras_history is None:
            return None
        layer, index, _ = tensor._keras_history
        return layer._inbound_nodes[index]

    stack: list[tuple[Node, bool]] = [(node, False) for node in map(producer, reversed(outputs)) if node is not None]
    while stack:
        node, expanded = stack.pop()
        if id(node) in seen:
            continue
        if expanded:
            seen.add(id(node))
            ordered.append(node)
            continue
        stack.append((node, True))
        parents = [producer(t) for t in reversed(node.input_tensors)]
        stack.extend((parent, False) for parent in parents if parent is not None and id(parent) not in seen)
    return ordered


def cut_graph(inputs: Any, outputs: Any, model_name: str) -> tuple[Any, Any]:
    """``inputs`` and ``outputs`` (same structures) over a copy of the calls between them whose inputs are
    all ``Input`` tensors: a new ``Input`` replaces each tensor that a layer made.

    Raises:
        ConfigError: an input has no recorded origin, or an output needs an ``Input`` that is not given.
    """
    flat_inputs = flatten(inputs)
    for tensor in flat_inputs:
        if tensor._keras_history is None:
            raise ConfigError(f"Model '{model_name}': input {tensor} was made neither by keras.Input(...) nor by a "
                              "layer. Pass Input tensors, or tensors that layers computed from them.")
    nodes = nodes_between(flat_inputs, flatten(outputs))
    given = {id(t._keras_history[0]) for t in flat_inputs}
    for node in nodes:
        if isinstance(node.layer, InputLayer) and id(node.layer) not in given:
            raise ConfigError(
                f"Model '{model_name}': the outputs depend on Input '{node.layer.name}' of shape "
                f"{node.output_tensors[0].shape}, which is not among the model's inputs (nor cut off by them). Add it "
                "to inputs=[...], or pass as inputs the tensors through which the outputs read it."
            )
    taken = {node.layer.name for node in nodes} | {t.name for t in flat_inputs if is_input_tensor(t)}
    copies: dict[int, KerasTensor] = {}
    for tensor in flat_inputs:
        if is_input_tensor(tensor):
            copies[id(tensor)] = tensor
        elif id(tensor) not in copies:
            name = _unused(f"{tensor.name}CLONE", taken)
            taken.add(name)
            copies[id(tensor)] = Input(batch_shape=tensor.shape, dtype=tensor.dtype, name=name)
    for node in nodes:
        if not isinstance(node.layer, InputLayer):
            _record_again(node, copies)
    return _substituted(inputs, copies), _substituted(outputs, copies)


def _record_again(node: Node, copies: dict[int, KerasTensor]) -> None:
    """Record ``node``'s call once more, on the copies of its input tensors; its new outputs join ``copies``."""
    def fresh(value: Any) -> Any:
        return KerasTensor(value.shape, value.dtype, name=value.name) if isinstance(value, KerasTensor) else value

    layer = node.layer
    args, kwargs = _substituted((node.args, node.kwargs), copies)
    again = Node(layer, args, kwargs, map_structure(fresh, node.outputs))
    index = len(layer._inbound_nodes)
    for position, (old, new) in enumerate(zip(node.output_tensors, again.output_tensors)):
        new._keras_history = (layer, index, position)
        copies[id(old)] = new
    layer._inbound_nodes.append(again)


def _substituted(structure: Any, copies: dict[int, KerasTensor]) -> Any:
    """``structure`` with each KerasTensor that has a copy replaced by it."""
    return map_structure(lambda v: copies.get(id(v), v) if isinstance(v, KerasTensor) else v, structure)


def _unused(name: str, taken: set[str]) -> str:
    candidate, count = name, 0
    while candidate in taken:
        count += 1
        candidate = f"{name}_{count}"
    return candidate
