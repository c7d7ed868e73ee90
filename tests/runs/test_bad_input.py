"""Inputs that used to fail late or with someone else's words now fail first, naming what and where."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

import nnkit
from nnkit.errors import ConfigError, DataError
from nnkit.runs import prepare
from nnkit.runs.searching import make_search
from tests.runs.helpers import iris


def small_model():
    model = nnkit.models.Sequential([nnkit.layers.Input((2,)), nnkit.layers.Dense(1)])
    model.compile(loss="mse")
    return model


@pytest.mark.parametrize(("column", "expected"), [
    (pd.Categorical(["x", "y", "x"]), r"column 'b' has dtype category.*get_dummies"),
    (pd.array([1, None, 3], dtype="Int64"), r"column 'b' has dtype Int64.*missing values"),
    (pd.array([True, None, False], dtype="boolean"), r"column 'b' has dtype boolean"),
    (["x", "y", "z"], r"column 'b' has dtype (object|str).*OrdinalEncoder"),
])
def test_a_dataframe_column_that_is_not_numbers_is_named(column, expected):
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": column})
    with pytest.raises(DataError, match=expected):
        small_model().fit(frame, np.zeros(3), verbose=0)


def test_bool_columns_are_read_as_0_and_1_like_bool_arrays():
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [True, False, True]})
    model = small_model()
    np.testing.assert_allclose(model.predict(frame, verbose=0),
                               model.predict(np.array([[1, 1], [2, 0], [3, 1]], dtype="float32"), verbose=0))


def test_validation_split_given_as_text_is_refused():
    with pytest.raises(DataError, match=r"validation_split must be a number in \(0, 1\), e.g. 0.2. Received str '0.2'"):
        small_model().fit(np.zeros((4, 2)), np.zeros(4), validation_split="0.2", verbose=0)


def test_a_pickled_weights_file_is_refused_without_torchs_advice(tmp_path):
    path = tmp_path / "w.weights.h5"
    path.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(DataError, match="holds pickled Python objects") as error:
        small_model().load_weights(str(path))
    assert "weights_only" not in str(error.value)


def test_a_search_that_could_only_fail_late_is_refused_naming_the_field():
    regression = iris(data={"dataset": "diabetes"}, compile={"loss": "mse", "metrics": []},
                      search={"method": "grid", "params": {"model.layers[0].units": [4, 8]}, "scoring": "accuracy"})
    regression["model"]["layers"][-1] = {"type": "Dense", "units": 1}
    with pytest.raises(ConfigError, match=r"^search\.scoring: 'accuracy' scores class predictions"):
        make_search(prepare(regression))
    many_folds = iris(search={"method": "grid", "params": {"model.layers[0].units": [4, 8]}, "cv": 500})
    with pytest.raises(ConfigError, match=r"^search\.cv: 500 folds need at least 500 training samples"):
        make_search(prepare(many_folds))


def test_a_misspelled_monitor_in_a_config_names_its_entry():
    run = prepare(iris(fit={"epochs": 2, "validation_split": 0.2,
                            "callbacks": [{"type": "EarlyStopping", "monitor": "val_acuracy"}]}))
    with pytest.raises(ConfigError, match=r"^fit\.callbacks\[0\]\.monitor: EarlyStopping monitors 'val_acuracy'.*"
                                          r"Did you mean 'val_accuracy'"):
        run.model.fit(run.data.x_train, run.data.y_train, callbacks=run.callbacks(None), **run.fit_arguments())
