"""Fuzzing the config loader: random and mutated YAML/JSON only ever ends in an nnkit error or a valid run.

Each example goes through the whole validation (parse, schema, data, model build) but never trains, and
must leave the working folder empty: validation writes nothing.
"""

from __future__ import annotations

import copy
import json
import os

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnkit.errors import NnkitError
from nnkit.runs import parse_config_text, prepare, read_config, validate_config
from nnkit.utils import clear_session
from tests.runs.helpers import shipped_configs

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                             HealthCheck.function_scoped_fixture])

# Words a config is made of, so random documents reach deep into the schema, not only the top-level check.
WORDS = ["data", "model", "compile", "fit", "search", "output", "seed", "task", "dataset", "options", "path",
         "target", "test_size", "standardize", "rescale", "reshape", "limit", "name", "layers", "type", "units",
         "activation", "filters", "kernel_size", "rate", "optimizer", "loss", "metrics", "learning_rate", "epochs",
         "batch_size", "validation_split", "callbacks", "patience", "monitor", "params", "cv", "method", "dir",
         "Dense", "Conv2D", "LSTM", "Flatten", "Dropout", "relu", "softmax", "adam", "sgd", "mse", "accuracy",
         "sparse_categorical_crossentropy", "binary_crossentropy", "EarlyStopping", "iris", "digits", "sine", "wine",
         "diabetes", "breast_cancer", "moons", "grid", "random", "model.layers[0].units", "fit.batch_size"]

# Bounded numbers (a fuzzer must not ask a dataset for a billion samples), plus values far beyond memory,
# which must be refused rather than allocated.
NUMBERS = st.one_of(st.integers(-10, 3000), st.floats(-10, 10), st.sampled_from([float("nan"), float("inf"), -float("inf")]),
                    st.sampled_from([0, 1, -1, 0.5, 1.0, 2**40, -(2**40), 1e300]))
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, st.sampled_from(WORDS), st.text(max_size=12))
KEYS = st.one_of(st.sampled_from(WORDS), st.text(max_size=8))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(KEYS, inner, max_size=5)), max_leaves=25)
DOCUMENTS = st.dictionaries(st.sampled_from(["data", "model", "compile", "fit", "search", "output", "seed", "task",
                                             "x"]), VALUES, max_size=6)


def validate_text(text: str, json_format: bool) -> str:
    """Parse and validate ``text`` up to (not including) training; ``'valid'`` or ``'nnkit error'``.

    Any exception that is not an nnkit error propagates and fails the test.
    """
    clear_session()
    try:
        config = validate_config(parse_config_text(text, "fuzz", json_format=json_format))
        prepare(config, validated=True)
    except NnkitError:
        return "nnkit error"
    return "valid"


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def dump(value, as_json: bool) -> str:
    return json.dumps(value) if as_json else yaml.safe_dump(value)


@SETTINGS
@given(text=st.text(max_size=200), as_json=st.booleans())
def test_random_text(text, as_json, workdir):
    validate_text(text, as_json)
    assert os.listdir(workdir) == []


@SETTINGS
@given(text=st.lists(st.sampled_from([*WORDS, ":", " ", "\n", "  ", "- ", "[", "]", "{", "}", ",", "&a", "*a", "!!",
                                      "!!python/object:os.system", "'", '"', "#", "|", ">", "1e-3", ".inf", "~"]),
                     max_size=60).map("".join))
def test_yamlish_token_soup(text, workdir):
    validate_text(text, False)
    assert os.listdir(workdir) == []


@SETTINGS
@given(document=DOCUMENTS, as_json=st.booleans())
def test_random_structures(document, as_json, workdir):
    validate_text(dump(document, as_json), as_json)
    assert os.listdir(workdir) == []


def _paths(value, prefix=()):
    """Every (path, value) inside a nested dict/list."""
    yield prefix, value
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _paths(child, (*prefix, i))


def _mutate(config, path, operation, replacement):
    """Delete the value at ``path``, replace it, or (for lists) duplicate or drop an item."""
    if not path:
        return replacement if operation == "replace" else config
    parent = config
    for part in path[:-1]:
        parent = parent[part]
    key = path[-1]
    if operation == "delete":
        del parent[key]
    elif operation == "duplicate" and isinstance(parent, list):
        parent.insert(key, copy.deepcopy(parent[key]))
    else:
        parent[key] = replacement
    return config


RAW = {os.path.basename(path): read_config(path) for path in shipped_configs()}


@SETTINGS
@given(name=st.sampled_from(sorted(RAW)), data=st.data(), as_json=st.booleans())
def test_mutated_shipped_configs(name, data, as_json, workdir):
    config = copy.deepcopy(RAW[name])
    config.setdefault("data", {})["limit"] = 120  # keep the valid outcomes cheap to build
    for _ in range(data.draw(st.integers(1, 3))):
        paths = [path for path, _ in _paths(config)]
        path = data.draw(st.sampled_from(paths))
        operation = data.draw(st.sampled_from(["delete", "replace", "replace", "duplicate"]))
        replacement = data.draw(VALUES)
        config = _mutate(config, path, operation, replacement)
    validate_text(dump(config, as_json), as_json)
    assert os.listdir(workdir) == []


def test_every_unmutated_config_is_valid(workdir):
    for name, config in RAW.items():
        config = copy.deepcopy(config)
        config["data"]["limit"] = 120
        assert validate_text(dump(config, False), False) == "valid", name


def _layer_arguments() -> dict[str, list[str]]:
    from nnkit.layers.base import LAYERS, Layer
    from nnkit.runs.specs import accepted_arguments

    skip = ("lambda", "torch_module", "input_layer")  # they take Python objects, which a config cannot hold
    return {name: sorted(arg for arg in accepted_arguments(LAYERS.get(name).__init__, Layer._BASE_ARGS)[0]
                         if arg not in ("name", "dtype", "batch_input_shape", "batch_size"))
            for name in LAYERS.names() if name not in skip}


LAYER_ARGUMENTS = _layer_arguments()
LAYER_VALUES = st.one_of(st.integers(-3, 40), st.sampled_from([
    None, True, False, "same", "valid", "causal", "relu", "softmax", "channels_first", "concat", 0.5, 1.5, -0.5, [2, 2],
    [1, 2, 3], [], [[1, 1], [1, 1]], {"type": "LSTM", "units": 3}, {"type": "Dense", "units": 2}, 2**40]))


@st.composite
def layer_entries(draw):
    kind = draw(st.sampled_from(sorted(LAYER_ARGUMENTS)))
    names = draw(st.lists(st.sampled_from(LAYER_ARGUMENTS[kind]), max_size=4, unique=True)) if LAYER_ARGUMENTS[kind] \
        else []
    return {"type": kind, **{name: draw(LAYER_VALUES) for name in names}}


@SETTINGS
@given(layers=st.lists(layer_entries(), min_size=1, max_size=4), data=st.sampled_from([
    {"dataset": "iris"}, {"dataset": "digits", "reshape": [8, 8, 1], "limit": 100},
    {"dataset": "sine", "options": {"n_samples": 60, "timesteps": 6}}]), head=st.booleans())
def test_random_layer_stacks(layers, data, head, workdir):
    loss = "mse" if data["dataset"] == "sine" else "sparse_categorical_crossentropy"
    if head:  # end in an output layer that fits the data, so more stacks get as far as running
        units = {"sine": 1, "iris": 3, "digits": 10}[data["dataset"]]
        layers = [*layers, "Flatten", {"type": "Dense", "units": units, "activation": None if units == 1 else "softmax"}]
    config = {"data": data, "model": {"layers": layers}, "compile": {"loss": loss}, "fit": {"epochs": 1}}
    validate_text(json.dumps(config), True)
    assert os.listdir(workdir) == []
