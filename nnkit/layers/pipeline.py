"""Pipeline: a list of layers applied in order as one layer (``keras.layers.Pipeline``), typically a chain
of preprocessing and augmentation layers placed in front of a model."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from nnkit.errors import ConfigError
from nnkit.layers.base import LAYERS, Layer, Shape
from nnkit.layers.containers import MoveChannels
from nnkit.layers.image_preprocessing import ImageLayer


def _layer(entry: Any, where: str) -> Layer:
    """A layer, or one rebuilt from its ``{"class_name", "config"}`` form."""
    if isinstance(entry, Layer):
        return entry
    if isinstance(entry, dict) and isinstance(entry.get("class_name"), str) and entry["class_name"] in LAYERS:
        return LAYERS.get(entry["class_name"]).from_config(entry.get("config", {}))
    raise ConfigError(f"Pipeline expects layers (or their {{'class_name', 'config'}} forms); {where} is {entry!r}.")


@LAYERS.register("pipeline")
class Pipeline(Layer):
    """Applies ``layers`` one after the other, as one layer.

    Each layer keeps its own behaviour: augmentation layers act only while training, Rescaling and
    Resizing always. The pipeline's module chains the layers' modules (with one channel move wherever
    consecutive layers work in different layouts), so it costs what its layers cost.

    Args:
        layers: The layers, in order.

    Example:
        >>> augment = Pipeline([RandomFlip("horizontal"), RandomRotation(0.1), Rescaling(1 / 255)])  # doctest: +SKIP
        >>> model = Sequential([Input((32, 32, 3)), augment, Conv2D(16, 3)])  # doctest: +SKIP
    """

    def __init__(self, layers: list[Layer], name: str | None = None, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        if not isinstance(layers, (list, tuple)):
            raise ConfigError(f"Pipeline expects `layers` to be a list of layers. Received: {layers!r}.")
        self._pipeline_layers = [_layer(entry, f"layers[{i}]") for i, entry in enumerate(layers)]

    @property
    def layers(self) -> list[Layer]:
        """The layers, in order."""
        return list(self._pipeline_layers)

    def _build_for(self, inputs: Any) -> None:
        first = self._pipeline_layers[0] if self._pipeline_layers else None
        if isinstance(first, ImageLayer) and isinstance(inputs, Tensor) and inputs.ndim == 3:
            self.attach(tuple(inputs.shape))  # one image, called directly
            return
        super()._build_for(inputs)

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        children: list[nn.Module] = []
        shape, torch_layout = input_shape, False
        for layer in self._pipeline_layers:
            output_shape = layer.attach(shape)
            if len(shape) >= 2 and layer.layout != "any" and (layer.layout == "torch") != torch_layout:
                torch_layout = layer.layout == "torch"
                children.append(MoveChannels(to_first=torch_layout))
            children.append(layer.module)
            if len(output_shape) < 2:
                torch_layout = False
            shape = output_shape
        if torch_layout:
            children.append(MoveChannels(to_first=False))
        return nn.Sequential(*children), shape

    def get_config(self) -> dict[str, Any]:
        """``{"name": ..., "layers": [{"class_name": ..., "config": ...}, ...]}``, as Keras's."""
        return {"name": self.name, "layers": [{"class_name": type(layer).__name__, "config": layer.get_config()}
                                              for layer in self._pipeline_layers]}

    def __repr__(self) -> str:
        return f"Pipeline([{', '.join(repr(layer) for layer in self._pipeline_layers)}])"
