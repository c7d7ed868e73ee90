"""Sequential: a chain of layers, the simplest graph, compiled into a plain ``torch.nn.Sequential``
(one child per layer, an axis move where channels-first and channels-last layers meet). The model API
it shares with functional models is :class:`~nnkit.models.model.Model`."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from torch import nn

from nnkit.errors import ConfigError
from nnkit.layers.base import LAYERS, Layer, Shape
from nnkit.layers.containers import MaskedSequential, MoveChannels
from nnkit.layers.core import Input, InputLayer
from nnkit.layers.symbolic import KerasTensor
from nnkit.layers.utility import TorchModule
from nnkit.models.model import Model, require_input_shape
from nnkit.models.rebuilding import layer_from_entry


class Sequential(Model):
    """A linear stack of layers, Keras style, holding a plain ``torch.nn.Sequential``.

    Args:
        layers: Layers to add in order (an ``Input`` may come first).
        name: Model name; ``sequential``, ``sequential_1`` ... by default.

    Example:
        >>> model = Sequential([Dense(64, activation="relu", input_dim=20), Dense(10, activation="softmax")])
        >>> model.compile(loss="categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
        >>> history = model.fit(x, y, epochs=10, batch_size=32)  # doctest: +SKIP
    """

    _inputs_make_a_graph = False  # Sequential([Input(...), ...]) is a chain, not Model(inputs, outputs)

    def __init__(self, layers: Iterable[Layer] | None = None, name: str | None = None,
                 trainable: bool = True) -> None:
        super().__init__(name=name)
        self._layers: list[Layer] = []
        self._module: nn.Sequential | None = None
        self._input_shape: Shape | None = None
        for layer in layers or []:
            self.add(layer)
        if not trainable:
            self.trainable = False

    # -- structure ------------------------------------------------------------------------------
    def add(self, layer: Layer | nn.Module) -> None:
        """Append a layer (an ``Input`` is only allowed first); a ``torch.nn.Module`` becomes a
        :class:`~nnkit.layers.TorchModule` layer."""
        if isinstance(layer, KerasTensor) and isinstance(layer._keras_history[0], InputLayer):
            layer = layer._keras_history[0]  # Sequential([Input(shape=...), ...]), as in Keras
        if isinstance(layer, nn.Module) and not isinstance(layer, Layer):
            layer = TorchModule(layer)
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add expects an nnkit layer such as Dense(10). Received: {layer!r}.")
        if isinstance(layer, InputLayer) and self._layers:
            raise ConfigError("An Input layer can only be the first layer of a Sequential model.")
        if any(existing.name == layer.name for existing in self._layers):
            raise ConfigError(
                f"Sequential '{self.name}' already has a layer named '{layer.name}'; layer names must be unique."
            )
        self._layers.append(layer)
        self._invalidate()

    def pop(self) -> Layer:
        """Remove and return the last layer."""
        if not self.layers:
            raise ConfigError(f"Sequential '{self.name}' has no layers to pop.")
        layer = self._layers.pop()
        self._invalidate()
        return layer

    @property
    def layers(self) -> list[Layer]:
        """The layers, without the ``Input`` declaration (as in Keras)."""
        return [layer for layer in self._layers if not isinstance(layer, InputLayer)]

    def _invalidate(self) -> None:
        self._module, self._loop, self._graph_ends = None, None, None

    def _first_layer(self) -> Layer | None:
        """The layer that reads ``x``: it sets the input dtype and checks the data once."""
        layers = self.layers
        return layers[0] if layers else None

    def _declared_input_shape(self) -> Shape | None:
        return self._layers[0].declared_input_shape if self._layers else None

    # -- building -------------------------------------------------------------------------------
    def build(self, input_shape: Shape | None = None) -> None:
        """Build the torch module for inputs of ``input_shape`` (Keras style, with the batch axis:
        ``(None, 20)``); without it, the declared input shape is used."""
        if input_shape is not None:
            shape = tuple(input_shape)[1:]
        else:
            shape = self._input_shape or self._declared_input_shape()
        if shape is None:
            require_input_shape(self)
        if not self.layers:
            raise ConfigError(f"Sequential '{self.name}' has no layers; add some before building it.")
        if self._module is None or tuple(shape) != self._input_shape:
            self._build(tuple(shape))

    def _build(self, sample_shape: Shape) -> None:
        children: OrderedDict[str, nn.Module] = OrderedDict()
        shape, torch_layout = sample_shape, False
        for layer in self._layers:
            output_shape = layer.attach(shape)
            if isinstance(layer, InputLayer):
                continue
            if len(shape) >= 2 and layer.layout != "any" and (layer.layout == "torch") != torch_layout:
                torch_layout = layer.layout == "torch"
                children[unique_child_name(children, "to_channels_" + ("first" if torch_layout else "last"))] = (
                    MoveChannels(to_first=torch_layout))
            children[layer.name.replace(".", "_")] = layer.module
            if len(output_shape) < 2:
                torch_layout = False
            shape = output_shape
        if torch_layout:
            children[unique_child_name(children, "to_channels_last")] = MoveChannels(to_first=False)
        container = MaskedSequential if any(layer.produces_mask for layer in self.layers) else nn.Sequential
        self._module = container(children).to(self.device)
        self._input_shape, self._loop, self._graph_ends = sample_shape, None, None

    @property
    def built(self) -> bool:
        """Whether the torch module exists."""
        return self._module is not None

    def _ensure_built(self, sample_shape: Shape | None = None) -> nn.Sequential:
        if self._module is None:
            if self._input_shape is None and self._declared_input_shape() is None and sample_shape is not None:
                self._build(tuple(sample_shape))
            else:
                self.build()
        return self._module  # type: ignore[return-value]

    @property
    def module(self) -> nn.Sequential:
        """The model as a plain ``torch.nn.Sequential`` (one child per layer), built on first use."""
        return self._ensure_built()

    @property
    def input_shape(self) -> tuple[int | None, ...]:
        """``(None, *sample_shape)``."""
        self._ensure_built()
        return (None, *self._input_shape)  # type: ignore[misc]

    @property
    def output_shape(self) -> tuple[int | None, ...]:
        """``(None, *output_sample_shape)``."""
        self._ensure_built()
        return (None, *self.layers[-1].output_shape)  # type: ignore[misc]

    @property
    def inputs(self) -> list[KerasTensor]:
        """The model's symbolic input once built, ``[Input]``: the layers called on it record the chain as a
        graph, so ``Model(seq.inputs, seq.get_layer(name).output)`` extracts features, as in Keras."""
        return [self._symbolic()[0]]

    @property
    def outputs(self) -> list[KerasTensor]:
        """The model's symbolic output once built, ``[tensor]``."""
        return [self._symbolic()[1]]

    @property
    def input(self) -> KerasTensor:
        """The symbolic input (see :attr:`inputs`)."""
        return self._symbolic()[0]

    @property
    def output(self) -> KerasTensor:
        """The symbolic output (see :attr:`inputs`)."""
        return self._symbolic()[1]

    def _symbolic(self) -> tuple[KerasTensor, KerasTensor]:
        self._ensure_built()
        if self.__dict__.get("_graph_ends") is None:
            first = self._layers[0] if self._layers and isinstance(self._layers[0], InputLayer) else None
            source = first.output if first is not None else Input(shape=self._input_shape)
            tensor = source
            for layer in self.layers:
                tensor = layer(tensor)
            self._graph_ends = (source, tensor)
        return self._graph_ends

    @property
    def _output_sample_shape(self) -> Shape:
        self._ensure_built()
        return self.layers[-1].output_shape

    @property
    def trainable(self) -> bool:
        """Whether any layer is trainable; setting it freezes or unfreezes every layer."""
        return any(layer.trainable for layer in self.layers)

    @trainable.setter
    def trainable(self, value: bool) -> None:
        for layer in self.layers:
            layer.trainable = value
        self._loop = None

    # -- config and saving -----------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """``{"name": ..., "layers": [{"class_name": ..., "config": ...}, ...]}``."""
        return {"name": self.name,
                "layers": [{"class_name": type(layer).__name__, "config": layer.get_config()} for layer in self._layers]}

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: dict[str, Any] | None = None,
                    safe_mode: bool = True) -> Sequential:
        """Rebuild an (untrained) model from :meth:`get_config` output or its JSON form (``custom_objects``
        names custom layers and functions; ``safe_mode=False`` lets stored lambdas run; see :mod:`nnkit.saving`)."""
        from nnkit.saving import custom_object_scope, deserialize

        if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
            raise ConfigError(f"A Sequential config must be a dict with a 'layers' list. Received: {config!r}.")
        with custom_object_scope(custom_objects):
            config = deserialize(config, safe_mode)
        layers = [entry if isinstance(entry, nn.Module) and not isinstance(entry, Layer)
                  else layer_from_entry(entry, f"layers[{i}]") for i, entry in enumerate(config["layers"])]
        name = config.get("name")
        return cls(layers, name=name if isinstance(name, str) else None)

    def get_build_config(self) -> dict[str, Any] | None:
        """``{"input_shape": [None, ...]}`` once built (what :meth:`build_from_config` needs), else ``None``."""
        return {"input_shape": [None, *self._input_shape]} if self.built else None

    def build_from_config(self, config: dict[str, Any]) -> None:
        """Build the model from :meth:`get_build_config` output."""
        self.build(tuple(config["input_shape"]))

def unique_child_name(children: dict[str, nn.Module], base: str) -> str:
    """``base``, or ``base_1``, ``base_2``... if a child already has that name."""
    name, count = base, 0
    while name in children:
        count += 1
        name = f"{base}_{count}"
    return name


LAYERS.register("sequential", aliases=("Sequential",))(Sequential)
