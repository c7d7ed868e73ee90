"""prepare(): data loading, the train/test split, label encoding, preprocessing layers and model building."""

from __future__ import annotations

import re

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.model_selection import train_test_split

from nnkit.errors import ConfigError, DataError
from nnkit.runs import open_run, prepare
from nnkit.runs.building import MAX_PARAMETERS
from tests.runs.helpers import iris


def test_split_is_sklearns_stratified_split_with_the_seed():
    run = prepare(iris(seed=3, data={"test_size": 0.3}))
    x, y = load_iris(return_X_y=True)
    x_train, x_test, y_train, _ = train_test_split(x, y, test_size=0.3, random_state=3, stratify=y)
    np.testing.assert_allclose(run.data.x_train, x_train, rtol=1e-6)
    np.testing.assert_allclose(run.data.x_test, x_test, rtol=1e-6)
    np.testing.assert_array_equal(run.data.y_train, y_train)
    assert run.data.classes == [0, 1, 2] and run.task == "classification"


def test_standardize_adapts_on_the_training_split_only():
    run = prepare(iris())
    norm = run.model.layers[0]
    assert norm.name == "input_normalization"
    mean, variance = (w for w in norm.get_weights()[:2])
    np.testing.assert_allclose(mean.ravel(), run.data.x_train.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(variance.ravel(), run.data.x_train.var(axis=0), rtol=1e-4)
    inputs = run.model.module[0](__import__("torch").as_tensor(run.data.x_train)).numpy()
    np.testing.assert_allclose(inputs.mean(axis=0), 0, atol=1e-5)


def test_reshape_and_rescale_lead_the_model_and_take_flat_rows():
    config = iris(data={"dataset": "digits", "reshape": [8, 8, 1], "rescale": 0.0625, "standardize": False,
                        "limit": 200})
    config["model"]["layers"] = [{"type": "Conv2D", "filters": 2, "kernel_size": 3}, "Flatten",
                                 {"type": "Dense", "units": 10, "activation": "softmax"}]
    run = prepare(config)
    assert [layer.name for layer in run.model.layers] == ["input_reshape", "input_rescaling", "conv2d", "flatten",
                                                          "dense"]
    assert run.model.input_shape == (None, 64) and len(run.data.x_train) + len(run.data.x_test) == 200
    first = run.model.module[:2](__import__("torch").as_tensor(run.data.x_train[:3])).numpy()
    np.testing.assert_allclose(first, run.data.x_train[:3].reshape(3, 8, 8, 1) / 16, rtol=1e-6)


def test_layer_names_do_not_depend_on_what_was_built_before():
    first = [layer.name for layer in prepare(iris()).model.layers]
    second = [layer.name for layer in prepare(iris()).model.layers]
    assert first == second == ["input_normalization", "dense", "dense_1"]
    config = iris()
    config["model"]["layers"][1]["name"] = "dense"
    config["model"]["layers"][0].pop("name", None)
    assert [layer.name for layer in prepare(config).model.layers] == ["input_normalization", "dense_1", "dense"]


def test_limit_takes_a_seeded_random_subset():
    run = prepare(iris(data={"limit": 60, "test_size": 0.25}))
    keep = np.sort(np.random.default_rng(0).choice(150, 60, replace=False))
    x, _ = load_iris(return_X_y=True)
    pool = np.concatenate([run.data.x_train, run.data.x_test])
    assert sorted(map(tuple, pool.round(4))) == sorted(map(tuple, x[keep].astype(np.float32).round(4)))


@pytest.mark.parametrize(("loss", "units", "activation", "shape"), [
    ("sparse_categorical_crossentropy", 3, "softmax", (3,)),
    ("categorical_crossentropy", 3, "softmax", (3, 3)),
])
def test_labels_are_encoded_as_the_loss_needs(loss, units, activation, shape):
    config = iris(compile={"loss": loss})
    config["model"]["layers"][-1] = {"type": "Dense", "units": units, "activation": activation}
    run = prepare(config)
    ids = run.data.labels_train
    if loss.startswith("sparse"):
        np.testing.assert_array_equal(run.data.y_train, ids)
    else:
        np.testing.assert_array_equal(run.data.y_train, np.eye(3)[ids])


def test_binary_labels_become_one_column_and_strings_become_ids(tmp_path):
    rows = ["a,b,label"] + [f"{i},{(i * 7) % 5},{'yes' if i % 3 else 'no'}" for i in range(40)]
    (tmp_path / "table.csv").write_text("\n".join(rows) + "\n")
    config = iris(data={"path": "table.csv", "target": "label", "standardize": True, "dataset": None},
                  compile={"loss": "binary_crossentropy"})
    config["model"]["layers"] = [{"type": "Dense", "units": 1, "activation": "sigmoid"}]
    source = tmp_path / "exp.yaml"
    import yaml

    source.write_text(yaml.safe_dump(config))
    run = open_run(str(source))
    assert run.data.classes == ["no", "yes"]
    assert run.data.y_train.shape == (len(run.data.x_train), 1) and run.data.y_train.dtype == np.float32
    names = np.array(run.data.classes)[run.data.labels_train]
    expected = {(float(r.split(",")[0]), r.split(",")[2]) for r in rows[1:]}
    assert {(float(x[0]), n) for x, n in zip(run.data.x_train, names)} <= expected


def test_regression_targets_are_float_columns():
    config = iris(data={"dataset": "diabetes"}, compile={"loss": "mse", "metrics": ["mae"]})
    config["model"]["layers"][-1] = {"type": "Dense", "units": 1}
    run = prepare(config)
    assert run.task == "regression" and run.data.classes is None
    assert run.data.y_train.shape == (len(run.data.x_train), 1) and run.data.y_train.dtype == np.float32


@pytest.mark.parametrize(("change", "error", "message"), [
    (lambda c: c["model"]["layers"].insert(0, {"type": "Conv2D", "filters": 2, "kernel_size": 3}), ConfigError,
     "model.layers[0] (Conv2D): "),
    (lambda c: c["model"]["layers"].__setitem__(1, {"type": "Dense", "units": 4, "activation": "softmax"}), ConfigError,
     "model.layers[1]: the model outputs (4,) per sample, but the data has 3 classes, so the last layer needs "
     "units: 3 (softmax)."),
    (lambda c: c["compile"].__setitem__("loss", "binary_crossentropy"), ConfigError,
     "compile.loss: BinaryCrossentropy needs two classes, but the data has 3."),
    (lambda c: c["model"]["layers"].__setitem__(0, {"type": "Dense", "units": 10**6}) or c["model"]["layers"].insert(
        1, {"type": "Dense", "units": 10**6}), ConfigError, "model: the layers would hold 1,000,0"),
    (lambda c: c["model"]["layers"].__setitem__(0, {"type": "Dense", "units": 3, "name": "out"}) or
     c["model"]["layers"][1].__setitem__("name", "out"), ConfigError, "model.layers[1] (Dense): "),
    (lambda c: c["data"].__setitem__("options", {"n_samples": 10}), ConfigError,
     "data.options: load('iris') takes no options"),
    (lambda c: c["data"].__setitem__("reshape", [5, 5]), ConfigError, "data.reshape: cannot reshape samples of shape"),
    (lambda c: c["data"].__setitem__("limit", 4), DataError, "data.test_size: cannot hold out 0.2 of 4 samples"),
])
def test_build_errors_name_the_layer_or_field(change, error, message):
    config = iris()
    change(config)
    with pytest.raises(error) as info:
        prepare(config)
    assert message in str(info.value)


def test_the_parameter_guard_is_checked_before_allocating():
    assert MAX_PARAMETERS == 250_000_000
    config = iris()
    config["model"]["layers"][0] = {"type": "Dense", "units": 2**40}
    with pytest.raises(ConfigError, match="model: the layers would hold"):
        prepare(config)


def test_file_data_errors(tmp_path):
    (tmp_path / "x.npy").write_bytes(b"")
    np.save(tmp_path / "x.npy", np.zeros((10, 3), dtype=np.float32))
    with pytest.raises(ConfigError, match=r"data\.target: .* holds no targets"):
        prepare(iris(data={"dataset": None, "path": str(tmp_path / "x.npy")}))
    with pytest.raises(DataError, match=r"data\.path: "):
        prepare(iris(data={"dataset": None, "path": str(tmp_path / "missing.csv")}))


def test_initializers_regularizers_and_constraints_take_the_entry_form():
    from nnkit import initializers, layers

    config = iris(data={"standardize": False})
    config["model"]["layers"][0].update({"kernel_initializer": {"type": "he_normal", "seed": 1},
                                         "kernel_regularizer": {"type": "l2", "l2": 0.01},
                                         "bias_regularizer": "l1",
                                         "kernel_constraint": {"type": "max_norm", "max_value": 0.05}})
    run = prepare(config)
    dense = run.model.layers[0]
    reference = layers.Dense(8, kernel_initializer=initializers.HeNormal(seed=1))
    reference.attach((4,))
    np.testing.assert_array_equal(dense.get_weights()[0], reference.get_weights()[0])
    kernel, bias = dense.get_weights()
    penalties = [float(reg(tensor.detach())) for tensor, reg in dense.regularization_terms()]
    assert penalties == pytest.approx([0.01 * float((kernel**2).sum()), 0.01 * float(np.abs(bias).sum())], rel=1e-5)
    run.model.fit(run.data.x_train, run.data.y_train, **run.fit_arguments())
    norms = np.linalg.norm(dense.get_weights()[0], axis=0)  # Keras's max_norm: per unit, over the inputs
    assert norms.max() <= 0.05 + 1e-6


@pytest.mark.parametrize(("layer_index", "argument", "value", "message"), [
    (0, "input_shape", [5], "model.layers[0].input_shape: [5] does not match the data's sample shape (4,)."),
    (0, "input_dim", 5, "model.layers[0].input_dim: 5 does not match the data's sample shape (4,)."),
    (0, "batch_input_shape", [None, 5], "model.layers[0].batch_input_shape: [null, 5] does not match the data's "
                                        "sample shape (4,)."),
    (1, "input_shape", [4], "model.layers[1].input_shape: [4] does not match the shape this layer receives from "
                            "model.layers[0], (8,)."),
])
def test_a_declared_input_shape_must_match_the_data(layer_index, argument, value, message):
    config = iris()
    config["model"]["layers"][layer_index][argument] = value
    with pytest.raises(ConfigError) as info:
        prepare(config)
    assert message in str(info.value)


def test_a_matching_input_shape_is_accepted_and_reshape_counts():
    config = iris()
    config["model"]["layers"][0]["input_shape"] = [4]
    assert prepare(config).model.output_shape == (None, 3)
    digits = iris(data={"dataset": "digits", "reshape": [8, 8, 1], "standardize": False, "limit": 100})
    digits["model"]["layers"] = [{"type": "Conv2D", "filters": 2, "kernel_size": 3, "input_shape": [8, 8, 1]},
                                 "Flatten", {"type": "Dense", "units": 10, "activation": "softmax"}]
    assert prepare(digits).model.input_shape == (None, 64)
    digits["model"]["layers"][0]["input_shape"] = [64]
    with pytest.raises(ConfigError, match=re.escape("model.layers[0].input_shape: [64] does not match the shape this "
                                                    "layer receives, (8, 8, 1) (the data's samples of shape (64,) "
                                                    "after data.reshape).")):
        prepare(digits)


def test_a_layer_dtype_other_than_the_float_type_is_an_error():
    config = iris()
    config["model"]["layers"][0]["dtype"] = "float32"
    assert prepare(config).model.layers[1].get_weights()[0].dtype == np.float32
    config["model"]["layers"][0]["dtype"] = "float64"
    with pytest.raises(ConfigError, match=r"model\.layers\[0\]\.dtype: nnkit layers compute in the global float type"):
        prepare(config)


def test_build_errors_point_at_the_argument_they_name():
    config = iris(data={"dataset": "digits", "reshape": [8, 8, 1], "standardize": False, "limit": 100})
    config["model"]["layers"] = [{"type": "Conv2D", "filters": 4, "kernel_size": 3, "groups": 2}, "Flatten",
                                 {"type": "Dense", "units": 10, "activation": "softmax"}]
    with pytest.raises(ConfigError) as info:
        prepare(config)
    assert str(info.value).startswith("model.layers[0].groups: ")
    config["model"]["layers"][0] = {"type": "Conv2D", "filters": 2, "kernel_size": 3}
    config["data"]["reshape"] = None  # flat rows: the message names no argument of the entry
    with pytest.raises(ConfigError) as info:
        prepare(config)
    assert str(info.value).startswith("model.layers[0] (Conv2D): ")


def test_class_weight_labels_are_checked_before_training(tmp_path):
    import yaml

    path = tmp_path / "weights.yaml"
    path.write_text(yaml.safe_dump(iris(fit={"class_weight": {0: 1.0, 7: 2.0}})))
    with pytest.raises(ConfigError, match=re.escape(f"{path}: fit.class_weight.7: 7 is not a class of the data; the "
                                                    "classes are 0, 1, 2.")):
        open_run(str(path))


def test_data_path_becomes_absolute_and_class_labels_come_from_the_dataset(tmp_path, monkeypatch):
    import yaml

    (tmp_path / "data").mkdir()
    x, y = load_iris(return_X_y=True)
    np.savez(tmp_path / "data" / "iris.npz", x=x, y=y)
    (tmp_path / "data" / "exp.yaml").write_text(yaml.safe_dump(iris(data={"dataset": None, "path": "iris.npz"})))
    monkeypatch.chdir(tmp_path)  # the file sits next to the config, not in the current folder
    run = open_run("data/exp.yaml")
    assert run.config["data"]["path"] == str(tmp_path / "data" / "iris.npz")
    assert run.data.classes == [0, 1, 2] and run.data.class_labels == ["0", "1", "2"]
    assert prepare(iris()).data.class_labels == ["setosa", "versicolor", "virginica"]
    assert prepare(iris(data={"dataset": "diabetes"}, compile={"loss": "mse", "metrics": []},
                        model={"layers": [{"type": "Dense", "units": 1}]})).data.class_labels is None
