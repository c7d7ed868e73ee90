"""A recorded graph of layer calls compiled into one plain ``torch.fx.GraphModule``.

The module's ``forward`` is ordinary generated Python that calls each layer's torch module in order, so
running a functional model costs what its layers cost: no interpretation of the graph per call. Where a
channels-first module (convolutions, pooling) meets a channels-last one, one axis move is inserted, as
Sequential does; inputs and outputs are channels-last, as in Keras.
"""

from __future__ import annotations

import keyword
import operator
from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from torch import fx, nn

from nnkit.errors import ConfigError
from nnkit.layers.containers import carry_mask
from nnkit.layers.symbolic import KerasTensor, Node, flatten, map_structure


class _Value:
    """A tensor of the graph being compiled: its fx node, its rank and the layout it is in."""

    def __init__(self, node: fx.Node, ndim: int, layout: str, mask: fx.Node | None = None) -> None:
        self.node, self.ndim, self.layout, self.mask = node, ndim, layout, mask

    def moved(self, graph: fx.Graph, layout: str) -> _Value:
        """This value in ``layout`` (``'keras'`` or ``'torch'``): the same node, or one axis move."""
        if self.layout == layout or self.ndim < 3:
            return self
        source, destination = (-1, 1) if layout == "torch" else (1, -1)
        moved = graph.call_function(torch.movedim, (self.node, source, destination))
        return _Value(moved, self.ndim, layout, self.mask)


def compile_graph(inputs: list[KerasTensor], outputs: list[KerasTensor], nodes: list[Node],
                  class_name: str = "GraphModule") -> fx.GraphModule:
    """One module computing ``outputs`` from ``inputs`` (positional arguments, in order) through ``nodes``.

    It returns one tensor for one output, else a tuple in the order of ``outputs``.
    """
    root = nn.Module()
    graph = fx.Graph()
    values: dict[int, _Value] = {}
    for tensor in inputs:
        placeholder = graph.placeholder(_identifier(tensor.name or "input"))
        values[id(tensor)] = _Value(placeholder, tensor.ndim, "keras")
    targets: dict[int, str] = {}
    for node in nodes:
        layer = node.layer
        if not node.input_tensors:  # an InputLayer: its output is a placeholder
            continue
        sources = [values[id(t)] for t in node.input_tensors]
        layout = _layout_of(layer, sources)
        args, kwargs = map_structure(partial(_argument, values=values, graph=graph, layout=layout),
                                     (node.args, node.kwargs))
        if id(layer) not in targets:  # a shared layer is one submodule, called once per node
            targets[id(layer)] = _unique_child(root, layer.name)
            root.add_module(targets[id(layer)], layer.module)
        produced = node.output_tensors
        if any(v.mask is not None for v in sources) or layer.produces_mask:
            positional = [values[id(t)] for t in flatten(node.args)]
            results = _masked_call(graph, targets[id(layer)], layer, positional, kwargs, produced,
                                   bool(flatten(node.kwargs)))
            values.update((id(tensor), value) for tensor, value in zip(produced, results))
            continue
        result = _call(graph, targets[id(layer)], layer, tuple(args), kwargs)
        if len(produced) == 1 and not isinstance(node.outputs, list):
            values[id(produced[0])] = _Value(result, produced[0].ndim, layout)
        else:
            for position, tensor in enumerate(produced):
                item = graph.call_function(operator.getitem, (result, position))
                values[id(tensor)] = _Value(item, tensor.ndim, layout)
    results = [values[id(t)].moved(graph, "keras").node for t in outputs]
    graph.output(results[0] if len(results) == 1 else tuple(results))
    graph.lint()
    module = fx.GraphModule(root, graph, class_name=class_name)
    if module.graph.eliminate_dead_code():  # e.g. a mask nobody reads after the last masked layer
        module.recompile()
    return module


def _masked_call(graph: fx.Graph, target: str, layer: Any, sources: list[_Value], kwargs: Any,
                 produced: list[KerasTensor], tensor_kwargs: bool) -> list[_Value]:
    """A layer call on a masked sequence, as Sequential threads masks: a module that takes a mask gets it,
    one that computes a mask (``Embedding(mask_zero=True)``, ``Masking``) sets it, any other keeps it while
    its output keeps the masked axes. A module that takes the mask may also take keyword tensors
    (``initial_state``) and return several outputs (``return_state``); only the first carries the mask. As in
    Keras, a call with tensors besides the sequence (``initial_state``) is not handed the mask, though its
    output still carries it (Keras fills in ``mask`` only for a call of one tensor argument)."""
    module = layer.module
    takes_mask = getattr(module, "takes_mask", False)
    if len(sources) != 1 or ((len(produced) != 1 or kwargs) and not takes_mask):
        raise ConfigError(f"Layer '{layer.name}' ({type(layer).__name__}) receives a masked sequence (from "
                          "Embedding(mask_zero=True) or Masking) together with other inputs; nnkit carries masks "
                          "through layers of one input only. Drop the mask, or merge after the sequence is pooled.")
    source = sources[0].moved(graph, "keras")
    mask = source.mask
    if takes_mask:
        given = () if "mask" in kwargs else (None,) if tensor_kwargs else (mask,)
        result = graph.call_module(target, (source.node, *given), kwargs)
    else:
        result = graph.call_module(target, (source.node,))
    outputs = ([graph.call_function(operator.getitem, (result, i)) for i in range(len(produced))]
               if len(produced) > 1 else [result])
    if hasattr(module, "compute_mask"):
        new_mask = graph.call_method("compute_mask", (graph.get_attr(target), source.node, mask))
    else:
        new_mask = graph.call_function(carry_mask, (mask, outputs[0]))
    return [_Value(outputs[0], produced[0].ndim, "keras", new_mask),
            *(_Value(node, tensor.ndim, "keras") for node, tensor in zip(outputs[1:], produced[1:]))]


def _call(graph: fx.Graph, target: str, layer: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> fx.Node:
    """Call a layer's module; a plain ``nn.Sequential`` (Dense with its activation) is called child by child,
    which saves a container call per layer and per step (not when hooks watch the container: a layer
    with an activity regularizer keeps it whole)."""
    module = layer.module
    if (type(module) is nn.Sequential and len(module) and not kwargs and len(args) == 1
            and getattr(layer, "activity_regularizer", None) is None):
        value = args[0]
        for name, _ in module.named_children():
            value = graph.call_module(f"{target}.{name}", (value,))
        return value
    return graph.call_module(target, args, kwargs)


def without_final_activations(module: fx.GraphModule, strip: Callable[[int, nn.Module], bool]
                              ) -> tuple[fx.GraphModule, dict[int, nn.Module]]:
    """A copy of the graph whose outputs stop before their final activations where ``strip(output index,
    activation module)`` says so (losses then run on the logits), and those activations by output index."""
    output = next(node for node in module.graph.nodes if node.op == "output")
    results = list(output.args[0]) if isinstance(output.args[0], tuple) else [output.args[0]]
    chosen: dict[int, fx.Node] = {}
    for index, node in enumerate(results):
        if isinstance(node, fx.Node) and node.op == "call_module" and len(node.users) == 1 \
                and strip(index, module.get_submodule(node.target)):
            chosen[index] = node
    if not chosen:
        return module, {}
    graph = fx.Graph()
    mapping: dict[fx.Node, fx.Node] = {}
    graph.graph_copy(module.graph, mapping)
    kept = [mapping[chosen[i].args[0]] if i in chosen else mapping[node] for i, node in enumerate(results)]
    graph.output(kept[0] if len(kept) == 1 else tuple(kept))
    for node in chosen.values():
        graph.erase_node(mapping[node])
    stripped = fx.GraphModule(module, graph, class_name=type(module).__name__)
    return stripped, {i: module.get_submodule(node.target) for i, node in chosen.items()}


def _layout_of(layer: Any, arguments: list[_Value]) -> str:
    """The layout a layer's module is called in: its own, or for layout-free layers that of its inputs
    (channels-last when they disagree)."""
    if layer.layout != "any":
        return layer.layout
    layouts = {v.layout for v in arguments}
    ranks = {v.ndim for v in arguments}
    return layouts.pop() if len(layouts) == 1 and len(ranks) == 1 else "keras"


def _argument(value: Any, values: dict[int, _Value], graph: fx.Graph, layout: str) -> Any:
    if not isinstance(value, KerasTensor):
        return value
    if id(value) not in values:
        raise ConfigError(f"The graph reads {value}, which is not computed from the model's inputs.")
    return values[id(value)].moved(graph, layout).node


def _identifier(name: str) -> str:
    """``name`` as a Python identifier for the generated code (``lambda`` -> ``lambda_``, ``1x`` -> ``input_1x``)."""
    cleaned = "".join(c if c.isalnum() or c == "_" else "_" for c in name) or "input"
    cleaned = cleaned if not cleaned[0].isdigit() else f"input_{cleaned}"
    return f"{cleaned}_" if keyword.iskeyword(cleaned) or keyword.issoftkeyword(cleaned) else cleaned


def _unique_child(root: nn.Module, name: str) -> str:
    base = _identifier(name)
    candidate, count = base, 0
    while hasattr(root, candidate):
        count += 1
        candidate = f"{base}_{count}"
    return candidate
