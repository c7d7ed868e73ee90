"""Functional models: ``Model(inputs, outputs)`` over a graph of layer calls recorded on symbolic tensors.

The graph is checked when the model is made (every output computed from the given inputs, every input
used) and compiled once into a ``torch.fx.GraphModule`` (:mod:`nnkit.models.graph`): ``model.module``
is a plain torch module whose ``forward(*inputs)`` returns one tensor or a tuple.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from nnkit.errors import ConfigError, DataError
from nnkit.layers.base import LAYERS, Layer, Shape
from nnkit.layers.core import InputLayer
from nnkit.layers.symbolic import DTYPES, KerasTensor, Node, flatten, topological_nodes
from nnkit.models.graph import compile_graph
from nnkit.models.model import Model
from nnkit.models.subgraph import cut_graph, is_input_tensor


class Functional(Model):
    """A model made of layers called on symbolic tensors: ``Model(inputs, outputs, name=None)``.

    Args:
        inputs: The input tensor(s): one, a list, or a dict by name. ``Input`` tensors, or tensors that
            layers made: the model then starts there and shares the layers after them (a sub-model).
        outputs: The output tensor(s) computed from them: one, a list, or a dict by name.
        name: The model's name.
    """

    def __init__(self, inputs: Any, outputs: Any, name: str | None = None, trainable: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(name=name, trainable=trainable)
        if kwargs:
            raise TypeError(f"Model got unexpected keyword arguments: {', '.join(kwargs)}.")
        self._input_struct = _structure(inputs, "inputs")
        self._output_struct = _structure(outputs, "outputs")
        if not all(is_input_tensor(t) for t in flatten(self._input_struct)):  # a sub-model of a larger graph
            self._input_struct, self._output_struct = cut_graph(self._input_struct, self._output_struct, self.name)
        self.inputs: list[KerasTensor] = flatten(self._input_struct)
        self.outputs: list[KerasTensor] = flatten(self._output_struct)
        self._nodes: list[Node] = topological_nodes(self.outputs)
        self._check_connected()
        self._layers: list[Layer] = []
        for node in self._nodes:
            if all(node.layer is not known for known in self._layers):
                self._layers.append(node.layer)
        names = [layer.name for layer in self._layers]
        duplicate = next((n for n in names if names.count(n) > 1), None)
        if duplicate is not None:
            raise ConfigError(f"Model '{self.name}' has two different layers named '{duplicate}'; layer names must "
                              "be unique within a model. Pass name=... to one of them.")
        self._graph_module: nn.Module = compile_graph(self.inputs, self.outputs, self._nodes).to(self.device)

    def _check_connected(self) -> None:
        given = {id(t._keras_history[0]) for t in self.inputs}
        reached = {id(node.layer) for node in self._nodes if isinstance(node.layer, InputLayer)}
        for node in self._nodes:
            if isinstance(node.layer, InputLayer) and id(node.layer) not in given:
                source = node.output_tensors[0]
                raise ConfigError(
                    f"Model '{self.name}': the outputs depend on Input '{node.layer.name}' of shape {source.shape}, "
                    "which is not among the model's inputs. Add it to inputs=[...]."
                )
        for tensor in self.inputs:
            if id(tensor._keras_history[0]) not in reached:
                raise ConfigError(
                    f"Model '{self.name}': input '{tensor.name}' of shape {tensor.shape} is not used to compute any "
                    "output. Remove it from inputs, or connect it to the outputs."
                )

    # -- structure ---------------------------------------------------------------------------------
    @property
    def layers(self) -> list[Layer]:
        """Every layer of the graph in the order it runs, ``InputLayer`` s included (as in Keras)."""
        return list(self._layers)

    def _weight_layers(self) -> list[Layer]:
        return [layer for layer in self._layers if not isinstance(layer, InputLayer)]

    def _is_graph(self) -> bool:
        return True

    def _io_counts(self) -> tuple[int, int]:
        return len(self.inputs), len(self.outputs)

    @property
    def input(self) -> Any:
        """The model's inputs in the structure they were given (one tensor, a list or a dict)."""
        return self._input_struct

    @property
    def output(self) -> Any:
        """The model's outputs in the structure they were given."""
        return self._output_struct

    @property
    def input_names(self) -> list[str]:
        """The names of the inputs (keys of ``x`` given as a dict)."""
        return [t._keras_history[0].name for t in self.inputs]

    @property
    def output_names(self) -> list[str]:
        """The names of the outputs (keys of ``y``, ``loss`` and ``metrics`` given as dicts): the
        dict keys of ``outputs`` when it is a dict, else the names of the layers that make them."""
        if isinstance(self._output_struct, dict):
            return list(self._output_struct)
        return [t._keras_history[0].name for t in self.outputs]

    def _first_layer(self) -> Layer | None:
        """The one layer reading the single input (it sets the input dtype and checks data), if there is one."""
        if len(self.inputs) != 1:
            return None
        source = self.inputs[0]
        readers = [node.layer for node in self._nodes if any(t is source for t in node.input_tensors)]
        return readers[0] if len(readers) == 1 and readers[0].input_dtype is not None else None

    @property
    def input_dtype(self) -> torch.dtype | None:  # type: ignore[override]
        """The dtype data is converted to: an integer ``Input``'s own (token ids), else the first layer's."""
        if len(self.inputs) == 1 and self.inputs[0].dtype.startswith(("int", "uint")):
            return DTYPES[self.inputs[0].dtype]
        first = self._first_layer()
        return None if first is None else first.input_dtype

    def _declared_input_shape(self) -> Shape | None:
        return self.inputs[0].sample_shape if len(self.inputs) == 1 else None

    # -- building ----------------------------------------------------------------------------------
    @property
    def built(self) -> bool:
        return True

    def build(self, input_shape: Any = None) -> None:
        """A functional model is built when it is made; this checks ``input_shape`` against its inputs."""
        if input_shape is not None:
            self._ensure_built(_strip_batch(input_shape))

    def _ensure_built(self, sample_shape: Any = None) -> nn.Module:
        if sample_shape is not None:
            expected = [t.sample_shape for t in self.inputs]
            several = isinstance(sample_shape, list) or (
                isinstance(sample_shape, tuple) and bool(sample_shape) and isinstance(sample_shape[0], tuple))
            received = list(sample_shape) if several else [sample_shape]
            if len(received) != len(expected) or any(
                    len(r) != len(e) or any(a is not None and b is not None and a != b for a, b in zip(r, e))
                    for r, e in zip(received, expected)):
                raise DataError(f"Model '{self.name}' takes inputs of shape "
                                  f"{', '.join(str(t.shape) for t in self.inputs)} but received inputs of shape "
                                  f"{', '.join(str((None, *r)) for r in received)}.")
        return self._graph_module

    @property
    def _input_shape(self) -> Shape:
        return self.inputs[0].sample_shape

    @property
    def _output_sample_shape(self) -> Any:
        shapes = [t.sample_shape for t in self.outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def input_shape(self) -> Any:
        """``(None, *sample_shape)``, or a list of them for several inputs."""
        shapes = [t.shape for t in self.inputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self) -> Any:
        """``(None, *sample_shape)``, or a list of them for several outputs."""
        shapes = [t.shape for t in self.outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    def call(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        """Run the graph on data: one tensor, a list in input order, or a dict by input name; the result
        has the structure of ``outputs``."""
        ordered = self._ordered_inputs(inputs)
        result = super().call(ordered if len(ordered) > 1 else ordered[0])
        return self._structured_outputs(result)

    def _ordered_inputs(self, inputs: Any) -> list[Any]:
        if isinstance(inputs, dict):
            names = self.input_names
            unknown = [k for k in inputs if k not in names]
            missing = [n for n in names if n not in inputs]
            if unknown or missing:
                raise ConfigError(f"Model '{self.name}' takes inputs named {names}; received keys {list(inputs)}"
                                  + (f" (unknown: {unknown})" if unknown else "")
                                  + (f" (missing: {missing})" if missing else "") + ".")
            return [inputs[n] for n in names]
        ordered = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        if len(ordered) != len(self.inputs):
            raise ConfigError(f"Model '{self.name}' takes {len(self.inputs)} input(s) ({', '.join(self.input_names)}) "
                              f"but received {len(ordered)}.")
        return ordered

    def _structured_outputs(self, result: Any) -> Any:
        values = list(result) if isinstance(result, tuple) else [result]
        if isinstance(self._output_struct, dict):
            return dict(zip(self._output_struct, values))
        if isinstance(self._output_struct, (list, tuple)):
            return type(self._output_struct)(values)
        return values[0]

    def _build_for(self, inputs: Any) -> None:
        """Already built: check the data's shapes against the inputs."""
        ordered = self._ordered_inputs(inputs)
        self._ensure_built([tuple(t.shape[1:]) for t in ordered])

    # -- config ------------------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """Keras's functional config: the layers with the calls that feed them (``inbound_nodes``), and
        the input and output tensors as ``[layer name, node index, tensor index]``."""
        own = {id(node) for node in self._nodes}
        layers = []
        for layer in self._layers:
            nodes = [node for node in layer._inbound_nodes if id(node) in own]
            entry = {"class_name": type(layer).__name__, "config": layer.get_config(), "name": layer.name,
                     "inbound_nodes": [] if isinstance(layer, InputLayer) else [_node_config(n, own) for n in nodes]}
            layers.append(entry)
        return {"name": self.name, "trainable": self.trainable, "layers": layers,
                "input_layers": _tensor_refs(self._input_struct, self), "output_layers": _tensor_refs(
                    self._output_struct, self)}

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: dict[str, Any] | None = None,
                    safe_mode: bool = True) -> Functional:
        """Rebuild an (untrained) functional model from :meth:`get_config` output."""
        from nnkit.models.rebuilding import functional_from_config

        return functional_from_config(cls, config, custom_objects, safe_mode)

    def get_build_config(self) -> dict[str, Any] | None:
        return {"input_shape": self.input_shape}

    def build_from_config(self, config: dict[str, Any]) -> None:
        """Functional models are built from their config; nothing to do."""


def _structure(value: Any, what: str) -> Any:
    if isinstance(value, KerasTensor):
        return value
    if isinstance(value, dict) and value and all(isinstance(v, KerasTensor) for v in value.values()):
        return dict(value)
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, KerasTensor) for v in value):
        return list(value)
    raise ConfigError(f"Model {what} must be symbolic tensors (from keras.Input(...) and layers called on them): "
                      f"one, a list or a dict. Received: {value!r}.")


def _strip_batch(shape: Any) -> Any:
    if isinstance(shape, list) and shape and isinstance(shape[0], (list, tuple)):
        return [tuple(s)[1:] for s in shape]
    return tuple(shape)[1:]


def _node_ref(tensor: KerasTensor, own: set[int]) -> list[Any]:
    layer, index, position = tensor._keras_history
    nodes = [n for n in layer._inbound_nodes if isinstance(layer, InputLayer) or id(n) in own]
    return [layer.name, nodes.index(layer._inbound_nodes[index]), position]


def _node_config(node: Node, own: set[int]) -> dict[str, Any]:
    def encode(value: Any) -> Any:
        if isinstance(value, KerasTensor):
            return {"class_name": "__keras_tensor__",
                    "config": {"shape": list(value.shape), "dtype": value.dtype,
                               "keras_history": _node_ref(value, own)}}
        if isinstance(value, dict):
            return {k: encode(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [encode(v) for v in value]
        return value

    return {"args": encode(list(node.args)), "kwargs": encode(node.kwargs)}


def _tensor_refs(structure: Any, model: Functional) -> Any:
    own = {id(node) for node in model._nodes}
    if isinstance(structure, dict):
        return {k: _node_ref(v, own) for k, v in structure.items()}
    if isinstance(structure, list):
        return [_node_ref(v, own) for v in structure]
    return _node_ref(structure, own)


Functional.call._nnkit_builtin = True  # type: ignore[attr-defined]  # the library's own call, not a user's
LAYERS.register("functional", aliases=("Functional", "Model"))(Functional)
