"""Sequential: a stack of layer specs built into a plain ``torch.nn.Sequential``: structure, building,
weights, configs and saving. The training API (``compile``/``fit``/...) is :class:`~nnkit.models.trainer.Trainer`."""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from nnkit import config
from nnkit.errors import ConfigError, NotReadyError
from nnkit.layers.base import LAYERS, LayerSpec, Shape
from nnkit.layers.containers import MaskedSequential, MoveChannels
from nnkit.layers.core import InputLayer
from nnkit.layers.utility import TorchModule
from nnkit.models.trainer import Trainer
from nnkit.utils.naming import unique_name


class Sequential(Trainer):
    """A linear stack of layers, Keras style, holding a plain ``torch.nn.Sequential``.

    Args:
        layers: Layers to add in order (an ``Input`` may come first).
        name: Model name; ``sequential``, ``sequential_1`` ... by default.

    Example:
        >>> model = Sequential([Dense(64, activation="relu", input_dim=20), Dense(10, activation="softmax")])
        >>> model.compile(loss="categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
        >>> history = model.fit(x, y, epochs=10, batch_size=32)  # doctest: +SKIP
    """

    def __init__(self, layers: Iterable[LayerSpec] | None = None, name: str | None = None,
                 trainable: bool = True) -> None:
        self.name = name or unique_name("sequential")
        self._layers: list[LayerSpec] = []
        self._module: nn.Sequential | None = None
        self._input_shape: Shape | None = None
        self.device = config.default_device()
        super().__init__()
        for layer in layers or []:
            self.add(layer)
        if not trainable:
            self.trainable = False

    # -- structure ------------------------------------------------------------------------------
    def add(self, layer: LayerSpec | nn.Module) -> None:
        """Append a layer (an ``Input`` is only allowed first); a ``torch.nn.Module`` becomes a
        :class:`~nnkit.layers.TorchModule` layer."""
        if isinstance(layer, nn.Module):
            layer = TorchModule(layer)
        if not isinstance(layer, LayerSpec):
            raise TypeError(f"Sequential.add expects an nnkit layer such as Dense(10). Received: {layer!r}.")
        if isinstance(layer, InputLayer) and self._layers:
            raise ConfigError("An Input layer can only be the first layer of a Sequential model.")
        if any(existing.name == layer.name for existing in self._layers):
            raise ConfigError(
                f"Sequential '{self.name}' already has a layer named '{layer.name}'; layer names must be unique."
            )
        self._layers.append(layer)
        self._invalidate()

    def pop(self) -> LayerSpec:
        """Remove and return the last layer."""
        if not self.layers:
            raise ConfigError(f"Sequential '{self.name}' has no layers to pop.")
        layer = self._layers.pop()
        self._invalidate()
        return layer

    @property
    def layers(self) -> list[LayerSpec]:
        """The layers, without the ``Input`` declaration (as in Keras)."""
        return [layer for layer in self._layers if not isinstance(layer, InputLayer)]

    def _invalidate(self) -> None:
        self._module, self._loop = None, None

    def _first_layer(self) -> LayerSpec | None:
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
            raise NotReadyError(
                f"Sequential '{self.name}' does not know its input shape yet. Give the first layer "
                "input_shape=... or input_dim=..., start with Input(shape=...), call model.build((None, "
                "n_features)), or fit it on data."
            )
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
        self._input_shape, self._loop = sample_shape, None

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

    def to(self, device: str | torch.device) -> Sequential:
        """Move the model, its optimizer state (moments) and its future data to ``device``."""
        self.device = torch.device(device)
        if self._module is not None:
            before = list(self._module.parameters())
            self._module.to(self.device)  # on some devices the parameters become new objects
            running = self.optimizer.torch_optimizer if self.optimizer is not None else None
            if running is not None:  # the same optimizer state over the moved parameters, on their device
                moved = dict(zip(map(id, before), self._module.parameters()))
                state = running.state_dict()
                self.optimizer.build([moved.get(id(p), p) for group in running.param_groups for p in group["params"]])
                self.optimizer.torch_optimizer.load_state_dict(state)
        self._loop, self._predict_cache = None, None
        return self

    def __call__(self, x: Any) -> Tensor:
        """Run the module on ``x`` (a tensor or array) and return a tensor."""
        tensor = x if isinstance(x, Tensor) else torch.as_tensor(np.asarray(x))
        module = self._ensure_built(tuple(tensor.shape[1:]))
        first = self._first_layer()
        return module(tensor.to(self.device, (first and first.input_dtype) or config.float_dtype()))

    # -- weights --------------------------------------------------------------------------------
    @property
    def weights(self) -> list[Tensor]:
        """All weights, layer by layer."""
        self._ensure_built()
        return [w for layer in self.layers for w in layer.weights]

    @property
    def trainable_weights(self) -> list[Tensor]:
        """Weights that training updates."""
        self._ensure_built()
        return [w for layer in self.layers for w in layer.trainable_weights]

    @property
    def non_trainable_weights(self) -> list[Tensor]:
        """Frozen weights and buffers."""
        self._ensure_built()
        return [w for layer in self.layers for w in layer.non_trainable_weights]

    @property
    def trainable(self) -> bool:
        """Whether any layer is trainable; setting it freezes or unfreezes every layer."""
        return any(layer.trainable for layer in self.layers)

    @trainable.setter
    def trainable(self, value: bool) -> None:
        for layer in self.layers:
            layer.trainable = value
        self._loop = None

    def get_weights(self) -> list[np.ndarray]:
        """All weights as NumPy arrays in Keras layout, layer by layer."""
        self._ensure_built()
        return [w for layer in self.layers for w in layer.get_weights()]

    def set_weights(self, weights: list[Any]) -> None:
        """Load weights in the order and layout of :meth:`get_weights` (Keras's order)."""
        self._ensure_built()
        counts = [len(layer.get_weights()) for layer in self.layers]  # Keras's arrays, not torch's tensors
        if len(weights) != sum(counts):
            raise ConfigError(f"Sequential '{self.name}' has {sum(counts)} weight arrays but received {len(weights)}.")
        start = 0
        for layer, count in zip(self.layers, counts):
            layer.set_weights(list(weights[start:start + count]))
            start += count

    def count_params(self) -> int:
        """Number of scalar weights, trainable or not (moving statistics included, as in Keras)."""
        self._ensure_built()
        return sum(layer.count_params() for layer in self.layers)

    def summary(self, line_length: int | None = None, print_fn: Callable[[str], Any] | None = None) -> None:
        """Print a Keras-style table of layers, output shapes and parameter counts."""
        from nnkit.models.summary import summary_text

        (print_fn or print)(summary_text(self, line_length or 72))

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
        layers = []
        for i, entry in enumerate(config["layers"]):
            if isinstance(entry, (LayerSpec, nn.Module)):
                layers.append(entry)
                continue
            if not isinstance(entry, dict) or not isinstance(entry.get("class_name"), str) \
                    or not isinstance(entry.get("config", {}), dict):
                raise ConfigError(f"layers[{i}] must be a dict with 'class_name' and 'config'. Received: {entry!r}.")
            if entry["class_name"] not in LAYERS:
                raise ConfigError(
                    f"layers[{i}]: unknown layer class '{entry['class_name']}'. "
                    + LAYERS._unknown_message(entry["class_name"]).split(". ", 1)[-1]
                    + " A custom layer is found through custom_objects={'" + entry["class_name"] + "': ...} or "
                    "@nnkit.saving.register_serializable() on its class."
                )
            layers.append(LAYERS.get(entry["class_name"]).from_config(entry.get("config", {})))
        name = config.get("name")
        return cls(layers, name=name if isinstance(name, str) else None)

    def get_build_config(self) -> dict[str, Any] | None:
        """``{"input_shape": [None, ...]}`` once built (what :meth:`build_from_config` needs), else ``None``."""
        return {"input_shape": [None, *self._input_shape]} if self.built else None

    def build_from_config(self, config: dict[str, Any]) -> None:
        """Build the model from :meth:`get_build_config` output."""
        self.build(tuple(config["input_shape"]))

    def save(self, filepath: str | os.PathLike[str], overwrite: bool = True, include_optimizer: bool = True) -> None:
        """Write the whole model to one file: architecture, compile settings, weights (safetensors),
        optimizer state and versions. Any name works (``model.keras`` too); the write is atomic.
        ``nnkit.models.load_model`` reads it back without running code from it.

        Raises:
            ConfigError: something in the model cannot be saved (the message says what and how to fix it).
        """
        from nnkit.saving import save_model

        save_model(self, filepath, overwrite=overwrite, include_optimizer=include_optimizer)

    def save_weights(self, filepath: str | os.PathLike[str], overwrite: bool = True) -> None:
        """Write only the weights (safetensors in an nnkit state file; the write is atomic)."""
        from nnkit.saving import save_weights

        save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath: str | os.PathLike[str], skip_mismatch: bool = False) -> None:
        """Load weights saved by :meth:`save_weights` or :meth:`save`, a plain safetensors file, or a torch
        ``state_dict`` in a ``.pt`` file (read with ``weights_only=True``)."""
        from nnkit.saving import load_weights

        load_weights(self, filepath, skip_mismatch=skip_mismatch)

    def to_json(self, **kwargs: Any) -> str:
        """The architecture as JSON (``json.dumps`` keyword arguments such as ``indent=2`` pass through);
        ``nnkit.models.model_from_json`` rebuilds it."""
        from nnkit.saving import serialize

        return json.dumps({"class_name": "Sequential", "config": serialize(self.get_config(), "model config",
                                                                             allow_bytecode=True)}, **kwargs)

    def __repr__(self) -> str:
        return f"Sequential(name={self.name!r}, layers={self.layers!r})"


def unique_child_name(children: dict[str, nn.Module], base: str) -> str:
    """``base``, or ``base_1``, ``base_2``... if a child already has that name."""
    name, count = base, 0
    while name in children:
        count += 1
        name = f"{base}_{count}"
    return name
