"""Saving and loading models, safely: ``keras.saving`` for nnkit.

``model.save(path)`` writes one file (architecture and compile settings as JSON, weights as safetensors,
optimizer state, metadata); :func:`load_model` reads it back without unpickling or running anything from
it. Custom classes and functions are found only through :func:`register_serializable` or
``custom_objects=``.
"""

from nnkit.saving.model_file import load_model, load_weights, save_model, save_weights
from nnkit.saving.object_registration import (
    custom_object_scope,
    get_custom_object,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_serializable,
)
from nnkit.saving.serialization import deserialize, serialize

CustomObjectScope = custom_object_scope
register_keras_serializable = register_serializable
serialize_keras_object = serialize
deserialize_keras_object = deserialize

__all__ = [
    "CustomObjectScope", "custom_object_scope", "deserialize", "deserialize_keras_object", "get_custom_object",
    "get_custom_objects", "get_registered_name", "get_registered_object", "load_model", "load_weights", "register_keras_serializable", "register_serializable",
    "save_model", "save_weights", "serialize", "serialize_keras_object",
]
