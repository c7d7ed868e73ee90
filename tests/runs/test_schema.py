"""Validation of run configs: each error names the path of the bad field and suggests the fix."""

from __future__ import annotations

import re

import pytest

from nnkit.errors import ConfigError
from nnkit.runs import load_config, validate_config
from tests.runs.helpers import iris


def error(config) -> str:
    with pytest.raises(ConfigError) as info:
        validate_config(config)
    return str(info.value)


def test_defaults_are_filled_in_and_the_task_is_inferred():
    config = validate_config(iris(fit={"epochs": 3}), default_name="stem")
    assert config["seed"] == 0 and config["task"] == "classification"
    assert config["data"] == {"dataset": "iris", "path": None, "target": None, "options": {}, "test_size": 0.2,
                              "standardize": True, "rescale": None, "reshape": None, "limit": None}
    assert config["fit"] == {"epochs": 3, "batch_size": 16, "validation_split": 0.0, "validation_freq": 1,
                             "verbose": 0, "shuffle": True, "class_weight": None, "callbacks": []}
    assert config["output"] == {"dir": "runs/{stem}-{timestamp}", "overwrite": False}
    assert config["model"]["name"] == "iris"
    unnamed = iris()
    del unnamed["model"]["name"]
    assert validate_config(unnamed, default_name="stem")["model"]["name"] == "stem"
    assert list(config) == ["seed", "task", "data", "model", "compile", "fit", "output"]


@pytest.mark.parametrize(("loss", "task"), [
    ("sparse_categorical_crossentropy", "classification"), ("binary_crossentropy", "classification"),
    ("bce", "classification"), ("CategoricalCrossentropy", "classification"), ("hinge", "classification"),
    ({"type": "categorical_crossentropy", "label_smoothing": 0.1}, "classification"),
    ("mse", "regression"), ("mean_absolute_error", "regression"), ("huber", "regression"),
])
def test_task_follows_the_loss(loss, task):
    assert validate_config(iris(compile={"loss": loss}))["task"] == task


def test_validation_is_idempotent():
    config = validate_config(iris())
    assert validate_config(config) == config


@pytest.mark.parametrize(("change", "message"), [
    ({"fit": {"epocs": 3}}, "fit.epocs: unknown setting. Did you mean 'epochs'?"),
    ({"fit": {"epochs": 0}}, "fit.epochs: expected a positive integer, got 0."),
    ({"fit": {"epochs": 2.5}}, "fit.epochs: expected a positive integer, got 2.5."),
    ({"fit": {"epochs": True}}, "fit.epochs: expected a positive integer, got true."),
    ({"fit": {"batch_size": "32"}}, "fit.batch_size: expected a positive integer, got the text '32'."),
    ({"fit": {"validation_split": 1.0}}, "fit.validation_split: expected a number in [0, 1), got 1.0."),
    ({"fit": {"shuffle": "yes please"}}, "fit.shuffle: expected true or false, got the text 'yes please'."),
    ({"fit": {"verbose": 3}}, "fit.verbose: expected 0 (silent), 1 (progress bars) or 2"),
    ({"fit": {"callbacks": [{"type": "EarlyStoping"}]}}, "fit.callbacks[0].type: Unknown callback 'EarlyStoping'. "
                                                         "Did you mean 'early_stopping'?"),
    ({"fit": {"callbacks": [{"type": "EarlyStopping", "patiense": 3}]}},
     "fit.callbacks[0].patiense: EarlyStopping has no argument 'patiense'. Did you mean 'patience'?"),
    ({"fit": {"callbacks": [{"type": "EarlyStopping", "patience": -1}]}},
     "fit.callbacks[0].patience: expected a non-negative integer, got -1."),
    ({"fit": {"callbacks": "EarlyStopping"}}, "fit.callbacks: expected a list of callbacks"),
    ({"trian": {}}, "trian: unknown setting."),
    ({"fitt": {}}, "fitt: unknown setting. Did you mean 'fit'?"),
    ({"seed": -1}, "seed: expected a non-negative integer, got -1."),
    ({"task": "clasification"}, "task: expected one of classification, regression, got the text 'clasification'. "
                                "Did you mean 'classification'?"),
    ({"data": {"dataset": "irs"}}, "data.dataset: unknown dataset 'irs'. Did you mean 'iris'?"),
    ({"data": {"dataset": "iris", "path": "x.csv"}}, "data: give exactly one of `dataset`"),
    ({"data": {"options": {}}}, "data: give exactly one of `dataset`"),
    ({"data": {"dataset": "iris", "test_size": 0}}, "data.test_size: expected a fraction in (0, 1)"),
    ({"data": {"dataset": "iris", "reshape": [2, 0]}}, "data.reshape: expected a list of positive integers"),
    ({"data": {"dataset": "iris", "rescale": 0}}, "data.rescale: expected a non-zero number"),
    ({"data": {"dataset": "iris", "limit": -5}}, "data.limit: expected a positive integer, got -5."),
    ({"data": {"dataset": "iris", "standardise": True}}, "data.standardise: unknown setting. Did you mean "
                                                         "'standardize'?"),
    ({"data": {"dataset": "iris", "options": [1]}}, "data.options: expected a mapping"),
    ({"compile": {"optimizer": "adma"}}, "compile.optimizer.type: Unknown optimizer 'adma'. Did you mean 'adam'?"),
    ({"compile": {"optimizer": {"type": "adam", "learning_rte": 0.1}}},
     "compile.optimizer.learning_rte: Adam has no argument 'learning_rte'. Did you mean 'learning_rate'?"),
    ({"compile": {"optimizer": {"type": "adam", "learning_rate": -0.1}}},
     "compile.optimizer.learning_rate: expected a non-negative number (e.g. 0.001), got -0.1."),
    ({"compile": {"optimizer": {"learning_rate": 0.1}}}, "compile.optimizer: the optimizer needs a `type`"),
    ({"compile": {"loss": "sparse_categorical_crossentropi"}}, "compile.loss.type: Unknown loss "
                                                             "'sparse_categorical_crossentropi'. Did you mean"),
    ({"compile": {"metrics": ["acuracy"]}}, "compile.metrics[0]: Unknown metric 'acuracy'. Did you mean 'accuracy'?"),
    ({"compile": {"metrics": [{"type": "F1Score", "averag": "macro"}]}}, "compile.metrics[0].averag: F1Score has no "
                                                                         "argument 'averag'. Did you mean 'average'?"),
    ({"compile": {"optimiser": "adam"}}, "compile.optimiser: unknown setting. Did you mean 'optimizer'?"),
    ({"output": {"dir": "runs/{nmae}"}}, "output.dir: unknown placeholder {nmae}. Did you mean '{name}'?"),
    ({"output": {"dir": "runs/{"}}, "output.dir: "),
])
def test_errors_name_the_field_and_suggest_a_fix(change, message):
    config = iris()
    for section, value in change.items():
        if isinstance(value, dict) and isinstance(config.get(section), dict) and section != "data":
            config[section].update(value)
        else:
            config[section] = value
    assert message in error(config)


@pytest.mark.parametrize(("layer", "message"), [
    ({"type": "Dense", "units": -3}, "model.layers[2].units: expected a positive integer, got -3."),
    ({"type": "Dens", "units": 3}, "model.layers[2].type: Unknown layer 'Dens'. Did you mean 'dense'?"),
    ({"type": "Dense", "unit": 3}, "model.layers[2].unit: Dense has no argument 'unit'. Did you mean 'units'?"),
    ({"type": "Dense"}, "model.layers[2]: Dense needs the argument 'units'"),
    ({"type": "Dense", "units": 3, "activation": "rleu"}, "model.layers[2].activation: unknown activation 'rleu'. "
                                                          "Did you mean 'relu'?"),
    ({"type": "Dense", "units": 3, "use_bias": "no"}, "model.layers[2].use_bias: expected true or false"),
    ({"type": "Dropout", "rate": 1.5}, "model.layers[2].rate: expected a number in [0, 1), got 1.5."),
    ({"type": "Conv2D", "filters": 4, "kernel_size": [3, 0]}, "model.layers[2].kernel_size: expected a positive "
                                                              "integer or a list of them"),
    ({"units": 3}, "model.layers[2]: the layer needs a `type`"),
    ({"type": "Dense", "units": 3, "padding": "same"}, "model.layers[2].padding: Dense has no argument 'padding'"),
    ({"type": "Conv2D", "filters": 4, "kernel_size": 3, "padding": "sane"}, "model.layers[2] (Conv2D): "),
    (7, "model.layers[2]: expected a layer name or a mapping such as {type: Dense, units: 16}, got 7."),
    ({"type": "Bidirectional", "layer": {"type": "LSTM", "unitz": 4}},
     "model.layers[2].layer.unitz: LSTM has no argument 'unitz'. Did you mean 'units'?"),
])
def test_layer_errors_carry_the_layer_path(layer, message):
    config = iris()
    config["model"]["layers"].insert(2, layer)
    assert message in error(config)


def test_layers_must_be_a_non_empty_list():
    assert "model.layers: expected a non-empty list of layers" in error(iris(model={"layers": []}))
    assert "model.layers: this setting is required" in error(iris(model={"name": "x", "layers": None}) | {
        "model": {"name": "x"}})
    config = iris()
    del config["compile"]["loss"]
    assert "compile.loss: this setting is required" in error(config)
    del config["model"]
    assert error(config).startswith("model: this section is required")


def test_class_weight_needs_a_classifier():
    config = iris(compile={"loss": "mse"}, fit={"class_weight": {"0": 2.0}})
    assert "fit.class_weight: class weights need a classifier" in error(config)


def test_search_section_is_validated_value_by_value():
    grid = {"method": "grid", "params": {"model.layers[0].units": [8, -3]}}
    assert re.search(r"search\.params\['model\.layers\[0\]\.units'\] value 1 \(-3\): model\.layers\[0\]\.units: "
                     r"expected a positive integer, got -3\.", error(iris(search=grid)))
    missing = {"params": {"model.layers[5].units": [8]}}
    assert "model.layers[5]: index 5 is out of range; the list has 2 items" in error(iris(search=missing))
    data = {"params": {"data.test_size": [0.1]}}
    assert "a search tunes settings under model, compile, fit" in error(iris(search=data))
    distribution = {"method": "grid", "params": {"compile.optimizer.learning_rate": {"distribution": "loguniform",
                                                                                    "low": 1e-4, "high": 0.1}}}
    assert "expected a non-empty list of values, got a mapping" in error(iris(search=distribution))
    bad_low = {"method": "random", "params": {"compile.optimizer.learning_rate": {"distribution": "loguniform",
                                                                                 "low": 0, "high": 0.1}}}
    assert "a loguniform distribution needs low > 0" in error(iris(search=bad_low))
    assert "search.cv: expected the number of cross-validation folds" in error(iris(search={"params": {
        "fit.epochs": [1]}, "cv": 1}))
    assert "search.scoring: unknown scikit-learn scorer 'acuracy'. Did you mean 'accuracy'?" in error(iris(search={
        "params": {"fit.epochs": [1]}, "scoring": "acuracy"}))
    assert "search.methd: unknown setting. Did you mean 'method'?" in error(iris(search={"params": {"fit.epochs": [1]},
                                                                                         "methd": "grid"}))


def test_load_config_prefixes_the_file_and_applies_overrides(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text("data: {dataset: iris}\nmodel:\n  layers:\n    - {type: Dense, units: 3, activation: softmax}\n"
                    "compile: {loss: sparse_categorical_crossentropy}\n")
    config = load_config(str(path), ["fit.epochs=4", "model.layers[0].units=3"])
    assert config["fit"]["epochs"] == 4 and config["model"]["name"] == "exp"
    with pytest.raises(ConfigError, match=re.escape(f"{path}: fit.epocs: unknown setting. Did you mean 'epochs'?")):
        load_config(str(path), ["fit.epocs=4"])
    with pytest.raises(ConfigError, match=re.escape(f"{path}: model.layers[0].units: expected a positive integer, "
                                                    "got -3.")):
        load_config(str(path), ["model.layers[0].units=-3"])
