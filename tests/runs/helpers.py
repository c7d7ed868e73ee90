"""Small configs shared by the runs tests."""

from __future__ import annotations

import copy
import os
from typing import Any

CONFIGS = os.path.join(os.path.dirname(__file__), "..", "..", "configs")

IRIS: dict[str, Any] = {
    "seed": 0,
    "data": {"dataset": "iris", "standardize": True},
    "model": {"name": "iris", "layers": [{"type": "Dense", "units": 8, "activation": "relu"},
                                         {"type": "Dense", "units": 3, "activation": "softmax"}]},
    "compile": {"optimizer": {"type": "adam", "learning_rate": 0.01}, "loss": "sparse_categorical_crossentropy",
                "metrics": ["accuracy"]},
    "fit": {"epochs": 2, "batch_size": 16, "verbose": 0},
}


def iris(**sections: Any) -> dict[str, Any]:
    """A copy of the iris config with whole sections replaced or merged (``fit={"epochs": 3}``)."""
    config = copy.deepcopy(IRIS)
    for name, value in sections.items():
        if isinstance(value, dict) and isinstance(config.get(name), dict):
            config[name].update(value)
        else:
            config[name] = value
    return config


def shipped_configs() -> list[str]:
    """Every config file in configs/."""
    return sorted(os.path.join(CONFIGS, name) for name in os.listdir(CONFIGS) if name.endswith((".yaml", ".yml", ".json")))
