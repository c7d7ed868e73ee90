"""The stacked searches give scikit-learn's results: same cv_results_ keys, order and scores."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import loguniform
from sklearn import model_selection as sk
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from nnkit.layers import Dense, Dropout
from nnkit.model_selection import GridSearchCV, RandomizedSearchCV
from nnkit.utils import to_categorical
from nnkit.wrappers import KerasClassifier
from tests.wrappers.models import softmax_mlp

SEED_GRID = {"l2": [0.0, 0.01, 0.1], "learning_rate": [0.001, 0.01, 0.05]}


def seed_estimator(**params) -> KerasClassifier:
    """The seed program's model (Dense relu with an L2 kernel penalty, softmax, Adam), smaller."""
    defaults = {"units": 16, "n_features": 20, "n_classes": 4, "epochs": 4, "batch_size": 16, "random_state": 0}
    return KerasClassifier(softmax_mlp, **{**defaults, **params})


def same_results(ours: dict, theirs: dict) -> None:
    """The same keys in the same order, equal parameters and equal scores (stacked members train bit for bit
    as they would alone)."""
    assert list(ours) == list(theirs)
    for key, expected in theirs.items():
        if key.endswith("_time"):
            continue
        if key == "params" or key.startswith("param_"):
            assert list(ours[key]) == list(expected), key
        else:
            np.testing.assert_array_equal(ours[key], expected, err_msg=key)


def test_seed_grid_equals_scikit_learns_search(seed_like, capsys):
    x, y = seed_like
    onehot = to_categorical(y, 4)
    scoring = {"accuracy": "accuracy", "log_loss": "neg_log_loss"}
    ours = GridSearchCV(seed_estimator(), SEED_GRID, cv=3, scoring=scoring, refit="log_loss",
                        return_train_score=True, verbose=1).fit(x, onehot)
    said = capsys.readouterr().out
    theirs = sk.GridSearchCV(seed_estimator(), SEED_GRID, cv=3, scoring=scoring, refit="log_loss",
                             return_train_score=True).fit(x, onehot)
    same_results(ours.cv_results_, theirs.cv_results_)
    assert ours.best_params_ == theirs.best_params_
    assert ours.best_score_ == pytest.approx(theirs.best_score_, abs=1e-6)
    np.testing.assert_array_equal(ours.best_estimator_.predict(x), theirs.best_estimator_.predict(x))
    # 200 rows in 3 folds train on 133 or 134 rows: one group per training-set size, nothing one by one
    assert "Stacked training: 27 of 27 fits in 2 groups [18, 9]" in said and "one by one" not in said


def test_sgd_with_momentum_and_several_batch_sizes(seed_like, capsys):
    """Integer labels (sparse cross-entropy), SGD with Nesterov momentum, groups per batch size."""
    x, y = seed_like
    estimator = KerasClassifier(layers=[Dense(12, activation="tanh", kernel_regularizer="l2")], optimizer="sgd",
                                optimizer__momentum=0.9, optimizer__nesterov=True, epochs=3, random_state=1)
    grid = {"optimizer__learning_rate": [0.003, 0.03], "batch_size": [16, 50]}
    ours = GridSearchCV(estimator, grid, cv=3, verbose=1).fit(x, y)
    assert "12 of 12 fits in 4 groups [4, 4, 2, 2]" in capsys.readouterr().out  # batch size x training rows
    theirs = sk.GridSearchCV(estimator, grid, cv=3).fit(x, y)
    same_results(ours.cv_results_, theirs.cv_results_)
    assert ours.best_params_ == theirs.best_params_


def test_randomized_search_equals_scikit_learns(seed_like):
    x, y = seed_like
    distributions = {"l2": loguniform(1e-4, 1e-1), "learning_rate": loguniform(1e-3, 1e-1)}
    ours = RandomizedSearchCV(seed_estimator(), distributions, n_iter=5, cv=3, random_state=0)
    theirs = sk.RandomizedSearchCV(seed_estimator(), distributions, n_iter=5, cv=3, random_state=0)
    onehot = to_categorical(y, 4)
    same_results(ours.fit(x, onehot).cv_results_, theirs.fit(x, onehot).cv_results_)
    assert ours.best_params_ == theirs.best_params_


def test_unsupported_fits_run_one_by_one_with_the_same_results(seed_like, capsys):
    """Dropout is not stacked yet: those fits fall back (and say so); the rest are stacked."""
    x, y = seed_like
    estimator = KerasClassifier(layers=[Dense(8, activation="relu"), Dropout(0.2)], optimizer="adam", epochs=2,
                                batch_size=32, random_state=0)
    grid = {"layers__1__rate": [0.0, 0.3], "optimizer__learning_rate": [0.01, 0.03]}
    ours = GridSearchCV(estimator, grid, cv=2, verbose=1).fit(x, y)
    said = capsys.readouterr().out
    theirs = sk.GridSearchCV(estimator, grid, cv=2).fit(x, y)
    same_results(ours.cv_results_, theirs.cv_results_)
    assert "Stacked training: 0 of 8 fits in 0 groups []; one by one: 8 x layer Dropout" in said


def test_a_pipeline_falls_back_to_scikit_learns_path(seed_like, capsys):
    x, y = seed_like
    pipe = make_pipeline(StandardScaler(), KerasClassifier(layers=[Dense(8, activation="relu")], optimizer="adam",
                                                           epochs=2, random_state=0))
    grid = {"kerasclassifier__optimizer__learning_rate": [0.01, 0.03]}
    ours = GridSearchCV(pipe, grid, cv=2, verbose=1).fit(x, y)
    assert "0 of 4 fits in 0 groups []; one by one: 4 x the estimator is a Pipeline" in capsys.readouterr().out
    same_results(ours.cv_results_, sk.GridSearchCV(pipe, grid, cv=2).fit(x, y).cv_results_)


def test_fit_parameters_fall_back(seed_like):
    x, y = seed_like
    weights = np.linspace(0.5, 1.5, len(y))
    grid = {"learning_rate": [0.01, 0.03]}
    onehot = to_categorical(y, 4)
    ours = GridSearchCV(seed_estimator(epochs=2), grid, cv=2).fit(x, onehot, sample_weight=weights)
    theirs = sk.GridSearchCV(seed_estimator(epochs=2), grid, cv=2).fit(x, onehot, sample_weight=weights)
    same_results(ours.cv_results_, theirs.cv_results_)


def test_without_random_state_the_same_global_seed_gives_scikit_learns_results(seed_like):
    """Stacked members are built and shuffled in scikit-learn's fit order, drawing from the global generators
    as the one-by-one fits would."""
    x, y = seed_like
    estimator = KerasClassifier(layers=[Dense(8, activation="relu")], optimizer="adam", epochs=2, batch_size=32)
    grid = {"optimizer__learning_rate": [0.01, 0.03]}
    torch.manual_seed(5)
    ours = GridSearchCV(estimator, grid, cv=2).fit(x, y)
    torch.manual_seed(5)
    theirs = sk.GridSearchCV(estimator, grid, cv=2).fit(x, y)
    same_results(ours.cv_results_, theirs.cv_results_)


def test_the_seed_programs_grid_shares_runs_across_epochs(seed_like, capsys):
    """batch_size x epochs x l2, as in the seed program: fits that differ in epochs share one stacked run."""
    x, y = seed_like
    onehot = to_categorical(y, 4)
    grid = {"batch_size": [16, 32], "epochs": [1, 3], "l2": [0.0, 0.1]}
    ours = GridSearchCV(seed_estimator(learning_rate=0.01), grid, cv=3, verbose=1).fit(x, onehot)
    assert "Stacked training: 24 of 24 fits in 4 groups [8, 8, 4, 4]" in capsys.readouterr().out
    theirs = sk.GridSearchCV(seed_estimator(learning_rate=0.01), grid, cv=3).fit(x, onehot)
    same_results(ours.cv_results_, theirs.cv_results_)
    assert ours.best_params_ == theirs.best_params_


def test_folds_that_change_from_call_to_call_fall_back(seed_like, capsys):
    """A splitter on a shared RandomState gives other folds each time scikit-learn splits: nothing is stacked."""
    x, y = seed_like
    cv = sk.KFold(2, shuffle=True, random_state=np.random.RandomState(0))
    search = GridSearchCV(seed_estimator(epochs=1), {"learning_rate": [0.01, 0.03]}, cv=cv, verbose=1)
    search.fit(x, to_categorical(y, 4))
    assert "0 of 4 fits in 0 groups []; one by one: 4 x the cv splits change from call to call" in capsys.readouterr().out
