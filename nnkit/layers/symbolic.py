"""Symbolic tensors and the graph they record: ``Input(shape=...)`` gives a :class:`KerasTensor`;
calling a layer on one records a :class:`Node` and returns the layer's symbolic outputs.

Nothing here computes: a functional model reads the recorded nodes and compiles them into one
plain ``torch.nn.Module`` (see :mod:`nnkit.models.graph`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch

from nnkit.errors import ConfigError

DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32,
          "float64": torch.float64, "int8": torch.int8, "int16": torch.int16, "int32": torch.int32,
          "int64": torch.int64, "uint8": torch.uint8, "bool": torch.bool, "complex64": torch.complex64,
          "complex128": torch.complex128}


class KerasTensor:
    """A symbolic tensor: a shape with ``None`` for unknown sizes (the batch axis first) and a dtype.

    Calling a layer on it records the call; arithmetic is done with layers (``layers.add([a, b])``).

    Attributes:
        shape: ``(None, *sample_shape)``.
        dtype: A dtype name such as ``'float32'``.
        name: The name of the ``Input`` it comes from, or of the layer that made it.
    """

    def __init__(self, shape: tuple[int | None, ...], dtype: str = "float32", name: str | None = None) -> None:
        self.shape = tuple(shape)
        self.dtype = dtype
        self.name = name
        self._keras_history: tuple[Any, int, int] | None = None  # (layer, node index, output index)

    @property
    def ndim(self) -> int:
        """Number of axes, batch axis included."""
        return len(self.shape)

    @property
    def sample_shape(self) -> tuple[int | None, ...]:
        """The shape without the batch axis."""
        return self.shape[1:]

    def __repr__(self) -> str:
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"

    def __bool__(self) -> bool:
        raise TypeError("A symbolic KerasTensor has no value, so it cannot be used in `if` or `and`/`or`. Build "
                        "the model first and call it on data.")

    def __iter__(self) -> Iterator[Any]:
        raise TypeError(f"A symbolic KerasTensor of shape {self.shape} cannot be iterated; slice or split it "
                        "with a layer (e.g. layers.Lambda) instead.")

    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("A symbolic KerasTensor (from keras.Input or a layer called on one) has no value to "
                        "convert to a NumPy array. Build a Model from it and call model.predict(data).")


class Node:
    """One call of a layer on symbolic tensors: its arguments and the tensors it returned.

    Attributes:
        layer: The layer that was called.
        args: The positional arguments, with KerasTensors in place.
        kwargs: The keyword arguments (other than ``training``), with KerasTensors in place.
        outputs: The output structure of KerasTensors.
    """

    def __init__(self, layer: Any, args: tuple[Any, ...], kwargs: dict[str, Any], outputs: Any) -> None:
        self.layer, self.args, self.kwargs, self.outputs = layer, args, kwargs, outputs
        self.input_tensors = flatten((args, kwargs))
        self.output_tensors = flatten(outputs)

    @property
    def parents(self) -> list[Node]:
        """The nodes that made this node's inputs."""
        return [t._keras_history[0]._inbound_nodes[t._keras_history[1]] for t in self.input_tensors
                if t._keras_history is not None]

    def __repr__(self) -> str:
        return f"<Node {self.layer.name}: {[t.shape for t in self.input_tensors]} -> {[t.shape for t in self.output_tensors]}>"


def flatten(structure: Any) -> list[Any]:
    """The KerasTensors in a nested structure of lists, tuples and dicts, in order."""
    if isinstance(structure, KerasTensor):
        return [structure]
    if isinstance(structure, dict):
        return [t for value in structure.values() for t in flatten(value)]
    if isinstance(structure, (list, tuple)):
        return [t for value in structure for t in flatten(value)]
    return []


def map_structure(fn: Callable[[Any], Any], structure: Any) -> Any:
    """``structure`` with every leaf replaced by ``fn(leaf)`` (lists, tuples and dicts kept)."""
    if isinstance(structure, dict):
        return {key: map_structure(fn, value) for key, value in structure.items()}
    if isinstance(structure, (list, tuple)):
        return type(structure)(map_structure(fn, value) for value in structure)
    return fn(structure)


def is_symbolic(structure: Any) -> bool:
    """Whether a structure holds a KerasTensor."""
    if isinstance(structure, KerasTensor):
        return True
    if isinstance(structure, dict):
        return any(is_symbolic(v) for v in structure.values())
    if isinstance(structure, (list, tuple)):
        return any(is_symbolic(v) for v in structure)
    return False


def record(layer: Any, args: tuple[Any, ...], kwargs: dict[str, Any], output_shapes: Any, dtype: str) -> Any:
    """Record ``layer`` called on symbolic ``args``; return its symbolic outputs (one per output shape)."""
    index = len(layer._inbound_nodes)

    def make(shape: tuple[int | None, ...]) -> KerasTensor:
        return KerasTensor((None, *shape), dtype, name=layer.name)

    if isinstance(output_shapes, list):
        outputs: Any = [make(tuple(shape)) for shape in output_shapes]
    else:
        outputs = make(tuple(output_shapes))
    node = Node(layer, args, kwargs, outputs)
    for position, tensor in enumerate(node.output_tensors):
        tensor._keras_history = (layer, index, position)
    layer._inbound_nodes.append(node)
    return outputs


def topological_nodes(outputs: list[KerasTensor]) -> list[Node]:
    """Every node that the outputs depend on, each after the nodes it reads from."""
    ordered: list[Node] = []
    seen: set[int] = set()

    def visit(node: Node) -> None:
        stack = [(node, False)]
        while stack:
            current, expanded = stack.pop()
            if id(current) in seen:
                continue
            if expanded:
                seen.add(id(current))
                ordered.append(current)
                continue
            stack.append((current, True))
            stack.extend((parent, False) for parent in reversed(current.parents) if id(parent) not in seen)

    for tensor in outputs:
        if tensor._keras_history is not None:
            layer, index, _ = tensor._keras_history
            visit(layer._inbound_nodes[index])
    return ordered


#: Layers whose outputs keep an integer input dtype (Input, Identity); set by nnkit.layers.core.
PASS_DTYPE: tuple[type, ...] = ()


def call_layer(layer: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """A layer called on symbolic tensors: build it for their shapes (or infer its output shape when it is
    built), record the call as a node and return the symbolic outputs."""
    from nnkit.layers import calling

    shapes = map_structure(lambda t: t.sample_shape if isinstance(t, KerasTensor) else None,
                           args[0] if len(args) == 1 else list(args))
    output_shape = _attach(layer, shapes) if not layer.built else layer._infer_output_shape(shapes)
    output_shape = layer._symbolic_outputs(output_shape, kwargs)
    first = flatten(args[0])
    dtype = "float32" if layer.input_dtype is not None or not first else first[0].dtype
    if dtype.startswith(("int", "uint", "bool")) and layer.input_dtype is None and not isinstance(layer, PASS_DTYPE):
        dtype = "float32"
    return record(layer, args, kwargs, calling.output_structure(output_shape), dtype)


def _attach(layer: Any, shapes: Any) -> Any:
    from nnkit.layers import calling

    try:
        return layer.attach(shapes)
    except TypeError as exc:
        if calling.has_unknown(shapes):
            raise ConfigError(
                f"Layer '{layer.name}' ({type(layer).__name__}) needs to know every size of its input, but received "
                f"inputs of shape {calling.batch_shape(shapes)} with an unknown (None) size: {exc}. Give Input a "
                "fixed shape for this axis, or pool/flatten only after a layer that removes it."
            ) from None
        raise
