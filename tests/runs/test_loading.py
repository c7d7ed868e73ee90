"""Reading config files (safe YAML, JSON), config paths and --set overrides."""

from __future__ import annotations

import json

import pytest

from nnkit.errors import ConfigError
from nnkit.runs import apply_overrides, get_path, parse_config_text, parse_override, parse_path, read_config, set_path


def test_parse_path_splits_keys_and_indices():
    assert parse_path("model.layers[0].units") == ["model", "layers", 0, "units"]
    assert parse_path("fit.epochs") == ["fit", "epochs"]
    assert parse_path("a[1][-1].b_c") == ["a", 1, -1, "b_c"]


@pytest.mark.parametrize("bad", ["", ".fit", "fit..epochs", "fit.", "layers[x]", "a b", "[0].a", "fit.epochs="])
def test_parse_path_refuses_malformed_paths(bad):
    with pytest.raises(ConfigError, match="config path"):
        parse_path(bad)


def test_set_path_creates_mappings_and_indexes_lists():
    config = {"model": {"layers": [{"units": 1}, {"units": 2}]}}
    set_path(config, "model.layers[1].units", 5)
    set_path(config, "search.cv", 4)
    set_path(config, "model.layers[-1].activation", "relu")
    assert config == {"model": {"layers": [{"units": 1}, {"units": 5, "activation": "relu"}]}, "search": {"cv": 4}}
    assert get_path(config, "model.layers[1].units") == 5


def test_set_path_errors_name_the_path():
    config = {"model": {"layers": [{"units": 1}]}, "fit": {"epochs": 3}}
    with pytest.raises(ConfigError, match=r"model\.layers\[3\]: index 3 is out of range; the list has 1 items"):
        set_path(config, "model.layers[3].units", 2)
    with pytest.raises(ConfigError, match=r"fit\.epochs\.x: fit\.epochs is 3 \(int\), not a mapping"):
        set_path(config, "fit.epochs.x", 2)
    with pytest.raises(ConfigError, match=r"fit\[0\]: fit is not a list"):
        set_path(config, "fit[0]", 2)


def test_get_path_suggests_the_key_meant():
    with pytest.raises(ConfigError, match=r"fit\.epocs: there is no such key\. Did you mean 'epochs'\?"):
        get_path({"fit": {"epochs": 3}}, "fit.epocs")


@pytest.mark.parametrize(("text", "path", "value"), [
    ("fit.epochs=5", "fit.epochs", 5),
    ("compile.optimizer.learning_rate=1e-3", "compile.optimizer.learning_rate", 0.001),
    ("compile.optimizer.learning_rate=0.5", "compile.optimizer.learning_rate", 0.5),
    ("data.reshape=[8, 8, 1]", "data.reshape", [8, 8, 1]),
    ("data.limit=null", "data.limit", None),
    ("data.standardize=true", "data.standardize", True),
    ("compile.loss=mse", "compile.loss", "mse"),
    ("model.layers[0]={type: Dense, units: 4}", "model.layers[0]", {"type": "Dense", "units": 4}),
    ("model.name=a=b", "model.name", "a=b"),
    ("model.name='007'", "model.name", "007"),
])
def test_parse_override_types_values_as_yaml(text, path, value):
    assert parse_override(text) == (path, value)


def test_parse_override_errors():
    with pytest.raises(ConfigError, match="PATH=VALUE"):
        parse_override("fit.epochs")
    with pytest.raises(ConfigError, match="not valid YAML"):
        parse_override("model.name=[unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        parse_override("model.name=!!python/object/apply:os.system ['true']")


def test_apply_overrides_copies_and_applies_in_order():
    config = {"fit": {"epochs": 3}, "model": {"layers": [{"type": "Dense", "units": 2}]}}
    result = apply_overrides(config, ["fit.epochs=5", "fit.epochs=7", ("model.layers[0].units", 9)])
    assert result == {"fit": {"epochs": 7}, "model": {"layers": [{"type": "Dense", "units": 9}]}}
    assert config["fit"]["epochs"] == 3 and config["model"]["layers"][0]["units"] == 2
    assert apply_overrides(config, {"fit.batch_size": 8})["fit"] == {"epochs": 3, "batch_size": 8}


def test_read_config_yaml_and_json_give_the_same_dict(tmp_path):
    config = {"data": {"dataset": "iris"}, "fit": {"epochs": 3, "validation_split": 0.2}, "model": {"layers": []}}
    (tmp_path / "a.json").write_text(json.dumps(config))
    (tmp_path / "a.yaml").write_text("data: {dataset: iris}\nfit:\n  epochs: 3\n  validation_split: 0.2\n"
                                     "model:\n  layers: []\n")
    assert read_config(tmp_path / "a.json") == read_config(tmp_path / "a.yaml") == config


@pytest.mark.parametrize("text", [
    "!!python/object/apply:os.system ['echo pwned']",
    "data: !!python/name:os.system",
    "data: !!python/object:collections.OrderedDict {}",
])
def test_yaml_is_read_with_the_safe_loader_only(text):
    with pytest.raises(ConfigError, match="invalid YAML"):
        parse_config_text(text, "x.yaml")


@pytest.mark.parametrize(("text", "message"), [
    ("", "the config is empty"),
    ("- a\n- b", "must be a mapping of sections"),
    ("data: [1,\n", "invalid YAML"),
    ("a: &x [*x]", "refers to itself"),
    ("data: 2001-01-01", "is a date"),
    ("data: !!binary aGVsbG8=", "is a bytes"),
    ("? [a, b]\n: 1", "invalid YAML"),
    ("data: !!set {a, b}", "is a set"),
])
def test_parse_config_text_errors(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_config_text(text, "x.yaml")


def test_json_syntax_errors_give_line_and_column():
    with pytest.raises(ConfigError, match=r"x\.json: invalid JSON at line 2, column 1"):
        parse_config_text('{"a": 1,\n}', "x.json", json_format=True)


def test_deep_nesting_is_refused():
    with pytest.raises(ConfigError, match="nested"):
        parse_config_text("a: " + "[" * 200 + "]" * 200, "x.yaml")


def test_read_config_missing_and_binary_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        read_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="it is a folder"):
        read_config(tmp_path)
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00\x00garbage")
    with pytest.raises(ConfigError, match="UTF-8"):
        read_config(tmp_path / "bin.yaml")


def alias_bomb(levels: int) -> str:
    """A "billion laughs" document: each level lists the previous one nine times, so it expands to 9**levels."""
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("levels", [6, 8])
def test_an_alias_bomb_is_refused_without_being_expanded(levels):
    text = alias_bomb(levels)
    assert len(text) < 700  # 9**8 = 43 million values from a few hundred bytes
    expected = r"bomb\.yaml: the config expands to more than 100000 values \(YAML aliases\?\)"
    with pytest.raises(ConfigError, match=expected):
        parse_config_text(text, "bomb.yaml")


def test_an_oversized_config_is_refused_by_its_size_before_it_is_read(tmp_path):
    from nnkit.runs import loading

    big = "data:\n  x: [" + ", ".join(["1"] * 600_000) + "]\n"  # 1.7 MB, about 10 s for PyYAML to read
    (tmp_path / "big.yaml").write_text(big)
    expected = r"the config is 1\.7 MB, more than the 1 MB a config may be; .*Put data in a \.csv"
    with pytest.raises(ConfigError, match=rf"^{tmp_path / 'big.yaml'}: {expected}"):
        read_config(tmp_path / "big.yaml")
    with pytest.raises(ConfigError, match=rf"^x\.json: {expected}"):
        parse_config_text(big, "x.json", json_format=True)
    with pytest.raises(ConfigError, match=rf"^--set data\.x: {expected}"):
        parse_override("data.x=" + big[len("data:\n  x: "):])
    assert loading.MAX_BYTES == 2**20


def test_a_long_yaml_list_is_refused_while_it_is_read(monkeypatch):
    """The value count stops the YAML reader itself: the rest of the document is never parsed."""
    from nnkit.runs import loading

    monkeypatch.setattr(loading, "MAX_VALUES", 1000)
    lines = "".join(f"  - {i}\n" for i in range(5000))
    with pytest.raises(ConfigError, match=r"^long\.yaml: the config holds more than 1000 values \(line 100\d is past "
                                          r"that\)"):
        parse_config_text("data:\n" + lines, "long.yaml")
    with pytest.raises(ConfigError, match=r"^--set data\.x: the config holds more than 1000 values"):
        parse_override("data.x=[" + ", ".join(["1"] * 5000) + "]")
    short = "".join(f"  - {i}\n" for i in range(900))
    assert len(parse_config_text("data:\n" + short, "short.yaml")["data"]) == 900


def test_aliases_below_the_limit_are_fine():
    config = parse_config_text(alias_bomb(4), "x.yaml")  # 9**4 = 6561 values
    assert len(config["l3"]) == 9 and config["l3"][0][0][0] == ["lol"] * 9


@pytest.mark.parametrize(("config", "path", "expected"), [
    ({"compile": {"optimizer": "adam"}}, "compile.optimizer.learning_rate",
     {"compile": {"optimizer": {"type": "adam", "learning_rate": 0.1}}}),
    ({"compile": {"loss": "mse"}}, "compile.optimizer.learning_rate",
     {"compile": {"loss": "mse", "optimizer": {"type": "adam", "learning_rate": 0.1}}}),
    ({}, "compile.optimizer.learning_rate", {"compile": {"optimizer": {"type": "adam", "learning_rate": 0.1}}}),
    ({"compile": {"optimizer": None}}, "compile.optimizer.learning_rate",
     {"compile": {"optimizer": {"type": "adam", "learning_rate": 0.1}}}),
    ({"compile": {"loss": "huber"}}, "compile.loss.delta", {"compile": {"loss": {"type": "huber", "delta": 0.1}}}),
    ({"model": {"layers": ["Dropout"]}}, "model.layers[0].rate",
     {"model": {"layers": [{"type": "Dropout", "rate": 0.1}]}}),
    ({"model": {"layers": [{"type": "Dense", "kernel_regularizer": "l2"}]}}, "model.layers[0].kernel_regularizer.l2",
     {"model": {"layers": [{"type": "Dense", "kernel_regularizer": {"type": "l2", "l2": 0.1}}]}}),
    ({"model": {"layers": [{"type": "Bidirectional", "layer": "LSTM"}]}}, "model.layers[0].layer.dropout",
     {"model": {"layers": [{"type": "Bidirectional", "layer": {"type": "LSTM", "dropout": 0.1}}]}}),
    ({"fit": {"callbacks": ["EarlyStopping"]}}, "fit.callbacks[0].patience",
     {"fit": {"callbacks": [{"type": "EarlyStopping", "patience": 0.1}]}}),
    ({"compile": {"metrics": ["f1"]}}, "compile.metrics[0].average",
     {"compile": {"metrics": [{"type": "f1", "average": 0.1}]}}),
])
def test_a_setting_inside_an_entry_given_by_name_promotes_the_name(config, path, expected):
    set_path(config, path, 0.1)
    assert config == expected


def test_only_entries_are_promoted():
    with pytest.raises(ConfigError, match=r"data\.dataset\.x: data\.dataset is the text 'iris', not a mapping"):
        set_path({"data": {"dataset": "iris"}}, "data.dataset.x", 1)
    with pytest.raises(ConfigError, match=r"model\.name\.x: model\.name is the text 'a', not a mapping"):
        set_path({"model": {"name": "a", "layers": []}}, "model.name.x", 1)
    with pytest.raises(ConfigError, match=r"model\.layers\[0\]\.units\.x: .* is 3 \(int\), not a mapping"):
        set_path({"model": {"layers": [{"type": "Dense", "units": 3}]}}, "model.layers[0].units.x", 1)
    assert apply_overrides({"compile": {"optimizer": "sgd"}}, ["compile.optimizer=adam"]) == {
        "compile": {"optimizer": "adam"}}


@pytest.mark.parametrize(("text", "key", "lines"), [
    ("data:\n  dataset: iris\nmodel: {}\ndata:\n  dataset: digits\n", "data", "lines 1 and 4"),
    ("model:\n  layers:\n    - type: Dense\n      units: 3\n      units: 4\n", "units", "lines 4 and 5"),
    ("fit: {epochs: 3, epochs: 5}\n", "epochs", "lines 1 and 1"),
])
def test_a_key_written_twice_is_refused_naming_both_lines(text, key, lines):
    with pytest.raises(ConfigError, match=rf"^exp\.yaml: the key '{key}' is written twice in one mapping \({lines}\)"):
        parse_config_text(text, "exp.yaml")


def test_merge_keys_may_still_be_overridden_and_json_duplicates_are_refused():
    assert parse_config_text("base: &b {units: 3}\nlayer:\n  <<: *b\n  units: 4\n")["layer"] == {"units": 4}
    with pytest.raises(ConfigError, match=r"^exp\.json: the key 'b' is written twice in one object"):
        parse_config_text('{"a": {"b": 1, "b": 2}}', "exp.json", json_format=True)
