"""A recorded graph of layer calls compiled into one plain ``torch.fx.GraphModule``.

The module's ``forward`` is ordinary generated Python that calls each layer's torch module in order, so
running a functional model costs what its layers cost: no interpretation of the graph per call. Where a
channels-first module (convolutions, pooling) meets a channels-last one, one axis move is inserted, as
Sequential does; inputs and outputs are channels-last, as in Keras.
"""

from __future__ import annotations

import operator
from functools import partial
from typing import Any

import torch
from torch import fx, nn

from nnkit.errors import ConfigError
from nnkit.layers.symbolic import KerasTensor, Node, map_structure


class _Value:
    """A tensor of the graph being compiled: its fx node, its rank and the layout it is in."""

    def __init__(self, node: fx.Node, ndim: int, layout: str) -> None:
        self.node, self.ndim, self.layout = node, ndim, layout

    def moved(self, graph: fx.Graph, layout: str) -> _Value:
        """This value in ``layout`` (``'keras'`` or ``'torch'``): the same node, or one axis move."""
        if self.layout == layout or self.ndim < 3:
            return self
        source, destination = (-1, 1) if layout == "torch" else (1, -1)
        return _Value(graph.call_function(torch.movedim, (self.node, source, destination)), self.ndim, layout)


def compile_graph(inputs: list[KerasTensor], outputs: list[KerasTensor], nodes: list[Node],
                  class_name: str = "GraphModule") -> fx.GraphModule:
    """One module computing ``outputs`` from ``inputs`` (positional arguments, in order) through ``nodes``.

    It returns one tensor for one output, else a tuple in the order of ``outputs``.
    """
    root = nn.Module()
    graph = fx.Graph()
    values: dict[int, _Value] = {}
    for tensor in inputs:
        placeholder = graph.placeholder(_identifier(tensor.name or "input", graph))
        values[id(tensor)] = _Value(placeholder, tensor.ndim, "keras")
    targets: dict[int, str] = {}
    for node in nodes:
        layer = node.layer
        if not node.input_tensors:  # an InputLayer: its output is a placeholder
            continue
        layout = _layout_of(layer, [values[id(t)] for t in node.input_tensors])
        args, kwargs = map_structure(partial(_argument, values=values, graph=graph, layout=layout),
                                     (node.args, node.kwargs))
        if id(layer) not in targets:  # a shared layer is one submodule, called once per node
            targets[id(layer)] = _unique_child(root, layer.name)
            root.add_module(targets[id(layer)], layer.module)
        result = graph.call_module(targets[id(layer)], tuple(args), kwargs)
        produced = node.output_tensors
        if len(produced) == 1 and not isinstance(node.outputs, list):
            values[id(produced[0])] = _Value(result, produced[0].ndim, layout)
        else:
            for position, tensor in enumerate(produced):
                item = graph.call_function(operator.getitem, (result, position))
                values[id(tensor)] = _Value(item, tensor.ndim, layout)
    results = [values[id(t)].moved(graph, "keras").node for t in outputs]
    graph.output(results[0] if len(results) == 1 else tuple(results))
    graph.lint()
    return fx.GraphModule(root, graph, class_name=class_name)


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


def _identifier(name: str, graph: fx.Graph) -> str:
    cleaned = "".join(c if c.isalnum() or c == "_" else "_" for c in name) or "input"
    return cleaned if not cleaned[0].isdigit() else f"input_{cleaned}"


def _unique_child(root: nn.Module, name: str) -> str:
    base = name.replace(".", "_")
    candidate, count = base, 0
    while hasattr(root, candidate):
        count += 1
        candidate = f"{base}_{count}"
    return candidate
