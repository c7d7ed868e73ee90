"""Validation of run configs: each error names the path of the bad field and suggests the fix."""

from __future__ import annotations

import re

import pytest

from nnkit.errors import ConfigError
from nnkit.runs import load_config, specs, validate_config
from tests.runs.helpers import iris


def error(config) -> str:
    with pytest.raises(ConfigError) as info:
        validate_config(config)
    return str(info.value)


def test_defaults_are_filled_in_and_the_task_is_inferred():
    config = validate_config(iris(fit={"epochs": 3}), default_name="stem")
    assert config["seed"] == 0 and config["task"] == "classification"
    assert config["data"] == {"dataset": "iris", "path": None, "target": None, "header": None, "options": {},
                              "test_size": 0.2,
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
    ({"compile": {"optimizer": "adma"}}, "compile.optimizer: Unknown optimizer 'adma'. Did you mean 'adam'?"),
    ({"compile": {"optimizer": {"type": "adma"}}}, "compile.optimizer.type: Unknown optimizer 'adma'."),
    ({"compile": {"optimizer": {"class_name": "adma", "config": {}}}}, "compile.optimizer.class_name: Unknown "
                                                                       "optimizer 'adma'."),
    ({"compile": {"optimizer": {"type": "adam", "learning_rte": 0.1}}},
     "compile.optimizer.learning_rte: Adam has no argument 'learning_rte'. Did you mean 'learning_rate'?"),
    ({"compile": {"optimizer": {"type": "adam", "learning_rate": -0.1}}},
     "compile.optimizer.learning_rate: expected a non-negative number (e.g. 0.001), got -0.1."),
    ({"compile": {"optimizer": {"learning_rate": 0.1}}}, "compile.optimizer: the optimizer needs a `type`"),
    ({"compile": {"loss": "sparse_categorical_crosentropy"}}, "compile.loss: Unknown loss "
                                                            "'sparse_categorical_crosentropy'. Did you mean"),
    ({"compile": {"loss": {"type": "mse_"}}}, "compile.loss.type: Unknown loss 'mse_'."),
    ({"compile": {"metrics": "acuracy"}}, "compile.metrics: Unknown metric 'acuracy'. Did you mean 'accuracy'?"),
    ({"compile": {"metrics": [{"type": "F1Scor"}]}}, "compile.metrics[0].type: Unknown metric 'F1Scor'."),
    ({"compile": {"optimizer": {"type": "sgd", "learning_rate": {"type": "ExponentalDecay"}}}},
     "compile.optimizer.learning_rate.type: Unknown learning rate schedule 'ExponentalDecay'."),
    ({"fit": {"callbacks": ["EarlyStoping"]}}, "fit.callbacks[0]: Unknown callback 'EarlyStoping'."),
    ({"fit": {"callbacks": [{"type": "LearningRateScheduler", "schedule": "halve"}]}},
     "fit.callbacks[0].schedule: 'halve' is not a registered function."),
    ({"fit": {"callbacks": [{"type": "LearningRateScheduler", "schedule": {"class_name": "__function__",
                                                                          "config": "halve"}}]}},
     "fit.callbacks[0].schedule: 'halve' is not a registered function."),
    ({"fit": {"callbacks": [{"type": "LearningRateScheduler", "schedule": 0.1}]}},
     "fit.callbacks[0].schedule: expected the name of a function registered with "
     "@nnkit.saving.register_serializable(), got 0.1."),
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
    ({"type": "Conv2D", "filters": 4, "kernel_size": 3, "padding": "sane"},
     "model.layers[2].padding: Conv2D expects `padding` to be 'valid' or 'same'. Received: padding='sane'."),
    ({"type": "Bidirectional", "layer": {"type": "LSTM", "units": 4}, "merge_mode": "add"},
     "model.layers[2].merge_mode: Bidirectional expects `merge_mode` to be one of"),
    ("Flaten", "model.layers[2]: Unknown layer 'Flaten'. Did you mean 'flatten'?"),
    ({"type": "Dense", "units": 3, "kernel_regularizer": "l3"},
     "model.layers[2].kernel_regularizer: Unknown regularizer 'l3'. Did you mean"),
    ({"type": "Dense", "units": 3, "kernel_regularizer": {"type": "l3"}},
     "model.layers[2].kernel_regularizer.type: Unknown regularizer 'l3'. Did you mean"),
    ({"type": "Dense", "units": 3, "kernel_regularizer": {"type": "l2", "l3": 0.1}},
     "model.layers[2].kernel_regularizer.l3: L2 has no argument 'l3'. Did you mean 'l2'?"),
    ({"type": "Dense", "units": 3, "kernel_regularizer": {"type": "l2", "l2": -1}},
     "model.layers[2].kernel_regularizer.l2: Regularization factor `l2` must be a non-negative number."),
    ({"type": "Dense", "units": 3, "kernel_regularizer": 0.01},
     "model.layers[2].kernel_regularizer: expected a regularizer name or a mapping such as {type: l2, l2: 0.01}"),
    ({"type": "Dense", "units": 3, "kernel_initializer": {"type": "he_normal", "sead": 1}},
     "model.layers[2].kernel_initializer.sead: HeNormal has no argument 'sead'. Did you mean 'seed'?"),
    ({"type": "Dense", "units": 3, "bias_initializer": "zeross"},
     "model.layers[2].bias_initializer: Unknown initializer 'zeross'. Did you mean 'zeros'?"),
    ({"type": "Dense", "units": 3, "kernel_constraint": {"type": "max_norm", "max_valu": 2}},
     "model.layers[2].kernel_constraint.max_valu: MaxNorm has no argument 'max_valu'. Did you mean 'max_value'?"),
    ({"type": "Dense", "units": 3, "activity_regularizer": {"type": "l1", "l1": "a lot"}},
     "model.layers[2].activity_regularizer.l1: Regularization factor `l1` must be a non-negative number."),
    ({"type": "Bidirectional", "layer": {"type": "LSTM", "units": 4, "recurrent_initializer": {"type": "orthogonl"}}},
     "model.layers[2].layer.recurrent_initializer.type: Unknown initializer 'orthogonl'. Did you mean 'orthogonal'?"),
    ({"type": "Dense", "units": 3, "dtype": "float128"},
     "model.layers[2].dtype: nnkit layers compute in the global float type 'float32' (nnkit.config.floatx()), "
     "so a layer cannot have its own dtype; got the text 'float128'."),
    ({"type": "Dense", "units": 3, "dtype": "mixed_float16"}, "model.layers[2].dtype: nnkit layers compute in"),
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
    assert ("search.params['compile.optimizer.learning_rate']: a distribution needs `method: random` (search.method "
            "is grid)") in error(iris(search=distribution))
    assert "expected a non-empty list of values, got a mapping" in error(iris(search={"params": {"fit.epochs": {}}}))
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


def test_an_error_names_an_argument_only_when_the_entry_has_it():
    message = "Conv2D expects `padding` to be 'valid' or 'same'. Received: padding='sane'."
    assert specs.located("model.layers[0]", "Conv2D", message, {"type": "Conv2D", "padding": "sane"}) == (
        f"model.layers[0].padding: {message}")
    # the argument is the layer's default, not in the config: the path stays the layer's
    assert specs.located("model.layers[0]", "Conv2D", message, {"type": "Conv2D"}) == (
        f"model.layers[0] (Conv2D): {message}")
    # a hint that merely mentions an argument (pass data_format='channels_first') does not point at it
    hint = "expects inputs of shape (batch, height, width, channels). Pass data_format='channels_first' if ..."
    assert specs.named_argument(hint, ["data_format", "filters"]) is None
    both = "Conv2D expects `filters` to be a multiple of `groups`. Received: filters=3, groups=2."
    assert specs.named_argument(both, ["groups", "filters"]) == "filters"


@pytest.mark.parametrize("compile_section", [
    {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"},
    {"loss": "sparse_categorical_crossentropy"},
])
def test_a_search_may_tune_the_learning_rate_of_an_optimizer_given_by_name(compile_section):
    config = iris(compile=None, search={"params": {"compile.optimizer.learning_rate": [0.1, 0.01]}})
    config["compile"] = compile_section
    validated = validate_config(config)
    assert validated["compile"]["optimizer"] == "adam"
    assert validated["search"]["params"] == {"compile.optimizer.learning_rate": [0.1, 0.01]}


def test_a_registered_function_may_be_a_learning_rate_schedule():
    from nnkit.saving import register_serializable

    @register_serializable(package="tests_runs_schema")
    def halve_each_epoch(epoch: int, lr: float) -> float:
        return lr * 0.5

    callback = specs.make_callback({"type": "LearningRateScheduler", "schedule": "halve_each_epoch"},
                                   "fit.callbacks[0]")
    assert callback.schedule is halve_each_epoch
    keras_form = {"class_name": "__function__", "config": "tests_runs_schema>halve_each_epoch"}
    callback = specs.make_callback({"type": "LearningRateScheduler", "schedule": keras_form}, "fit.callbacks[0]")
    assert callback.schedule is halve_each_epoch
