"""Configs of non-sequential models: ``inputs:`` wires layers into a graph, checked like every other field."""

from __future__ import annotations

import numpy as np
import pytest

from nnkit.errors import ConfigError
from nnkit.models import Functional, Sequential
from nnkit.runs import prepare
from tests.runs.helpers import iris

WIDE_AND_DEEP = [
    {"type": "Dense", "units": 8, "activation": "relu", "name": "deep_1"},
    {"type": "Dense", "units": 4, "activation": "relu", "name": "deep_2"},
    {"type": "Concatenate", "name": "joined", "inputs": ["input", "deep_2"]},
    {"type": "Dense", "units": 3, "activation": "softmax", "name": "out"},
]


def test_inputs_wire_a_functional_model_behind_the_preprocessing():
    run = prepare(iris(model={"name": "wide", "layers": WIDE_AND_DEEP}))
    model = run.model
    assert isinstance(model, Functional) and model.name == "wide"
    joined = model.get_layer("joined")
    sources = [t._keras_history[0].name for t in joined._inbound_nodes[0].input_tensors]
    assert sources == ["input_normalization", "deep_2"]  # `input` is the features after standardization
    assert joined.output.shape == (None, 4 + 4)
    x = run.data.x_train[:5].astype("float32")
    normalized = model.get_layer("input_normalization")(x)
    deep = model.get_layer("deep_2")(model.get_layer("deep_1")(normalized))
    expected = model.get_layer("out")(np.concatenate([normalized.detach(), deep.detach()], axis=1))
    np.testing.assert_allclose(model.predict(x, verbose=0), expected.detach().numpy(), rtol=1e-5, atol=1e-6)
    history = model.fit(run.data.x_train, run.data.y_train, epochs=2, verbose=0)
    assert list(history.history) == ["accuracy", "loss"]


def test_a_config_without_inputs_stays_sequential():
    assert isinstance(prepare(iris()).model, Sequential)


@pytest.mark.parametrize(("inputs", "message"), [
    ("deep1", r"'deep1' is not the model 'input' or an earlier layer's name\. Did you mean 'deep_1'\?"),
    ("out", r"'out' is not .*a layer can only read layers listed before it"),
    (["input", 3], r"expected a layer name or a list of them"),
    ([], r"expected a layer name or a list of them"),
])
def test_bad_inputs_are_refused_with_the_field_path(inputs, message):
    layers = [dict(entry) for entry in WIDE_AND_DEEP]
    layers[2]["inputs"] = inputs
    with pytest.raises(ConfigError, match=r"model\.layers\[2\]\.inputs: " + message):
        prepare(iris(model={"name": "wide", "layers": layers}))


def test_a_merge_of_mismatched_shapes_names_the_layer():
    layers = [{"type": "Dense", "units": 8, "name": "a"}, {"type": "Dense", "units": 5, "name": "b", "inputs": "input"},
              {"type": "Add", "inputs": ["a", "b"]}, {"type": "Dense", "units": 3, "activation": "softmax"}]
    with pytest.raises(ConfigError, match=r"model\.layers\[2\].*same shape"):
        prepare(iris(model={"name": "bad", "layers": layers}))
