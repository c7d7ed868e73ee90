"""Layers mirroring ``keras.layers``: each builds a plain ``torch.nn`` module."""

from nnkit.layers.base import LAYERS, LayerSpec
from nnkit.layers.core import Activation, Dense, Dropout, Flatten, Input, InputLayer, Reshape

Layer = LayerSpec

__all__ = ["LAYERS", "Activation", "Dense", "Dropout", "Flatten", "Input", "InputLayer", "Layer",
           "LayerSpec", "Reshape", "get"]


def get(identifier):
    """A layer from an instance or a ``{"class_name": ..., "config": {...}}`` dict."""
    if isinstance(identifier, LayerSpec):
        return identifier
    from nnkit.errors import ConfigError

    if isinstance(identifier, dict) and "class_name" in identifier:
        return LAYERS.get(identifier["class_name"]).from_config(identifier.get("config", {}))
    raise ConfigError(f"Expected a layer or a {{'class_name', 'config'}} dict. Received: {identifier!r}.")
