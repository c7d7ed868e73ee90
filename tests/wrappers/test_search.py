"""The estimators inside scikit-learn's tools: searches, pipelines, cross-validation, parallel workers."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import loguniform, randint
from sklearn.model_selection import GridSearchCV, KFold, RandomizedSearchCV, cross_val_score, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from nnkit.layers import Dense, Dropout
from nnkit.utils import to_categorical
from nnkit.wrappers import KerasClassifier, KerasRegressor
from tests.wrappers.models import softmax_mlp

SCORE_COLUMNS = ("params", "mean_test_score", "std_test_score", "rank_test_score", "split0_test_score")


def classifier(**params) -> KerasClassifier:
    defaults = {"layers": [Dense(8, activation="relu"), Dropout(0.1)], "optimizer": "adam",
                "optimizer__learning_rate": 0.02, "epochs": 5, "batch_size": 16, "random_state": 0}
    return KerasClassifier(**{**defaults, **params})


def same_scores(first: dict, second: dict) -> None:
    for column in SCORE_COLUMNS:
        np.testing.assert_array_equal(np.asarray(first[column]), np.asarray(second[column]), err_msg=column)


def test_grid_search_over_layer_and_optimizer_parameters_is_repeatable(multiclass):
    x, y = multiclass
    grid = {"layers__0__units": [4, 16], "layers__1__rate": [0.0, 0.3], "optimizer__learning_rate": [0.001, 0.05]}
    first = GridSearchCV(classifier(), grid, cv=3).fit(x, y)
    second = GridSearchCV(classifier(), grid, cv=3).fit(x, y)
    same_scores(first.cv_results_, second.cv_results_)
    assert len(first.cv_results_["params"]) == 8
    best = first.best_estimator_
    assert best.model_.layers[0].units == first.best_params_["layers__0__units"]
    assert best.model_.optimizer.learning_rate == pytest.approx(first.best_params_["optimizer__learning_rate"])
    assert first.best_score_ > 0.8 and best.score(x, y) > 0.8


def test_randomized_search_with_scipy_distributions(multiclass):
    x, y = multiclass
    distributions = {"layers__0__units": randint(4, 32), "optimizer__learning_rate": loguniform(1e-3, 1e-1),
                     "batch_size": [8, 32]}
    search = RandomizedSearchCV(classifier(), distributions, n_iter=4, cv=3, random_state=0).fit(x, y)
    for params in search.cv_results_["params"]:
        assert 4 <= params["layers__0__units"] < 32 and 1e-3 <= params["optimizer__learning_rate"] <= 1e-1
    assert search.best_estimator_.model_.layers[0].units == search.best_params_["layers__0__units"]


def test_pipeline_with_scaler_and_pandas_output(multiclass):
    x, y = multiclass
    frame = pd.DataFrame(x * 100 + 50, columns=[f"feature_{i}" for i in range(6)])
    names = pd.Series(np.array(["low", "mid", "high"])[y])
    pipe = make_pipeline(StandardScaler().set_output(transform="pandas"), classifier(epochs=10))
    pipe.fit(frame, names)
    np.testing.assert_array_equal(pipe[-1].feature_names_in_, frame.columns)
    assert set(pipe.predict(frame)) <= {"low", "mid", "high"} and pipe.score(frame, names) > 0.9
    tuned = GridSearchCV(pipe, {"kerasclassifier__layers__0__units": [4, 8]}, cv=2).fit(frame, names)
    assert tuned.best_params_["kerasclassifier__layers__0__units"] in (4, 8)


def test_cross_val_score_regressor_and_classifier(multiclass, regression):
    x, y = regression
    scores = cross_val_score(make_pipeline(StandardScaler(), KerasRegressor(
        layers=[Dense(16, activation="relu")], optimizer="adam", optimizer__learning_rate=0.02, epochs=30,
        batch_size=16, random_state=0)), x, y, cv=KFold(3, shuffle=True, random_state=0))
    assert scores.shape == (3,) and scores.min() > 0.8
    x, y = multiclass
    labels = np.array(["x", "y", "z"], dtype=object)[y]
    assert cross_val_score(classifier(epochs=10), x, labels, cv=3).mean() > 0.8


def test_two_parallel_workers_give_the_sequential_results(multiclass):
    """n_jobs=2 pickles estimators to worker processes; the results equal an in-process search."""
    x, y = multiclass
    grid = {"model__units": [4, 8], "l2": [0.0, 0.01]}
    estimator = KerasClassifier(softmax_mlp, epochs=3, random_state=0)
    parallel = GridSearchCV(estimator, grid, cv=2, n_jobs=2).fit(x, to_categorical(y, 3))
    sequential = GridSearchCV(estimator, grid, cv=2).fit(x, to_categorical(y, 3))
    same_scores(parallel.cv_results_, sequential.cv_results_)
    fitted = cross_validate(estimator, x, y, cv=2, n_jobs=2, return_estimator=True)["estimator"]
    assert all(model.predict(x).shape == (len(x),) for model in fitted)  # fitted estimators come back too


def test_seed_program_grid_runs_unchanged(capsys):
    """examples/grid_search.py's build function, estimator and grid (smaller grid, same shapes)."""
    path = Path(__file__).parents[2] / "examples" / "grid_search.py"
    spec = importlib.util.spec_from_file_location("seed_grid_search", path)
    seed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(seed)
    model = seed.KerasClassifier(build_fn=seed.create_model, verbose=0)
    grid = GridSearchCV(estimator=model, param_grid={"batch_size": [64], "epochs": [1, 2], "l2": [0.0, 0.1]}, cv=3)
    result = grid.fit(seed.X, seed.y)
    assert len(result.cv_results_["params"]) == 4
    assert result.best_estimator_.model_.layers[0].kernel_regularizer.l2 == result.best_params_["l2"]
    assert len(result.best_estimator_.history_["accuracy"]) == result.best_params_["epochs"]
    assert result.best_estimator_.predict(seed.X).shape == seed.y.shape  # one-hot in, one-hot out
    assert capsys.readouterr().out == ""
