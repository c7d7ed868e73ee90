"""The registry resolves Keras spellings and explains typos."""

from __future__ import annotations

import pytest

from nnkit.errors import ConfigError
from nnkit.registry import Registry, closest, snake_case


def test_snake_case_handles_acronyms():
    assert snake_case("MeanSquaredError") == "mean_squared_error"
    assert snake_case("KLDivergence") == "kl_divergence"
    assert snake_case("relu") == "relu"


def test_lookup_by_name_alias_case_and_camel_case():
    registry: Registry[int] = Registry("thing")
    registry.add("mean_squared_error", 1, aliases=("mse",))
    assert registry.get("mean_squared_error") == registry.get("mse") == registry.get("MSE") == 1
    assert registry.get("MeanSquaredError") == 1
    assert "mse" in registry and "nope" not in registry


def test_unknown_names_list_known_ones_and_suggest():
    registry: Registry[int] = Registry("optimizer")
    for name in ("adam", "adamax", "sgd"):
        registry.add(name, 0)
    with pytest.raises(ConfigError) as info:
        registry.get("adma")
    assert str(info.value) == "Unknown optimizer 'adma'. Did you mean 'adam'? Known optimizers: adam, adamax, sgd."
    with pytest.raises(ConfigError, match="as a string"):
        registry.get(3)
    assert closest("zzzzzz", ["adam", "sgd"]) is None
