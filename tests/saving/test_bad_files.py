"""Hostile and damaged files: the loader ends every one in a clear nnkit error (DataError or ConfigError,
FileNotFoundError for a missing path), never runs code from the file, and a failed save leaves the old file."""

from __future__ import annotations

import base64
import copy
import json
import marshal
import os
import pickle
import sys
import zipfile
from dataclasses import dataclass

import numpy as np
import pytest
import safetensors.torch
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

import nnkit
from nnkit import layers
from nnkit.errors import ConfigError, DataError
from nnkit.models import Sequential, load_model
from nnkit.saving.model_file import read_file
from nnkit.utils.state_file import FORMAT, checksum, dumps

NNKIT_ERRORS = (DataError, ConfigError)


class _OpensAFile:
    """Unpickling this creates ``path``: proof that a loader ran code from the file."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return open, (self.path, "w")


def _model() -> Sequential:
    return Sequential(
        [layers.Input(shape=(3,)), layers.Dense(4, activation="relu", name="hidden"), layers.Dense(2, name="out")],
        name="victim",
    )


@dataclass
class GoodFile:
    """A real saved model (compiled and trained, so it holds optimizer state) and what it loads as."""

    data: bytes
    weights: dict[str, np.ndarray]
    config: dict
    x: np.ndarray
    predictions: np.ndarray


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> GoodFile:
    nnkit.config.set_device("cpu")
    try:
        nnkit.utils.set_random_seed(0)
        rng = np.random.default_rng(0)
        x, y = rng.normal(size=(8, 3)).astype(np.float32), rng.normal(size=(8, 2)).astype(np.float32)
        model = _model()
        model.compile(optimizer="adam", loss="mse", metrics=["mae"])
        model.fit(x, y, epochs=1, batch_size=4, verbose=0)
        path = tmp_path_factory.mktemp("good") / "model.keras"
        model.save(path)
        loaded = load_model(path)  # the unharmed file loads: the damage below is what makes loading fail
        np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
        weights = {k: v.cpu().numpy() for k, v in model.module.state_dict().items()}
        return GoodFile(path.read_bytes(), weights, model.get_config(), x, model.predict(x, verbose=0))
    finally:
        nnkit.config.set_device(None)


def _built_model() -> Sequential:
    model = _model()
    model.build()
    return model


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


# -- pickles ------------------------------------------------------------------------------------------------
def _raw_pickle(marker) -> bytes:
    return pickle.dumps({"weights": _OpensAFile(str(marker))})


def _torch_save(path, marker, legacy: bool = False) -> None:
    torch.save({"weights": _OpensAFile(str(marker))}, path, _use_new_zipfile_serialization=not legacy)


def test_the_pickle_payloads_are_live(tmp_path):
    """Control: the payloads below really run code when unpickled, so 'no marker' proves the loader didn't."""
    pickle.loads(_raw_pickle(tmp_path / "raw_marker"))["weights"].close()
    assert (tmp_path / "raw_marker").exists()
    _torch_save(tmp_path / "payload.pt", tmp_path / "torch_marker")
    torch.load(tmp_path / "payload.pt", weights_only=False)["weights"].close()
    assert (tmp_path / "torch_marker").exists()


@pytest.mark.parametrize("kind", ["raw_pickle", "torch_save", "torch_save_legacy", "raw_pickle_named_keras"])
def test_load_model_refuses_pickles_without_running_them(tmp_path, kind):
    marker = tmp_path / "marker"
    path = (
        tmp_path
        / {
            "raw_pickle": "model.pkl",
            "torch_save": "model.pt",
            "torch_save_legacy": "model.pth",
            "raw_pickle_named_keras": "model.keras",
        }[kind]
    )
    if kind.startswith("raw_pickle"):
        _write(path, _raw_pickle(marker))
    else:
        _torch_save(path, marker, legacy=kind == "torch_save_legacy")

    with pytest.raises(DataError, match="pickle"):
        load_model(path)
    assert not marker.exists()


@pytest.mark.parametrize("kind", ["raw_pickle", "torch_save", "torch_save_legacy"])
def test_load_weights_refuses_pickled_objects_without_running_them(tmp_path, kind):
    marker = tmp_path / "marker"
    path = tmp_path / "weights.pt"
    if kind == "raw_pickle":
        _write(path, _raw_pickle(marker))
    else:
        _torch_save(path, marker, legacy=kind == "torch_save_legacy")
    model = _built_model()
    with pytest.raises(DataError, match="weights-only"):
        model.load_weights(path)
    assert not marker.exists()


def test_a_keras_archive_is_named_as_such(tmp_path):
    path = tmp_path / "model.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.5.0"}))
        archive.writestr("config.json", json.dumps({"class_name": "Sequential", "config": {}}))
        archive.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n")
    with pytest.raises(DataError, match="Keras"):
        load_model(path)


def test_another_zip_archive_is_refused(tmp_path):
    path = tmp_path / "model.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(DataError, match="zip"):
        load_model(path)


# -- damaged copies of a real file --------------------------------------------------------------------------
def _cut_points(size: int, header_end: int) -> list[int]:
    fixed = {0, 1, 2, 7, 8, 9, 16, header_end - 1, header_end, header_end + 1, size // 2, size - 8, size - 1}
    return sorted(fixed | {int(c) for c in np.linspace(10, size - 2, 28)})


def test_truncated_copies_raise_data_error(tmp_path, good):
    header_end = 8 + int.from_bytes(good.data[:8], "little")
    cuts = _cut_points(len(good.data), header_end)
    assert len(cuts) >= 35 and max(cuts) < len(good.data)
    model = _built_model()
    path = tmp_path / "cut.keras"
    for cut in cuts:
        _write(path, good.data[:cut])
        with pytest.raises(DataError):
            load_model(path)
        with pytest.raises(DataError):
            model.load_weights(path)


def _assert_unchanged(loaded: Sequential, good: GoodFile, same_config: bool = True) -> None:
    weights = {k: v.cpu().numpy() for k, v in loaded.module.state_dict().items()}
    assert weights.keys() == good.weights.keys()
    for key, value in good.weights.items():
        np.testing.assert_array_equal(weights[key], value)
    if same_config:
        assert loaded.get_config() == good.config
    np.testing.assert_array_equal(loaded.predict(good.x, verbose=0), good.predictions)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_bit_flips_never_load_as_a_different_model(tmp_path, good, data):
    position = data.draw(st.integers(0, len(good.data) - 1), label="position")
    mask = data.draw(st.integers(1, 255), label="xor mask")
    damaged = bytearray(good.data)
    damaged[position] ^= mask
    path = _write(tmp_path / "flipped.keras", bytes(damaged))
    try:
        loaded = load_model(path)
    except NNKIT_ERRORS:
        pass
    else:  # a flip the format cannot notice (e.g. in the padding of the header) must not change anything
        _assert_unchanged(loaded, good)
    model = _built_model()
    try:
        model.load_weights(path)
    except NNKIT_ERRORS:
        pass
    else:
        _assert_unchanged(model, good, same_config=False)


def test_a_flip_inside_a_weight_is_caught_by_the_checksum(tmp_path, good):
    damaged = bytearray(good.data)
    damaged[-3] ^= 0x01  # the last bytes are tensor data: still a well-formed safetensors file
    path = _write(tmp_path / "flipped.keras", bytes(damaged))
    with pytest.raises(DataError, match="checksum"):
        load_model(path)


@pytest.mark.parametrize(("field", "damaged"), [("sha256", "sha257"), ("version", "0")])
def test_a_flip_in_the_header_fields_outside_the_checksum_is_caught(tmp_path, good, field, damaged):
    """``dumps`` always writes ``sha256`` and version 1: a file whose checksum entry was renamed by bit rot
    (so nothing is verified) or whose version became 0 is damaged, not a file from another nnkit."""
    original = {"sha256": b'"sha256":"', "version": b'"version":"1"'}[field]
    replaced = {"sha256": b'"sha257":"', "version": b'"version":"0"'}[field]
    assert good.data.count(original) == 1 and len(original) == len(replaced)
    path = _write(tmp_path / "flipped.keras", good.data.replace(original, replaced))
    with pytest.raises(DataError):
        load_model(path)


def _altered(good: GoodFile, change) -> bytes:
    """The good file with its header changed by ``change(state)`` and the checksum recomputed (a crafted file)."""
    from nnkit.utils.state_file import loads

    state = loads(good.data)
    change(state)
    return dumps(state)


@pytest.mark.parametrize("kind", ["Sequential", "Functional"])
def test_a_header_whose_weights_do_not_match_the_stored_tensors_is_refused_before_building(tmp_path, good, kind,
                                                                                          monkeypatch):
    """A crafted header (units: 10**12, checksum recomputed) is a DataError before any layer is built for real:
    building it would need terabytes."""
    from nnkit.layers import Dense

    def huge(state):
        if kind == "Functional":  # the same layers as a graph
            inputs = layers.Input(shape=(3,))
            outputs = layers.Dense(2, name="out")(layers.Dense(4, activation="relu", name="hidden")(inputs))
            state["class_name"], state["config"] = "Functional", nnkit.Model(inputs, outputs).get_config()
        hidden = next(entry for entry in state["config"]["layers"] if entry["config"].get("name") == "hidden")
        hidden["config"]["units"] = 10**12

    built = []
    real_build = Dense.build

    def spy(self, input_shape):
        built.append(torch.empty(0).device.type)
        return real_build(self, input_shape)

    path = _write(tmp_path / "crafted.keras", _altered(good, huge))
    monkeypatch.setattr(Dense, "build", spy)
    with pytest.raises(DataError, match=r"damaged or was altered: the model its header describes would hold weights "
                                        r"that do not match the tensors stored in it \(header vs stored: .*"
                                        r"\(1000000000000, 3\) vs .*\(4, 3\)"):
        load_model(path)
    assert built and set(built) == {"meta"}  # every Dense was built on the meta device (shapes only), none for real


# -- not model files at all ---------------------------------------------------------------------------------
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300))
def test_random_bytes_raise_data_error(tmp_path, data):
    path = _write(tmp_path / "random.keras", data)
    with pytest.raises(DataError):
        load_model(path)


def test_seeded_random_files_raise_data_error(tmp_path):
    rng = np.random.default_rng(0)
    model = _built_model()
    for size in (1, 8, 9, 64, 4096):
        path = _write(tmp_path / "random.bin", rng.bytes(size))
        with pytest.raises(DataError):
            load_model(path)
        with pytest.raises(DataError):
            model.load_weights(path)


def test_an_empty_file_raises_data_error(tmp_path):
    path = _write(tmp_path / "empty.keras", b"")
    with pytest.raises(DataError):
        load_model(path)
    with pytest.raises(DataError):
        _built_model().load_weights(path)


def test_a_folder_raises_data_error(tmp_path):
    with pytest.raises(DataError, match="folder"):
        load_model(tmp_path)


def test_load_weights_from_a_folder_raises_data_error(tmp_path):
    with pytest.raises(DataError, match="folder"):
        _built_model().load_weights(tmp_path)


def test_a_missing_path_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "nope.keras")
    with pytest.raises(FileNotFoundError):
        _built_model().load_weights(tmp_path / "nope.keras")


def test_a_weights_file_given_to_load_model_says_use_load_weights(tmp_path):
    model = _built_model()
    model.save_weights(tmp_path / "only.weights")
    with pytest.raises(DataError, match="load_weights"):
        load_model(tmp_path / "only.weights")


def test_a_json_file_raises_data_error(tmp_path):
    path = tmp_path / "model.json"
    path.write_text(_built_model().to_json())
    with pytest.raises(DataError):
        load_model(path)


def test_a_safetensors_file_that_is_not_an_nnkit_file(tmp_path):
    path = tmp_path / "model.safetensors"
    safetensors.torch.save_file({"w": torch.zeros(3)}, path, metadata={"format": "pt"})
    with pytest.raises(DataError, match="not an nnkit"):
        load_model(path)


# -- consistent (re-checksummed) files with hostile contents ------------------------------------------------
def _write_state(path, state: dict):
    """``state`` as a well-formed, correctly checksummed file.

    A note in the metadata keeps the header length from starting with byte 0x80, which the loader
    currently mistakes for a pickle (see test_round_trip): these tests are about the contents.
    """
    state = copy.deepcopy(state)
    for pad in range(64):
        state["metadata"] = {**state.get("metadata", {}), "note": "x" * pad}
        data = dumps(state)
        if data[:1] != b"\x80":
            return _write(path, data)
    raise AssertionError("could not avoid a header length starting with 0x80")


@pytest.fixture
def saved_state(tmp_path, good) -> dict:
    return read_file(_write(tmp_path / "good.keras", good.data))


def _dense(state: dict) -> dict:
    return state["config"]["layers"][1]


MUTATIONS = {
    "unknown layer class": (lambda s: _dense(s).update(class_name="NoSuchLayer"), ConfigError, "NoSuchLayer"),
    "units is a string": (lambda s: _dense(s)["config"].update(units="ten"), ConfigError, "units"),
    "units is a list": (lambda s: _dense(s)["config"].update(units=[1, 2]), ConfigError, "units"),
    "unknown layer argument": (lambda s: _dense(s)["config"].update(bogus=1), NNKIT_ERRORS, "bogus"),
    "layer name is a number": (lambda s: _dense(s)["config"].update(name=7), NNKIT_ERRORS, None),
    "layer entry is a number": (lambda s: s["config"]["layers"].__setitem__(1, 5), ConfigError, "layers"),
    "layer config is a list": (lambda s: _dense(s).update(config=[1]), ConfigError, "layers"),
    "layers is a dict": (lambda s: s["config"].update(layers={"a": 1}), ConfigError, "layers"),
    "layers is missing": (lambda s: s["config"].pop("layers"), ConfigError, "layers"),
    "config is a string": (lambda s: s.update(config="hello"), ConfigError, None),
    "config is missing": (lambda s: s.pop("config"), ConfigError, None),
    "build shape is a string": (lambda s: s.update(build_config={"input_shape": "abc"}), NNKIT_ERRORS, None),
    "build config is a list": (lambda s: s.update(build_config=[1, 2]), NNKIT_ERRORS, None),
    "build shape does not fit the weights": (
        lambda s: s.update(build_config={"input_shape": [None, 5]}),
        DataError,
        "do not match the tensors stored",
    ),
    "unknown optimizer": (lambda s: s["compile_config"].update(optimizer="adma"), ConfigError, "adma"),
    "optimizer is a number": (lambda s: s["compile_config"].update(optimizer=5), ConfigError, None),
    "compile config is a string": (lambda s: s.update(compile_config="adam"), NNKIT_ERRORS, None),
    "unknown loss": (lambda s: s["compile_config"].update(loss="no_such_loss"), ConfigError, "no_such_loss"),
    "optimizer state is a number": (lambda s: s["optimizer"].update(state=5), NNKIT_ERRORS, None),
    "optimizer state for another class": (lambda s: s["optimizer"].update(class_name="SGD"), ConfigError, "SGD"),
    "a weight is missing": (lambda s: s["weights"].pop("hidden.linear.weight"), DataError, "do not match the tensors stored"),
    "a weight has another shape": (lambda s: s["weights"].update({"out.bias": torch.zeros(5)}), DataError, "do not match the tensors stored"),
    "a weight is a number": (lambda s: s["weights"].update({"out.bias": 5}), NNKIT_ERRORS, None),
    "weights are not a dict": (lambda s: s.update(weights=[1]), DataError, None),
    "kind is unknown": (lambda s: s.update(kind="dataset"), DataError, None),
    "os function as activation": (
        lambda s: _dense(s)["config"].update(
            activation={"class_name": "__function__", "config": "system", "module": "os"}
        ),
        ConfigError,
        "system",
    ),
    "subprocess class as optimizer": (
        lambda s: s["compile_config"].update(
            optimizer={
                "class_name": "TorchOptimizer",
                "config": {"optimizer": {"class_name": "__type__", "config": "Popen", "module": "subprocess"}},
            }
        ),
        ConfigError,
        "Popen",
    ),
    "torch.Tensor as a torch module": (
        lambda s: s["config"]["layers"].__setitem__(
            1,
            {
                "class_name": "TorchModule",
                "config": {
                    "module": {
                        "class_name": "__torch_module__",
                        "config": {"class": "Tensor", "args": [], "kwargs": {}},
                    }
                },
            },
        ),
        ConfigError,
        "Tensor",
    ),
    "torch module with bad arguments": (
        lambda s: s["config"]["layers"].__setitem__(
            1,
            {
                "class_name": "TorchModule",
                "config": {
                    "module": {
                        "class_name": "__torch_module__",
                        "config": {"class": "Linear", "args": [], "kwargs": {"x": 1}},
                    }
                },
            },
        ),
        ConfigError,
        "Linear",
    ),
    "malformed array entry": (
        lambda s: _dense(s)["config"].update(units={"class_name": "__ndarray__", "config": {"dtype": "float32"}}),
        ConfigError,
        None,
    ),
    # Only nnkit's activations, losses and metrics may be named; a file must not pick any nnkit function.
    "internal nnkit function as activation": (
        lambda s: _dense(s)["config"].update(
            activation={"class_name": "__function__", "config": "atomic_write", "module": "nnkit.utils.atomic"}
        ),
        ConfigError,
        "atomic_write",
    ),
}


@pytest.mark.parametrize("mutation", list(MUTATIONS))
def test_hostile_contents_raise_nnkit_errors(tmp_path, saved_state, mutation):
    mutate, expected, message = MUTATIONS[mutation]
    state = copy.deepcopy(saved_state)
    mutate(state)
    path = _write_state(tmp_path / "hostile.keras", state)
    with pytest.raises(expected) as raised:
        load_model(path)
    assert isinstance(raised.value, NNKIT_ERRORS)
    if message is not None:
        assert message in str(raised.value)


def _lambda_layer(code: str) -> dict:
    function = eval(compile(code, "<hostile>", "eval"))  # builds the code object only; never called here
    bytecode = base64.b64encode(marshal.dumps(function.__code__)).decode("ascii")
    return {
        "class_name": "Lambda",
        "config": {
            "function": {
                "class_name": "__lambda__",
                "config": {"name": "<lambda>", "bytecode": bytecode, "python": list(sys.version_info[:2])},
            },
            "output_shape": [3],
        },
    }


def test_lambda_bytecode_is_refused_in_safe_mode_without_running(tmp_path, saved_state):
    marker = tmp_path / "marker"
    state = copy.deepcopy(saved_state)
    state["config"]["layers"].insert(1, _lambda_layer(f"lambda x: (open({str(marker)!r}, 'w').close(), x)[1]"))
    path = _write_state(tmp_path / "hostile.keras", state)
    with pytest.raises(ConfigError, match="safe_mode"):
        load_model(path)
    assert not marker.exists()
    # Control: the payload is live, trusting the file runs it.
    load_model(path, safe_mode=False).predict(np.zeros((1, 3), np.float32), verbose=0)
    assert marker.exists()


def test_corrupted_lambda_bytecode_is_a_config_error_even_when_unsafe(tmp_path, saved_state):
    state = copy.deepcopy(saved_state)
    layer = _lambda_layer("lambda x: x")
    layer["config"]["function"]["config"]["bytecode"] = base64.b64encode(b"\xff" * 16).decode("ascii")
    state["config"]["layers"].insert(1, layer)
    path = _write_state(tmp_path / "hostile.keras", state)
    with pytest.raises(ConfigError, match="corrupted"):
        load_model(path, safe_mode=False)


@pytest.mark.parametrize("depth", [600, 5000])
def test_deeply_nested_headers_raise_data_error(tmp_path, depth):
    nested = "[" * depth + "]" * depth
    text = (
        '{"kind": "model", "weights": {}, "build_config": null, "compile_config": null, '
        f'"config": {{"name": "deep", "layers": {nested}}}}}'
    )
    data = safetensors.torch.save(
        {}, metadata={"format": FORMAT, "version": "1", "state": text, "sha256": checksum(text, {})}
    )
    path = _write(tmp_path / "deep.keras", data)
    with pytest.raises(NNKIT_ERRORS):
        load_model(path)


def test_a_file_from_a_newer_nnkit_says_upgrade(tmp_path, good):
    tensors = safetensors.torch.load(good.data)
    header = json.loads(good.data[8 : 8 + int.from_bytes(good.data[:8], "little")])["__metadata__"]
    path = _write(tmp_path / "new.keras", safetensors.torch.save(tensors, metadata={**header, "version": "99"}))
    with pytest.raises(DataError, match="newer nnkit"):
        load_model(path)


# -- atomic saving ------------------------------------------------------------------------------------------
class _UnregisteredModule(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


def _closure_activation_model() -> Sequential:
    scale = 2.0
    return Sequential([layers.Input(shape=(3,)), layers.Dense(2, activation=lambda x: x * scale)])


@pytest.mark.parametrize("unsavable", ["unregistered torch module", "closure activation"])
def test_a_failed_save_leaves_the_old_file_untouched(tmp_path, good, unsavable):
    path = _write(tmp_path / "model.keras", good.data)
    if unsavable == "unregistered torch module":
        model = Sequential([layers.Input(shape=(3,)), layers.TorchModule(_UnregisteredModule())])
    else:
        model = _closure_activation_model()
    model.build()
    with pytest.raises(ConfigError, match="register_serializable"):
        model.save(path)
    assert path.read_bytes() == good.data
    assert os.listdir(tmp_path) == ["model.keras"]
    load_model(path)  # still the good model


def test_save_weights_of_a_model_without_weights_leaves_the_old_file_untouched(tmp_path, good):
    path = _write(tmp_path / "model.keras", good.data)
    with pytest.raises(ConfigError, match="build"):
        Sequential([layers.Dense(2)]).save_weights(path)  # no input shape: nothing to build
    assert path.read_bytes() == good.data
    assert os.listdir(tmp_path) == ["model.keras"]


def test_saving_without_overwrite_leaves_the_old_file_untouched(tmp_path, good):
    path = _write(tmp_path / "model.keras", good.data)
    with pytest.raises(FileExistsError):
        _built_model().save(path, overwrite=False)
    assert path.read_bytes() == good.data
    assert os.listdir(tmp_path) == ["model.keras"]
