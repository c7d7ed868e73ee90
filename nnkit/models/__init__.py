"""Models mirroring ``keras.models``: ``Model`` (functional), ``Sequential``, ``clone_model``, ``load_model``,
``save_model``, ``model_from_json``."""

from __future__ import annotations

import json
from typing import Any

from nnkit.errors import ConfigError
from nnkit.models.cloning import clone_model
from nnkit.models.functional import Functional
from nnkit.models.model import Model
from nnkit.models.sequential import Sequential
from nnkit.saving import load_model, save_model


def model_from_json(json_string: str, custom_objects: dict[str, Any] | None = None,
                    safe_mode: bool = True) -> Sequential:
    """Rebuild an untrained model from ``model.to_json()`` output (``safe_mode=False`` lets stored
    lambdas run: trusted text only).

    Raises:
        ConfigError: the text is not JSON of an nnkit model, or names an unknown layer or custom object.
    """
    try:
        document = json.loads(json_string)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"model_from_json expects the text of model.to_json(); it is not JSON ({exc}).") from exc
    classes = {"Sequential": Sequential, "Functional": Functional, "Model": Functional}
    if not isinstance(document, dict) or document.get("class_name") not in classes:
        raise ConfigError("model_from_json expects {'class_name': 'Sequential' or 'Functional', 'config': {...}} as "
                          f"written by model.to_json(). Received: {str(document)[:200]}.")
    return classes[document["class_name"]].from_config(document.get("config"), custom_objects=custom_objects,
                                                       safe_mode=safe_mode)


__all__ = ["Functional", "Model", "Sequential", "clone_model", "load_model", "model_from_json", "save_model"]
